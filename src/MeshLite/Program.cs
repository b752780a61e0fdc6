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
    var root = SidecarCommand.Create(args, RunSidecarAsync,
    [
        MeshRunner.Create(Console.Out),
        LoadGenerator.Create(Console.Out, Console.Error),
        TargetCommand.Create(RunSidecarAsync),
        InjectCommand.Create(Console.In, Console.Out, Console.Error),
        WaitCommand.Create(Console.Error),
        CompletionCommand.Create(Console.Out),
    ]);
    return await MeshLite.Tools.CommandLine.InvokeAsync(root, args is ["help", .. var rest] ? [.. rest, "--help"] : args, Console.Out, Console.Error, stop.Token);
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
