using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace MeshLite.Hops;

/// <summary>Counts request body bytes read from the client (<c>request_size</c>, <c>%BYTES_RECEIVED%</c>).</summary>
internal sealed class CountingRequestBody : Stream
{
    private readonly Stream _inner;

    public CountingRequestBody(Stream inner) => _inner = inner;

    public long BytesRead { get; private set; }

    /// <summary>Someone began to read the body; from then on the request cannot be sent again.</summary>
    public bool ReadStarted { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        ReadStarted = true;
        return Count(_inner.Read(buffer, offset, count));
    }

    public override int Read(Span<byte> buffer)
    {
        ReadStarted = true;
        return Count(_inner.Read(buffer));
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ReadStarted = true;
        return Count(await _inner.ReadAsync(buffer, cancellationToken));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int Count(int read)
    {
        BytesRead += read;
        return read;
    }
}

/// <summary>
/// Counts response body bytes sent to the client (<c>response_size</c>, <c>%BYTES_SENT%</c>), passing everything else
/// (trailers, flushing, send-file, disabling buffering) to the server's own feature.
/// </summary>
internal sealed class CountingResponseBody : Stream, IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner;
    private PipeWriter? _writer;

    public CountingResponseBody(IHttpResponseBodyFeature inner) => _inner = inner;

    public long BytesWritten { get; private set; }

    Stream IHttpResponseBodyFeature.Stream => this;

    // Local replies write through the PipeWriter; wrap it lazily so proxied responses (which use the Stream) pay nothing.
    PipeWriter IHttpResponseBodyFeature.Writer => _writer ??= PipeWriter.Create(this, new StreamPipeWriterOptions(leaveOpen: true));

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    public async Task CompleteAsync()
    {
        if (_writer is not null)
        {
            await _writer.CompleteAsync();
        }

        await _inner.CompleteAsync();
    }

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        await _inner.SendFileAsync(path, offset, count, cancellationToken);
        BytesWritten += count ?? new FileInfo(path).Length - offset;
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        _inner.Stream.Write(buffer, offset, count);
        BytesWritten += count;
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _inner.Stream.Write(buffer);
        BytesWritten += buffer.Length;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        BytesWritten += buffer.Length;
        return _inner.Stream.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => _inner.Stream.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.Stream.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
