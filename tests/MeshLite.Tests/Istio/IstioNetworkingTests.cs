using MeshLite.Configuration;

namespace MeshLite.Istio.Tests;

/// <summary>VirtualService, ServiceEntry and Sidecar as the calling sidecar applies them: its routes, its registry, its outbound policy.</summary>
public class IstioNetworkingTests
{
    // Istio's documentation example, written fresh: a canary rule for GETs with a header, and a weighted default with faults.
    private const string Reviews = """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata:
          name: reviews
          namespace: shop
        spec:
          hosts:
          - reviews
          http:
          - name: canary-get
            match:
            - uri:
                prefix: /api/
              method:
                exact: GET
              headers:
                x-canary:
                  exact: "1"
                x-debug: {}
            route:
            - destination:
                host: reviews
                subset: v2
                port:
                  number: 9080
            timeout: 2s
            retries:
              attempts: 3
              perTryTimeout: 500ms
              retryOn: connect-failure,refused-stream,503
          - route:
            - destination: {host: reviews, subset: v1}
              weight: 90
            - destination: {host: ratings, subset: v2}
              weight: 10
            fault:
              delay:
                fixedDelay: 3s
                percentage: {value: 0.5}
              abort:
                httpStatus: 503
                percentage: {value: 0.1}
            headers:
              request:
                set: {x-route: stable}
              response:
                remove: [x-debug]
        """;

    [Fact]
    public void VirtualService_BecomesRoutesOfTheRegistryService_WithMatchTimeoutRetriesFaultsAndWeights()
    {
        using var yaml = IstioYaml.Write(Reviews);
        var (translation, options) = yaml.Apply(("Services:reviews:Namespace", "shop"), ("Services:reviews:Endpoints:0", "http://127.0.0.1:9080"),
            ("Services:ratings:Namespace", "shop"), ("Services:ratings:Endpoints:0", "http://127.0.0.1:9081"));

        var routes = options.Services["reviews"].Routes;
        Assert.Equal(2, routes.Count);
        var canary = routes[0];
        Assert.Equal("canary-get", canary.Name);
        Assert.Equal("/api/", canary.Match[0].Uri!.Prefix);
        Assert.Equal("GET", canary.Match[0].Method);
        Assert.Equal("1", canary.Match[0].Headers["x-canary"].Exact);
        Assert.True(canary.Match[0].Headers["x-debug"].Present);
        Assert.Equal("reviews", Assert.Single(canary.Destinations).Service);
        Assert.Equal(TimeSpan.FromSeconds(2), canary.Timeout);
        Assert.Equal(3, canary.Retries!.Attempts);
        Assert.Equal(TimeSpan.FromMilliseconds(500), canary.Retries.PerTryTimeout);
        Assert.Equal("connect-failure,refused-stream,503", canary.Retries.RetryOn);
        Assert.Null(canary.Fault);

        var stable = routes[1];
        Assert.Empty(stable.Match);
        Assert.Equal([("reviews", 90), ("ratings", 10)], stable.Destinations.Select(d => (d.Service!, d.Weight)));
        Assert.Equal(RetryOptions.DefaultAttempts, stable.Retries!.Attempts);
        Assert.Null(stable.Timeout);
        Assert.Equal(0.5, stable.Fault!.Delay.Percentage);
        Assert.Equal(3000, stable.Fault.Delay.FixedDelayMs);
        Assert.Equal(0.1, stable.Fault.Abort.Percentage);
        Assert.Equal(503, stable.Fault.Abort.HttpStatus);

        Assert.Equal("VirtualService shop/reviews", translation.Settings.Single(s => s.Name == "Services:reviews:Routes").Source);
        Assert.Contains(translation.Warnings, w => w.Contains("spec.http[0].route[0].destination.subset", StringComparison.Ordinal) && w.Contains("all of the service's endpoints", StringComparison.Ordinal));
        Assert.Equal("stable", stable.Headers!.Request!.Set["x-route"]);
        Assert.Equal(["x-debug"], stable.Headers.Response!.Remove);
        Assert.DoesNotContain(translation.Warnings, w => w.Contains("headers", StringComparison.Ordinal));
    }

