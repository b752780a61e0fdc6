using MeshLite.Hops;
using MeshLite.Listeners;
using Microsoft.AspNetCore.Routing.Matching;

namespace MeshLite.Hosting;

/// <summary>
/// Keeps each endpoint to its own port: admin endpoints answer only on the admin port, the metrics and app-probe
/// endpoints only on the metrics port, the demo app only on its own. (Proxy listeners never reach routing at all.)
/// </summary>
internal sealed class ListenerMatcherPolicy : MatcherPolicy, IEndpointSelectorPolicy
{
    public override int Order => -1000;

    public bool AppliesToEndpoints(IReadOnlyList<Endpoint> endpoints)
    {
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Metadata.GetMetadata<ListenerMetadata>() is not null)
            {
                return true;
            }
        }

        return false;
    }

    public Task ApplyAsync(HttpContext httpContext, CandidateSet candidates)
    {
        var listener = httpContext.Features.Get<ListenerFeature>()?.Kind ?? ListenerKind.Admin;
        for (var i = 0; i < candidates.Count; i++)
        {
            if (candidates.IsValidCandidate(i)
                && candidates[i].Endpoint.Metadata.GetMetadata<ListenerMetadata>() is { } metadata
                && metadata.Listener != listener)
            {
                candidates.SetValidity(i, false);
            }
        }

        return Task.CompletedTask;
    }
}
