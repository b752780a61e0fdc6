using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MeshLite.IntegrationTests.Common;
using Microsoft.AspNetCore.Http;

namespace MeshLite.IntegrationTests;

/// <summary>
/// Generated hostile requests — every trace header format mangled, mesh headers forged, smuggling shapes, odd targets —
/// sent over raw sockets through a sidecar's inbound listener and through another sidecar's outbound listener. Whatever
/// arrives, MeshLite answers without a 5xx of its own, never forwards an invalid trace context, counts every malformed
/// traceparent it saw, writes exactly one access line per request it handled, and stays ready.
/// </summary>
public partial class HostileInputTests
{
    private const int Variants = 10_000;
    private const int Workers = 8;

    private static readonly string[] _traceHeaders = ["traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags"];

    [Fact]
    public async Task TenThousandHostileRequests_ThroughInboundAndOutbound_NoMeshLite5xx_NoInvalidContextForwarded_EveryMalformedTraceparentCounted()
    {
        var received = new ConcurrentQueue<(string Name, string[] Values)[]>();
        await using var app = await TestApp.StartAsync(async context =>
        {
            received.Enqueue([.. context.Request.Headers.Select(h => (h.Key.ToLowerInvariant(), h.Value.Select(v => v ?? "").ToArray()))]);
            if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
            {
                await context.Request.Body.CopyToAsync(Stream.Null);
            }

            await context.Response.WriteAsync("ok");
        });

        var inboundLog = InProcessSidecar.NewAccessLogPath();
        var outboundLog = InProcessSidecar.NewAccessLogPath();
        await using var b = await InProcessSidecar.StartAsync("b", app.Port, new Dictionary<string, string?>
        {
            ["MeshLite:Tracing:Sampling"] = "50",
            ["MeshLite:AccessLog:Enabled"] = "true",
            ["MeshLite:AccessLog:Path"] = inboundLog,
        });

        // REGISTRY_ONLY: whatever Host the generator writes, nothing leaves this machine.
        await using var a = await InProcessSidecar.StartAsync("a", 1, new Dictionary<string, string?>
        {
            ["MeshLite:Tracing:Sampling"] = "50",
            ["MeshLite:OutboundTrafficPolicy"] = "REGISTRY_ONLY",
            ["MeshLite:Services:b:Endpoints:0"] = b.InboundAddress,
            ["MeshLite:AccessLog:Enabled"] = "true",
            ["MeshLite:AccessLog:Path"] = outboundLog,
        });

        var outcomes = new ConcurrentBag<Outcome>();
        var next = -1;
        var failures = new ConcurrentQueue<string>();
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < Variants)
            {
                var outbound = i % 2 == 1;
                var variant = HostileRequest.Generate(new Random(i), outbound);
                try
                {
                    var response = await SendAsync(outbound ? a.OutboundPort : b.InboundPort, variant.Bytes);
                    outcomes.Add(new Outcome(variant, response, outbound));
                }
                catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
                {
                    // Closing the connection without an answer is allowed only for shapes the listener refuses outright.
                    outcomes.Add(new Outcome(variant, null, outbound));
                    if (!variant.MayBeRefused)
                    {
                        failures.Enqueue($"#{i}: no response ({ex.GetType().Name}: {ex.Message}) to {variant.Describe()}");
                    }
                }
            }
        })));

        foreach (var o in outcomes.Where(o => o.Response is { Status: >= 500 } r && !IsBlackHole(o)))
        {
            failures.Enqueue($"#{o.Variant.Seed}: {o.Response!.Status} {o.Response.Body.Trim()} for {o.Variant.Describe()}");
        }

        // A failure names the variant and the access lines both sidecars wrote for it.
        var inboundText = File.Exists(inboundLog) ? File.ReadAllLines(inboundLog) : [];
        var outboundText = File.Exists(outboundLog) ? File.ReadAllLines(outboundLog) : [];
        string Lines(string failure)
        {
            var marker = "/fuzz/" + failure.Split(':')[0].TrimStart('#');
            return "\n   inbound: " + string.Join(" || ", inboundText.Where(l => l.Contains(marker, StringComparison.Ordinal)))
                + "\n   outbound: " + string.Join(" || ", outboundText.Where(l => l.Contains(marker, StringComparison.Ordinal)));
        }

        Assert.True(failures.IsEmpty, $"{failures.Count} failures, first ones:\n" + string.Join('\n', failures.Take(10).Select(f => f + Lines(f))));

        // No request reached the app with an invalid or doubled context, mesh-internal headers, or both body framings.
        foreach (var headers in received)
        {
            var byName = headers.ToDictionary(h => h.Name, h => h.Values);
            Assert.True(byName.TryGetValue("traceparent", out var tp) && tp.Length == 1 && ValidTraceParent().IsMatch(tp[0]) && !tp[0].Contains("-00000000000000000000000000000000-", StringComparison.Ordinal),
                "traceparent forwarded: " + string.Join(" | ", tp ?? []));
            Assert.Matches(ValidB3TraceId(), Assert.Single(byName["x-b3-traceid"]));
            Assert.Matches(ValidB3SpanId(), Assert.Single(byName["x-b3-spanid"]));
            Assert.True(byName.TryGetValue("x-b3-sampled", out var sampled) ? sampled is ["0"] or ["1"] : byName.GetValueOrDefault("x-b3-flags") is ["1"],
                "b3 sampling forwarded: " + string.Join(" | ", sampled ?? byName.GetValueOrDefault("x-b3-flags") ?? []));
            Assert.False(byName.ContainsKey("b3") && !ValidB3Single().IsMatch(byName["b3"][0]), "b3 forwarded: " + string.Join(" | ", byName.GetValueOrDefault("b3") ?? []));
            Assert.Single(byName["x-request-id"]);
            Assert.False(byName.ContainsKey("x-envoy-peer-metadata"), "peer metadata reached the app");
            Assert.False(byName.ContainsKey("x-envoy-decorator-operation"), "a decorator reached the app");
            Assert.False(byName.ContainsKey("content-length") && byName.ContainsKey("transfer-encoding"), "both body framings reached the app");
        }

        // Every malformed traceparent that reached MeshLite (not refused by the listener itself) was counted, and no more.
        var handledInbound = outcomes.Where(o => !o.Outbound && o.Handled).ToList();
        var handledOutbound = outcomes.Where(o => o.Outbound && o.Handled).ToList();
        Assert.Equal(handledInbound.Count(o => !o.Variant.TraceParentIsValid), await CounterAsync(b, "meshlite_trace_context_invalid_total", "format", "w3c"));
        Assert.Equal(handledOutbound.Count(o => !o.Variant.TraceParentIsValid), await CounterAsync(a, "meshlite_trace_context_invalid_total", "format", "w3c"));

        // One access line per handled request (nothing a header held split a line), on each side.
        var outboundLines = await InProcessSidecar.WaitForAccessLinesAsync(outboundLog, handledOutbound.Count);
        Assert.Equal(handledOutbound.Count, outboundLines.Length);
        var expectedInbound = handledInbound.Count + handledOutbound.Count(o => o.Response!.Headers.ContainsKey("x-envoy-upstream-service-time"));
        var inboundLines = await InProcessSidecar.WaitForAccessLinesAsync(inboundLog, expectedInbound);
        Assert.Equal(expectedInbound, inboundLines.Length);
        Assert.All(inboundLines.Concat(outboundLines), line => Assert.StartsWith("[", line));

        // Both sidecars are still ready, and the run exercised what it claims.
        using var client = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"{a.AdminAddress}/healthz/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"{b.AdminAddress}/healthz/ready")).StatusCode);
        Assert.Equal(Variants, outcomes.Count);
        Assert.InRange(handledInbound.Count + handledOutbound.Count, Variants / 2, Variants);
        Assert.InRange(outcomes.Count(o => o.Handled && !o.Variant.TraceParentIsValid), 1000, Variants);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"variants {Variants}: handled {handledInbound.Count + handledOutbound.Count}, refused by the listener {outcomes.Count(o => !o.Handled)}, " +
            $"malformed traceparent counted {outcomes.Count(o => o.Handled && !o.Variant.TraceParentIsValid)}, blackholed {outcomes.Count(o => o.Response is not null && IsBlackHole(o))}, MeshLite 5xx 0");
    }

    /// <summary>REGISTRY_ONLY's deliberate 502 for a host outside the registry (a HEAD answer has no body to say so).</summary>
    private static bool IsBlackHole(Outcome o) =>
        o.Outbound && o.Response!.Status == 502 && o.Response.Headers.GetValueOrDefault("server") == "envoy"
        && (o.Response.Body.StartsWith("BlackHoleCluster:", StringComparison.Ordinal) || (o.Variant.Describe().Contains(" HEAD ", StringComparison.Ordinal) || o.Variant.Describe().StartsWith("HEAD", StringComparison.Ordinal)) && !o.Variant.ToRegistry);

    private static async Task<double> CounterAsync(InProcessSidecar sidecar, string name, string label, string value)
    {
        var metrics = await PrometheusText.ScrapeAsync(sidecar.AdminPort);
        return metrics.Where(m => m.Name == name && m[label] == value).Sum(m => m.Value);
    }

    private static async Task<RawResponse> SendAsync(int port, byte[] request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(request);
        return await RawHttp.ReadResponseAsync(socket, TimeSpan.FromSeconds(15));
    }

    private sealed record Outcome(HostileRequest Variant, RawResponse? Response, bool Outbound)
    {
        /// <summary>MeshLite's own code saw the request: it answered with Envoy's server header (the listener's own refusals carry none).</summary>
        public bool Handled => Response is not null && Response.Headers.ContainsKey("server");
    }

    [GeneratedRegex("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$")]
    private static partial Regex ValidTraceParent();

    [GeneratedRegex("^([0-9a-f]{16}|[0-9a-f]{32})$")]
    private static partial Regex ValidB3TraceId();

    [GeneratedRegex("^[0-9a-f]{16}$")]
    private static partial Regex ValidB3SpanId();

    [GeneratedRegex("^([0-9a-f]{16}|[0-9a-f]{32})-[0-9a-f]{16}(-(0|1|d)(-[0-9a-f]{16})?)?$")]
    private static partial Regex ValidB3Single();
}

