using System.Net;
using System.Net.Sockets;

namespace MeshLite.IntegrationTests.Common;

/// <summary>A loopback TCP server that hands each connection to <see cref="ServeAsync"/>: the base of the test servers that misbehave on purpose.</summary>
public abstract class RawTcpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly Task _accepting;

    protected RawTcpServer(int port = 0)
    {
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start(512);
        _accepting = Task.Run(AcceptAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Cancelled when the server is disposed.</summary>
    protected CancellationTokenSource Stopping { get; } = new();

    /// <summary>Serves one connection; socket errors and cancellation end it quietly.</summary>
    protected abstract Task ServeAsync(Socket socket);

    private async Task AcceptAsync()
    {
        while (!Stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(Stopping.Token);
            }
            catch (Exception) when (Stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using (socket)
                {
                    try
                    {
                        await ServeAsync(socket);
                    }
                    catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
                    {
                    }
                }
            });
        }
    }

    public virtual async ValueTask DisposeAsync()
    {
        await Stopping.CancelAsync();
        _listener.Stop();
        await _accepting;
        Stopping.Dispose();
        GC.SuppressFinalize(this);
    }
}
