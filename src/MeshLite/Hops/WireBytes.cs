namespace MeshLite.Hops;

/// <summary>
/// Istio's byte metrics count wire bytes, headers included. This estimates the HTTP/1.1 framing of the start line and
/// headers (name, ": ", value, CRLF) without allocating; bodies are counted exactly elsewhere.
/// </summary>
internal static class WireBytes
{
    public static long Request(HttpRequest request)
    {
        long size = request.Method.Length + 1 + (request.Path.Value?.Length ?? 1) + (request.QueryString.Value?.Length ?? 0) + 1 + request.Protocol.Length + 2;
        return size + Headers(request.Headers) + 2;
    }

    public static long Response(HttpResponse response) => 17 + Headers(response.Headers) + 2;

    private static long Headers(IHeaderDictionary headers)
    {
        long size = 0;
        foreach (var header in headers)
        {
            foreach (var value in header.Value)
            {
                size += header.Key.Length + 4 + (value?.Length ?? 0);
            }
        }

        return size;
    }
}
