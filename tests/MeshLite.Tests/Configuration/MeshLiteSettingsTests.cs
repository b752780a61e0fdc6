using MeshLite.Configuration;
using Microsoft.Extensions.Configuration;

namespace MeshLite.Configuration.Tests;

public class MeshLiteSettingsTests
{
    private static MeshLiteSettings Load(params (string Key, string? Value)[] values) =>
        MeshLiteSettings.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build());

    [Fact]
    public void Load_Minimal_DerivesIstioIdentity()
    {
        var settings = Load(("MeshLite:ServiceName", "payment"), ("MeshLite:Inbound:AppPort", "8080"),
            ("MeshLite:PodName", "payment-7d4f"), ("MeshLite:PodIp", "10.1.2.3"), ("MeshLite:Namespace", "shop"));
        Assert.Equal("sidecar~10.1.2.3~payment-7d4f.shop~shop.svc.cluster.local", settings.NodeId);
        Assert.Equal("inbound|8080||", settings.InboundClusterName);
        Assert.Equal("payment.shop.svc.cluster.local:80/*", settings.InboundOperationName);
        Assert.Equal(15006, settings.Options.Inbound.Port);
        Assert.Equal(15001, settings.Options.Outbound.Port);
        Assert.Equal(15000, settings.Options.Admin.Port);
        Assert.Equal("127.0.0.1", settings.Options.Admin.BindAddress);
    }

    [Fact]
    public void Load_MissingRequiredKeys_NamesBothInOneMessage()
    {
        var ex = Assert.Throws<MeshLiteConfigurationException>(() => Load());
        Assert.Contains("MeshLite:ServiceName is required", ex.Message);
        Assert.Contains("MeshLite:Inbound:AppPort is required", ex.Message);
    }

    [Theory]
    [InlineData("MeshLite:OutboundTrafficPolicy", "ALLOW_SOME", "MeshLite:OutboundTrafficPolicy 'ALLOW_SOME'")]
    [InlineData("MeshLite:Inbound:Port", "70000", "MeshLite:Inbound:Port '70000'")]
    [InlineData("MeshLite:Admin:BindAddress", "localhost:1", "MeshLite:Admin:BindAddress 'localhost:1'")]
    [InlineData("MeshLite:Tracing:Sampling", "101", "MeshLite:Tracing:Sampling '101'")]
    [InlineData("MeshLite:Tracing:Propagation:0", "jaeger", "MeshLite:Tracing:Propagation:0 'jaeger'")]
    [InlineData("MeshLite:Services:payment:Endpoints:0", "not a url", "MeshLite:Services:payment:Endpoints:0 'not a url'")]
    [InlineData("MeshLite:Services:Bad_Name:Port", "80", "MeshLite:Services:Bad_Name")]
    [InlineData("MeshLite:Tracing:Otlp:Protocol", "thrift", "MeshLite:Tracing:Otlp:Protocol 'thrift'")]
    [InlineData("MeshLite:Outbound:Port", "8080", "MeshLite:Inbound:AppPort '8080' is already used by MeshLite:Outbound:Port")]
    [InlineData("MeshLite:Inbound:Timeout", "-00:00:01", "MeshLite:Inbound:Timeout")]
    public void Load_BadValue_NamesKeyAndValue(string key, string value, string expected)
    {
        var ex = Assert.Throws<MeshLiteConfigurationException>(() =>
            Load(("MeshLite:ServiceName", "payment"), ("MeshLite:Inbound:AppPort", "8080"), (key, value)));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Load_UnconvertibleValue_NamesKey()
    {
        var ex = Assert.Throws<MeshLiteConfigurationException>(() =>
            Load(("MeshLite:ServiceName", "payment"), ("MeshLite:Inbound:AppPort", "eighty")));
        Assert.Contains("MeshLite:Inbound:AppPort", ex.Message);
        Assert.Contains("eighty", ex.Message);
    }

    [Fact]
    public void Load_CustomTagWithTwoKinds_IsRefused()
    {
        var ex = Assert.Throws<MeshLiteConfigurationException>(() => Load(("MeshLite:ServiceName", "payment"), ("MeshLite:Inbound:AppPort", "8080"),
            ("MeshLite:Tracing:CustomTags:team:Literal:Value", "x"), ("MeshLite:Tracing:CustomTags:team:Header:Name", "x-team")));
        Assert.Contains("MeshLite:Tracing:CustomTags:team must set exactly one", ex.Message);
    }
}
