"""A demo app for the compose mesh: a real process in its own container, knowing nothing of MeshLite.

It listens on 127.0.0.1 (only its sidecar, which shares its network namespace, reaches it), waits, sometimes fails,
and calls other services by name through HTTP_PROXY (urllib reads http_proxy/no_proxy), passing on the trace headers
it received, as an instrumented app would. Configured by environment: SERVICE, PORT, LATENCY_MS, JITTER_MS,
ERROR_RATE, CALLS (comma-separated service names), PARALLEL.
"""
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICE = os.environ.get("SERVICE", "app")
PORT = int(os.environ.get("PORT", "8080"))
LATENCY_MS = float(os.environ.get("LATENCY_MS", "0"))
JITTER_MS = float(os.environ.get("JITTER_MS", "0"))
ERROR_RATE = float(os.environ.get("ERROR_RATE", "0"))
CALLS = [c for c in os.environ.get("CALLS", "").split(",") if c]
PARALLEL = os.environ.get("PARALLEL", "false").lower() == "true"
TRACE_HEADERS = ("traceparent", "tracestate", "x-request-id", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid",
                 "x-b3-sampled", "x-b3-flags", "b3", "baggage")


def call(service, headers, results):
    request = urllib.request.Request(f"http://{service}/", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            results[service] = response.status
    except urllib.error.HTTPError as error:
        results[service] = error.code
    except OSError as error:
        results[service] = str(error)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/health":
            return self.answer(200, {"status": "ok"})
        time.sleep((LATENCY_MS + random.uniform(0, JITTER_MS)) / 1000)
        headers = {h: self.headers[h] for h in TRACE_HEADERS if self.headers.get(h)}
        results = {}
        threads = [threading.Thread(target=call, args=(s, headers, results)) for s in CALLS]
        for t in threads:
            t.start()
            if not PARALLEL:
                t.join()
        for t in threads:
            t.join()
        failed = random.random() < ERROR_RATE or any(r != 200 for r in results.values())
        self.answer(503 if failed else 200, {"service": SERVICE, "calls": results})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
