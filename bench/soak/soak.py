#!/usr/bin/env python3
"""A bounded soak of one MeshLite sidecar (bench/soak/run.sh): saturation is measured first, then wrk drives half that
rate for SOAK_MINUTES while RSS and CPU are sampled every few seconds. Reports the RSS trend, failed requests, and
whether every span ended was exported or counted as dropped. Loopback only; every step is bounded in time.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "load"))
import harness  # noqa: E402  (the load benchmark's process helpers: nginx, MeshLite, wrk, /proc readers)

PORT = 18090
PACED_LUA = "function delay() return {delay} end\n" + harness.PCT_LUA


def slope_per_minute(samples):
    """Least-squares slope of RSS (MB) over time, in MB per minute."""
    xs = [t / 60 for t, _, _ in samples]
    ys = [rss for _, rss, _ in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    denominator = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / denominator if denominator else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    options = parser.parse_args()
    minutes = float(os.environ.get("SOAK_MINUTES", "10"))
    interval = float(os.environ.get("SAMPLE_SECONDS", "5"))
    sampling = os.environ.get("SAMPLING", "10")
    work = options.work

    processes = []
    try:
        processes.append(harness.start_nginx(work, "upstream",
            f"server {{ listen 127.0.0.1:{harness.UPSTREAM} backlog=4096; location / {{ return 200 'ok'; }} }}", 0))
        processes.append(harness.start_nginx(work, "sink",
            f"server {{ listen 127.0.0.1:{harness.SINK}; client_max_body_size 64m; location / {{ return 200 ''; }} }}", 0))
        harness.wait_port(harness.UPSTREAM)
        harness.wait_port(harness.SINK)
        process, metrics_port = harness.start_meshlite(work, "soak", PORT, [
            f"--MeshLite:Tracing:Sampling={sampling}", "--MeshLite:AccessLog:Path=/dev/null"])
        processes.append(process)
        sidecar = harness.Target("meshlite", PORT, process, metrics_port)

        harness.log("measuring saturation (10 s, 32 connections)")
        harness.wrk(PORT, "/", 3, harness.PCT_LUA, 32)
        saturation = harness.wrk(PORT, "/", 10, harness.PCT_LUA, 32)
        saturation_rps = saturation["requests"] / saturation["seconds"]

        # wrk paces each connection by waiting `delay` after every response, so a connection's rate is
        # 1000 / (delay + response time): a short paced trial measures it, and the connection count is scaled to match.
        target_rps = saturation_rps / 2
        delay_ms = 5
        connections = max(1, round(target_rps * delay_ms / 1000))
        trial = harness.wrk(PORT, "/", 5, PACED_LUA.format(delay=delay_ms), connections)
        per_connection = trial["requests"] / trial["seconds"] / connections
        connections = max(1, round(target_rps / per_connection))
        seconds = int(minutes * 60)
        harness.log(f"saturation {saturation_rps:.0f} req/s; soaking at ~{target_rps:.0f} req/s for {seconds} s "
                    f"({connections} connections at ~{per_connection:.0f} req/s each, {delay_ms} ms between requests)")

        result = {}
        runner = threading.Thread(target=lambda: result.update(
            harness.wrk(PORT, "/", seconds, PACED_LUA.format(delay=delay_ms), connections)))
        started = time.time()
        cpu_before = harness.cpu_seconds(sidecar.pids())
        runner.start()
        samples = []
        last_cpu, last_time = cpu_before, started
        while runner.is_alive():
            runner.join(interval)
            now = time.time()
            cpu = harness.cpu_seconds(sidecar.pids())
            samples.append((now - started, harness.rss_mb(sidecar.pids()), (cpu - last_cpu) / (now - last_time)))
            last_cpu, last_time = cpu, now
            if len(samples) % 12 == 0:
                harness.log(f"  {now - started:5.0f} s  RSS {samples[-1][1]:.1f} MB  CPU {samples[-1][2] * 100:.0f} %")
        if not result:
            raise RuntimeError("wrk did not report")

        time.sleep(3)  # one export interval, so that the last spans are exported before they are counted
        spans = harness.scrape(metrics_port)
        steady = [s for s in samples if s[0] >= 60] or samples  # the first minute is warm-up (JIT-free AOT, but pools grow)
        third = max(1, len(steady) // 3)
        report = {
            "minutes": minutes, "sampling_percent": float(sampling),
            "saturation_rps": round(saturation_rps), "target_rps": round(target_rps),
            "soak_rps": round(result["requests"] / result["seconds"]),
            "held_of_target": round(result["requests"] / result["seconds"] / target_rps, 2),
            "requests": result["requests"], "failed_requests": result["errors"],
            "p50_ms": result["p50"], "p99_ms": result["p99"],
            "rss_mb_first_third": round(statistics.median(s[1] for s in steady[:third]), 1),
            "rss_mb_last_third": round(statistics.median(s[1] for s in steady[-third:]), 1),
            "rss_mb_max": round(max(s[1] for s in samples), 1),
            "rss_slope_mb_per_minute": round(slope_per_minute(steady), 3),
            "cpu_percent_median": round(statistics.median(s[2] for s in steady) * 100, 1),
            "spans_ended": spans.get("meshlite_spans_ended_total", 0),
            "spans_exported": spans.get("meshlite_spans_exported_total", 0),
            "spans_dropped": spans.get("meshlite_spans_dropped_total", 0),
            "samples": [{"t": round(t, 1), "rss_mb": round(r, 1), "cpu": round(c, 3)} for t, r, c in samples],
        }
        report["spans_accounted"] = report["spans_ended"] == report["spans_exported"] + report["spans_dropped"]
        os.makedirs(options.out, exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H%M%S")
        with open(os.path.join(options.out, f"soak-{stamp}.json"), "w") as f:
            json.dump(report, f, indent=2)
        summary = {k: v for k, v in report.items() if k != "samples"}
        harness.log(json.dumps(summary, indent=2))
        ok = report["failed_requests"] == 0 and report["spans_accounted"]
        harness.log("SOAK " + ("PASSED" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
