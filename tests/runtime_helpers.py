"""Helpers of the runtime tests: a small playbook, configs, signed posts, a fake platform."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from engage_rules.adapters.signing import sign, signature, verify

HOOK_SECRET = "test-hook-secret-0123456789"
PLATFORM_SECRET = "test-platform-secret-9876"

PLAYBOOK = """\
engage_rules: 1
name: live-test
community: {name: 测试社群, timezone: Asia/Shanghai}
currencies: [points]
rules:
  - id: welcome
    on: member.joined
    do:
      - send: {text: "欢迎 {{ member.id }}"}
      - award: {points: 5, reason: joined}
  - id: echo
    on: message.posted
    if: "event.data.text != 'spam'"
    do:
      - reply: {text: "收到 {{ event.data.text }}"}
      - award: {points: 1, reason: post}
  - id: spam
    on: message.posted
    if: "event.data.text == 'spam'"
    do:
      - delete_message: {reason: spam}
      - mute: {for: 2s, reason: spam}
"""


def write_setup(tmp_path: Path, platform_url: str, *, port: int = 0,
                extra: str = "") -> Path:
    """A playbook and a config (webhook source on ``port``, a webhook adapter to
    ``platform_url``, a jsonl adapter writing bookkeeping to actions.jsonl)."""
    (tmp_path / "playbook.yaml").write_text(PLAYBOOK, encoding="utf-8")
    config = tmp_path / "live.yaml"
    config.write_text(f"""\
playbook: playbook.yaml
store: sqlite:///{tmp_path}/state.db
timer_poll: 0.2
sources:
  - type: webhook
    listen: 127.0.0.1:{port}
    secret_env: HOOK_SECRET
    window: 5m
adapters:
  platform:
    type: webhook
    base_url: {platform_url}
    secret_env: PLATFORM_SECRET
  log:
    type: jsonl
    actions_out: {tmp_path}/bookkeeping.jsonl
dispatch:
  default: platform
  retry: {{base: 0.05, max_delay: 0.5, max_attempts: 50}}
  shutdown_timeout: 5
{extra}""", encoding="utf-8")
    return config


ENV = {"HOOK_SECRET": HOOK_SECRET, "PLATFORM_SECRET": PLATFORM_SECRET}


def event(n: int, type_: str = "message.posted", member: str = "u1",
          **data: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": f"evt-{n}", "type": type_,
                           "at": datetime.now(UTC).isoformat(),
                           "channel": "general", "member": {"id": member}}
    if data:
        obj["data"] = data
    return obj


def post(port: int, body: bytes | dict[str, Any], *, secret: str = HOOK_SECRET,
         timestamp: float | None = None, delivery: str | None = None,
         sig: str | None = None, path: str = "/events",
         legacy: bool = False) -> tuple[int, dict[str, Any]]:
    """POST ``body`` signed (version 2, or the legacy scheme with ``legacy``)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = str(int(time.time() if timestamp is None else timestamp))
    delivery = delivery or uuid.uuid4().hex
    headers = {
        "Content-Type": "application/json",
        "X-Engage-Timestamp": ts,
        "X-Engage-Delivery": delivery,
        "X-Engage-Signature": sig or (signature(secret.encode(), ts, raw) if legacy
                                      else sign(secret.encode(), ts, delivery, raw)),
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=raw, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


class FakePlatform:
    """A platform API on 127.0.0.1: records every signed action POSTed to it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.deliveries: list[str] = []
        self.bad_signatures = 0
        self.fail_next = 0  # answer this many calls with 503
        self.lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ts = self.headers.get("X-Engage-Timestamp", "")
                good = verify(PLATFORM_SECRET.encode(), ts,
                              self.headers.get("X-Engage-Delivery", ""), body,
                              self.headers.get("X-Engage-Signature", "")) == "v2"
                with platform.lock:
                    if not good:
                        platform.bad_signatures += 1
                        status = 401
                    elif platform.fail_next > 0:
                        platform.fail_next -= 1
                        status = 503
                    else:
                        platform.calls.append(json.loads(body))
                        platform.deliveries.append(self.headers.get("X-Engage-Delivery", ""))
                        status = 200
                answer = b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def keys(self) -> list[str]:
        with self.lock:
            return [c["key"] for c in self.calls]


@contextmanager
def fake_platform() -> Iterator[FakePlatform]:
    platform = FakePlatform()
    try:
        yield platform
    finally:
        platform.close()


def wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
