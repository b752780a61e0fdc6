using MeshLite.Hops;

namespace MeshLite.Listeners;

/// <summary>Endpoint metadata: the listener an endpoint serves.</summary>
internal sealed record ListenerMetadata(ListenerKind Listener);
