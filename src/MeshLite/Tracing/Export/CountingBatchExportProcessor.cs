using System.Diagnostics;
using MeshLite.Diagnostics;
using OpenTelemetry;

namespace MeshLite.Tracing.Export;

/// <summary>
/// Batches finished spans to the exporter off the request path, like the SDK's BatchActivityExportProcessor, but
/// counts what happens to every span — queued, exported, dropped because the queue was full, dropped because the
/// collector failed — and how long exports take. The SDK keeps those counts internal; "where did my spans go?" needs them.
/// A request only ever does a non-blocking enqueue; a full queue drops the span instead of waiting.
/// </summary>
internal sealed class CountingBatchExportProcessor : BaseExportProcessor<Activity>
{
    private readonly MeshLiteMetrics _metrics;
    private readonly int _maxQueueSize;
    private readonly int _maxBatchSize;
    private readonly int _delayMilliseconds;
    private readonly Queue<Activity> _queue = new();
    private readonly Lock _gate = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly Thread _worker;
    private volatile bool _stopping;
    private long _enqueued;
    private long _handled;

    public CountingBatchExportProcessor(BaseExporter<Activity> exporter, MeshLiteMetrics metrics, int maxQueueSize, int maxBatchSize, int delayMilliseconds)
        : base(exporter)
    {
        _metrics = metrics;
        _maxQueueSize = maxQueueSize;
        _maxBatchSize = maxBatchSize;
        _delayMilliseconds = delayMilliseconds;
        _worker = new Thread(Run) { IsBackground = true, Name = "MeshLite span exporter" };
        _worker.Start();
    }

    protected override void OnExport(Activity data)
    {
        _metrics.SpansEnded.Inc();
        bool full;
        bool stopping;
        int length;
        lock (_gate)
        {
            stopping = _stopping;
            full = _queue.Count >= _maxQueueSize;
            if (!full && !stopping)
            {
                _queue.Enqueue(data);
                _enqueued++;
            }

            length = _queue.Count;
        }

        if (stopping)
        {
            _metrics.SpansDroppedShutdown.Inc();
            return;
        }

        if (full)
        {
            _metrics.SpansDroppedQueueFull.Inc();
            return;
        }

        if (length >= _maxBatchSize)
        {
            _wake.Set();
        }
    }

    protected override bool OnForceFlush(int timeoutMilliseconds) => Drain(timeoutMilliseconds);

    protected override bool OnShutdown(int timeoutMilliseconds)
    {
        var started = Stopwatch.GetTimestamp();
        var drained = Drain(timeoutMilliseconds);
        _stopping = true;
        _wake.Set();
        var remaining = timeoutMilliseconds == Timeout.Infinite ? Timeout.Infinite
            : Math.Max(0, timeoutMilliseconds - (int)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        _worker.Join(remaining == Timeout.Infinite ? Timeout.Infinite : remaining);
        return exporter.Shutdown(remaining) && drained;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _wake.Dispose();
        }
    }

    /// <summary>Wakes the worker and waits until everything enqueued so far has been handled (exported or dropped).</summary>
    private bool Drain(int timeoutMilliseconds)
    {
        long target;
        lock (_gate)
        {
            target = _enqueued;
        }

        var deadline = timeoutMilliseconds == Timeout.Infinite ? long.MaxValue : Environment.TickCount64 + timeoutMilliseconds;
        while (Interlocked.Read(ref _handled) < target)
        {
            if (Environment.TickCount64 > deadline || !_worker.IsAlive)
            {
                return false;
            }

            _wake.Set();
            Thread.Sleep(10);
        }

        return true;
    }

    private void Run()
    {
        var batch = new Activity[_maxBatchSize];
        while (true)
        {
            _wake.WaitOne(_delayMilliseconds);
            while (true)
            {
                int count;
                lock (_gate)
                {
                    count = Math.Min(_queue.Count, batch.Length);
                    for (var i = 0; i < count; i++)
                    {
                        batch[i] = _queue.Dequeue();
                    }

                    _metrics.ExportQueueLength.Set(_queue.Count);
                }

                if (count == 0)
                {
                    break;
                }

                Export(batch, count);
                Array.Clear(batch, 0, count);
                Interlocked.Add(ref _handled, count);
            }

            if (_stopping)
            {
                return;
            }
        }
    }

    private void Export(Activity[] batch, int count)
    {
        var started = Stopwatch.GetTimestamp();
        ExportResult result;
        try
        {
            result = exporter.Export(new Batch<Activity>(batch, count));
        }
        catch (Exception)
        {
            // An exporter must not throw; if it does, the batch is lost, counted, and the worker lives on.
            result = ExportResult.Failure;
        }

        _metrics.ExportDuration.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        if (result == ExportResult.Success)
        {
            _metrics.SpansExported.Inc(count);
        }
        else
        {
            _metrics.SpansDroppedExportFailed.Inc(count);
        }
    }
}
