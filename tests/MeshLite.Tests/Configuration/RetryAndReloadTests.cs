using System.Text;
using MeshLite.Proxy;
using MeshLite.Routing;
using Microsoft.Extensions.Configuration;

namespace MeshLite.Configuration.Tests;

public class RetryAndReloadTests
{
    private static readonly (string, string?)[] _required = [("MeshLite:ServiceName", "payment"), ("MeshLite:Inbound:AppPort", "8080")];

    private static IConfiguration Config(params (string Key, string? Value)[] values)
    {
        var all = _required.ToDictionary(v => v.Item1, v => v.Item2);
        foreach (var (key, value) in values)
        {
            all[key] = value;
        }

        return new ConfigurationBuilder().AddInMemoryCollection(all).Build();
    }

    [Fact]
    public void RetryOn_Empty_IsIstiosBuiltInPolicy_WithNoStatusCode()
    {
        Assert.True(RetryOn.TryParse(null, out var conditions, out var codes, out _));
        Assert.Equal(RetryConditions.ConnectFailure | RetryConditions.RefusedStream | RetryConditions.GrpcUnavailable
            | RetryConditions.GrpcCancelled | RetryConditions.RetriableStatusCodes, conditions);
        Assert.Empty(codes);
        var policy = new UpstreamPolicy(2, null, conditions, codes, null);
        Assert.False(policy.ShouldRetry(503, null));
        Assert.True(policy.ShouldRetry(200, "14"));
        Assert.True(policy.ShouldRetry(UpstreamFailure.ConnectFailure));
        Assert.False(policy.ShouldRetry(UpstreamFailure.Reset));
        Assert.False(policy.ShouldRetry(UpstreamFailure.PerTryTimeout));
    }

    [Fact]
    public void RetryOn_StatusCodes_AddRetriableStatusCodes()
    {
        Assert.True(RetryOn.TryParse("reset,503,409,503", out var conditions, out var codes, out _));
        Assert.Equal(RetryConditions.Reset | RetryConditions.RetriableStatusCodes, conditions);
        Assert.Equal([409, 503], codes);
    }

    [Theory]
    [InlineData("5xx", 500, true)]
    [InlineData("5xx", 404, false)]
    [InlineData("gateway-error", 502, true)]
    [InlineData("gateway-error", 500, false)]
    [InlineData("retriable-4xx", 409, true)]
    [InlineData("retriable-status-codes", 503, false)]
    [InlineData("503", 503, true)]
    public void ShouldRetry_Status_AsEnvoysConditions(string retryOn, int status, bool retried)
    {
        Assert.True(RetryOn.TryParse(retryOn, out var conditions, out var codes, out _));
        Assert.Equal(retried, new UpstreamPolicy(1, null, conditions, codes, null).ShouldRetry(status, null));
    }

    [Theory]
    [InlineData("5xx", "reset", true)]
    [InlineData("5xx", "per-try-timeout", true)]
    [InlineData("gateway-error", "connect-failure", true)]
    [InlineData("reset", "refused-stream", true)]
    [InlineData("reset-before-request", "connect-failure", true)]
    [InlineData("reset-before-request", "reset", false)]
    [InlineData("connect-failure", "per-try-timeout", false)]
    [InlineData("refused-stream", "connect-failure", false)]
    public void ShouldRetry_NoResponse_AsEnvoysWouldRetryFromReset(string retryOn, string failure, bool retried)
    {
        Assert.True(RetryOn.TryParse(retryOn, out var conditions, out var codes, out _));
        var kind = failure switch
        {
            "reset" => UpstreamFailure.Reset,
            "per-try-timeout" => UpstreamFailure.PerTryTimeout,
            "connect-failure" => UpstreamFailure.ConnectFailure,
            _ => UpstreamFailure.RefusedStream,
        };
        Assert.Equal(retried, new UpstreamPolicy(1, null, conditions, codes, null).ShouldRetry(kind));
    }

