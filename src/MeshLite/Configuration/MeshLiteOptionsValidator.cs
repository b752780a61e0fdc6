using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;

namespace MeshLite.Configuration;

/// <summary>
/// Checks every key in one pass and names each bad key with its value, so a wrong deployment fails at start-up
/// with one message instead of at the first request.
/// </summary>
internal static class MeshLiteOptionsValidator
{
    private const string P = MeshLiteOptions.SectionName + ":";

    public static List<string> Validate(MeshLiteOptions o)
    {
        var errors = new List<string>();

        if (string.IsNullOrWhiteSpace(o.ServiceName))
        {
            errors.Add($"{P}ServiceName is required (the name this service is known by in the mesh, e.g. 'payment').");
        }
        else if (!IsDnsLabel(o.ServiceName))
        {
            errors.Add($"{P}ServiceName '{o.ServiceName}' is not a DNS label (lowercase letters, digits and '-', at most 63).");
        }

        if (!IsDnsLabel(o.Namespace))
        {
            errors.Add($"{P}Namespace '{o.Namespace}' is not a DNS label (lowercase letters, digits and '-', at most 63).");
        }

        if (!IsDnsName(o.ClusterDomain))
        {
            errors.Add($"{P}ClusterDomain '{o.ClusterDomain}' is not a DNS name (e.g. cluster.local).");
        }

        AppProbes.Parse(o.AppProbes, errors);

        CheckPort(errors, "ServicePort", o.ServicePort, allowZero: false);
        CheckListener(errors, "Inbound", o.Inbound);
        CheckListener(errors, "Outbound", o.Outbound);
        CheckListener(errors, "Admin", o.Admin);
        CheckPort(errors, "Metrics:Port", o.Metrics.Port, allowZero: true);
        if (!IPAddress.TryParse(o.Metrics.BindAddress, out _))
        {
            errors.Add($"{P}Metrics:BindAddress '{o.Metrics.BindAddress}' is not an IP address.");
        }

        if (o.AccessLog.Encoding is not ("TEXT" or "JSON" or "text" or "json"))
        {
            errors.Add($"{P}AccessLog:Encoding '{o.AccessLog.Encoding}' is not one of TEXT, JSON.");
        }

        if (o.AccessLog.Enabled && o.AccessLog.Path != AccessLogOptions.StandardOutput
            && (string.IsNullOrWhiteSpace(o.AccessLog.Path) || !Directory.Exists(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(o.AccessLog.Path)))))
        {
            errors.Add($"{P}AccessLog:Path '{o.AccessLog.Path}' is not a file in an existing directory (or /dev/stdout).");
        }

        if (o.AccessLog.FlushInterval <= TimeSpan.Zero || o.AccessLog.FlushInterval > TimeSpan.FromMinutes(1))
        {
            errors.Add($"{P}AccessLog:FlushInterval '{o.AccessLog.FlushInterval}' must be more than 0 and at most 00:01:00.");
        }

        if (o.AccessLog.BufferSize is < 1 or > 1_000_000)
        {
            errors.Add($"{P}AccessLog:BufferSize '{o.AccessLog.BufferSize}' must be between 1 and 1000000.");
        }

        if (o.Limits.MaxRequestHeadersTotalSize is < 1024 or > 1024 * 1024)
        {
            errors.Add($"{P}Limits:MaxRequestHeadersTotalSize '{o.Limits.MaxRequestHeadersTotalSize}' must be between 1024 and 1048576 bytes.");
        }

        if (o.Limits.MaxRequestHeaderCount is < 1 or > 10_000)
        {
            errors.Add($"{P}Limits:MaxRequestHeaderCount '{o.Limits.MaxRequestHeaderCount}' must be between 1 and 10000.");
        }

        if (o.Limits.MaxRequestBodySize is < 0)
        {
            errors.Add($"{P}Limits:MaxRequestBodySize '{o.Limits.MaxRequestBodySize}' must not be negative (leave it unset for no limit).");
        }

        if (o.Inbound.AppPort is null)
        {
            errors.Add($"{P}Inbound:AppPort is required (the local app's port on 127.0.0.1).");
        }
        else
        {
            CheckPort(errors, "Inbound:AppPort", o.Inbound.AppPort.Value, allowZero: false);
        }

        if (o.DemoApp.Port is int appPort)
        {
            CheckPort(errors, "DemoApp:Port", appPort, allowZero: false);
        }

        if (o.DemoApp.LatencyMs < 0 || o.DemoApp.LatencyJitterMs < 0)
        {
            errors.Add($"{P}DemoApp:LatencyMs '{o.DemoApp.LatencyMs}' and LatencyJitterMs '{o.DemoApp.LatencyJitterMs}' must not be negative.");
        }

