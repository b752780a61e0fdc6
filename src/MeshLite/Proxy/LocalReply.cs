using MeshLite.Hops;

namespace MeshLite.Proxy;

/// <summary>A response MeshLite makes itself (Envoy's "local reply"): status, response flag, details and a body that names the flag.</summary>
internal static class LocalReply
{
    public static Task WriteAsync(HttpContext context, HopFeature hop, int statusCode, ResponseFlags flag, string details, string message)
    {
        hop.Flags |= flag;
        hop.ResponseCodeDetails = details;
        var response = context.Response;
        if (response.HasStarted)
        {
            return Task.CompletedTask;
        }

        response.Clear();
        response.StatusCode = statusCode;
        response.ContentType = "text/plain";
        SidecarResponseHeaders.Apply(response, hop.Listener);
        var body = flag == ResponseFlags.None ? message + "\n" : $"{message} (response_flags: {ResponseFlagNames.Format(flag)})\n";
        return response.WriteAsync(body, context.RequestAborted);
    }
}

internal static class SidecarResponseHeaders
{
    public static void Apply(HttpResponse response, ListenerKind listener) =>
        response.Headers.Server = listener == ListenerKind.Inbound ? "istio-envoy" : "envoy";
}