    [Theory]
    [InlineData("MeshLite:Services:b:Retries:RetryOn", "5xx, reset", "MeshLite:Services:b:Retries:RetryOn ' reset' is not a retryOn condition")]
    [InlineData("MeshLite:Services:b:Retries:RetryOn", "600", "MeshLite:Services:b:Retries:RetryOn '600' is not an HTTP status code")]
    [InlineData("MeshLite:Services:b:Retries:Attempts", "-1", "MeshLite:Services:b:Retries:Attempts '-1' must not be negative")]
    [InlineData("MeshLite:Services:b:Retries:PerTryTimeout", "00:00:00", "MeshLite:Services:b:Retries:PerTryTimeout '00:00:00' must be at least 1 ms")]
    [InlineData("MeshLite:TerminationDrainDuration", "-00:00:01", "MeshLite:TerminationDrainDuration '-00:00:01' must be between")]
    public void InvalidRetryOrDrain_IsRefused_NamingTheKey(string key, string value, string message)
    {
        var ex = Assert.Throws<MeshLiteConfigurationException>(() => MeshLiteSettings.Load(Config(("MeshLite:Services:b:Endpoints:0", "http://127.0.0.1:1"), (key, value))));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void AttemptsZero_WithConditions_IsRefused_AsIstioDoes()
    {
        var ex = Assert.Throws<MeshLiteConfigurationException>(() => MeshLiteSettings.Load(Config(
            ("MeshLite:Services:b:Retries:Attempts", "0"), ("MeshLite:Services:b:Retries:RetryOn", "5xx"))));
        Assert.Contains("MeshLite:Services:b:Retries:Attempts is 0", ex.Message);
    }

    [Fact]
    public void EmptyRetriesObject_InTheFile_IsIstiosDefault_TwoRetries()
    {
        var json = """{ "MeshLite": { "ServiceName": "a", "Inbound": { "AppPort": 1 }, "Services": { "b": { "Retries": {} } } } }""";
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var retries = MeshLiteSettings.Load(configuration).Options.Services["b"].Retries;
        Assert.NotNull(retries);
        Assert.Equal(2, retries.Attempts);
        var policy = UpstreamPolicy.From(retries, timeout: null)!;
        Assert.True(policy.ShouldRetry(UpstreamFailure.ConnectFailure));
        Assert.Null(UpstreamPolicy.From(null, timeout: null));
    }

    [Fact]
    public void BackOff_IsEnvoysJitteredExponential_CappedAt250ms()
    {
        for (var i = 0; i < 200; i++)
        {
            Assert.InRange(UpstreamRetryHandler.BackOff(1).TotalMilliseconds, 0, 25);
            Assert.InRange(UpstreamRetryHandler.BackOff(2).TotalMilliseconds, 0, 75);
            Assert.InRange(UpstreamRetryHandler.BackOff(9).TotalMilliseconds, 0, 250);
        }
    }

    [Fact]
    public void Reload_KeepsRestartOnlyKeys_AndNamesTheEditedOnes()
    {
        var running = MeshLiteSettings.Load(Config(("MeshLite:Inbound:Port", "15006"), ("MeshLite:Tracing:Sampling", "1")));
        var next = MeshLiteSettings.Reload(running, Config(
            ("MeshLite:ServiceName", "renamed"), ("MeshLite:Inbound:Port", "16006"), ("MeshLite:Tracing:Otlp:Endpoint", "http://127.0.0.1:4317"),
            ("MeshLite:Tracing:Sampling", "50")), out var restartRequired);

        Assert.Equal(["MeshLite:ServiceName", "MeshLite:Inbound:Port", "MeshLite:Tracing:Otlp:Endpoint"], restartRequired);
        Assert.Equal("payment", next.ServiceName);
        Assert.Equal(15006, next.Options.Inbound.Port);
        Assert.Null(next.Options.Tracing.Otlp.Endpoint);
        Assert.Equal(50, next.Options.Tracing.Sampling);
        Assert.Equal(running.NodeId, next.NodeId);
    }

    [Fact]
    public void Reload_InvalidEdit_Throws_NamingTheKey()
    {
        var running = MeshLiteSettings.Load(Config());
        var ex = Assert.Throws<MeshLiteConfigurationException>(() => MeshLiteSettings.Reload(running, Config(("MeshLite:Tracing:Sampling", "300")), out _));
        Assert.Contains("MeshLite:Tracing:Sampling '300'", ex.Message);
    }
}
