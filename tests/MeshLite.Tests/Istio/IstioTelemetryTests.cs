using MeshLite.Configuration;

namespace MeshLite.Istio.Tests;

/// <summary>Telemetry as istiod applies it to one sidecar: mesh, then namespace, then workload; merged field by field.</summary>
public class IstioTelemetryTests
{
    // Istio's documentation example, written fresh: a mesh default with every kind of custom tag, and a workload override.
    private const string MeshDefaultAndCheckoutDebug = """
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata:
          name: mesh-default
          namespace: istio-system
        spec:
          tracing:
          - providers:
            - name: otel
            randomSamplingPercentage: 5.0
            customTags:
              zone:
                literal:
                  value: eu-west-1
              pod:
                environment:
                  name: POD_NAME
                  defaultValue: unknown
              tenant:
                header:
                  name: x-tenant-id
                  defaultValue: none
          accessLogging:
          - providers:
            - name: envoy
        ---
        apiVersion: telemetry.istio.io/v1
        kind: Telemetry
        metadata:
          name: checkout-debug
          namespace: shop
        spec:
          selector:
            matchLabels:
              app: checkout
          tracing:
          - randomSamplingPercentage: 100
            disableSpanReporting: false
            useRequestIdForTraceSampling: false
        """;

    [Fact]
    public void MeshDefault_GivesEveryWorkloadItsSamplingAndAllThreeKindsOfCustomTag_NamingTheResource()
    {
        using var yaml = IstioYaml.Write(MeshDefaultAndCheckoutDebug);
        var (translation, options) = yaml.Apply(("App", "cart"));

        Assert.Equal(5.0, options.Tracing.Sampling);
        Assert.True(options.Tracing.Enabled);
        Assert.Equal("eu-west-1", options.Tracing.CustomTags["zone"].Literal!.Value);
        Assert.Equal("POD_NAME", options.Tracing.CustomTags["pod"].Environment!.Name);
        Assert.Equal("unknown", options.Tracing.CustomTags["pod"].Environment!.DefaultValue);
        Assert.Equal("x-tenant-id", options.Tracing.CustomTags["tenant"].Header!.Name);
        Assert.Equal("none", options.Tracing.CustomTags["tenant"].Header!.DefaultValue);
        Assert.True(options.Tracing.UseRequestIdForTraceSampling);
        Assert.Equal("Telemetry istio-system/mesh-default", translation.Settings.Single(s => s.Name == "Tracing:Sampling").Source);
        Assert.Equal("Telemetry istio-system/mesh-default", translation.Settings.Single(s => s.Name == "Tracing:CustomTags:zone").Source);
    }

    [Fact]
    public void WorkloadSelector_OverridesTheMeshForTheWorkloadItSelects_AndInheritsWhatItDoesNotSet()
    {
        using var yaml = IstioYaml.Write(MeshDefaultAndCheckoutDebug);
        var (translation, options) = yaml.Apply(("App", "checkout"));

        Assert.Equal(100, options.Tracing.Sampling);
        Assert.False(options.Tracing.UseRequestIdForTraceSampling);
        Assert.False(options.Tracing.DisableSpanReporting);
        Assert.Equal("eu-west-1", options.Tracing.CustomTags["zone"].Literal!.Value);
        Assert.Equal("Telemetry shop/checkout-debug", translation.Settings.Single(s => s.Name == "Tracing:Sampling").Source);
    }