    [Fact]
    public void VirtualService_ShortHostsResolveInItsOwnNamespace_GatewayOnlyOnesAreNotApplied_AndSourceLabelsChooseTheCaller()
    {
        using var yaml = IstioYaml.Write("""
            apiVersion: networking.istio.io/v1beta1
            kind: VirtualService
            metadata: {name: ledger, namespace: finance}
            spec:
              hosts: [ledger]
              http:
              - match: [{sourceLabels: {app: checkout}, uri: {exact: /pay}}]
                fault: {abort: {httpStatus: 500, percentage: {value: 100}}}
                route: [{destination: {host: ledger}}]
              - route: [{destination: {host: ledger}}]
                retries: {attempts: 0}
            ---
            apiVersion: networking.istio.io/v1alpha3
            kind: VirtualService
            metadata: {name: edge, namespace: shop}
            spec:
              hosts: [ledger.finance.svc.cluster.local]
              gateways: [shop-gateway]
              http: [{route: [{destination: {host: ledger.finance.svc.cluster.local}}], timeout: 1s}]
            """);

        var (_, checkout) = yaml.Apply(("Services:ledger:Namespace", "finance"));
        var routes = checkout.Services["ledger"].Routes;
        Assert.Equal(2, routes.Count);
        Assert.Equal("/pay", routes[0].Match[0].Uri!.Exact);
        Assert.Equal(0, routes[1].Retries!.Attempts);
        Assert.All(routes, r => Assert.Null(r.Timeout));

        // Another caller does not get the rule whose only match names checkout.
        var (_, cart) = yaml.Apply(("App", "cart"), ("Services:ledger:Namespace", "finance"));
        Assert.Single(cart.Services["ledger"].Routes);
    }

    [Fact]
    public void ServiceEntry_BecomesARegistryService_ByItsHost_WithItsHttpPortAndEndpoints()
    {
        using var yaml = IstioYaml.Write("""
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: payments-api, namespace: shop}
            spec:
              hosts: [api.payments.example.com]
              location: MESH_EXTERNAL
              resolution: DNS
              ports:
              - {number: 443, name: tls, protocol: TLS}
              - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
              endpoints:
              - {address: eu.payments.example.com, weight: 3, labels: {region: eu}}
              - {address: us.payments.example.com, ports: {http: 8081}}
              exportTo: ["."]
            ---
            apiVersion: networking.istio.io/v1
            kind: ServiceEntry
            metadata: {name: fx, namespace: shop}
            spec:
              hosts: [fx.internal]
              resolution: STATIC
              ports: [{number: 8080, name: grpc, protocol: GRPC}]
              endpoints: [{address: 10.1.2.3}, {address: "fd00::7"}]
            """);
        var (translation, options) = yaml.Apply();

        var payments = options.Services["api.payments.example.com"];
        Assert.Equal(80, payments.Port);
        Assert.Equal(UpstreamProtocols.Http, payments.Protocol);
        Assert.Equal(["http://eu.payments.example.com:8080", "http://us.payments.example.com:8081"], payments.Endpoints);
        Assert.Equal(RetryOptions.DefaultAttempts, payments.Retries!.Attempts);
        var fx = options.Services["fx.internal"];
        Assert.Equal(UpstreamProtocols.Http2, fx.Protocol);
        Assert.Equal(["http://10.1.2.3:8080", "http://[fd00::7]:8080"], fx.Endpoints);

        Assert.Equal("ServiceEntry shop/payments-api", translation.Settings.Single(s => s.Name == "Services:api.payments.example.com").Source);
        Assert.Contains(translation.Warnings, w => w.Contains("port 443 (TLS) is not HTTP", StringComparison.Ordinal));
        Assert.Contains(translation.Warnings, w => w.Contains("spec.endpoints[0].weight", StringComparison.Ordinal));
        Assert.Contains(translation.Warnings, w => w.Contains("spec.location", StringComparison.Ordinal));

        // exportTo "." hides it from other namespaces.
        Assert.DoesNotContain("api.payments.example.com", yaml.Apply(("Namespace", "billing")).Options.Services.Keys);
    }

