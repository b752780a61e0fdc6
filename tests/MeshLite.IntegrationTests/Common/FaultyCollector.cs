using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace MeshLite.IntegrationTests.Common;

public enum CollectorFault
{
    None,
    Status503RetryAfter,
    Status429RetryAfter,
    CloseWithoutResponse,
    Hang,
}

/// <summary>
/// An OTLP/HTTP endpoint on a raw socket that misbehaves as told, request by request: it throttles with 429/503 and
/// <c>Retry-After</c>, closes without answering, or hangs; when it does answer, it speaks HTTP/1.0 and closes the
/// connection after every response, and hands the body to a real <see cref="OtlpReceiver"/>, which counts the spans.
/// </summary>
public sealed class FaultyCollector : RawTcpServer
{
    private static readonly HttpClient _forward = new();

    private readonly Func<int, CollectorFault> _faultFor;
    private int _requests;

    private FaultyCollector(int port, OtlpReceiver receiver, Func<int, CollectorFault> faultFor)
        : base(port)
    {
        Receiver = receiver;
        _faultFor = faultFor;
    }

    public OtlpReceiver Receiver { get; }
    public string Endpoint => $"http://127.0.0.1:{Port}/v1/traces";

    /// <summary>Export requests seen, answered or not.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <param name="port">0 for any free port; a given port lets a test start the collector late on an address the sidecar already uses.</param>
    /// <param name="faultFor">The fault for the n-th request (0-based).</param>
    public static async Task<FaultyCollector> StartAsync(Func<int, CollectorFault> faultFor, int port = 0)
    {
        return new FaultyCollector(port, await OtlpReceiver.StartAsync(), faultFor);
    }

    protected override async Task ServeAsync(Socket socket)
    {
        var (body, ok) = await ReadRequestAsync(socket);
        if (!ok)
        {
            return;
        }

        var fault = _faultFor(Interlocked.Increment(ref _requests) - 1);
        switch (fault)
        {
            case CollectorFault.CloseWithoutResponse:
                return;
            case CollectorFault.Hang:
                await Task.Delay(Timeout.Infinite, Stopping.Token);
                return;
            case CollectorFault.Status503RetryAfter or CollectorFault.Status429RetryAfter:
                var status = fault == CollectorFault.Status503RetryAfter ? "503 Service Unavailable" : "429 Too Many Requests";
                await socket.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.0 {status}\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
                return;
        }

        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-protobuf");
        using var forwarded = await _forward.PostAsync($"{Receiver.HttpEndpoint}/v1/traces", content);
        await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.0 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
    }

    private static async Task<(byte[] Body, bool Ok)> ReadRequestAsync(Socket socket)
    {
        var buffer = new List<byte>();
        var chunk = new byte[64 * 1024];
        int headerEnd;
        while ((headerEnd = Find(buffer)) < 0)
        {
            var read = await socket.ReceiveAsync(chunk);
            if (read == 0)
            {
                return ([], false);
            }

            buffer.AddRange(chunk.AsSpan(0, read));
        }

        var head = Encoding.ASCII.GetString([.. buffer.GetRange(0, headerEnd)]);
        var lengthLine = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("content-length:", StringComparison.OrdinalIgnoreCase));
        var length = lengthLine is null ? 0 : int.Parse(lengthLine[15..].Trim(), CultureInfo.InvariantCulture);
        while (buffer.Count - headerEnd - 4 < length)
        {
            var read = await socket.ReceiveAsync(chunk);
            if (read == 0)
            {
                return ([], false);
            }

            buffer.AddRange(chunk.AsSpan(0, read));
        }

        return ([.. buffer.GetRange(headerEnd + 4, length)], true);
    }

    private static int Find(List<byte> buffer)
    {
        for (var i = 0; i + 3 < buffer.Count; i++)
        {
            if (buffer[i] == '\r' && buffer[i + 1] == '\n' && buffer[i + 2] == '\r' && buffer[i + 3] == '\n')
            {
                return i;
            }
        }

        return -1;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await Receiver.DisposeAsync();
    }
}
