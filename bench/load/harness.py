#!/usr/bin/env python3
"""Runs the load matrix for bench/load/run.sh: starts every process, measures, stops every process.

Method (../../shared/docs/performance.md section 4): targets interleaved inside each repetition; saturation with the
proxy alone on CPU1 (wrk and the upstream on CPU0); a paced ~1000 req/s run with 1 KB responses; CPU from
/proc/<pid>/stat, RSS from /proc/<pid>/status; MeshLite's spans ended vs exported from its own metrics.
Loopback only; every run is bounded in time.
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

TICK = os.sysconf("SC_CLK_TCK")
UPSTREAM, NGINX = 18080, 18081
SINK = 18318
BODY_1K = "x" * 1024

PCT_LUA = """
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %.4f %.4f %.4f\\n", summary.requests, errors, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
"""
PACED_LUA = "function delay() return 4 end\n" + PCT_LUA


def log(message):
    print(message, flush=True)


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def tree(pid):
    pids = [pid]
    for child in children(pid):
        pids.extend(tree(child))
    return pids


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICK


def rss_mb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


class Target:
    def __init__(self, name, port, process=None, metrics_port=None):
        self.name, self.port, self.process, self.metrics_port = name, port, process, metrics_port

    def pids(self):
        return tree(self.process.pid) if self.process else []


def start_nginx(work, name, server_block, cpu):
    prefix = os.path.join(work, name)
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1; daemon off; pid {prefix}/nginx.pid; error_log {prefix}/logs/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; default_type text/plain; keepalive_requests 10000000; client_body_temp_path {prefix};
  proxy_temp_path {prefix}; fastcgi_temp_path {prefix}; uwsgi_temp_path {prefix}; scgi_temp_path {prefix};
  {server_block} }}
""")
    process = subprocess.Popen(["taskset", "-c", str(cpu), "nginx", "-p", prefix, "-c", conf],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process


def start_meshlite(work, name, port, extra, build="aot"):
    out = open(os.path.join(work, name + ".stdout"), "w")
    err_path = os.path.join(work, name + ".stderr")
    err = open(err_path, "w")
    # Started on the proxy's core, as bare YARP is: the GC sizes itself by the CPUs it sees at start-up.
    args = ["taskset", "-c", "1", os.path.join(work, "meshlite-" + build, "MeshLite"),
            f"--MeshLite:ServiceName={name}", f"--MeshLite:Inbound:AppPort={UPSTREAM}",
            f"--MeshLite:Inbound:Port={port}", "--MeshLite:Inbound:BindAddress=127.0.0.1",
            "--MeshLite:Outbound:Port=0", "--MeshLite:Admin:Port=0", "--MeshLite:Metrics:Port=0",
            "--MeshLite:PodName=bench", "--MeshLite:PodIp=127.0.0.1",
            f"--MeshLite:Tracing:Otlp:Endpoint=http://127.0.0.1:{SINK}", "--MeshLite:Tracing:Otlp:Protocol=http/protobuf",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:MeshLite=Information"] + extra
    process = subprocess.Popen(args, stdout=out, stderr=err)
    deadline = time.time() + 30
    metrics = None
    while time.time() < deadline and metrics is None:
        time.sleep(0.1)
        with open(err_path) as f:
            m = re.search(r"Metrics listener on port (\d+)", f.read())
            metrics = int(m.group(1)) if m else None
    if metrics is None:
        raise RuntimeError(f"{name} did not start: " + open(err_path).read())
    wait_port(port)
    return process, metrics


def wrk(port, path, seconds, script, connections, threads=2):
    script_path = f"/tmp/meshlite-wrk-{os.getpid()}.lua"
    with open(script_path, "w") as f:
        f.write(script)
    cmd = ["taskset", "-c", "0", "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", script_path,
           f"http://127.0.0.1:{port}{path}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    m = re.search(r"RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)", result.stdout)
    if not m:
        raise RuntimeError("wrk failed: " + result.stdout + result.stderr)
    requests, errors, duration_us = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return {"requests": requests, "errors": errors, "seconds": duration_us / 1e6,
            "p50": float(m.group(4)), "p90": float(m.group(5)), "p99": float(m.group(6))}


def measure(target, upstream, path, seconds, script, connections, threads=2):
    pids = target.pids() or upstream.pids()
    before = cpu_seconds(pids)
    result = wrk(target.port, path, seconds, script, connections, threads)
    result["cpu_seconds"] = cpu_seconds(pids) - before
    result["rss_mb"] = rss_mb(pids)
    return result


def scrape(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/stats/prometheus", timeout=5).read().decode()
    values = {}
    for line in text.splitlines():
        m = re.match(r"^(meshlite_spans_(?:ended|exported|dropped)_total)(\{[^}]*\})? ([0-9.e+]+)$", line)
        if m:
            values[m.group(1)] = values.get(m.group(1), 0) + float(m.group(3))
    return values


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    options = parser.parse_args()
    reps = int(os.environ.get("REPS", "2"))
    saturation_seconds = int(os.environ.get("SATURATION_SECONDS", "5"))
    paced_seconds = int(os.environ.get("PACED_SECONDS", "10"))
    serial_seconds = int(os.environ.get("SERIAL_SECONDS", "5"))
    work = options.work

    processes = []
    try:
        upstream = Target("upstream", UPSTREAM, start_nginx(work, "upstream",
            f"server {{ listen 127.0.0.1:{UPSTREAM} backlog=4096; location / {{ return 200 'ok'; }} location /1k {{ return 200 '{BODY_1K}'; }} }}", 0))
        processes.append(upstream.process)
        sink = start_nginx(work, "sink",
            f"server {{ listen 127.0.0.1:{SINK}; client_max_body_size 64m; location / {{ return 200 ''; }} }}", 0)
        processes.append(sink)
        nginx = Target("nginx", NGINX, start_nginx(work, "proxy",
            f"upstream up {{ server 127.0.0.1:{UPSTREAM}; keepalive 128; keepalive_requests 10000000; }} "
            f"server {{ listen 127.0.0.1:{NGINX} backlog=4096; location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}", 1))
        processes.append(nginx.process)
        yarps = []
        for name, port, build, mode in (("yarp-aot", 18082, "aot", []), ("yarp-jit", 18092, "jit", []), ("yarp-direct-jit", 18093, "jit", ["direct"])):
            process = subprocess.Popen(["taskset", "-c", "1", os.path.join(work, "yarp-" + build, "YarpBaseline"), str(port), f"http://127.0.0.1:{UPSTREAM}/"] + mode,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes.append(process)
            yarps.append(Target(name, port, process))

        # The goals compare each MeshLite build with bare YARP of the same build kind; "defaults" is 1 % with the access log on.
        meshlite = []
        variants = [
            ("meshlite-aot-off", 18083, "aot", ["--MeshLite:Tracing:Enabled=false", "--MeshLite:AccessLog:Enabled=false"]),
            ("meshlite-aot-1pct", 18084, "aot", ["--MeshLite:Tracing:Sampling=1", "--MeshLite:AccessLog:Enabled=false"]),
            ("meshlite-aot-100pct", 18085, "aot", ["--MeshLite:Tracing:Sampling=100", "--MeshLite:AccessLog:Enabled=false"]),
            ("meshlite-aot-defaults", 18086, "aot", ["--MeshLite:Tracing:Sampling=1"]),
            ("meshlite-jit-1pct", 18087, "jit", ["--MeshLite:Tracing:Sampling=1", "--MeshLite:AccessLog:Enabled=false"]),
            ("meshlite-jit-100pct", 18088, "jit", ["--MeshLite:Tracing:Sampling=100", "--MeshLite:AccessLog:Enabled=false"]),
            ("meshlite-jit-defaults", 18089, "jit", ["--MeshLite:Tracing:Sampling=1"]),
        ]
        for name, port, build, extra in variants:
            process, metrics = start_meshlite(work, name, port, extra, build)
            processes.append(process)
            meshlite.append(Target(name, port, process, metrics))

        for port in [UPSTREAM, NGINX, SINK] + [y.port for y in yarps]:
            wait_port(port)
        time.sleep(1)
        targets = [Target("direct", UPSTREAM), nginx] + yarps + meshlite
        only = os.environ.get("ONLY")
        if only:
            keep = set(only.split(",")) | {"direct", "nginx", "yarp-aot", "yarp-jit"}
            targets = [t for t in targets if t.name in keep]
            meshlite = [t for t in meshlite if t.name in keep]
        for target in targets[1:]:
            for pid in target.pids():
                subprocess.run(["taskset", "-a", "-cp", "1", str(pid)], capture_output=True)
        idle_rss = {t.name: rss_mb(t.pids()) for t in targets[1:]}

        # JIT builds need time at load to reach tier-1 code with Dynamic PGO; AOT and nginx are ready at once.
        log(f"warming up ({len(targets)} targets)")
        for target in targets:
            wrk(target.port, "/", int(os.environ.get("JIT_WARMUP_SECONDS", "20")) if "-jit" in target.name else 4, PCT_LUA, 32)

        runs = {t.name: {"saturation": [], "paced": [], "serial": []} for t in targets}
        for rep in range(reps):
            log(f"repetition {rep + 1}/{reps}")
            for target in targets:
                sat = measure(target, upstream, "/", saturation_seconds, PCT_LUA, 32)
                paced = measure(target, upstream, "/1k", paced_seconds, PACED_LUA, 4)
                serial = measure(target, upstream, "/1k", serial_seconds, PCT_LUA, 1, threads=1)
                runs[target.name]["saturation"].append(sat)
                runs[target.name]["paced"].append(paced)
                runs[target.name]["serial"].append(serial)
                log(f"  {target.name:24} {sat['requests'] / sat['seconds']:9.0f} rps pinned  |  paced {paced['requests'] / paced['seconds']:6.0f} rps "
                    f"p50 {paced['p50']:.3f} p99 {paced['p99']:.3f} ms  cpu {1000 * paced['cpu_seconds'] / max(paced['requests'], 1) * 1000:6.1f} ms/1000"
                    f"  |  one connection p50 {serial['p50']:.3f} ms")

        time.sleep(3)
        spans = {t.name: scrape(t.metrics_port) for t in meshlite}

        summary = {}
        for target in targets:
            sat, paced, serial = runs[target.name]["saturation"], runs[target.name]["paced"], runs[target.name]["serial"]
            direct_paced, direct_serial = runs["direct"]["paced"], runs["direct"]["serial"]
            summary[target.name] = {
                "rps_per_core": median([r["requests"] / r["seconds"] for r in sat]),
                "cpu_us_per_request": median([1e6 * r["cpu_seconds"] / max(r["requests"], 1) for r in sat]),
                "saturation_core_utilisation": median([r["cpu_seconds"] / r["seconds"] for r in sat]),
                "paced_rps": median([r["requests"] / r["seconds"] for r in paced]),
                "p50_ms": median([r["p50"] for r in paced]),
                "p99_ms": median([r["p99"] for r in paced]),
                "added_p50_ms": median([r["p50"] - d["p50"] for r, d in zip(paced, direct_paced)]) if target.name != "direct" else None,
                "added_p99_ms": median([r["p99"] - d["p99"] for r, d in zip(paced, direct_paced)]) if target.name != "direct" else None,
                "cpu_ms_per_1000": median([1e6 * r["cpu_seconds"] / max(r["requests"], 1) for r in paced]),
                "serial_p50_ms": median([r["p50"] for r in serial]),
                "serial_added_p50_ms": median([r["p50"] - d["p50"] for r, d in zip(serial, direct_serial)]) if target.name != "direct" else None,
                "serial_rps": median([r["requests"] / r["seconds"] for r in serial]),
                "rss_idle_mb": idle_rss.get(target.name),
                "rss_load_mb": max(r["rss_mb"] for r in paced) if target.name != "direct" else None,
                "errors": sum(r["errors"] for r in sat + paced + serial),
            }
            if target.name in spans:
                summary[target.name]["spans"] = spans[target.name]

        for name, row in summary.items():
            kind = "jit" if "-jit" in name else "aot"
            for base, base_name in (("yarp", f"yarp-{kind}"), ("nginx", "nginx")):
                b = summary[base_name]
                row[f"rps_vs_{base}"] = row["rps_per_core"] / b["rps_per_core"] if name not in ("direct", base_name) else None
                row[f"cpu_per_1000_vs_{base}"] = row["cpu_ms_per_1000"] / b["cpu_ms_per_1000"] if name not in ("direct", base_name) else None
                row[f"serial_added_p50_vs_{base}_ms"] = (row["serial_added_p50_ms"] - b["serial_added_p50_ms"]) if name not in ("direct", base_name) else None
                row[f"added_p99_vs_{base}_ms"] = (row["added_p99_ms"] - b["added_p99_ms"]) if name not in ("direct", base_name) else None
        off = summary.get("meshlite-aot-off", {}).get("cpu_us_per_request")
        for name in ("meshlite-aot-1pct", "meshlite-aot-100pct"):
            if off and name in summary:
                summary[name]["tracing_cpu_tax_vs_off"] = summary[name]["cpu_us_per_request"] / off - 1
        for kind in ("aot", "jit"):
            on, quiet = summary.get(f"meshlite-{kind}-defaults"), summary.get(f"meshlite-{kind}-1pct")
            if on and quiet:
                on["access_log_cpu_vs_off"] = on["cpu_ms_per_1000"] / quiet["cpu_ms_per_1000"] - 1
                on["access_log_added_serial_p50_ms"] = on["serial_p50_ms"] - quiet["serial_p50_ms"]

        report = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": f"{os.cpu_count()} CPUs, " + open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].split(":", 1)[1].strip(),
            "settings": {"reps": reps, "saturation_seconds": saturation_seconds, "paced_seconds": paced_seconds,
                         "saturation": "wrk -t2 -c32, proxy pinned alone on CPU1, wrk + upstream on CPU0",
                         "paced": "wrk -t2 -c4 with 4 ms think time (~1000 req/s), 1 KB responses",
                         "serial": "wrk -t1 -c1 (one connection, no think time), 1 KB responses",
                         "builds": "MeshLite and bare YARP, each as Native AOT and as JIT (framework-dependent), Release, thread-pool spin-waiting off; ratios to bare YARP use the same build kind"},
            "targets": summary,
        }
        with open(os.path.join(options.out, "load.json"), "w") as f:
            json.dump(report, f, indent=2)
        markdown = render(report)
        with open(os.path.join(options.out, "load.md"), "w") as f:
            f.write(markdown)
        print(markdown)
    finally:
        for process in processes:
            try:
                process.send_signal(signal.SIGTERM)
            except OSError:
                pass
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def fmt(value, pattern="{:.2f}"):
    return "—" if value is None else pattern.format(value)


def render(report):
    lines = [f"Load benchmark, {report['date']}, {report['machine']}; {report['settings']['reps']} reps (medians). "
             "×YARP compares with bare YARP of the same build kind (AOT or JIT).", "",
             "| target | rps/core (pinned) | CPU-µs/req | ×YARP rps | ×nginx rps | paced p50 ms | p99 ms | added p99 | CPU-ms/1000 req (paced) | ×YARP CPU | ×nginx CPU | one-connection added p50 | RSS idle → load MB | spans ended / exported / dropped |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in report["targets"].items():
        spans = r.get("spans")
        span_text = "—" if not spans else "{:.0f} / {:.0f} / {:.0f}".format(
            spans.get("meshlite_spans_ended_total", 0), spans.get("meshlite_spans_exported_total", 0), spans.get("meshlite_spans_dropped_total", 0))
        lines.append(f"| {name} | {fmt(r['rps_per_core'], '{:.0f}')} | {fmt(r['cpu_us_per_request'], '{:.1f}')} | {fmt(r['rps_vs_yarp'])} | {fmt(r['rps_vs_nginx'])} "
                     f"| {fmt(r['p50_ms'], '{:.3f}')} | {fmt(r['p99_ms'], '{:.3f}')} | {fmt(r['added_p99_ms'], '{:+.3f}')} "
                     f"| {fmt(r['cpu_ms_per_1000'], '{:.1f}')} | {fmt(r['cpu_per_1000_vs_yarp'])} | {fmt(r['cpu_per_1000_vs_nginx'])} "
                     f"| {fmt(r['serial_added_p50_ms'], '{:+.3f}')} | {fmt(r['rss_idle_mb'], '{:.0f}')} → {fmt(r['rss_load_mb'], '{:.0f}')} | {span_text} |")
    lines.append("")
    for name in (n for n in ("meshlite-aot-1pct", "meshlite-aot-100pct") if n in report["targets"] and "tracing_cpu_tax_vs_off" in report["targets"][n]):
        lines.append(f"Tracing CPU tax at saturation, {name} vs meshlite-aot-off: {100 * report['targets'][name]['tracing_cpu_tax_vs_off']:+.1f} %  ")
    for kind in ("aot", "jit"):
        r = report["targets"].get(f"meshlite-{kind}-defaults")
        if r and "access_log_cpu_vs_off" in r:
            lines.append(f"Access log on vs off ({kind}): {100 * r['access_log_cpu_vs_off']:+.1f} % CPU per request at the paced rate, "
                         f"{r['access_log_added_serial_p50_ms']:+.3f} ms p50 at one connection  ")
    for name, r in report["targets"].items():
        if name.startswith("meshlite-") and r.get("serial_added_p50_vs_yarp_ms") is not None:
            lines.append(f"{name}: one-connection added p50 − bare YARP's {r['serial_added_p50_vs_yarp_ms']:+.3f} ms; paced added p99 − nginx's {r['added_p99_vs_nginx_ms']:+.3f} ms  ")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
