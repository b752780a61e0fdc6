using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using MeshLite.Configuration;
using MeshLite.Diagnostics;

namespace MeshLite.AccessLog;

/// <summary>
/// Writes access-log lines from a bounded buffer drained by one background thread. A request only tries to enqueue;
/// when the output is slow and the buffer is full the line is dropped and counted, and the request never waits. The
/// thread wakes once per flush interval (Envoy's 1 s), or sooner when a batch of lines is waiting, and writes every
/// queued line in one write, formatted straight into bytes.
/// Turning the log on or off, its encoding and its path follow the live configuration; a new path is opened before
/// the old one is let go, so no line is lost across a reload.
/// </summary>
internal sealed class AccessLogWriter : IAsyncDisposable
{
    /// <summary>Bytes formatted before they are written out, whatever the interval (Envoy's 64 KiB).</summary>
    private const int WriteThreshold = 64 * 1024;

    private readonly Channel<AccessLogEntry> _channel;
    private readonly MeshLiteMetrics _metrics;
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly int _wakeAfterLines;
    private int _queued;
    private readonly Lock _gate = new();
    private volatile Sink _sink;
    private Task _drain = Task.CompletedTask;

    public AccessLogWriter(LiveSettings live, MeshLiteMetrics metrics)
        : this(live.Current.Options.AccessLog, metrics, output: null)
    {
        live.Changed += settings => Configure(settings.Options.AccessLog);
    }

    internal AccessLogWriter(AccessLogOptions options, MeshLiteMetrics metrics, Stream? output)
    {
        _metrics = metrics;
        _channel = Channel.CreateBounded<AccessLogEntry>(new BoundedChannelOptions(options.BufferSize)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _wakeAfterLines = Math.Clamp(options.BufferSize / 4, 1, 256);
        // A log that is off opens nothing (Open gives stdout, a placeholder): turning it on later opens its path.
        _sink = new Sink(options.Enabled, IsJson(options), options.Enabled ? options.Path : string.Empty, output ?? Open(options), options.FlushInterval,
            AccessLogFormat.From(options));
        if (options.Enabled)
        {
            StartDrain();
        }
    }

    public bool Enabled => _sink.Enabled;

    /// <summary>The custom format in effect (<c>AccessLog:Format</c>), or null for Istio's default.</summary>
    public AccessLogFormat? Format => _sink.Format;

    public void Configure(AccessLogOptions options)
    {
        lock (_gate)
        {
            var current = _sink;
            var path = current.Path;
            var output = current.Output;
            if (options.Enabled && !string.Equals(current.Path, options.Path, StringComparison.Ordinal))
            {
                try
                {
                    output = Open(options);
                    path = options.Path;
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // The validator saw the directory; if the file still cannot be opened, keep writing where we were.
                    _metrics.RecordInternalError("access_log");
                }
            }

            _sink = new Sink(options.Enabled, IsJson(options), path, output, options.FlushInterval, AccessLogFormat.From(options));
            if (options.Enabled)
            {
                StartDrain();
            }
        }
    }

    public void Write(in AccessLogEntry entry)
    {
        if (!_channel.Writer.TryWrite(entry))
        {
            _metrics.AccessLogDropped.Inc();
        }
        else if (Interlocked.Increment(ref _queued) == _wakeAfterLines)
        {
            _wake.Set();
        }
    }

    /// <summary>Writes every queued line and stops taking new ones; for the end of a drain, once no request can write.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        _channel.Writer.TryComplete();
        _wake.Set();
        Task drain;
        lock (_gate)
        {
            drain = _drain;
        }

        try
        {
            await drain.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Out of shutdown time: what is left is lost, as it would be if the process were killed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await FlushAsync(timeout.Token);
        if (_drain.IsCompleted)
        {
            _wake.Dispose();
        }
    }

    private static bool IsJson(AccessLogOptions options) => string.Equals(options.Encoding, "JSON", StringComparison.OrdinalIgnoreCase);

    private static Stream Open(AccessLogOptions options) =>
        !options.Enabled || string.IsNullOrEmpty(options.Path) || options.Path == AccessLogOptions.StandardOutput
            ? Console.OpenStandardOutput()
            : new FileStream(options.Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);

    private void StartDrain()
    {
        if (_drain.IsCompleted && !_channel.Reader.Completion.IsCompleted)
        {
            _drain = Task.Factory.StartNew(Drain, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
    }

    private void Drain()
    {
        var text = new StringBuilder(512);
        var buffer = new ArrayBufferWriter<byte>(WriteThreshold + 4096);
        using var json = new Utf8JsonWriter(buffer);
        var reader = _channel.Reader;
        var output = _sink.Output;
        while (true)
        {
            _wake.Wait(_sink.FlushInterval);
            _wake.Reset();
            Volatile.Write(ref _queued, 0);

            var sink = _sink;
            if (!ReferenceEquals(sink.Output, output))
            {
                // A reload moved the log: lines queued from now on go to the new place.
                Retire(output);
                output = sink.Output;
            }

            while (reader.TryRead(out var entry))
            {
                // A line is written in the format it was captured for, unless a reload changed the encoding meanwhile.
                var format = entry.Format is { } custom && custom.IsJson == sink.Json ? custom : null;
                if (sink.Json)
                {
                    if (format is not null)
                    {
                        format.WriteJson(json, entry);
                    }
                    else
                    {
                        AccessLogFormatter.WriteJson(json, entry);
                    }

                    json.Flush();
                    json.Reset();
                    buffer.GetSpan(1)[0] = (byte)'\n';
                    buffer.Advance(1);
                }
                else
                {
                    text.Clear();
                    if (format is not null)
                    {
                        format.AppendText(text, entry);
                    }
                    else
                    {
                        AccessLogFormatter.AppendText(text, entry);
                    }

                    foreach (var chunk in text.GetChunks())
                    {
                        Encoding.UTF8.GetBytes(chunk.Span, buffer);
                    }
                }

                if (buffer.WrittenCount > WriteThreshold)
                {
                    Flush(output, buffer);
                }
            }

            Flush(output, buffer);
            if (reader.Completion.IsCompleted)
            {
                return;
            }
        }
    }

    private static void Retire(Stream output)
    {
        if (output is FileStream)
        {
            output.Dispose();
        }
    }

    private static void Flush(Stream output, ArrayBufferWriter<byte> buffer)
    {
        if (buffer.WrittenCount == 0)
        {
            return;
        }

        try
        {
            output.Write(buffer.WrittenSpan);
            output.Flush();
        }
        catch (IOException)
        {
            // stdout closed: nothing to log to. Lines are lost; requests are not affected.
        }

        buffer.ResetWrittenCount();
    }

    /// <summary>Where lines go and how they are written; replaced whole on reload.</summary>
    private sealed record Sink(bool Enabled, bool Json, string Path, Stream Output, TimeSpan FlushInterval, AccessLogFormat? Format);
}