/// <summary>One generated request: its bytes, and what an independent reading of the W3C specification says of its traceparent.</summary>
internal sealed partial record HostileRequest(int Seed, byte[] Bytes, bool TraceParentIsValid, bool MayBeRefused, string Summary, bool ToRegistry)
{
    private const string Hex = "0123456789abcdef";

    private static readonly string[] _oddChars = ["G", "Z", "A", "F", " ", "\t", "-", "_", "é", "漢", "\u0001", "\u007f", "\"", "\\", "%0a", ",", ";", "="];

    public string Describe() => Summary;

    public static HostileRequest Generate(Random random, bool outbound)
    {
        var seed = random.Next();
        var headers = new List<(string Name, string Value)>();
        var summary = new StringBuilder();
        var mayBeRefused = false;

        // The target: origin-form, or (outbound) the absolute form an HTTP_PROXY client sends; the Host is b's in some spelling.
        var host = outbound ? Pick(random, "b", "B", "b:80", "b.default", "b.default.svc.cluster.local", "b.default.svc.cluster.local:80", "b.", "127.0.0.1", "2130706433", "0x7f000001", "[::1]", "[::ffff:127.0.0.1]", "localhost", "evil.example", "b@evil.example", "") : "b";
        var path = "/fuzz/" + seed + Pick(random, "", "?q=1", "/%0a%0d", "/%22quote", "/..%2f..%2f", "/" + new string('p', random.Next(1, 300)));
        var target = outbound && random.Next(3) == 0 ? $"http://{host}{path}" : path;
        var method = Pick(random, "GET", "GET", "POST", "HEAD", "DELETE", "OPTIONS");
        if (host.Length > 0 || !target.StartsWith("http", StringComparison.Ordinal))
        {
            headers.Add(("Host", host.Length > 0 ? host : "b"));
        }

        if (host.Contains('@', StringComparison.Ordinal) || host.Length == 0)
        {
            mayBeRefused = true;
        }

        // traceparent: absent, valid, or mangled.
        string[] traceParents = [];
        switch (random.Next(4))
        {
            case 0:
                break;
            case 1:
                traceParents = [ValidTraceParent(random)];
                break;
            default:
                traceParents = [Mutate(random, ValidTraceParent(random))];
                if (random.Next(10) == 0)
                {
                    traceParents = [.. Enumerable.Repeat(traceParents[0], random.Next(2, 4))];
                }

                break;
        }

        foreach (var value in traceParents)
        {
            headers.Add(("traceparent", value));
        }

        if (traceParents.Length > 0)
        {
            summary.Append("traceparent=").Append(string.Join(" | ", traceParents)).Append("; ");
        }

        if (random.Next(3) == 0)
        {
            headers.Add(("tracestate", Pick(random, "a=b", "", new string('s', 600), "k=v,k=v,,", "é=1")));
        }

        // B3, single and multi.
        if (random.Next(3) == 0)
        {
            var b3 = $"{RandomHex(random, 32)}-{RandomHex(random, 16)}-{Pick(random, "1", "0", "d")}";
            headers.Add(("b3", random.Next(2) == 0 ? b3 : Mutate(random, b3)));
        }

        if (random.Next(3) == 0)
        {
            headers.Add(("x-b3-traceid", MaybeMutate(random, RandomHex(random, Pick(random, 16, 32)))));
            headers.Add(("x-b3-spanid", MaybeMutate(random, RandomHex(random, 16))));
            headers.Add(("x-b3-sampled", Pick(random, "1", "0", "true", "2", "", "11")));
            if (random.Next(4) == 0)
            {
                headers.Add(("x-b3-flags", Pick(random, "1", "0", "x")));
            }
        }

        // Envoy's and Istio's headers, forged.
        if (random.Next(3) == 0)
        {
            headers.Add(("x-request-id", Pick(random, Guid.NewGuid().ToString(), "", "not-a-uuid", new string('r', random.Next(1, 8000)), "00000000-0000-0000-0000-000000000000", "é")));
        }

        if (random.Next(5) == 0)
        {
            headers.Add(("x-envoy-decorator-operation", Pick(random, "op", "", new string('o', 2000), "a\tb")));
        }

        if (random.Next(4) == 0)
        {
            headers.Add(("x-envoy-peer-metadata", PeerMetadataValue(random)));
        }

        if (random.Next(10) == 0)
        {
            headers.Add(("x-envoy-force-trace", "true"));
        }

        // Hundreds of repeats, and an 8 KB value.
        if (random.Next(30) == 0)
        {
            var name = Pick(random, "traceparent", "x-b3-traceid", "x-request-id", "b3");
            var value = name == "traceparent" ? ValidTraceParent(random) : "1";
            for (var k = random.Next(100, 300); k > 0; k--)
            {
                headers.Add((name, value));
            }

            if (name == "traceparent")
            {
                traceParents = [.. traceParents, .. Enumerable.Repeat(value, 2)];
            }

            mayBeRefused = true;
            summary.Append("repeated ").Append(name).Append("; ");
        }

        if (random.Next(40) == 0)
        {
            headers.Add((Pick(random, "traceparent", "b3", "x-b3-spanid", "user-agent"), new string('8', 8192)));
            if (headers[^1].Name == "traceparent")
            {
                traceParents = [.. traceParents, headers[^1].Value];
            }
        }

        // Request smuggling and framing shapes.
        var body = method == "POST" ? "hello" : "";
        var framing = random.Next(25);
        var raw = new StringBuilder();
        raw.Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n");
        foreach (var (name, value) in headers)
        {
            raw.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        switch (framing)
        {
            case 0:
                raw.Append("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
                summary.Append("CL+TE; ");
                mayBeRefused = true;
                break;
            case 1:
                raw.Append("Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!");
                summary.Append("two CL; ");
                mayBeRefused = true;
                break;
            case 2:
                raw.Append("X-Folded: a\r\n  folded\r\n\r\n");
                summary.Append("obs-fold; ");
                mayBeRefused = true;
                break;
            case 3:
                raw.Append("Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
                summary.Append("TE list; ");
                mayBeRefused = true;
                break;
            default:
                if (body.Length > 0)
                {
                    raw.Append("Content-Length: ").Append(body.Length).Append("\r\n");
                }

                raw.Append("Connection: close\r\n\r\n").Append(body);
                break;
        }

        summary.Append(method).Append(' ').Append(target).Append(" host=").Append(host);
        var bytes = Encoding.UTF8.GetBytes(raw.ToString());
        mayBeRefused |= bytes.Any(c => c >= 0x80 || (c < 0x20 && c != '\r' && c != '\n' && c != '\t'));
        var toRegistry = !outbound || host.Length == 0 || host.Split(':')[0].ToLowerInvariant() is "b" or "b.default" or "b.default.svc.cluster.local";
        return new HostileRequest(seed, bytes, IsValidTraceParent(traceParents), mayBeRefused, summary.ToString(), toRegistry);
    }

    /// <summary>The W3C rules, written from the specification independently of MeshLite's parser.</summary>
    private static bool IsValidTraceParent(string[] values)
    {
        if (values.Length == 0)
        {
            return true;
        }

        if (values.Length > 1)
        {
            return false;
        }

        var v = values[0].Trim(' ', '\t');
        var m = TraceParentShape().Match(v);
        if (!m.Success || v.Length > 256)
        {
            return false;
        }

        var version = m.Groups["version"].Value;
        var rest = m.Groups["rest"].Value;
        return version != "ff"
            && (version == "00" ? rest.Length == 0 : rest.Length == 0 || rest[0] == '-')
            && m.Groups["trace"].Value != new string('0', 32)
            && m.Groups["span"].Value != new string('0', 16);
    }

    [GeneratedRegex("^(?<version>[0-9a-f]{2})-(?<trace>[0-9a-f]{32})-(?<span>[0-9a-f]{16})-[0-9a-f]{2}(?<rest>.*)$", RegexOptions.Singleline)]
    private static partial Regex TraceParentShape();

    private static string ValidTraceParent(Random random) => $"00-{RandomHex(random, 32)}-{RandomHex(random, 16)}-0{random.Next(2)}";

    private static string MaybeMutate(Random random, string value) => random.Next(2) == 0 ? value : Mutate(random, value);

    private static string Mutate(Random random, string value)
    {
        var chars = new StringBuilder(value);
        for (var n = random.Next(1, 4); n > 0; n--)
        {
            var at = chars.Length == 0 ? 0 : random.Next(chars.Length);
            switch (random.Next(11))
            {
                case 0: chars.Remove(at, Math.Min(1, chars.Length - at)); break;
                case 1: chars.Insert(at, Pick(random, _oddChars)); break;
                case 2: if (chars.Length > 0) { chars[at] = Pick(random, _oddChars)[0]; } break;
                case 3: chars.Length = Math.Min(chars.Length, random.Next(0, 60)); break;
                case 4: chars.Append('-').Append(RandomHex(random, random.Next(1, 20))); break;
                case 5: if (chars.Length > 2) { chars[0] = Pick(random, "f", "0", "1", "z")[0]; chars[1] = Pick(random, "f", "1", "0")[0]; } break;
                case 6: if (chars.Length >= 35) { chars.Remove(3, 32).Insert(3, new string('0', 32)); } break;
                case 7: if (chars.Length >= 52) { chars.Remove(36, 16).Insert(36, new string('0', 16)); } break;
                case 8: if (chars.Length > at) { chars[at] = char.ToUpperInvariant(chars[at]); } break;
                case 9: chars.Replace('-', Pick(random, "_", ":", " ", "--")[0]); break;
                default: chars.Append(new string('a', random.Next(1, 300))); break;
            }
        }

        return chars.ToString();
    }

    private static string PeerMetadataValue(Random random)
    {
        var valid = Convert.FromBase64String("ChoKCkNMVVNURVJfSUQSDBoKS3ViZXJuZXRlcwoTCglOQU1FU1BBQ0USBhoEc2hvcA==");
        switch (random.Next(4))
        {
            case 0:
                return Convert.ToBase64String(valid);
            case 1:
                var mutated = (byte[])valid.Clone();
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
                return Convert.ToBase64String(mutated[..random.Next(1, mutated.Length + 1)]);
            case 2:
                var bytes = new byte[random.Next(1, 200)];
                random.NextBytes(bytes);
                return Convert.ToBase64String(bytes);
            default:
                return Pick(random, "Cv////8P", "not base64!", "", "====", new string('A', 5000));
        }
    }

    private static string RandomHex(Random random, int length) => string.Create(length, random, static (span, r) =>
    {
        for (var i = 0; i < span.Length; i++)
        {
            span[i] = Hex[r.Next(16)];
        }
    });

    private static T Pick<T>(Random random, params T[] choices) => choices[random.Next(choices.Length)];
}