    [Fact]
    public void Sidecar_TheWorkloadsOwnWinsOverTheNamespaceDefault_AndAnEmptyPolicyBlockMeansRegistryOnly()
    {
        using var yaml = IstioYaml.Write("""
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default, namespace: shop}
            spec:
              outboundTrafficPolicy: {}
              egress: [{hosts: ["./*", "istio-system/*"]}]
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: checkout, namespace: shop}
            spec:
              workloadSelector: {labels: {app: checkout}}
              outboundTrafficPolicy: {mode: ALLOW_ANY}
            ---
            apiVersion: networking.istio.io/v1
            kind: Sidecar
            metadata: {name: default, namespace: istio-system}
            spec:
              outboundTrafficPolicy: {mode: REGISTRY_ONLY}
            """);

        var (translation, checkout) = yaml.Apply();
        Assert.Equal(OutboundTrafficPolicies.AllowAny, checkout.OutboundTrafficPolicy);
        Assert.Equal("Sidecar shop/checkout", translation.Settings.Single(s => s.Name == "OutboundTrafficPolicy").Source);
        Assert.Equal(OutboundTrafficPolicies.RegistryOnly, yaml.Apply(("App", "cart")).Options.OutboundTrafficPolicy);
        Assert.Equal(OutboundTrafficPolicies.RegistryOnly, yaml.Apply(("Namespace", "billing")).Options.OutboundTrafficPolicy);
        Assert.Contains(translation.Warnings, w => w.Contains("spec.egress", StringComparison.Ordinal));
    }

    [Fact]
    public void OtherKinds_AreSkippedWithOneSummary_AndUnimplementedFieldsAreNamed()
    {
        using var yaml = IstioYaml.Write(("app.yaml", """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: checkout}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: checkout}
            ---
            apiVersion: networking.istio.io/v1
            kind: DestinationRule
            metadata: {name: reviews}
            spec: {host: reviews}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: app-settings}
            data: {mesh: "not istio's"}
            """), ("vs.yml", """
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews, namespace: shop}
            spec:
              hosts: [reviews]
              http:
              - route: [{destination: {host: reviews}}]
                mirror: {host: reviews-shadow}
                corsPolicy: {allowOrigins: [{exact: "*"}]}
            ---
            apiVersion: telemetry.istio.io/v1
            kind: Telemetry
            metadata: {name: mesh-default, namespace: istio-system}
            spec:
              metrics: [{providers: [{name: prometheus}]}]
            """));
        var (translation, _) = yaml.Apply(("Services:reviews:Namespace", "shop"));

        Assert.Equal("1 Telemetry, 1 VirtualService from 2 file(s); skipped (not read by MeshLite): 1 ConfigMap, 1 Deployment, 1 DestinationRule, 1 Service", translation.Summary);
        Assert.Contains(translation.Warnings, w => w.EndsWith("vs.yml:8:13 (document 1, VirtualService shop/reviews): spec.http[0].mirror: not implemented by MeshLite; ignored.", StringComparison.Ordinal));
        Assert.Contains(translation.Warnings, w => w.Contains("spec.http[0].corsPolicy: not implemented", StringComparison.Ordinal));
        Assert.Contains(translation.Warnings, w => w.Contains("(document 2, Telemetry istio-system/mesh-default): spec.metrics: not implemented", StringComparison.Ordinal));
    }

