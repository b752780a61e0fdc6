using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace MeshLite.IntegrationTests.Common;

public sealed record ReceivedSpan(
    string Service,
    string TraceId,
    string SpanId,
    string ParentSpanId,
    string Name,
    int Kind,
    IReadOnlyDictionary<string, string> Attributes,
    int StatusCode,
    IReadOnlyDictionary<string, string> Resource,
    IReadOnlyList<(string TraceId, string SpanId)> Links,
    string Transport,
    IReadOnlyList<(string Name, IReadOnlyDictionary<string, string> Attributes)> Events)
{
    public const int Server = 2;
    public const int Client = 3;

    public string Tag(string key) => Attributes.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"span '{Name}' ({Service}) has no tag '{key}'; tags: {string.Join(", ", Attributes.Keys)}");
}

/// <summary>A small OTLP trace receiver on loopback: OTLP/HTTP protobuf at /v1/traces and OTLP/gRPC (h2c) on a second port.</summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private int _httpPort;
    private int _grpcPort;

    private OtlpReceiver(WebApplication app) => _app = app;

    public string HttpEndpoint => $"http://127.0.0.1:{_httpPort}";
    public string GrpcEndpoint => $"http://127.0.0.1:{_grpcPort}";
    public IReadOnlyCollection<ReceivedSpan> Spans => _spans;
    private int _requests;

    public int Requests => Volatile.Read(ref _requests);

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        ListenOptions? http = null, grpc = null;
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0, o => { o.Protocols = HttpProtocols.Http1; http = o; });
            k.Listen(IPAddress.Loopback, 0, o => { o.Protocols = HttpProtocols.Http2; grpc = o; });
        });
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", async context =>
        {
            var body = await ReadAllAsync(context.Request.Body);
            receiver.Decode(body, "http");
            context.Response.ContentType = "application/x-protobuf";
        });
        app.MapPost("/opentelemetry.proto.collector.trace.v1.TraceService/Export", async context =>
        {
            var body = await ReadAllAsync(context.Request.Body);
            receiver.Decode(body.AsSpan(5), "grpc");
            context.Response.ContentType = "application/grpc";
            await context.Response.Body.WriteAsync(new byte[5]);
            context.Response.AppendTrailer("grpc-status", "0");
        });
        await app.StartAsync();
        receiver._httpPort = ((IPEndPoint)http!.EndPoint).Port;
        receiver._grpcPort = ((IPEndPoint)grpc!.EndPoint).Port;
        return receiver;
    }

    /// <summary>Polls until <paramref name="predicate"/> holds for the spans received so far, or fails after the deadline.</summary>
    public async Task<IReadOnlyList<ReceivedSpan>> WaitForAsync(Func<IReadOnlyList<ReceivedSpan>, bool> predicate, TimeSpan? timeout = null, string? what = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var snapshot = _spans.ToArray();
            if (predicate(snapshot))
            {
                return snapshot;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"OTLP receiver: {what ?? "condition"} not met; received {snapshot.Length} spans: " +
                    string.Join("; ", snapshot.Select(s => $"{s.Service} {s.Name} {s.TraceId}/{s.SpanId}<-{s.ParentSpanId}")));
            }

            await Task.Delay(50);
        }
    }

    public Task<IReadOnlyList<ReceivedSpan>> WaitForTraceAsync(string traceId, int count, TimeSpan? timeout = null) =>
        WaitForAsync(s => s.Count(x => x.TraceId == traceId) >= count, timeout, $"{count} spans of trace {traceId}")
            .ContinueWith(t => (IReadOnlyList<ReceivedSpan>)t.Result.Where(x => x.TraceId == traceId).ToList(), TaskScheduler.Default);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static async Task<byte[]> ReadAllAsync(Stream body)
    {
        using var buffer = new MemoryStream();
        await body.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private void Decode(ReadOnlySpan<byte> request, string transport)
    {
        Interlocked.Increment(ref _requests);
        var reader = new ProtobufReader(request);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == 2)
            {
                DecodeResourceSpans(reader.ReadBytes(), transport);
            }
            else
            {
                reader.Skip(wire);
            }
        }
    }

    private void DecodeResourceSpans(ReadOnlySpan<byte> data, string transport)
    {
        var resource = new Dictionary<string, string>();
        var scopeSpans = new List<byte[]>();
        var reader = new ProtobufReader(data);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == 2)
            {
                var r = new ProtobufReader(reader.ReadBytes());
                while (r.TryReadTag(out var f, out var w))
                {
                    if (f == 1 && w == 2)
                    {
                        var (k, v) = DecodeKeyValue(r.ReadBytes());
                        resource[k] = v;
                    }
                    else
                    {
                        r.Skip(w);
                    }
                }
            }
            else if (field == 2 && wire == 2)
            {
                scopeSpans.Add(reader.ReadBytes().ToArray());
            }
            else
            {
                reader.Skip(wire);
            }
        }

        var service = resource.GetValueOrDefault("service.name", "");
        foreach (var scope in scopeSpans)
        {
            var r = new ProtobufReader(scope);
            while (r.TryReadTag(out var f, out var w))
            {
                if (f == 2 && w == 2)
                {
                    _spans.Enqueue(DecodeSpan(r.ReadBytes(), service, resource, transport));
                }
                else
                {
                    r.Skip(w);
                }
            }
        }
    }

    private static ReceivedSpan DecodeSpan(ReadOnlySpan<byte> data, string service, Dictionary<string, string> resource, string transport)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        int kind = 0, status = 0;
        var attributes = new Dictionary<string, string>();
        var links = new List<(string, string)>();
        var events = new List<(string, IReadOnlyDictionary<string, string>)>();
        var reader = new ProtobufReader(data);
        while (reader.TryReadTag(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, 2): traceId = Convert.ToHexStringLower(reader.ReadBytes()); break;
                case (2, 2): spanId = Convert.ToHexStringLower(reader.ReadBytes()); break;
                case (4, 2): parent = Convert.ToHexStringLower(reader.ReadBytes()); break;
                case (5, 2): name = Encoding.UTF8.GetString(reader.ReadBytes()); break;
                case (6, 0): kind = (int)reader.ReadVarint(); break;
                case (9, 2):
                    var (k, v) = DecodeKeyValue(reader.ReadBytes());
                    attributes[k] = v;
                    break;
                case (11, 2):
                    var ev = new ProtobufReader(reader.ReadBytes());
                    var eventName = "";
                    var eventAttributes = new Dictionary<string, string>();
                    while (ev.TryReadTag(out var ef, out var ew))
                    {
                        if (ef == 2 && ew == 2) { eventName = Encoding.UTF8.GetString(ev.ReadBytes()); }
                        else if (ef == 3 && ew == 2) { var (ek, evv) = DecodeKeyValue(ev.ReadBytes()); eventAttributes[ek] = evv; }
                        else { ev.Skip(ew); }
                    }

                    events.Add((eventName, eventAttributes));
                    break;
                case (13, 2):
                    var l = new ProtobufReader(reader.ReadBytes());
                    string lt = "", ls = "";
                    while (l.TryReadTag(out var lf, out var lw))
                    {
                        if (lf == 1 && lw == 2) { lt = Convert.ToHexStringLower(l.ReadBytes()); }
                        else if (lf == 2 && lw == 2) { ls = Convert.ToHexStringLower(l.ReadBytes()); }
                        else { l.Skip(lw); }
                    }

                    links.Add((lt, ls));
                    break;
                case (15, 2):
                    var s = new ProtobufReader(reader.ReadBytes());
                    while (s.TryReadTag(out var sf, out var sw))
                    {
                        if (sf == 3 && sw == 0) { status = (int)s.ReadVarint(); }
                        else { s.Skip(sw); }
                    }

                    break;
                default: reader.Skip(wire); break;
            }
        }

        return new ReceivedSpan(service, traceId, spanId, parent, name, kind, attributes, status, resource, links, transport, events);
    }

    private static (string Key, string Value) DecodeKeyValue(ReadOnlySpan<byte> data)
    {
        string key = "", value = "";
        var reader = new ProtobufReader(data);
        while (reader.TryReadTag(out var field, out var wire))
        {
            if (field == 1 && wire == 2)
            {
                key = Encoding.UTF8.GetString(reader.ReadBytes());
            }
            else if (field == 2 && wire == 2)
            {
                var any = new ProtobufReader(reader.ReadBytes());
                while (any.TryReadTag(out var f, out var w))
                {
                    value = (f, w) switch
                    {
                        (1, 2) => Encoding.UTF8.GetString(any.ReadBytes()),
                        (2, 0) => any.ReadVarint() != 0 ? "true" : "false",
                        (3, 0) => ((long)any.ReadVarint()).ToString(),
                        (4, 1) => BitConverter.UInt64BitsToDouble(any.ReadFixed64()).ToString(System.Globalization.CultureInfo.InvariantCulture),
                        _ => Skip(ref any, w),
                    };
                }
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return (key, value);
    }

    private static string Skip(ref ProtobufReader reader, int wire)
    {
        reader.Skip(wire);
        return "";
    }
}
