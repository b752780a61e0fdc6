using System.Net;
using System.Text;
using System.Text.Json;
using MeshLite.Configuration;
using MeshLite.Hops;
using Microsoft.AspNetCore.Http;

namespace MeshLite.AccessLog.Tests;

/// <summary>Custom formats (Istio's accessLogFormat): Envoy's grammar, the operators MeshLite fills, TEXT and typed JSON.</summary>
public class AccessLogFormatTests
{
    // Istio's own default TEXT format (envoy-istio-facts §6.2), as a user would copy it into accessLogFormat.
    private const string IstioDefault = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% "
        + "%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
        + "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" "
        + "%UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

    private static AccessLogEntry Entry(AccessLogFormat format, params (string Name, string Value)[] requestHeaders)
    {
        var request = new HeaderDictionary();
        foreach (var (name, value) in requestHeaders)
        {
            request[name] = value;
        }

        return new AccessLogEntry(
            new DateTime(2026, 12, 2, 10, 0, 0, DateTimeKind.Utc), "GET", null, "/orders/42", "?x=1", "HTTP/1.1", 503, ResponseFlags.FaultInjected, "fault_filter_abort",
            0, 18, 7, -1, null, "curl/8.5", "abc", "payment", null, "outbound|80||payment.default.svc.cluster.local", IPAddress.Loopback, 15001,
            IPAddress.Loopback, 40000, "faults", default, default, false, 1, format, format.Capture(request, new HeaderDictionary { ["x-served-by"] = "b-2" }));
    }

    private static AccessLogFormat Format(string format, string encoding = "TEXT") =>
        AccessLogFormat.From(new AccessLogOptions { Format = format, Encoding = encoding })!;

    [Fact]
    public void IstiosDefaultFormat_WrittenOut_GivesTheSameLineAsTheBuiltInOne_ButTheFieldsMeshLiteAddsAtTheEnd()
    {
        var line = new StringBuilder();
        var entry = Entry(Format(IstioDefault));
        entry.Format!.AppendText(line, entry);
        var builtIn = new StringBuilder();
        AccessLogFormatter.AppendText(builtIn, entry);

        Assert.Equal("[2026-12-02T10:00:00.000Z] \"GET /orders/42?x=1 HTTP/1.1\" 503 FI fault_filter_abort - \"-\" 0 18 7 - \"-\" \"curl/8.5\" \"abc\" \"payment\" \"-\" "
            + "outbound|80||payment.default.svc.cluster.local - 127.0.0.1:15001 127.0.0.1:40000 - faults\n", line.ToString());
        Assert.StartsWith(line.ToString().TrimEnd('\n'), builtIn.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AnyHeader_Truncation_AndAlternatives_AreRead_AndANewlineIsAppended()
    {
        var format = Format("%REQ(X-TENANT)% %REQ(X-MISSING?X-TENANT)% %REQ(USER-AGENT):4% %RESP(X-SERVED-BY)% %RESP(X-NONE)% %UPSTREAM_REQUEST_ATTEMPT_COUNT%");
        var entry = Entry(format, ("x-tenant", "acme"));
        var line = new StringBuilder();
        format.AppendText(line, entry);

        Assert.Equal("acme - curl b-2 - 1\n", line.ToString());
    }

    [Fact]
    public void Json_OneOperatorFieldsAreTyped_OthersAreStrings_UnsetIsNull()
    {
        var format = Format("""{"code":"%RESPONSE_CODE%","flags":"%RESPONSE_FLAGS%","tenant":"%REQ(x-tenant)%","summary":"%REQ(:METHOD)% %RESPONSE_CODE%","host":"%UPSTREAM_HOST%"}""", "JSON");
        var entry = Entry(format, ("x-tenant", "acme"));
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            format.WriteJson(json, entry);
        }

        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        var root = document.RootElement;
        Assert.Equal(503, root.GetProperty("code").GetInt32());
        Assert.Equal("FI", root.GetProperty("flags").GetString());
        Assert.Equal("acme", root.GetProperty("tenant").GetString());
        Assert.Equal("GET 503", root.GetProperty("summary").GetString());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("host").ValueKind);
    }

    [Theory]
    [InlineData("%NOT_AN_OPERATOR%", "%NOT_AN_OPERATOR% is not a command operator MeshLite fills")]
    [InlineData("%REQ%", "%REQ% needs a header, as %REQ(X-REQUEST-ID)%")]
    [InlineData("%START_TIME(%s)%", "%START_TIME(%s)%: MeshLite takes %START_TIME% without an argument")]
    [InlineData("100% done", "'%' at 3 does not start a command operator")]
    [InlineData("%RESPONSE_CODE", "%RESPONSE_CODE is not closed by '%'")]
    [InlineData("%REQ(USER-AGENT):x%", "the length after ':' must be a positive whole number")]
    public void AFormatMeshLiteCannotFill_IsRefusedAtStart_NamingTheKey(string format, string expected)
    {
        var errors = MeshLiteOptionsValidator.Validate(new MeshLiteOptions { ServiceName = "payment", Inbound = { AppPort = 8080 }, AccessLog = { Format = format } });

        Assert.Contains(errors, e => e.StartsWith("MeshLite:AccessLog:Format: ", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void AJsonFormat_MustBeAnObjectOfStrings()
    {
        Assert.False(EnvoyFormat.TryParseJson("[1]", out _, out var array));
        Assert.Contains("JSON object", array, StringComparison.Ordinal);
        Assert.False(EnvoyFormat.TryParseJson("""{"code": 200}""", out _, out var number));
        Assert.Equal("field 'code' must be a format string", number);
        Assert.True(EnvoyFormat.TryParse(IstioDefault, out var tokens, out _));
        Assert.Equal(24, tokens.Count(t => t.Operator is not null));
    }
}