    [Fact]
    public void Faults_WithoutAPercentageNeverFire_AndTheRemovedAbortPercentIsNamed()
    {
        using var yaml = IstioYaml.Write("""
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata: {name: reviews, namespace: shop}
            spec:
              hosts: [reviews]
              http:
              - fault:
                  delay: {fixedDelay: 1s}
                  abort: {httpStatus: 500, percent: 50}
                route: [{destination: {host: reviews}}]
              - fault:
                  abort: {grpcStatus: UNAVAILABLE, percentage: {value: 25}}
                route: [{destination: {host: reviews}}]
            """);
        var (translation, options) = yaml.Apply(("Services:reviews:Namespace", "shop"));

        var silent = options.Services["reviews"].Routes[0].Fault!;
        Assert.Equal(0, silent.Delay.Percentage);
        Assert.Equal(0, silent.Abort.Percentage);
        Assert.Contains(translation.Warnings, w => w.Contains("fault.delay: no percentage: Istio never fires this delay", StringComparison.Ordinal));
        Assert.Contains(translation.Warnings, w => w.Contains("fault.abort.percent: abort.percent was removed", StringComparison.Ordinal));
        Assert.Equal(14, options.Services["reviews"].Routes[1].Fault!.Abort.GrpcStatus);
        Assert.Equal(25, options.Services["reviews"].Routes[1].Fault!.Abort.Percentage);
    }

    [Theory]
    [InlineData("spec:\n  tracing: [{randomSamplingPercentage: 150}]", "Telemetry", "istio.yaml:9:40 (document 2, Telemetry shop/bad): spec.tracing[0].randomSamplingPercentage: randomSamplingPercentage must be in range [0.0, 100.0]")]
    [InlineData("spec:\n  hosts: [reviews]\n  http: [{fault: {abort: {httpStatus: 503, percentage: {value: 200}}}}]", "VirtualService",
        "istio.yaml:10:56 (document 2, VirtualService shop/bad): spec.http[0].fault.abort.percentage: percentage 200 is neither 0.0, nor in range [0.0001, 100.0]")]
    [InlineData("spec:\n  hosts: [reviews]\n  http: [{retries: {attempts: 2, retryOn: \"5xx, reset\"}}]", "VirtualService",
        "spec.http[0].retries.retryOn: \" reset\" is not a valid retryOn policy")]
    [InlineData("spec:\n  hosts: [reviews]\n  http: [{fault: {}}]", "VirtualService", "spec.http[0].fault: HTTP fault injection must have an abort and/or a delay")]
    [InlineData("spec:\n  tracing: [{randomSamplingPercentage: lots}]", "Telemetry", "spec.tracing[0].randomSamplingPercentage: 'lots' is not a number.")]
    [InlineData("spec:\n  hosts: [reviews]\n  http: [{retries: {attempts: many}}]", "VirtualService", "spec.http[0].retries.attempts: 'many' is not a whole number.")]
    [InlineData("spec:\n  tracing: [{disableSpanReporting: maybe}]", "Telemetry", "spec.tracing[0].disableSpanReporting: 'maybe' is not true or false.")]
    [InlineData("spec:\n  hosts: [reviews]\n  http: [{timeout: 1500us}]", "VirtualService", "spec.http[0].timeout: only durations to ms precision are supported")]
    [InlineData("spec:\n  hosts: [reviews]\n  http: [{retries: {attempts: 0, perTryTimeout: 1s}}]", "VirtualService", "spec.http[0].retries: perTryTimeout and retryOn cannot be set when attempts is 0")]
    [InlineData("spec:\n  hosts: [reviews]\n  http: [{route: [{destination: {host: a}, weight: 0}, {destination: {host: b}, weight: 0}]}]", "VirtualService",
        "spec.http[0].route: total destination weight = 0")]
    [InlineData("spec:\n  hosts: [\"*\"]\n  ports: [{number: 80, name: http}]", "ServiceEntry", "spec.hosts: invalid host *")]
    [InlineData("spec:\n  hosts: [a.example.com]\n  resolution: STATIC\n  ports: [{number: 80, name: http}]", "ServiceEntry", "spec: endpoints are required for resolution STATIC.")]
    public void AnInvalidResource_FailsWithFileLineDocumentResourceAndFieldPath(string spec, string kind, string expected)
    {
        var group = kind == "Telemetry" ? "telemetry.istio.io/v1" : "networking.istio.io/v1";
        using var yaml = IstioYaml.Write($"apiVersion: v1\nkind: Service\nmetadata: {{name: fine}}\n---\napiVersion: {group}\nkind: {kind}\nmetadata: {{name: bad, namespace: shop}}\n{spec}\n");

        var error = Assert.Throws<MeshLiteConfigurationException>(() => yaml.Apply());

        Assert.True(error.Errors.Any(e => e.StartsWith("--istio: ", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal)), string.Join("\n", error.Errors));
    }

