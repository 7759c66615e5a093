"""Helpers of the hostile-client tests of the live runtime (tests/test_hostile_live.py and
tests/fuzz/test_fuzz_webhook.py): the config of a live service with a FakeAdapter and any
clock (run by the test kit's live_service), and raw HTTP over sockets."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engage_rules.runtime.config import load_config
from engage_rules.runtime.service import Service
from engage_rules.testing import (
    FakeAdapter,
    LiveService,
    live_service,
    load,
    open_store,
    signed_headers,
)
from runtime_helpers import ENV, HOOK_SECRET

#: A member welcome and a weekly broadcast (Mondays 10:00 UTC).
PLAYBOOK = """\
engage_rules: 1
name: hostile-live
community: {name: 测试社群, timezone: UTC}
rules:
  - id: hello
    on: member.joined
    do:
      - send: {text: "hi"}
  - id: weekly
    on: {cron: "0 10 * * MON"}
    do:
      - broadcast: {text: "weekly topic", channel: general}
"""


@dataclass
class Live:
    """A running service (the kit's LiveService) and the FakeAdapter it delivers to."""

    live: LiveService
    fake: FakeAdapter

    @property
    def service(self) -> Service:
        return self.live.service

    @property
    def port(self) -> int:
        return self.live.port if self.service.webhooks else 0


def write_config(
    tmp_path: Path,
    *,
    source: str | None = None,
    webhook: str = "",
    extra: str = "",
    store: str | None = None,
) -> Path:
    """A config: the playbook above, SQLite in ``tmp_path`` (or ``store``), a FakeAdapter
    named fake, and a webhook source (``webhook``: more settings of it) or the given
    ``source``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "playbook.yaml").write_text(PLAYBOOK, encoding="utf-8")
    if source is None:
        source = (
            "  - type: webhook\n    listen: 127.0.0.1:0\n    secret_env: HOOK_SECRET\n"
            + "".join(f"    {line}\n" for line in webhook.splitlines() if line)
        )
    config = tmp_path / "live.yaml"
    config.write_text(
        f"""\
playbook: playbook.yaml
store: "{store or f"sqlite:///{tmp_path}/state.db"}"
timer_poll: 0.05
sources:
{source}adapters:
  fake: {{}}
dispatch:
  default: fake
  retry: {{base: 0.05, max_delay: 0.5, max_attempts: 50}}
  shutdown_timeout: 5
{extra}""",
        encoding="utf-8",
    )
    return config


def build(config_path: Path, clock: Callable[[], float] = time.time) -> tuple[Service, FakeAdapter]:
    """A Service of the config with a FakeAdapter (no plugin registry involved)."""
    config = load_config(config_path, ENV)
    fake = FakeAdapter("fake")
    store = open_store(config.store)
    return Service(config, load(config.playbook_path()), store, {"fake": fake}, clock=clock), fake


@contextmanager
def live(
    tmp_path: Path,
    clock: Callable[[], float] = time.time,
    *,
    webhook: str = "",
    extra: str = "",
    source: str | None = None,
    store: str | None = None,
) -> Iterator[Live]:
    """Run a service in a thread; stop it (and check it stopped) on the way out."""
    fake = FakeAdapter("fake")
    config = write_config(tmp_path, webhook=webhook, extra=extra, source=source, store=store)
    with live_service(config, env=ENV, adapters={"fake": fake}, clock=clock) as running:
        yield Live(running, fake)


def http_bytes(
    method: str, path: str, headers: dict[str, str], body: bytes = b"", *, length: bool = True
) -> bytes:
    """One HTTP/1.1 request as bytes (``Connection: close``)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def read_answer(sock: socket.socket) -> Answer | None:
    """Read until the server closes the connection; parse the (first) answer, or None
    if it closed without one."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    if not data:
        return None
    return parse_answer(data)


def parse_answer(data: bytes) -> Answer:
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    version, status, _ = status_line.split(" ", 2)
    assert version == "HTTP/1.1", status_line
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    assert headers["content-type"] == "application/json"
    return Answer(int(status), headers, json.loads(rest[:length]))


def exchange(port: int, request: bytes, timeout: float = 20.0) -> Answer | None:
    """Send ``request`` on a new connection and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_answer(sock)


def signed_post(
    port: int,
    body: bytes,
    delivery: str,
    timestamp: float | None = None,
    headers: dict[str, str] | None = None,
) -> Answer | None:
    h = {
        "Content-Type": "application/json",
        **signed_headers(body, HOOK_SECRET, timestamp=timestamp, delivery=delivery),
        **(headers or {}),
    }
    return exchange(port, http_bytes("POST", "/events", h, body))
