using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace MeshLite.IntegrationTests.Common;

public sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body, bool ConnectionClosed);

/// <summary>
/// HTTP/1.1 over a bare socket, for requests no HTTP client would send: control characters, folded or repeated
/// headers, conflicting lengths. Reads one response (Content-Length, chunked, or to the end of the connection).
/// </summary>
public static class RawHttp
{
    public static async Task<RawResponse> ReadResponseAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new List<byte>(4096);
        var chunk = new byte[16 * 1024];
        var closed = false;
        int headerEnd;
        while ((headerEnd = IndexOf(buffer, "\r\n\r\n"u8)) < 0)
        {
            if (!await ReceiveAsync())
            {
                throw new IOException($"connection closed before a response head ({buffer.Count} bytes)");
            }
        }

        var head = Encoding.Latin1.GetString([.. buffer.GetRange(0, headerEnd)]).Split("\r\n");
        var status = int.Parse(head[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in head.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon > 0)
            {
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
        }

        var bodyStart = headerEnd + 4;
        byte[] body;
        if (headers.TryGetValue("content-length", out var lengthText))
        {
            var length = int.Parse(lengthText, CultureInfo.InvariantCulture);
            while (buffer.Count - bodyStart < length && await ReceiveAsync())
            {
            }

            body = [.. buffer.GetRange(bodyStart, Math.Min(length, buffer.Count - bodyStart))];
        }
        else if (headers.TryGetValue("transfer-encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var decoded = new List<byte>();
            var position = bodyStart;
            while (true)
            {
                int lineEnd;
                while ((lineEnd = IndexOf(buffer, "\r\n"u8, position)) < 0 && await ReceiveAsync())
                {
                }

                var size = int.Parse(Encoding.ASCII.GetString([.. buffer.GetRange(position, lineEnd - position)]).Split(';')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                position = lineEnd + 2;
                while (buffer.Count < position + size + 2 && await ReceiveAsync())
                {
                }

                if (size == 0)
                {
                    break;
                }

                decoded.AddRange(buffer.GetRange(position, size));
                position += size + 2;
            }

            body = [.. decoded];
        }
        else if (status is 204 or 304 || (status >= 100 && status < 200))
        {
            body = [];
        }
        else
        {
            while (await ReceiveAsync())
            {
            }

            body = [.. buffer.GetRange(bodyStart, buffer.Count - bodyStart)];
        }

        return new RawResponse(status, headers, Encoding.UTF8.GetString(body), closed);

        async Task<bool> ReceiveAsync()
        {
            if (closed)
            {
                return false;
            }

            var read = await socket.ReceiveAsync(chunk, SocketFlags.None, cts.Token);
            if (read == 0)
            {
                closed = true;
                return false;
            }

            buffer.AddRange(chunk.AsSpan(0, read));
            return true;
        }
    }

    private static int IndexOf(List<byte> buffer, ReadOnlySpan<byte> value, int start = 0)
    {
        for (var i = start; i <= buffer.Count - value.Length; i++)
        {
            var match = true;
            for (var j = 0; j < value.Length && match; j++)
            {
                match = buffer[i + j] == value[j];
            }

            if (match)
            {
                return i;
            }
        }

        return -1;
    }
}