        if (double.IsNaN(o.DemoApp.ErrorRate) || o.DemoApp.ErrorRate is < 0 or > 1)
        {
            errors.Add($"{P}DemoApp:ErrorRate '{o.DemoApp.ErrorRate}' must be between 0 and 1.");
        }

        if (o.DemoApp.ErrorStatus is < 100 or > 599)
        {
            errors.Add($"{P}DemoApp:ErrorStatus '{o.DemoApp.ErrorStatus}' is not an HTTP status.");
        }

        if (o.DemoApp.ResponseBytes is < 0 or > 64 * 1024 * 1024)
        {
            errors.Add($"{P}DemoApp:ResponseBytes '{o.DemoApp.ResponseBytes}' must be between 0 and 67108864.");
        }

        if (o.AccessLog.Format is { } format)
        {
            var json = string.Equals(o.AccessLog.Encoding, "JSON", StringComparison.OrdinalIgnoreCase);
            if (!(json ? EnvoyFormat.TryParseJson(format, out _, out var error) : EnvoyFormat.TryParse(format, out _, out error)))
            {
                errors.Add($"{P}AccessLog:Format: {error}.");
            }
        }

        CheckFault(errors, "Fault", o.Fault);

        CheckDistinctPorts(errors, o);

        if (!UpstreamProtocols.IsKnown(o.Inbound.AppProtocol))
        {
            errors.Add($"{P}Inbound:AppProtocol '{o.Inbound.AppProtocol}' is not one of auto, http, http2, grpc.");
        }

        CheckTimeout(errors, "Inbound:Timeout", o.Inbound.Timeout);

        if (!string.Equals(o.OutboundTrafficPolicy, OutboundTrafficPolicies.AllowAny, StringComparison.OrdinalIgnoreCase)
            && !string.Equals(o.OutboundTrafficPolicy, OutboundTrafficPolicies.RegistryOnly, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"{P}OutboundTrafficPolicy '{o.OutboundTrafficPolicy}' is not one of ALLOW_ANY, REGISTRY_ONLY.");
        }

        foreach (var (name, service) in o.Services)
        {
            CheckService(errors, name, service, o.Services);
        }

        CheckTracing(errors, o.Tracing, o.Services);

        if (o.TerminationDrainDuration < TimeSpan.Zero || o.TerminationDrainDuration > TimeSpan.FromHours(1))
        {
            errors.Add($"{P}TerminationDrainDuration '{o.TerminationDrainDuration}' must be between 00:00:00 and 01:00:00.");
        }

