using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using MeshLite.Hops;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace MeshLite.Hosting;

/// <summary>
/// Marks each connection with its listener, and lets one cleartext port speak both HTTP/1.1 and HTTP/2 with prior
/// knowledge (as gRPC clients send it): Kestrel picks HTTP/1.1 whenever there is no ALPN, so on seeing the HTTP/2
/// connection preface we answer as if ALPN had chosen <c>h2</c>. The bytes are peeked, never consumed.
/// </summary>
internal sealed class ListenerConnectionMiddleware
{
    private static ReadOnlySpan<byte> Http2Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    private readonly ConnectionDelegate _next;
    private readonly ListenerFeature _listener;
    private readonly bool _detectHttp2;

    public ListenerConnectionMiddleware(ConnectionDelegate next, ListenerKind listener, bool detectHttp2)
    {
        _next = next;
        _listener = ListenerFeature.For(listener);
        _detectHttp2 = detectHttp2;
    }

    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        connection.Features.Set(_listener);
        if (_detectHttp2 && await StartsWithHttp2PrefaceAsync(connection.Transport.Input, connection.ConnectionClosed))
        {
            var h2 = new PriorKnowledgeHttp2Feature();
            connection.Features.Set<ITlsApplicationProtocolFeature>(h2);
            connection.Features.Set<ITlsConnectionFeature>(h2);
        }

        await _next(connection);
    }

    private static async ValueTask<bool> StartsWithHttp2PrefaceAsync(PipeReader input, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return false;
            }

            var buffer = result.Buffer;
            var length = (int)Math.Min(buffer.Length, Http2Preface.Length);
            var matches = Matches(buffer.Slice(0, length), length);

            // Examine what was read so the next read waits for more; consume nothing so Kestrel sees every byte.
            if (!matches || length == Http2Preface.Length || result.IsCompleted || result.IsCanceled)
            {
                input.AdvanceTo(buffer.Start, buffer.Start);
                return matches && length == Http2Preface.Length;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static bool Matches(ReadOnlySequence<byte> prefix, int length)
    {
        Span<byte> bytes = stackalloc byte[24];
        prefix.CopyTo(bytes);
        return bytes[..length].SequenceEqual(Http2Preface[..length]);
    }

    private sealed class PriorKnowledgeHttp2Feature : ITlsApplicationProtocolFeature, ITlsConnectionFeature
    {
        public ReadOnlyMemory<byte> ApplicationProtocol => SslApplicationProtocol.Http2.Protocol;

        public X509Certificate2? ClientCertificate { get; set; }

        public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult<X509Certificate2?>(null);
    }
}
