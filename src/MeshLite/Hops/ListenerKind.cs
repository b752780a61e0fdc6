namespace MeshLite.Hops;

/// <summary>Which MeshLite port a connection arrived on.</summary>
public enum ListenerKind : byte
{
    Admin = 0,
    Inbound = 1,
    Outbound = 2,
    DemoApp = 3,
    Metrics = 4,
}

/// <summary>Set on each connection by its listener, and read through the request's features (Kestrel falls back to connection features).</summary>
internal sealed class ListenerFeature
{
    public static readonly ListenerFeature Admin = new(ListenerKind.Admin);
    public static readonly ListenerFeature Inbound = new(ListenerKind.Inbound);
    public static readonly ListenerFeature Outbound = new(ListenerKind.Outbound);
    public static readonly ListenerFeature DemoApp = new(ListenerKind.DemoApp);
    public static readonly ListenerFeature Metrics = new(ListenerKind.Metrics);

    private ListenerFeature(ListenerKind kind) => Kind = kind;

    public ListenerKind Kind { get; }

    public static ListenerFeature For(ListenerKind kind) => kind switch
    {
        ListenerKind.Inbound => Inbound,
        ListenerKind.Outbound => Outbound,
        ListenerKind.DemoApp => DemoApp,
        ListenerKind.Metrics => Metrics,
        _ => Admin,
    };
}
