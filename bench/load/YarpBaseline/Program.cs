using System.Diagnostics;
using System.Net;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

// Usage: YarpBaseline <listen port> <upstream base address> [direct]
//   without "direct": YARP's full pipeline (endpoint routing, one catch-all route, one cluster);
//   with "direct": YARP's IHttpForwarder behind one terminal middleware, as YARP's direct-forwarding sample does.
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k => k.ListenLocalhost(int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture)));
var direct = args.Length > 2 && args[2] == "direct";
if (direct)
{
    builder.Services.AddHttpForwarder();
}
else
{
    builder.Services.AddReverseProxy().LoadFromMemory(
        [new RouteConfig { RouteId = "all", ClusterId = "upstream", Match = new RouteMatch { Path = "/{**catch-all}" } }],
        [new ClusterConfig { ClusterId = "upstream", Destinations = new Dictionary<string, DestinationConfig> { ["d"] = new() { Address = args[1] } } }]);
}

var app = builder.Build();
if (direct)
{
    var forwarder = app.Services.GetRequiredService<IHttpForwarder>();
    var client = new HttpMessageInvoker(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ActivityHeadersPropagator = new ReverseProxyPropagator(DistributedContextPropagator.Current),
        ConnectTimeout = TimeSpan.FromSeconds(15),
    });
    var destination = args[1];
    app.Run(async context => await forwarder.SendAsync(context, destination, client));
}
else
{
    app.MapReverseProxy();
}

app.Run();
