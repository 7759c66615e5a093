"""Events/second through the live runtime: signed webhooks → engine → SQLite → platform.

Starts ``engage-rules run`` as a subprocess (the starter playbook, a webhook source, a
SQLite store, a webhook adapter) and a local fake platform API in this process, then
posts N signed ``message.posted`` events from C client threads over keep-alive
connections.  An event counts when its 202 arrives, i.e. after its durable commit.

Prints: accepted events/s (202s over wall time), request latency (p50, p99), the
platform calls made, and how long after the last accepted event the last call arrived
(how far delivery lagged behind).
The last line is one JSON object.

    python bench/bench_webhook.py [--events 20000] [--clients 16] [--members 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from engage_rules.adapters.signing import sign

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret-0123456789"
LISTENING = re.compile(r"webhook source listening on http://127\.0\.0\.1:(\d+)/events")


class Platform:
    """A fake platform API counting the actions it receives."""

    def __init__(self) -> None:
        self.count = 0
        self.last = time.monotonic()
        lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    platform.count += 1
                    platform.last = time.monotonic()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--members", type=int, default=2_000)
    args = ap.parse_args()

    platform = Platform()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        config = workdir / "live.yaml"
        config.write_text(f"""\
playbook: {ROOT / "rules/starter/community.yaml"}
store: sqlite:///{workdir / "state.db"}
sources:
  - type: webhook
    listen: 127.0.0.1:0
    secret_env: BENCH_SECRET
adapters:
  platform:
    type: webhook
    base_url: {platform.url}
dispatch:
  default: platform
  workers: 8
""")
        env = {**os.environ, "BENCH_SECRET": SECRET, "ENGAGE_RULES_LOAD_PLUGINS": ""}
        proc = subprocess.Popen(
            [sys.executable, "-m", "engage_rules", "run", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        ports: list[int] = []

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                m = LISTENING.search(line)
                if m:
                    ports.append(int(m.group(1)))
                elif " WARNING " in line or " ERROR " in line or "Traceback" in line:
                    sys.stderr.write("runtime: " + line)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 60
        while not ports:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the runtime did not start")
            time.sleep(0.05)
        port = ports[0]

        texts = [
            "今天拍的日落，分享给大家看看，光线特别好",
            "请问这个镜头适合拍人像吗",
            "周末一起去扫街吗",
            "谢谢分享！",
        ]
        latencies: list[float] = []
        accepted = [0]
        lock = threading.Lock()

        def client(k: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine: list[float] = []
            ok = 0
            for n in range(k, args.events, args.clients):
                body = json.dumps(
                    {
                        "id": f"bench-{n}",
                        "type": "message.posted",
                        "at": datetime.now(UTC).isoformat(),
                        "channel": f"c{n % 20}",
                        "member": {"id": f"u{n % args.members}"},
                        "data": {"text": texts[n % len(texts)], "message_id": f"m-{n}"},
                    },
                    ensure_ascii=False,
                ).encode()
                ts = str(int(time.time()))
                headers = {
                    "Content-Type": "application/json",
                    "X-Engage-Timestamp": ts,
                    "X-Engage-Delivery": f"d-{n}",
                    "X-Engage-Signature": sign(SECRET.encode(), ts, f"d-{n}", body),
                }
                t = time.perf_counter()
                conn.request("POST", "/events", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                mine.append(time.perf_counter() - t)
                ok += resp.status == 202
            conn.close()
            with lock:
                latencies.extend(mine)
                accepted[0] += ok

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        ingest_end = time.monotonic()
        # delivery: wait until the platform has seen nothing new for a second
        while time.monotonic() - platform.last < 1.0:
            time.sleep(0.1)
        drain_lag = max(0.0, platform.last - ingest_end)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)

    latencies.sort()
    eps = accepted[0] / elapsed
    result = {
        "events": args.events,
        "accepted": accepted[0],
        "clients": args.clients,
        "seconds": round(elapsed, 2),
        "webhook_eps": round(eps),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "platform_calls": platform.count,
        "drain_lag_s": round(drain_lag, 2),
    }
    print(
        f"accepted {accepted[0]:,} of {args.events:,} events in {elapsed:.2f} s: "
        f"{eps:,.0f} events/s ({args.clients} clients; latency p50 "
        f"{result['p50_ms']} ms, p99 {result['p99_ms']} ms)"
    )
    print(
        f"platform calls: {platform.count:,}; the last one {drain_lag:.2f} s after the last "
        "event was accepted"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
