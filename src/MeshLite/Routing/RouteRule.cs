using System.Text.RegularExpressions;
using MeshLite.Configuration;
using MeshLite.Hops;
using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Forwarder;

namespace MeshLite.Routing;

/// <summary>
/// One VirtualService <c>http</c> rule of a registry service, as the calling sidecar applies it: its match, its
/// weighted destinations (each a registry route carrying the rule's name), its timeout and retries and its faults.
/// </summary>
internal sealed class RouteRule
{
    private readonly RequestMatch[] _matches;
    private readonly (MeshRoute Route, int Weight)[] _destinations;
    private readonly int _totalWeight;

    public RouteRule(HttpRouteOptions options, Func<string, MeshRoute> routeOf, string ownService)
    {
        _matches = [.. options.Match.Select(m => new RequestMatch(m))];
        var name = options.Name ?? "default";
        _destinations = options.Destinations.Count == 0
            ? [(routeOf(ownService) with { Name = name }, 1)]
            : [.. options.Destinations.Where(d => d.Weight > 0 || options.Destinations.Count == 1).Select(d => (routeOf(d.Service!) with { Name = name }, Math.Max(d.Weight, 1)))];
        _totalWeight = _destinations.Sum(d => d.Weight);
        // The rule's own policy replaces the service's, even when it is "no retries, no timeout".
        Policy = UpstreamPolicy.From(options.Retries, options.Timeout) ?? UpstreamPolicy.None;
        Fault = FaultPolicy.From(options.Fault);

        // As on a cluster: no timeout unless the rule has one, where YARP's own would end a quiet stream at 100 s.
        RequestConfig = new ForwarderRequestConfig { ActivityTimeout = options.Timeout ?? Timeout.InfiniteTimeSpan };
        RewriteUri = options.Rewrite?.Uri;
        RewriteAuthority = options.Rewrite?.Authority;
        RequestHeaders = HeaderOperations.From(options.Headers?.Request);
        ResponseHeaders = HeaderOperations.From(options.Headers?.Response);
    }

    public string? RewriteUri { get; }

    public string? RewriteAuthority { get; }

    public HeaderOperations? RequestHeaders { get; }

    public HeaderOperations? ResponseHeaders { get; }

    /// <summary>Whether forwarding under this rule changes the request or the response (a rewrite, header operations).</summary>
    public bool Transforms => RewriteUri is not null || RewriteAuthority is not null || RequestHeaders is not null || ResponseHeaders is not null;

    public UpstreamPolicy Policy { get; }

    public FaultPolicy? Fault { get; }

    public ForwarderRequestConfig RequestConfig { get; }

    public IEnumerable<MeshRoute> Destinations => _destinations.Select(d => d.Route);

    /// <summary>
    /// The first rule that matches the request, as Envoy walks a virtual host's routes (null when none does), and the
    /// URI prefix its match used, which a rewrite replaces.
    /// </summary>
    public static RouteRule? FirstMatch(RouteRule[] rules, HttpRequest request, out string? matchedPrefix)
    {
        foreach (var rule in rules)
        {
            if (rule.Matches(request, out matchedPrefix))
            {
                return rule;
            }
        }

        matchedPrefix = null;
        return null;
    }

    public bool Matches(HttpRequest request, out string? matchedPrefix)
    {
        matchedPrefix = null;
        if (_matches.Length == 0)
        {
            return true;
        }

        foreach (var match in _matches)
        {
            if (match.Matches(request))
            {
                matchedPrefix = match.UriPrefix;
                return true;
            }
        }

        return false;
    }

    /// <summary>The path the destination sees under <c>rewrite.uri</c>: the matched prefix replaced, else the whole path.</summary>
    public string RewritePath(string path, string? matchedPrefix) =>
        matchedPrefix is not null && path.StartsWith(matchedPrefix, StringComparison.Ordinal)
            ? string.Concat(RewriteUri, path.AsSpan(matchedPrefix.Length))
            : RewriteUri!;

    /// <summary>A destination drawn by weight (the share is weight / the sum of weights).</summary>
    public MeshRoute PickDestination()
    {
        if (_destinations.Length == 1)
        {
            return _destinations[0].Route;
        }

        var draw = Random.Shared.Next(_totalWeight);
        foreach (var (route, weight) in _destinations)
        {
            if (draw < weight)
            {
                return route;
            }

            draw -= weight;
        }

        return _destinations[^1].Route;
    }

    /// <summary>One <c>match</c> block: every condition in it must hold.</summary>
    private sealed class RequestMatch
    {
        private readonly StringCondition? _uri;
        private readonly string? _method;
        private readonly (string Name, StringCondition Condition)[] _headers;

        public RequestMatch(HttpMatchOptions options)
        {
            _uri = options.Uri is { } uri ? new StringCondition(uri) : null;
            UriPrefix = options.Uri?.Prefix;
            _method = options.Method;
            _headers = [.. options.Headers.Select(h => (h.Key, new StringCondition(h.Value)))];
        }

        public string? UriPrefix { get; }

        public bool Matches(HttpRequest request)
        {
            if (_method is not null && !string.Equals(_method, request.Method, StringComparison.Ordinal))
            {
                return false;
            }

            if (_uri is not null && !_uri.Matches(request.Path.Value ?? "/"))
            {
                return false;
            }

            foreach (var (name, condition) in _headers)
            {
                var values = request.Headers[name];
                if (StringValues.IsNullOrEmpty(values) || !condition.Matches(values.ToString()))
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>Istio's <c>StringMatch</c>: a plain prefix (<c>/api</c> matches <c>/apix</c>), an exact value, an anchored regex, or presence.</summary>
    private sealed class StringCondition(StringMatchOptions options)
    {
        private readonly Regex? _regex = options.Regex is { } pattern ? new Regex($"^(?:{pattern})$", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant) : null;

        public bool Matches(string value) =>
            options.Exact is { } exact ? string.Equals(value, exact, StringComparison.Ordinal)
            : options.Prefix is { } prefix ? value.StartsWith(prefix, StringComparison.Ordinal)
            : _regex is null || _regex.IsMatch(value);
    }
}

/// <summary>A rule's header operations for one direction, in Envoy's order: remove, then set, then add.</summary>
internal sealed class HeaderOperations
{
    private HeaderOperations(HeaderOperationsOptions options)
    {
        Remove = [.. options.Remove];
        Set = [.. options.Set.Select(h => (h.Key, h.Value))];
        Add = [.. options.Add.Select(h => (h.Key, h.Value))];
    }

    public string[] Remove { get; }
    public (string Name, string Value)[] Set { get; }
    public (string Name, string Value)[] Add { get; }

    public static HeaderOperations? From(HeaderOperationsOptions? options) =>
        options is null || (options.Remove.Count == 0 && options.Set.Count == 0 && options.Add.Count == 0) ? null : new HeaderOperations(options);
}

/// <summary>The rule a request was routed by, for the transformer when the rule changes the request or the response.</summary>
internal sealed record RoutedRequest(RouteRule Rule, string? MatchedPrefix);