    [Fact]
    public void Precedence_WorkloadOverNamespaceOverMesh_AndSelectorsOnlyInTheirOwnNamespace()
    {
        using var yaml = IstioYaml.Write("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh, namespace: istio-system}
            spec:
              tracing: [{providers: [{name: otel}], randomSamplingPercentage: 5}]
            ---
            apiVersion: telemetry.istio.io/v1alpha1
            kind: Telemetry
            metadata: {name: shop-wide, namespace: shop}
            spec:
              tracing: [{randomSamplingPercentage: 10, customTags: {team: {literal: {value: shop}}}}]
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: checkout-only, namespace: shop}
            spec:
              selector: {matchLabels: {app: checkout, version: v2}}
              tracing: [{randomSamplingPercentage: 50}]
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: elsewhere, namespace: other}
            spec:
              selector: {matchLabels: {app: checkout}}
              tracing: [{randomSamplingPercentage: 99}]
            """);

        Assert.Equal(50, yaml.Apply(("Version", "v2")).Options.Tracing.Sampling);
        Assert.Equal(10, yaml.Apply(("Version", "v1")).Options.Tracing.Sampling);
        Assert.Equal(10, yaml.Apply(("App", "cart")).Options.Tracing.Sampling);
        Assert.Equal(5, yaml.Apply(("Namespace", "billing")).Options.Tracing.Sampling);

        // customTags replace the whole map: the namespace's tags, not the mesh's plus the namespace's.
        Assert.Equal(["team"], yaml.Apply(("Version", "v2")).Options.Tracing.CustomTags.Keys);
    }

    [Fact]
    public void TwoNamespaceWideTelemetries_TheOldestWins_AndTheOtherIsNamedInAWarning()
    {
        using var yaml = IstioYaml.Write("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: newer, namespace: shop, creationTimestamp: "2026-03-01T00:00:00Z"}
            spec:
              tracing: [{providers: [{name: otel}], randomSamplingPercentage: 30}]
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: older, namespace: shop, creationTimestamp: "2025-03-01T00:00:00Z"}
            spec:
              tracing: [{providers: [{name: otel}], randomSamplingPercentage: 20}]
            """);
        var (translation, options) = yaml.Apply();

        Assert.Equal(20, options.Tracing.Sampling);
        Assert.Contains(translation.Warnings, w => w.Contains("Telemetry shop/newer: ignored", StringComparison.Ordinal) && w.Contains("IST0160", StringComparison.Ordinal));
    }

    [Fact]
    public void TracingWithoutAnyProvider_TurnsTracingOff_AsIstioDoes_AndSaysSo()
    {
        using var yaml = IstioYaml.Write("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              tracing:
              - randomSamplingPercentage: 10
            """);
        var (translation, options) = yaml.Apply();

        Assert.False(options.Tracing.Enabled);
        Assert.Contains(translation.Warnings, w => w.Contains("names no provider", StringComparison.Ordinal) && w.Contains("Istio turns tracing off", StringComparison.Ordinal));
    }

    [Fact]
    public void Provider_IsResolvedCaseInsensitivelyAgainstTheMeshConfig_AndAnUnknownOneTurnsTracingOff()
    {
        const string Mesh = """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |-
                extensionProviders:
                - name: otel
                  opentelemetry: {service: otel-collector.observability.svc.cluster.local, port: 4317}
            """;
        using (var known = IstioYaml.Write(("mesh.yaml", Mesh), ("telemetry.yaml", """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              tracing: [{providers: [{name: OTel}], randomSamplingPercentage: 7}]
            """)))
        {
            var (translation, options) = known.Apply();
            Assert.True(options.Tracing.Enabled);
            Assert.Equal(7, options.Tracing.Sampling);
            Assert.Contains(translation.Warnings, w => w.Contains("extensionProviders[0].opentelemetry", StringComparison.Ordinal) && w.Contains("not used", StringComparison.Ordinal));
        }

        using var unknown = IstioYaml.Write(("mesh.yaml", Mesh), ("telemetry.yaml", """
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              tracing: [{providers: [{name: zipkin}], randomSamplingPercentage: 7}]
            """));
        var (unknownTranslation, unknownOptions) = unknown.Apply();
        Assert.False(unknownOptions.Tracing.Enabled);
        Assert.Contains(unknownTranslation.Warnings, w => w.Contains("'zipkin' is not one of meshConfig.extensionProviders", StringComparison.Ordinal));
    }

    [Fact]
    public void DisableSpanReporting_AndTheMeshDefaultProvider_AreApplied()
    {
        using var yaml = IstioYaml.Write("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |-
                defaultProviders: {tracing: [otel]}
                defaultConfig: {tracing: {sampling: 10.0}}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: quiet, namespace: shop}
            spec:
              tracing: [{disableSpanReporting: true}]
            """);
        var (translation, options) = yaml.Apply();

        Assert.True(options.Tracing.Enabled);
        Assert.True(options.Tracing.DisableSpanReporting);

        // No Telemetry sets a percentage: defaultConfig.tracing.sampling is the fallback.
        Assert.Equal(10, options.Tracing.Sampling);
        Assert.Equal("ConfigMap istio-system/istio", translation.Settings.Single(s => s.Name == "Tracing:Sampling").Source);
    }

    [Fact]
    public void LegacyPath_WithoutTelemetryTracing_TakesEnableTracingAndDefaultSamplingFromAPlainMeshConfigFile()
    {
        using var yaml = IstioYaml.Write(("mesh.yaml", """
            # a plain mesh config file, as istiod's --meshConfig
            enableTracing: false
            defaultConfig:
              tracing:
                sampling: 250
            """));
        var (_, options) = yaml.Apply();

        Assert.False(options.Tracing.Enabled);

        // Above 100 counts as 1, as istiod has it.
        Assert.Equal(1.0, options.Tracing.Sampling);
    }

    [Fact]
    public void AccessLogging_DisabledByTelemetry_ElseMeshConfigAccessLogFileDecides()
    {
        using (var disabled = IstioYaml.Write("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              accessLogging: [{providers: [{name: envoy}]}]
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: no-logs, namespace: shop}
            spec:
              selector: {matchLabels: {app: checkout}}
              accessLogging: [{disabled: true}]
            """))
        {
            Assert.False(disabled.Apply().Options.AccessLog.Enabled);
            Assert.True(disabled.Apply(("App", "cart")).Options.AccessLog.Enabled);
        }

        using var mesh = IstioYaml.Write("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |-
                accessLogFile: /tmp/meshlite-access.log
                accessLogEncoding: JSON
                accessLogFormat: '{"code":"%RESPONSE_CODE%"}'
            """);
        var (translation, options) = mesh.Apply();
        Assert.True(options.AccessLog.Enabled);
        Assert.Equal("/tmp/meshlite-access.log", options.AccessLog.Path);
        Assert.Equal("JSON", options.AccessLog.Encoding);
        Assert.Equal("""{"code":"%RESPONSE_CODE%"}""", options.AccessLog.Format);
        Assert.Equal("ConfigMap istio-system/istio", translation.Settings.Single(s => s.Name == "AccessLog:Format").Source);

        using var silent = IstioYaml.Write("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |-
                outboundTrafficPolicy: {mode: REGISTRY_ONLY}
            """);
        var silentOptions = silent.Apply().Options;

        // A format MeshLite cannot fill: Istio's default, with the reason.
        using var unknown = IstioYaml.Write("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: istio, namespace: istio-system}
            data:
              mesh: |-
                accessLogFile: /dev/stdout
                accessLogFormat: "%RESPONSE_CODE% %DYNAMIC_METADATA(istio.mixer:status)%\n"
            """);
        var (unknownTranslation, unknownOptions) = unknown.Apply();
        Assert.Null(unknownOptions.AccessLog.Format);
        Assert.Contains(unknownTranslation.Warnings, w => w.Contains("accessLogFormat: %DYNAMIC_METADATA% is not a command operator MeshLite fills", StringComparison.Ordinal)
            && w.EndsWith("Istio's default TEXT format is used.", StringComparison.Ordinal));

        // Istio's accessLogFile defaults to "" (off), unlike MeshLite's own default.
        Assert.False(silentOptions.AccessLog.Enabled);
        Assert.Equal(OutboundTrafficPolicies.RegistryOnly, silentOptions.OutboundTrafficPolicy);
    }

    [Fact]
    public void TargetRefs_AreForGateways_SoTheTelemetryIsNotAppliedAndTheWarningSaysWhy()
    {
        using var yaml = IstioYaml.Write("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: gateway-only, namespace: shop}
            spec:
              targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: shop-gw}]
              tracing: [{providers: [{name: otel}], randomSamplingPercentage: 90}]
            """);
        var (translation, options) = yaml.Apply();

        Assert.Equal(1.0, options.Tracing.Sampling);
        Assert.Contains(translation.Warnings, w => w.Contains("spec.targetRefs", StringComparison.Ordinal) && w.Contains("sidecars ignore", StringComparison.Ordinal));
    }

    [Fact]
    public void ClientOnlyEntries_AreNotMeshLitesOneSetting_AndTheWarningSaysWhichIsUsed()
    {
        using var yaml = IstioYaml.Write("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              tracing: [{providers: [{name: otel}], randomSamplingPercentage: 5}]
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: checkout-debug, namespace: shop}
            spec:
              selector: {matchLabels: {app: checkout}}
              tracing: [{match: {mode: CLIENT}, randomSamplingPercentage: 100}]
              accessLogging: [{providers: [{name: envoy}], match: {mode: CLIENT}}]
            """);
        var (translation, options) = yaml.Apply();

        // Istio's example: the workload's own outbound calls traced at 100 %, its inbound requests at the mesh's 5 %.
        Assert.Equal(5, options.Tracing.Sampling);
        Assert.Equal(100, options.Tracing.OutboundSampling);
        Assert.Equal("Telemetry shop/checkout-debug", translation.Settings.Single(s => s.Name == "Tracing:OutboundSampling").Source);
        Assert.DoesNotContain(translation.Warnings, w => w.Contains("differs between CLIENT and SERVER", StringComparison.Ordinal));
        Assert.Contains(translation.Warnings, w => w.StartsWith("Telemetry shop/checkout-debug: accessLogging with match.mode CLIENT is not applied", StringComparison.Ordinal));

        // What MeshLite keeps once for both listeners (custom tags here) takes SERVER's, and says so.
        using var tags = IstioYaml.Write("""
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              tracing:
              - providers: [{name: otel}]
              - match: {mode: CLIENT}
                customTags: {direction: {literal: {value: out}}}
            """);
        var (tagTranslation, tagOptions) = tags.Apply();
        Assert.Empty(tagOptions.Tracing.CustomTags);
        Assert.Contains(tagTranslation.Warnings, w => w.Contains("differs between CLIENT and SERVER for this workload beyond the sampling percentage", StringComparison.Ordinal));
    }
}
