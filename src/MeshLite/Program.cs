using System.Runtime.InteropServices;
using MeshLite.Configuration;
using MeshLite.Hosting;
using MeshLite.Tools;

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

try
{
    return args.FirstOrDefault() switch
    {
        "mesh" => await MeshRunner.RunAsync(args[1..], Console.Out, stop.Token),
        "load" => await LoadGenerator.RunAsync(args[1..], Console.Out, Console.Error, stop.Token),
        "target" => await RunSidecarAsync(TargetCommand.ToSidecarArguments(args[1..]), stop.Token),
        "inject" => await InjectCommand.RunAsync(args[1..], Console.In, Console.Out, Console.Error),
        "wait" => await WaitCommand.RunAsync(args[1..], Console.Error, stop.Token),
        "help" or "--help" or "-h" => Help(),
        _ => await RunSidecarAsync(args, stop.Token),
    };
}
catch (MeshLiteConfigurationException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}
catch (ArgumentException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}
catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException or System.Net.Sockets.SocketException)
{
    await Console.Error.WriteLineAsync($"MeshLite could not open a listener: {ex.Message} (check MeshLite:Inbound:Port, MeshLite:Outbound:Port, MeshLite:Admin:Port, MeshLite:Metrics:Port)");
    return 3;
}

static async Task<int> RunSidecarAsync(string[] args, CancellationToken stop)
{
    var app = MeshLiteApplication.Build(args);
    await app.RunAsync(stop);
    return 0;
}

static int Help()
{
    Console.WriteLine($"""
        MeshLite — a tracing sidecar.
          meshlite [--config file] [--MeshLite:Key=value ...]     run the sidecar
        {MeshRunner.Usage}
        {LoadGenerator.Usage}
        {TargetCommand.Usage}
        {InjectCommand.Usage}
        {WaitCommand.Usage}
        """);
    return 0;
}
