using MeshLite.Configuration;
using MeshLite.Hosting;

try
{
    var app = MeshLiteApplication.Build(args);
    await app.RunAsync();
    return 0;
}
catch (MeshLiteConfigurationException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}
catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException or System.Net.Sockets.SocketException)
{
    await Console.Error.WriteLineAsync($"MeshLite could not open a listener: {ex.Message} (check MeshLite:Inbound:Port, MeshLite:Outbound:Port, MeshLite:Admin:Port)");
    return 3;
}
