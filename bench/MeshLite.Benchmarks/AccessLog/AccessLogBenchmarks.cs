using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using MeshLite.AccessLog;
using MeshLite.Hops;
using MeshLite.Tracing.Propagation;

namespace MeshLite.Benchmarks.AccessLog;

/// <summary>Formatting one access-log line (on the writer thread, off the request path).</summary>
[MemoryDiagnoser]
public class AccessLogBenchmarks
{
    private readonly StringBuilder _line = new(512);
    private readonly MemoryStream _buffer = new();
    private Utf8JsonWriter _json = null!;
    private AccessLogEntry _entry;

    [GlobalSetup]
    public void Setup()
    {
        _json = new Utf8JsonWriter(_buffer);
        _entry = new AccessLogEntry(DateTime.UtcNow, "GET", null, "/orders/42", "?x=1", "HTTP/1.1", 200, ResponseFlags.None, "via_upstream", 0, 1024, 3, 2,
            null, "curl/8.0", "84961386-6d84-929d-98bd-c5aee93b5c88", "payment:8080", "127.0.0.1:8080", "inbound|8080||",
            IPAddress.Loopback, 15006, IPAddress.Loopback, 51234, "default",
            new TraceIdentifier(0x4bf92f3577b34da6, 0xa3ce929d0e0e4736), new SpanIdentifier(0x00f067aa0ba902b7), true);
    }

    [Benchmark(Baseline = true)]
    public int Text()
    {
        _line.Clear();
        AccessLogFormatter.AppendText(_line, _entry);
        return _line.Length;
    }

    [Benchmark]
    public long Json()
    {
        _buffer.SetLength(0);
        _json.Reset();
        AccessLogFormatter.WriteJson(_json, _entry);
        _json.Flush();
        return _buffer.Length;
    }
}
