"""The webhook source: an HTTP server receiving signed events (docs/running.md).

``POST <path>`` (default ``/events``) with a DESIGN.md §3 event as the JSON body (or,
with a ``parser`` adapter, that platform's payload) and three headers::

    X-Engage-Timestamp: <unix seconds>
    X-Engage-Delivery:  <unique id of this delivery>
    X-Engage-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">

Checks, in this order, and the answers (JSON bodies with ``status`` and ``reason``):

=====  ==========================================================================
 202   accepted: the event is committed (durable) — only then; nothing answered
       202 is ever lost
 200   ``duplicate``: an event id already processed (a sender's retry); no effect
 400   malformed event (``reason`` is the quarantine reason code), missing headers
 401   ``bad signature``, or ``stale timestamp`` (outside ``window``, either way)
 404   another path;  405: another method;  413: body over ``max_body``
 409   ``replayed delivery``: this delivery id was already accepted (even before a
       restart: delivery ids are committed with the event); no effect
 503   shutting down, or the commit did not complete within ``commit_timeout``
=====  ==========================================================================

The server is the standard library's ``ThreadingHTTPServer`` (a thread per connection,
HTTP/1.1 keep-alive).  Handler threads only verify and parse; the service's single loop
thread runs the engine and commits, grouping whatever arrived meanwhile into one
transaction (group commit), and wakes each request when its transaction is durable.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from ..adapters.base import Adapter, PayloadError
from ..adapters.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_matches,
)
from ..events import Event, EventError, parse_event
from .config import WebhookSource
from .intake import Intake, Outcome

log = logging.getLogger("engage_rules.runtime.webhook")

MAX_DELIVERY_ID = 200


class WebhookServer:
    """Serves one ``webhook`` source; :meth:`start` runs it on a background thread."""

    def __init__(self, config: WebhookSource, intake: Intake, *,
                 parser: Adapter | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.intake = intake
        self.parser = parser
        self.clock = clock
        self.secret = config.secret.encode()
        self.counts: dict[str, int] = {}
        self._counts_lock = threading.Lock()
        host, port = config.address()
        self.httpd = ThreadingHTTPServer((host, port), _handler_class(self))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="engage-webhook", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting connections (requests in progress finish on their own)."""
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def count(self, what: str) -> None:
        with self._counts_lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    # -- one request ------------------------------------------------------------------------
    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        """Verify, parse and submit one request; the (status, JSON body) to answer."""
        if path.split("?", 1)[0] != self.config.path:
            return 404, {"status": "rejected", "reason": "unknown path"}
        timestamp = headers.get(TIMESTAMP_HEADER)
        sig = headers.get(SIGNATURE_HEADER)
        delivery = headers.get(DELIVERY_HEADER)
        if not timestamp or not sig:
            self.count("unsigned")
            return 401, {"status": "rejected", "reason": "missing signature or timestamp"}
        if not signature_matches(self.secret, timestamp, body, sig):
            self.count("forged")
            log.warning("webhook: rejected a request with a bad signature")
            return 401, {"status": "rejected", "reason": "bad signature"}
        try:
            sent = float(timestamp)
        except ValueError:
            sent = float("nan")
        if not abs(self.clock() - sent) <= self.config.window:
            self.count("stale")
            log.warning("webhook: rejected a stale request (timestamp %s)", timestamp)
            return 401, {"status": "rejected", "reason": "stale timestamp"}
        if not delivery or len(delivery) > MAX_DELIVERY_ID:
            return 400, {"status": "rejected",
                         "reason": f"missing or too long {DELIVERY_HEADER} header"}
        try:
            events = self._parse(body)
        except EventError as err:
            self.count("quarantined")
            log.warning("webhook: quarantined delivery %s: %s: %s", delivery, err.reason,
                        err.message)
            return 400, {"status": "quarantined", "reason": err.reason, "message": err.message}
        future: Future[Outcome] = self.intake.submit(events, delivery)
        try:
            outcome = future.result(timeout=self.config.commit_timeout)
        except FutureTimeout:
            return 503, {"status": "unavailable", "reason": "commit timed out; retry"}
        except Exception as err:  # the service is stopping, or its store failed
            return 503, {"status": "unavailable", "reason": str(err)}
        self.count(outcome.status)
        if outcome.status == "replayed":
            log.warning("webhook: rejected replayed delivery %s", delivery)
            return 409, {"status": "rejected", "reason": "replayed delivery"}
        if outcome.status == "duplicate":
            return 200, {"status": "duplicate", "events": outcome.event_ids}
        return 202, {"status": "accepted", "events": outcome.event_ids}

    def _parse(self, body: bytes) -> list[Event]:
        if self.parser is None:
            return [parse_event(body)]
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            raise EventError("bad_json", f"invalid JSON: {err}") from None
        try:
            return self.parser.parse(payload)
        except PayloadError as err:
            raise EventError("bad_payload", str(err)) from None


def _handler_class(server: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "engage-rules"

        def setup(self) -> None:
            super().setup()
            # Answers are written as headers then body: without NODELAY, Nagle's
            # algorithm holds the body until the client's delayed ACK (~40 ms).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._answer(411, {"status": "rejected", "reason": "Content-Length required"})
                return
            if length < 0 or length > server.config.max_body:
                self._answer(413, {"status": "rejected", "reason": "body too large"},
                             close=True)
                return
            body = self.rfile.read(length)
            status, answer = server.handle(self.path, self.headers, body)
            self._answer(status, answer)

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._answer(200, {"status": "ok"})
            else:
                self._answer(405, {"status": "rejected", "reason": "use POST"})

        def _answer(self, status: int, body: dict[str, Any], close: bool = False) -> None:
            data = orjson.dumps(body)
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("webhook %s: " + format, self.address_string(), *args)

    return Handler