    [Fact]
    public void YamlThatDoesNotParse_OrAResourceWithoutAName_OrAWrongApiVersion_FailsWithItsPosition()
    {
        using (var broken = IstioYaml.Write("kind: Telemetry\nmetadata: [\n"))
        {
            var error = Assert.Throws<MeshLiteConfigurationException>(() => broken.Apply());
            Assert.Matches(@"^--istio: .*istio\.yaml:\d+:\d+: not valid YAML", Assert.Single(error.Errors));
        }

        using var nameless = IstioYaml.Write("apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {namespace: shop}\n---\napiVersion: networking.istio.io/v2\nkind: Sidecar\nmetadata: {name: x}\n");
        var errors = Assert.Throws<MeshLiteConfigurationException>(() => nameless.Apply()).Errors;
        Assert.Contains(errors, e => e.Contains("istio.yaml:3:11 (document 1): metadata: metadata.name is required.", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("(document 2): apiVersion: 'networking.istio.io/v2' does not serve Sidecar.", StringComparison.Ordinal));
    }

    [Fact]
    public void AKubectlList_IsReadItemByItem_StatusIsNotWarnedAbout_AndAHostOfAnotherNamespaceIsNotMerged()
    {
        using var yaml = IstioYaml.Write("""
            apiVersion: v1
            kind: List
            items:
            - apiVersion: networking.istio.io/v1
              kind: VirtualService
              metadata: {name: ledger, namespace: finance, creationTimestamp: "2026-01-01T00:00:00Z", resourceVersion: "42"}
              spec:
                hosts: [ledger]
                http: [{route: [{destination: {host: ledger}}], timeout: 3s}]
              status: {observedGeneration: 1}
            - apiVersion: networking.istio.io/v1
              kind: VirtualService
              metadata: {name: payment, namespace: billing}
              spec:
                hosts: [payment]
                http: [{route: [{destination: {host: payment}}], timeout: 1s, mirrorPercentage: {value: 5}}]
            """);
        var (translation, options) = yaml.Apply(("Services:ledger:Namespace", "finance"), ("Services:payment:Namespace", "shop"));

        Assert.Equal(TimeSpan.FromSeconds(3), Assert.Single(options.Services["ledger"].Routes).Timeout);
        Assert.DoesNotContain(translation.Warnings, w => w.Contains("status", StringComparison.Ordinal) || w.Contains("resourceVersion", StringComparison.Ordinal));
        Assert.Contains(translation.Warnings, w => w.Contains("items[1].spec.http[0].mirrorPercentage: not implemented", StringComparison.Ordinal));

        // payment.billing is not the registry's payment (in shop): left out, with a warning, instead of renaming it.
        Assert.Empty(options.Services["payment"].Routes);
        Assert.Equal("shop", options.Services["payment"].Namespace);
        Assert.Contains(translation.Warnings, w => w.Contains("'payment.billing.svc.cluster.local' is not MeshLite:Services:payment", StringComparison.Ordinal));
    }
}
