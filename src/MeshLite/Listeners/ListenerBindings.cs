using System.Net;
using MeshLite.Hops;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace MeshLite.Listeners;

/// <summary>The Kestrel endpoints MeshLite opened, so the ports actually bound (port 0 picks one) can be read after start.</summary>
internal sealed class ListenerBindings
{
    private readonly Dictionary<ListenerKind, ListenOptions> _listeners = [];

    public void Add(ListenerKind kind, ListenOptions options) => _listeners[kind] = options;

    /// <summary>The bound port; Kestrel writes the real endpoint back into <see cref="ListenOptions"/> once bound.</summary>
    public int Port(ListenerKind kind) =>
        _listeners.TryGetValue(kind, out var options) && options.EndPoint is IPEndPoint endpoint ? endpoint.Port : 0;

    public IEnumerable<ListenerKind> Kinds => _listeners.Keys;
}
