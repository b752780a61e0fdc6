using System.Collections.Concurrent;
using System.Net;
using System.Text;
using MeshLite.Configuration;
using MeshLite.Diagnostics;
using MeshLite.Hops;
using MeshLite.Metrics;

namespace MeshLite.AccessLog.Tests;

public class AccessLogWriterTests
{
    private static AccessLogEntry Entry(string path) => new(
        new DateTime(2026, 12, 2, 10, 0, 0, DateTimeKind.Utc), "GET", null, path, null, "HTTP/1.1", 200, ResponseFlags.None, "via_upstream",
        0, 2, 1, 1, null, "curl/8.5", "ébc", "payment", "127.0.0.1:8080", "inbound|8080||", IPAddress.Loopback, 15006,
        IPAddress.Loopback, 40000, "default", default, default, false);

    /// <summary>Records every write the writer makes, so that batching is visible.</summary>
    private sealed class RecordingStream : MemoryStream
    {
        public ConcurrentQueue<string> Writes { get; } = new();

        public override void Write(ReadOnlySpan<byte> buffer) => Writes.Enqueue(Encoding.UTF8.GetString(buffer));

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    }

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the writer did not write in time");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Lines_WaitForTheFlushInterval_AndGoOutInOneWrite()
    {
        var output = new RecordingStream();
        var options = new AccessLogOptions { FlushInterval = TimeSpan.FromMilliseconds(300) };
        await using var writer = new AccessLogWriter(options, new MeshLiteMetrics(), output);
        for (var i = 0; i < 5; i++)
        {
            writer.Write(Entry($"/orders/{i}"));
        }

        await Until(() => !output.Writes.IsEmpty);
        var write = Assert.Single(output.Writes);
        Assert.Equal(5, write.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("\"GET /orders/4 HTTP/1.1\"", write, StringComparison.Ordinal);
        Assert.Contains("\"ébc\"", write, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ABatchOfLines_IsWrittenBeforeTheInterval_AndTheRestOnFlush()
    {
        var output = new RecordingStream();

        // An interval no test waits for: only the batch size (BufferSize / 4 lines) or the final flush writes.
        var options = new AccessLogOptions { FlushInterval = TimeSpan.FromMinutes(1), BufferSize = 8, Encoding = "JSON" };
        await using var writer = new AccessLogWriter(options, new MeshLiteMetrics(), output);
        writer.Write(Entry("/a"));
        writer.Write(Entry("/b"));
        await Until(() => !output.Writes.IsEmpty);
        Assert.Equal(2, output.Writes.Single().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        writer.Write(Entry("/c"));
        await writer.FlushAsync(CancellationToken.None);
        Assert.Equal(2, output.Writes.Count);
        Assert.Contains("\"path\":\"/c\"", output.Writes.Last(), StringComparison.Ordinal);
    }

    [Fact]
    public void FlushInterval_IsValidated_NamingTheKey()
    {
        var options = new MeshLiteOptions { ServiceName = "web", Inbound = { AppPort = 8080 }, AccessLog = { FlushInterval = TimeSpan.Zero } };
        Assert.Contains(MeshLiteOptionsValidator.Validate(options), e => e.Contains("MeshLite:AccessLog:FlushInterval '00:00:00'", StringComparison.Ordinal));
    }
}
