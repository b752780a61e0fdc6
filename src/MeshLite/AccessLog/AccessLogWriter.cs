using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using MeshLite.Configuration;
using MeshLite.Metrics;

namespace MeshLite.AccessLog;

/// <summary>
/// Writes access-log lines to stdout from a bounded buffer drained by one background thread. A request only tries to
/// enqueue; when stdout is slow and the buffer is full the line is dropped and counted, and the request never waits.
/// </summary>
internal sealed class AccessLogWriter : IAsyncDisposable
{
    private readonly Channel<AccessLogEntry> _channel;
    private readonly Stream _output;
    private readonly bool _json;
    private readonly MeshLiteMetrics _metrics;
    private readonly Task _drain;

    public AccessLogWriter(MeshLiteSettings settings, MeshLiteMetrics metrics)
        : this(settings.Options.AccessLog, metrics, Open(settings.Options.AccessLog))
    {
    }

    internal AccessLogWriter(AccessLogOptions options, MeshLiteMetrics metrics, Stream output)
    {
        _metrics = metrics;
        _output = output;
        _json = string.Equals(options.Encoding, "JSON", StringComparison.OrdinalIgnoreCase);
        Enabled = options.Enabled;
        _channel = Channel.CreateBounded<AccessLogEntry>(new BoundedChannelOptions(options.BufferSize)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        _drain = Enabled ? Task.Factory.StartNew(Drain, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default) : Task.CompletedTask;
    }

    public bool Enabled { get; }

    private static Stream Open(AccessLogOptions options) =>
        !options.Enabled || string.IsNullOrEmpty(options.Path) || options.Path == AccessLogOptions.StandardOutput
            ? Console.OpenStandardOutput()
            : new FileStream(options.Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);

    public void Write(in AccessLogEntry entry)
    {
        if (!_channel.Writer.TryWrite(entry))
        {
            _metrics.AccessLogDropped.Inc();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Writer.TryComplete();
        await Task.WhenAny(_drain, Task.Delay(TimeSpan.FromSeconds(2)));
    }

    private void Drain()
    {
        var text = new StringBuilder(512);
        var buffer = new MemoryStream(4096);
        using var json = new Utf8JsonWriter(buffer);
        var reader = _channel.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var entry))
            {
                if (_json)
                {
                    AccessLogFormatter.WriteJson(json, entry);
                    json.Flush();
                    json.Reset();
                    buffer.WriteByte((byte)'\n');
                }
                else
                {
                    text.Clear();
                    AccessLogFormatter.AppendText(text, entry);
                    var bytes = Encoding.UTF8.GetBytes(text.ToString());
                    buffer.Write(bytes);
                }

                if (buffer.Length > 32 * 1024)
                {
                    Flush(buffer);
                }
            }

            Flush(buffer);
        }
    }

    private void Flush(MemoryStream buffer)
    {
        if (buffer.Length == 0)
        {
            return;
        }

        try
        {
            _output.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
            _output.Flush();
        }
        catch (IOException)
        {
            // stdout closed: nothing to log to. Lines are lost; requests are not affected.
        }

        buffer.SetLength(0);
    }
}
