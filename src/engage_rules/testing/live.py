"""The live runtime in a test: a running service, signed posts to it, a recording platform.

Real servers on 127.0.0.1, no mocks: :func:`live_service` runs the runtime of
``engage-rules run`` (docs/running.md) in a thread of the test process, with its webhook
sources listening on free ports, and stops it cleanly on the way out::

    from engage_rules.testing import RecordingPlatform, event_obj, live_service, wait_for

    with RecordingPlatform(secret=PLATFORM_SECRET) as platform, live_service(
        CONFIG.format(platform=platform.url),
        playbook=PLAYBOOK,
        directory=tmp_path,
        env={"HOOK_SECRET": HOOK_SECRET, "PLATFORM_SECRET": PLATFORM_SECRET},
    ) as live:
        status, answer = live.post(event_obj("member.joined", "u1", now()))
        assert status == 202
        wait_for(lambda: len(platform.calls) == 1)

* :func:`live_service` / :class:`LiveService` — the service, its port and URL, and
  :meth:`LiveService.post` (signed with the webhook source's own secret);
* :func:`post_json`, :func:`signed_headers`, :func:`post_signed` — plain and signed HTTP
  posts (docs/running.md, "Signatures");
* :class:`RecordingPlatform` — a platform API on 127.0.0.1 that records every request,
  checks signatures when given the secret, and fails or slows down on demand;
* :func:`wait_for` — poll a condition with a deadline; :func:`now` — the wall clock as
  an aware datetime (live services date events by it).

Nothing here imports pytest or hypothesis.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ..adapters.base import Adapter
from ..adapters.signing import sign, signature, verify
from ..plugins.registry import Registry
from ..runtime.config import RuntimeConfig, WebhookSource, load_config
from ..runtime.service import Service
from .builders import event_obj
from .playbooks import load, open_store


def now() -> datetime:
    """The wall clock as an aware UTC datetime: the time to date events posted to a
    running service (its clock is the wall clock, and it refuses events dated ahead)."""
    return datetime.now(UTC)


def wait_for(
    condition: Callable[[], object], timeout: float = 20.0, *, interval: float = 0.02
) -> None:
    """Poll ``condition`` until it is true; raise AssertionError after ``timeout``
    seconds (a generous bound on a slow machine, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


# -- HTTP posts ------------------------------------------------------------------------------


def _body(payload: bytes | Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def post_json(
    url: str,
    payload: bytes | Any,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """POST ``payload`` (JSON-encoded unless bytes) to ``url``; return the status and the
    decoded JSON answer (``{}`` for an empty one, the text for one that is not JSON)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise ValueError(f"post_json posts to http://host:port/path URLs, not {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request(
            "POST",
            path,
            body=_body(payload),
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        answer: Any = json.loads(raw) if raw else {}
    except ValueError:
        answer = raw.decode("utf-8", "replace")
    return resp.status, answer


def signed_headers(
    body: bytes,
    secret: str,
    *,
    timestamp: float | None = None,
    delivery: str | None = None,
    legacy: bool = False,
) -> dict[str, str]:
    """The headers of a signed webhook request (docs/running.md, "Signatures"): version 2
    (timestamp, delivery id and body), or the legacy scheme with ``legacy``.  The
    timestamp defaults to now, the delivery id to a random one."""
    ts = str(int(time.time() if timestamp is None else timestamp))
    delivery = delivery if delivery is not None else uuid.uuid4().hex
    key = secret.encode()
    return {
        "X-Engage-Timestamp": ts,
        "X-Engage-Delivery": delivery,
        "X-Engage-Signature": (
            signature(key, ts, body) if legacy else sign(key, ts, delivery, body)
        ),
    }


def post_signed(
    url: str,
    payload: bytes | Any,
    secret: str,
    *,
    timestamp: float | None = None,
    delivery: str | None = None,
    sig: str | None = None,
    legacy: bool = False,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """POST ``payload`` to a webhook source at ``url``, signed with ``secret`` (or with
    the given signature ``sig``, a forged one say); return status and JSON answer."""
    body = _body(payload)
    headers = signed_headers(body, secret, timestamp=timestamp, delivery=delivery, legacy=legacy)
    if sig is not None:
        headers["X-Engage-Signature"] = sig
    return post_json(url, body, headers=headers, timeout=timeout)


# -- a running service -----------------------------------------------------------------------


@dataclass
class LiveService:
    """A service running in a thread (see :func:`live_service`)."""

    service: Service
    thread: threading.Thread
    config_path: Path

    @property
    def webhook(self) -> WebhookSource:
        """The config of the first webhook source."""
        if not self.service.webhooks:
            raise AssertionError("the service has no webhook source")
        return self.service.webhooks[0].config

    @property
    def port(self) -> int:
        """The port the first webhook source listens on."""
        if not self.service.webhooks:
            raise AssertionError("the service has no webhook source")
        return int(self.service.webhooks[0].address[1])

    @property
    def url(self) -> str:
        """The URL events are posted to on the first webhook source."""
        return f"http://127.0.0.1:{self.port}{self.webhook.path}"

    def now(self) -> datetime:
        """The service's clock (the wall clock unless the test gave another)."""
        return datetime.fromtimestamp(self.service.clock(), UTC)

    def event_obj(
        self, type: str, member: str | Mapping[str, Any] | None = "u1", **kw: Any
    ) -> dict[str, Any]:
        """:func:`~engage_rules.testing.event_obj` dated by the service's clock: an event
        the service takes as happening now (it refuses events dated ahead of it)."""
        return event_obj(type, member, self.now(), **kw)

    def post(
        self,
        payload: bytes | Any,
        *,
        secret: str | None = None,
        timestamp: float | None = None,
        delivery: str | None = None,
        sig: str | None = None,
        path: str | None = None,
        legacy: bool = False,
    ) -> tuple[int, Any]:
        """Post ``payload`` to the first webhook source, signed with its own secret
        unless another ``secret`` (or a signature ``sig``) is given; ``path`` posts to
        another path of the same server."""
        url = self.url if path is None else f"http://127.0.0.1:{self.port}{path}"
        return post_signed(
            url,
            payload,
            self.webhook.secret if secret is None else secret,
            timestamp=timestamp,
            delivery=delivery,
            sig=sig,
            legacy=legacy,
        )


def write_setup(directory: Path, config: str, *, playbook: str | Path | None = None) -> Path:
    """Write a runtime config (YAML text) to ``directory/live.yaml`` and return its path.

    ``playbook`` is the playbook's YAML text (written to ``directory/playbook.yaml``) or
    the path of a playbook file or folder; the config's ``playbook:`` setting is put in
    front of ``config`` when it has none."""
    directory.mkdir(parents=True, exist_ok=True)
    if playbook is not None:
        if isinstance(playbook, Path):
            name = str(playbook.resolve())
        else:
            (directory / "playbook.yaml").write_text(playbook, encoding="utf-8")
            name = "playbook.yaml"  # beside the config: relative to it
        if not any(line.startswith("playbook:") for line in config.splitlines()):
            config = f"playbook: {json.dumps(name)}\n{config}"
    path = directory / "live.yaml"
    path.write_text(config, encoding="utf-8")
    return path


@contextmanager
def live_service(
    config: str | Path,
    *,
    playbook: str | Path | None = None,
    directory: Path | None = None,
    env: Mapping[str, str] | None = None,
    adapters: Mapping[str, Adapter] | None = None,
    clock: Callable[[], float] = time.time,
    registry: Registry | None = None,
) -> Iterator[LiveService]:
    """Run the runtime of a config in a thread; stop it, and check it stopped, on exit.

    ``config`` is a config file's path, or its YAML text (written with ``playbook`` to
    ``directory`` by :func:`write_setup`).  ``env`` resolves its ``*_env`` settings
    (default: none; a secret the config reads from the environment must be given).
    Webhook sources should ``listen: 127.0.0.1:0``: the port is chosen free, and read
    from :attr:`LiveService.port`.  The service is built as ``engage-rules run`` builds
    it (:meth:`Service.from_config`, the adapters and plugins of ``registry``), unless
    ``adapters`` gives ready adapter objects by name (a
    :class:`~engage_rules.testing.FakeAdapter`, say) — then those are used as they are.
    ``clock`` is the service's wall clock (seconds since the epoch)."""
    if isinstance(config, str):
        if directory is None:
            raise ValueError("live_service: give a directory to write the config text to")
        path = write_setup(directory, config, playbook=playbook)
    else:
        if playbook is not None:
            raise ValueError("live_service: a config file names its own playbook")
        path = config
    loaded: RuntimeConfig = load_config(path, dict(env or {}))
    if adapters is None:
        service = Service.from_config(loaded, registry=registry, clock=clock)
    else:
        store = open_store(loaded.store, registry=registry)
        service = Service(
            loaded,
            load(loaded.playbook_path(), registry=registry),
            store,
            dict(adapters),
            clock=clock,
        )
    thread = threading.Thread(target=service.run, name="live-service", daemon=True)
    thread.start()
    try:  # the port listens from construction; requests wait for the loop to start
        yield LiveService(service, thread, path)
    finally:
        service.request_stop()
        thread.join(timeout=30)
        if thread.is_alive():
            raise AssertionError("the service did not stop within 30 s")


# -- a platform API on 127.0.0.1 ---------------------------------------------------------------


@dataclass
class Request:
    """One request a :class:`RecordingPlatform` received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(eq=False)
class RecordingPlatform:
    """A platform API on 127.0.0.1 (a free port) that records every request.

    With a ``secret``, requests must be signed with it the way the webhook adapter signs
    (docs/running.md, "The webhook adapter"): badly signed ones are answered 401 and
    counted in :attr:`bad_signatures`, not recorded.  :attr:`fail_next` answers that
    many requests with 503; :attr:`delay` makes every answer take that many seconds
    longer (so that a backlog builds up).  Use as a context manager, or :meth:`close`.
    """

    secret: str | None = None
    #: The JSON body of every successful answer.
    answer: Any = field(default_factory=lambda: {"ok": True})
    #: Answer the next this-many requests 503.
    fail_next: int = 0
    #: Seconds each request takes before it is answered.
    delay: float = 0.0
    #: Every accepted request, in arrival order.
    requests: list[Request] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                platform._handle(self)

            def do_PUT(self) -> None:
                platform._handle(self)

            def do_DELETE(self) -> None:
                platform._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        #: The base URL, ``http://127.0.0.1:<port>``.
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="recording-platform", daemon=True
        )
        self._thread.start()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        body = handler.rfile.read(length)
        if len(body) < length:  # the sender went away mid-request (killed): nothing came
            handler.close_connection = True
            return
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if self.delay:
            time.sleep(self.delay)
        good = self.secret is None or (
            verify(
                self.secret.encode(),
                headers.get("x-engage-timestamp", ""),
                headers.get("x-engage-delivery", ""),
                body,
                headers.get("x-engage-signature", ""),
            )
            == "v2"
        )
        with self.lock:
            if not good:
                self.bad_signatures += 1
                status = 401
            elif self.fail_next > 0:
                self.fail_next -= 1
                status = 503
            else:
                self.requests.append(Request(handler.command, handler.path, headers, body))
                status = 200
        answer = json.dumps(self.answer if status == 200 else {"ok": False}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(answer)))
        handler.end_headers()
        handler.wfile.write(answer)

    @property
    def calls(self) -> list[Any]:
        """The JSON bodies of the accepted requests, in arrival order."""
        with self.lock:
            return [r.json() for r in self.requests]

    @property
    def deliveries(self) -> list[str]:
        """The ``X-Engage-Delivery`` ids of the accepted requests."""
        with self.lock:
            return [r.headers.get("x-engage-delivery", "") for r in self.requests]

    def keys(self) -> list[str]:
        """The action keys of the accepted requests (webhook adapter bodies)."""
        return [c["key"] for c in self.calls]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> RecordingPlatform:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = [
    "LiveService",
    "RecordingPlatform",
    "Request",
    "live_service",
    "now",
    "post_json",
    "post_signed",
    "signed_headers",
    "wait_for",
    "write_setup",
]