        return errors;
    }

    private static void CheckService(List<string> errors, string name, ServiceOptions service, Dictionary<string, ServiceOptions> services)
    {
        var key = $"Services:{name}";
        if (!IsDnsLabel(name) && !(name.Contains('.', StringComparison.Ordinal) && IsDnsName(name)))
        {
            errors.Add($"{P}{key}: '{name}' is neither a DNS label (a Kubernetes service: lowercase letters, digits and '-', at most 63) nor a host name (a ServiceEntry host such as api.example.com).");
        }

        if (!IsDnsLabel(service.Namespace))
        {
            errors.Add($"{P}{key}:Namespace '{service.Namespace}' is not a DNS label.");
        }

        CheckPort(errors, key + ":Port", service.Port, allowZero: false);
        for (var i = 0; i < service.Endpoints.Count; i++)
        {
            var endpoint = service.Endpoints[i];
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri)
                || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                || uri.PathAndQuery != "/")
            {
                errors.Add($"{P}{key}:Endpoints:{i} '{endpoint}' is not a base address such as http://127.0.0.1:25006.");
            }
        }

        if (!UpstreamProtocols.IsKnown(service.Protocol))
        {
            errors.Add($"{P}{key}:Protocol '{service.Protocol}' is not one of auto, http, http2, grpc.");
        }

        CheckTimeout(errors, key + ":Timeout", service.Timeout);
        if (service.Retries is { } retries)
        {
            CheckRetries(errors, key + ":Retries", retries);
        }

        for (var i = 0; i < service.Routes.Count; i++)
        {
            CheckRoute(errors, $"{key}:Routes:{i}", service.Routes[i], services);
        }
    }

    private static void CheckRoute(List<string> errors, string key, HttpRouteOptions route, Dictionary<string, ServiceOptions> services)
    {
        for (var m = 0; m < route.Match.Count; m++)
        {
            var match = route.Match[m];
            if (match.Uri is { } uri)
            {
                CheckStringMatch(errors, $"{key}:Match:{m}:Uri", uri);
            }

            foreach (var (header, condition) in match.Headers)
            {
                CheckStringMatch(errors, $"{key}:Match:{m}:Headers:{header}", condition);
            }
        }

        for (var d = 0; d < route.Destinations.Count; d++)
        {
            var destination = route.Destinations[d];
            if (destination.Service is null || !services.ContainsKey(destination.Service))
            {
                errors.Add($"{P}{key}:Destinations:{d}:Service '{destination.Service}' is not a key of {P}Services.");
            }

            if (destination.Weight < 0)
            {
                errors.Add($"{P}{key}:Destinations:{d}:Weight '{destination.Weight}' must not be negative.");
            }
        }

        if (route.Destinations.Count > 1 && route.Destinations.Sum(d => Math.Max(d.Weight, 0)) == 0)
        {
            errors.Add($"{P}{key}:Destinations: total destination weight = 0.");
        }

        CheckTimeout(errors, key + ":Timeout", route.Timeout);
        if (route.Retries is { } retries)
        {
            CheckRetries(errors, key + ":Retries", retries);
        }

        if (route.Fault is { } fault)
        {
            CheckFault(errors, key + ":Fault", fault);
        }

        if (route.Rewrite?.Uri is { } rewritten && !rewritten.StartsWith('/'))
        {
            errors.Add($"{P}{key}:Rewrite:Uri '{rewritten}' must start with '/'.");
        }

        if (route.Rewrite?.Authority is "")
        {
            errors.Add($"{P}{key}:Rewrite:Authority must not be empty.");
        }

        foreach (var (side, operations) in (ValueTuple<string, HeaderOperationsOptions?>[])[("Request", route.Headers?.Request), ("Response", route.Headers?.Response)])
        {
            foreach (var name in operations is null ? [] : operations.Set.Keys.Concat(operations.Add.Keys).Concat(operations.Remove))
            {
                if (string.IsNullOrWhiteSpace(name) || name.StartsWith(':') || name.Any(c => c <= ' ' || c == ':' || c >= 0x7f))
                {
                    errors.Add($"{P}{key}:Headers:{side}: '{name}' is not a header name MeshLite can set (no pseudo-headers; use Rewrite:Authority for the Host).");
                }
            }
        }
    }

    private static void CheckStringMatch(List<string> errors, string key, StringMatchOptions match)
    {
        var set = (match.Exact is null ? 0 : 1) + (match.Prefix is null ? 0 : 1) + (match.Regex is null ? 0 : 1);
        if (set > 1)
        {
            errors.Add($"{P}{key} sets more than one of Exact, Prefix and Regex.");
        }

        if (match.Regex is { } pattern)
        {
            try
            {
                _ = new Regex(pattern, RegexOptions.NonBacktracking);
            }
            catch (ArgumentException ex)
            {
                errors.Add($"{P}{key}:Regex '{pattern}' is not a regular expression: {ex.Message}");
            }
        }
    }

    private static void CheckFault(List<string> errors, string key, FaultOptions fault)
    {
        CheckPercentage(errors, key + ":Delay:Percentage", fault.Delay.Percentage);
        CheckPercentage(errors, key + ":Abort:Percentage", fault.Abort.Percentage);
        if (fault.Delay.FixedDelayMs < 0)
        {
            errors.Add($"{P}{key}:Delay:FixedDelayMs '{fault.Delay.FixedDelayMs}' must not be negative.");
        }

        if (fault.Abort.HttpStatus is < 200 or > 599)
        {
            errors.Add($"{P}{key}:Abort:HttpStatus '{fault.Abort.HttpStatus}' is not an HTTP status.");
        }

        if (fault.Abort.GrpcStatus is < 0 or > 16)
        {
            errors.Add($"{P}{key}:Abort:GrpcStatus '{fault.Abort.GrpcStatus}' is not a gRPC status code (0–16).");
        }
    }

    /// <summary>Istio's rules for <c>HTTPRetry</c> (<c>pkg/config/validation/virtualservice.go</c>).</summary>
    private static void CheckRetries(List<string> errors, string key, RetryOptions retries)
    {
        if (retries.Attempts < 0)
        {
            errors.Add($"{P}{key}:Attempts '{retries.Attempts}' must not be negative (0 turns retries off).");
        }

        if (retries.Attempts == 0 && (retries.PerTryTimeout is not null || !string.IsNullOrEmpty(retries.RetryOn)))
        {
            errors.Add($"{P}{key}:Attempts is 0, so PerTryTimeout and RetryOn must not be set (as Istio requires).");
        }

        if (retries.PerTryTimeout is { } perTry && perTry < TimeSpan.FromMilliseconds(1))
        {
            errors.Add($"{P}{key}:PerTryTimeout '{perTry}' must be at least 1 ms (e.g. 00:00:00.500).");
        }

        if (!RetryOn.TryParse(retries.RetryOn, out _, out _, out var error))
        {
            errors.Add($"{P}{key}:RetryOn {error}.");
        }
    }

    private static void CheckTracing(List<string> errors, TracingOptions t, Dictionary<string, ServiceOptions> services)
    {
        CheckPercentage(errors, "Tracing:Sampling", t.Sampling);
        if (t.OutboundSampling is { } outbound)
        {
            CheckPercentage(errors, "Tracing:OutboundSampling", outbound);
        }

        if (t.Propagation is { } formats)
        {
            if (formats.Count == 0)
            {
                errors.Add($"{P}Tracing:Propagation is empty; name at least one of w3c, b3multi, b3.");
            }

            for (var i = 0; i < formats.Count; i++)
            {
                if (!TraceFormats.TryParseName(formats[i], out _))
                {
                    errors.Add($"{P}Tracing:Propagation:{i} '{formats[i]}' is not one of w3c, b3multi, b3.");
                }
            }
        }

        if (t.Stitch?.ToLowerInvariant() is not ("off" or "link" or "parent"))
        {
            errors.Add($"{P}Tracing:Stitch '{t.Stitch}' is not one of off, link, parent.");
        }

        if (t.MaxPathTagLength is < 1 or > 65536)
        {
            errors.Add($"{P}Tracing:MaxPathTagLength '{t.MaxPathTagLength}' must be between 1 and 65536.");
        }

        if (t.DebugSpanCapacity is < 0 or > 1_000_000)
        {
            errors.Add($"{P}Tracing:DebugSpanCapacity '{t.DebugSpanCapacity}' must be between 0 and 1000000.");
        }

        if (t.ExcludePaths is { } paths)
        {
            for (var i = 0; i < paths.Count; i++)
            {
                if (string.IsNullOrEmpty(paths[i]) || paths[i][0] != '/')
                {
                    errors.Add($"{P}Tracing:ExcludePaths:{i} '{paths[i]}' must start with '/'.");
                }
            }
        }

        for (var i = 0; i < t.Overrides.Count; i++)
        {
            var o = t.Overrides[i];
            var key = $"Tracing:Overrides:{i}";
            var kinds = (o.Path is null ? 0 : 1) + (o.PathPrefix is null ? 0 : 1) + (o.Service is null ? 0 : 1);
            if (kinds != 1)
            {
                errors.Add($"{P}{key} must set exactly one of Path, PathPrefix (inbound) or Service (outbound).");
            }
            else if ((o.Path ?? o.PathPrefix) is { } path && !path.StartsWith('/'))
            {
                errors.Add($"{P}{key}: path '{path}' must start with '/'.");
            }
            else if (o.Service is { } service && !services.ContainsKey(service))
            {
                errors.Add($"{P}{key}:Service '{service}' is not a key of {P}Services.");
            }

            if (o.Percentage is null && o.SlowerThanMs is null)
            {
                errors.Add($"{P}{key} sets neither Percentage nor SlowerThanMs.");
            }

            if (o.Percentage is { } percentage)
            {
                CheckPercentage(errors, key + ":Percentage", percentage);
            }

            if (o.SlowerThanMs is < 1)
            {
                errors.Add($"{P}{key}:SlowerThanMs '{o.SlowerThanMs}' must be at least 1.");
            }
        }

        if (t.Keep.SlowerThanMs is < 1)
        {
            errors.Add($"{P}Tracing:Keep:SlowerThanMs '{t.Keep.SlowerThanMs}' must be at least 1.");
        }

        if (t.Keep.MaxTracesPerSecond is { } keepBudget && !(keepBudget > 0 && keepBudget <= 1_000_000))
        {
            errors.Add($"{P}Tracing:Keep:MaxTracesPerSecond '{keepBudget}' must be more than 0 and at most 1000000.");
        }

        if (t.MaxTracesPerSecond is { } cap && !(cap > 0 && cap <= 1_000_000))
        {
            errors.Add($"{P}Tracing:MaxTracesPerSecond '{cap}' must be more than 0 and at most 1000000.");
        }

        foreach (var (name, tag) in t.CustomTags)
        {
            var key = $"Tracing:CustomTags:{name}";
            var kinds = (tag.Literal is null ? 0 : 1) + (tag.Environment is null ? 0 : 1) + (tag.Header is null ? 0 : 1);
            if (kinds != 1)
            {
                errors.Add($"{P}{key} must set exactly one of Literal, Environment or Header.");
            }
            else if (tag.Literal is { Value: null or "" })
            {
                errors.Add($"{P}{key}:Literal:Value is required.");
            }
            else if ((tag.Environment ?? tag.Header) is { Name: null or "" })
            {
                errors.Add($"{P}{key}:{(tag.Environment is null ? "Header" : "Environment")}:Name is required.");
            }
        }

        var otlp = t.Otlp;
        if (otlp.Endpoint is { Length: > 0 } endpoint
            && (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
        {
            errors.Add($"{P}Tracing:Otlp:Endpoint '{endpoint}' is not an http(s) address such as http://127.0.0.1:4317.");
        }

        if (otlp.Protocol is { Length: > 0 } protocol && protocol is not ("grpc" or "http/protobuf"))
        {
            errors.Add($"{P}Tracing:Otlp:Protocol '{protocol}' is not one of grpc, http/protobuf.");
        }

        if (otlp.TimeoutMilliseconds is <= 0)
        {
            errors.Add($"{P}Tracing:Otlp:TimeoutMilliseconds '{otlp.TimeoutMilliseconds}' must be positive.");
        }

        if (otlp.MaxQueueSize < 1 || otlp.MaxExportBatchSize < 1 || otlp.MaxExportBatchSize > otlp.MaxQueueSize)
        {
            errors.Add($"{P}Tracing:Otlp:MaxQueueSize '{otlp.MaxQueueSize}' and MaxExportBatchSize '{otlp.MaxExportBatchSize}' must be positive, the batch no larger than the queue.");
        }

        if (otlp.ScheduledDelayMilliseconds < 1)
        {
            errors.Add($"{P}Tracing:Otlp:ScheduledDelayMilliseconds '{otlp.ScheduledDelayMilliseconds}' must be positive.");
        }
    }

    private static void CheckListener(List<string> errors, string name, ListenerOptions listener)
    {
        CheckPort(errors, name + ":Port", listener.Port, allowZero: true);
        if (!IPAddress.TryParse(listener.BindAddress, out _))
        {
            errors.Add($"{P}{name}:BindAddress '{listener.BindAddress}' is not an IP address.");
        }
    }

    private static void CheckDistinctPorts(List<string> errors, MeshLiteOptions o)
    {
        var ports = new List<(string Key, int Port)>
        {
            ("Inbound:Port", o.Inbound.Port),
            ("Outbound:Port", o.Outbound.Port),
            ("Admin:Port", o.Admin.Port),
            ("Metrics:Port", o.Metrics.Port),
        };
        if (o.Inbound.AppPort is int appPort)
        {
            ports.Add(("Inbound:AppPort", appPort));
        }

        for (var i = 0; i < ports.Count; i++)
        {
            for (var j = i + 1; j < ports.Count; j++)
            {
                if (ports[i].Port != 0 && ports[i].Port == ports[j].Port)
                {
                    errors.Add($"{P}{ports[j].Key} '{ports[j].Port}' is already used by {P}{ports[i].Key}.");
                }
            }
        }
    }

    private static void CheckPort(List<string> errors, string key, int port, bool allowZero)
    {
        if (port < (allowZero ? 0 : 1) || port > 65535)
        {
            errors.Add($"{P}{key} '{port.ToString(CultureInfo.InvariantCulture)}' is not a port ({(allowZero ? 0 : 1)}–65535{(allowZero ? "; 0 picks a free one" : "")}).");
        }
    }

    private static void CheckTimeout(List<string> errors, string key, TimeSpan? timeout)
    {
        if (timeout is { } t && t <= TimeSpan.Zero)
        {
            errors.Add($"{P}{key} '{t}' must be positive (e.g. 00:00:15).");
        }
    }

    private static void CheckPercentage(List<string> errors, string key, double value)
    {
        if (double.IsNaN(value) || value < 0 || value > 100)
        {
            errors.Add($"{P}{key} '{value.ToString(CultureInfo.InvariantCulture)}' must be a percentage between 0 and 100.");
        }
    }

    internal static bool IsDnsLabel(string? value)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 63 || value[0] == '-' || value[^1] == '-')
        {
            return false;
        }

        foreach (var c in value)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c != '-')
            {
                return false;
            }
        }

        return true;
    }

    internal static bool IsDnsName(string? value) =>
        !string.IsNullOrEmpty(value) && value.Length <= 253 && value.Split('.').All(IsDnsLabel);
}
