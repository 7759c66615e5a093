"""The webhook source: an HTTP server receiving signed events (docs/running.md).

``POST <path>`` (default ``/events``) with an event as the JSON body (docs/language.md,
"Events"; or, with a ``parser`` adapter, that platform's payload) and three headers::

    X-Engage-Timestamp: <unix seconds>
    X-Engage-Delivery:  <unique id of this delivery: 1-200 printable ASCII characters>
    X-Engage-Signature: v2=<hex HMAC-SHA256 of "v2\\n<timestamp>\\n<delivery>\\n<body>">

(or the legacy ``sha256=`` signature, see :mod:`engage_rules.adapters.signing`).
Every answer is a JSON object with ``status`` and, unless accepted, ``reason``:

=====  ==========================================================================
 202   accepted: the event is committed (durable) — only then; nothing answered
       202 is ever lost
 200   ``duplicate``: an event id already processed (a sender's retry); no effect
 400   malformed event (``reason`` is the quarantine reason code), a missing or
       invalid delivery id, a malformed request line or header
 401   ``bad signature``, or ``stale timestamp`` (outside ``window``, either way)
 404   another path;  405: another method;  411: no ``Content-Length``
 408   the request was not complete within ``read_timeout``
 409   ``replayed delivery``: this delivery (id, or legacy signature) was already
       accepted (even before a restart: it is committed with the event); no effect
 413   body over ``max_body``;  431: request line and headers over
       ``max_header_bytes`` (or more than 100 header lines)
 422   ``quarantined``, ``future_time``: an event dated more than ``max_clock_skew``
       ahead of the runtime's clock; or ``beyond_dedup_window``: an event dated before
       what the store has forgotten of processed ids (``dedup_window``) and not known
       as processed; nothing of the delivery is recorded
 503   too many connections, shutting down, or the commit did not complete within
       ``commit_timeout``: retry later
 505   an HTTP version other than 1.0 and 1.1
=====  ==========================================================================

Why asyncio and not the standard library's ``ThreadingHTTPServer``: a server that must
survive hostile clients needs a deadline on a whole request (a client sending one byte a
second defeats a per-read socket timeout), a cap on connections that never makes the
accept loop spin, bounded headers and JSON answers to every malformed request.  With one
thread per connection each of those needs a watchdog thread or an override of the
server's internals; one event loop thread gets all of them from ``asyncio.timeout``, a
connection count, the stream reader's limit and a small request parser (HTTP/1.1 with
``Content-Length`` bodies and keep-alive, which is all a webhook sender uses), and an idle
connection costs a file descriptor and a few kilobytes instead of a thread.  The loop only
reads, verifies and parses; the service's single loop thread runs the engine and
commits, grouping whatever arrived meanwhile into one transaction (group commit), and
each request is answered when its transaction is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import re
import resource
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import orjson

from ..adapters.base import Adapter, PayloadError
from ..adapters.signing import (
    DELIVERY_HEADER,
    SCHEME_V1,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify,
)
from ..i18n import _
from ..model.event_problems import in_words
from ..model.events import Event, EventError, parse_event
from .config import WebhookSource
from .intake import Intake, IntakeFull, Outcome

log = logging.getLogger("engage_rules.runtime.webhook")

#: Prefix of the processed ids that record webhook delivery ids (reserved).
DELIVERY_PREFIX = "webhook-delivery:"
#: Prefix of the processed ids that record legacy-signed requests by signature (reserved).
SIGNATURE_PREFIX = "webhook-signature:"
MAX_DELIVERY_ID = 200
#: Header lines of one request at most (like the standard library's http.client).
MAX_HEADERS = 100
#: File descriptors kept for the rest of the process (store, adapters, logs, sources)
#: and for connections being accepted or closed, when ``max_connections`` is checked
#: against the open-file limit.
FD_RESERVE = 96
#: Connections accepted per turn of the event loop at most.
ACCEPT_BATCH = 16
#: How long accepting pauses when the process is out of file descriptors anyway.
ACCEPT_PAUSE = 1.0
#: After an answer that closes a connection whose request was not read to its end (413,
#: 431...), what the client still sends is read and dropped for at most this long and
#: this many bytes, so that it reads the answer instead of a connection reset.
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 << 20

#: Every status the server answers with (each with a JSON body).
STATUSES = frozenset({200, 202, 400, 401, 404, 405, 408, 409, 411, 413, 422, 431, 503, 505})

_DELIVERY_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_DELIVERY_ID}}}")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Headers:
    """Request headers by case-insensitive name (the first of repeated ones)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, str] = {}
        for name, value in (items or {}).items():
            self._items.setdefault(name.lower(), value)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._items.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items


@dataclass(frozen=True, slots=True)
class Verified:
    """A request that passed every check: its events, to be submitted under ``key``."""

    events: list[Event]
    key: str
    delivery: str


class _Reject(Exception):
    """A request the connection answers at once (and then maybe closes)."""

    def __init__(self, status: int, reason: str, *, close: bool = True) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.close = close


@dataclass(slots=True)
class _Accepted:
    """An accepted connection's socket, until its task takes it over."""

    sock: socket.socket
    started: bool = False

    def never_started(self, task: asyncio.Task[None]) -> None:
        """Done callback: a task cancelled before it ran never reached its clean-up."""
        if not self.started:
            self.sock.close()


@dataclass(slots=True)
class _Request:
    method: str
    target: str
    headers: Headers
    body: bytes
    keep_alive: bool


def connection_cap(requested: int) -> int:
    """``requested``, or less if the open-file limit (``ulimit -n``) less
    :data:`FD_RESERVE` leaves no room for that many connections."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or requested <= soft - FD_RESERVE:
        return requested
    cap = max(1, soft - FD_RESERVE)
    log.warning(
        _(
            "webhook: max_connections %(requested)d is more than the open-file limit "
            "%(limit)d allows (%(kept)d are kept for the rest of the process); at most "
            "%(cap)d connections"
        ),
        {"requested": requested, "limit": soft, "kept": FD_RESERVE, "cap": cap},
    )
    return cap


class WebhookServer:
    """Serves one ``webhook`` source; :meth:`start` runs it on a background thread."""

    def __init__(
        self,
        config: WebhookSource,
        intake: Intake,
        *,
        parser: Adapter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.intake = intake
        self.parser = parser
        self.clock = clock
        self.secret = config.secret.encode()
        self.counts: dict[str, int] = {}
        self._counts_lock = threading.Lock()
        self.max_connections = connection_cap(config.max_connections)
        host, port = config.address()
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        # Bound now, so that a port in use fails the start-up and port 0 is known.
        self._sock = socket.create_server((host, port), family=family, backlog=config.backlog)
        self._address = self._sock.getsockname()[:2]
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._closed = threading.Event()
        self._error: BaseException | None = None
        self._stopping = False
        #: Connection tasks: all open ones, and those waiting for a request to start
        #: (longest waiting first).
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle: dict[asyncio.Task[None], None] = {}

    @property
    def address(self) -> tuple[str, int]:
        return str(self._address[0]), int(self._address[1])

    @property
    def connections(self) -> int:
        """Connections open now (at most ``max_connections``)."""
        return len(self._tasks)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="engage-webhook", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Stop accepting connections and close idle ones; requests in progress are
        answered (their commits complete as the service shuts down), then the server's
        thread ends."""
        loop, event = self._loop, self._stop_event
        if loop is None or event is None:
            self._sock.close()
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the loop has ended already
            return
        self._closed.wait(timeout=10)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the server's thread to end (after :meth:`stop`)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def count(self, what: str) -> None:
        with self._counts_lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    # -- one request ------------------------------------------------------------------------
    def check(self, path: str, headers: Any, body: bytes) -> Verified | tuple[int, dict[str, Any]]:
        """Verify and parse one request: what to submit, or the (status, JSON body) to
        answer at once.  ``headers`` needs a ``get(name)``."""
        if path.split("?", 1)[0] != self.config.path:
            return 404, {"status": "rejected", "reason": "unknown path"}
        timestamp = headers.get(TIMESTAMP_HEADER)
        sig = headers.get(SIGNATURE_HEADER)
        delivery = headers.get(DELIVERY_HEADER)
        if not timestamp or not sig:
            self.count("unsigned")
            return 401, {"status": "rejected", "reason": "missing signature or timestamp"}
        if not delivery or not _DELIVERY_ID.fullmatch(delivery):
            self.count("bad_delivery")
            return 400, {
                "status": "rejected",
                "reason": f"missing or invalid {DELIVERY_HEADER} header (1 to "
                f"{MAX_DELIVERY_ID} printable ASCII characters)",
            }
        version = verify(self.secret, timestamp, delivery, body, sig)
        if version is None:
            self.count("forged")
            log.warning(_("webhook: rejected a request with a bad signature"))
            return 401, {"status": "rejected", "reason": "bad signature"}
        if version == "v1" and not self.config.legacy_signatures:
            self.count("legacy")
            return 401, {"status": "rejected", "reason": "legacy signature refused: sign with v2"}
        try:
            sent = float(timestamp)
        except ValueError:
            sent = math.nan
        if not abs(self.clock() - sent) <= self.config.window:
            self.count("stale")
            log.warning(
                _("webhook: rejected a stale request (timestamp %(timestamp).40s)"),
                {"timestamp": timestamp},
            )
            return 401, {"status": "rejected", "reason": "stale timestamp"}
        try:
            events = self._parse(body)
        except EventError as err:
            self.count("quarantined")
            log.warning(
                _("webhook: quarantined delivery %(delivery)s: %(reason)s: %(message)s"),
                {"delivery": delivery, "reason": err.reason, "message": in_words(err.message)},
            )
            return 400, {"status": "quarantined", "reason": err.reason, "message": err.message}
        # A legacy signature does not cover the delivery id: the request is known by its
        # signature, so a captured one cannot come back under fresh delivery ids.
        key = (
            DELIVERY_PREFIX + delivery
            if version == "v2"
            else SIGNATURE_PREFIX + sig.strip().removeprefix(SCHEME_V1)
        )
        return Verified(events, key, delivery)

    def answer(self, outcome: Outcome, delivery: str) -> tuple[int, dict[str, Any]]:
        """The (status, JSON body) for the outcome of a submitted request."""
        self.count(outcome.status)
        if outcome.status == "replayed":
            log.warning(
                _("webhook: rejected replayed delivery %(delivery)s"), {"delivery": delivery}
            )
            return 409, {"status": "rejected", "reason": "replayed delivery"}
        if outcome.status == "duplicate":
            return 200, {"status": "duplicate", "events": outcome.event_ids}
        if outcome.status == "quarantined":
            log.warning(
                _("webhook: quarantined delivery %(delivery)s: %(reason)s: %(message)s"),
                {
                    "delivery": delivery,
                    "reason": outcome.reason,
                    "message": in_words(outcome.message or ""),
                },
            )
            return 422, {
                "status": "quarantined",
                "reason": outcome.reason,
                "message": outcome.message,
            }
        return 202, {"status": "accepted", "events": outcome.event_ids}

    def handle(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        """Verify, parse and submit one request, and wait for its commit: the (status,
        JSON body) to answer.  (The server itself waits without blocking its loop.)"""
        checked = self.check(path, headers, body)
        if not isinstance(checked, Verified):
            return checked
        future = self.intake.submit(checked.events, checked.key)
        try:
            outcome = future.result(timeout=self.config.commit_timeout)
        except FutureTimeout:
            return _COMMIT_TIMEOUT
        except Exception as err:  # the service is stopping, or its store failed
            return 503, {"status": "unavailable", "reason": str(err)}
        return self.answer(outcome, checked.delivery)

    async def handle_async(
        self, path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """:meth:`handle` for the event loop: waits for the commit without blocking it."""
        checked = self.check(path, headers, body)
        if not isinstance(checked, Verified):
            return checked
        try:
            future = self.intake.submit(checked.events, checked.key, block=False)
        except IntakeFull:  # rare: wait for room on a worker thread, not on the loop
            loop = asyncio.get_running_loop()
            future = await loop.run_in_executor(
                None, self.intake.submit, checked.events, checked.key
            )
        try:
            outcome = await _outcome(future, self.config.commit_timeout)
        except TimeoutError:
            return _COMMIT_TIMEOUT
        except Exception as err:
            return 503, {"status": "unavailable", "reason": str(err)}
        return self.answer(outcome, checked.delivery)

    def _parse(self, body: bytes) -> list[Event]:
        try:
            if self.parser is None:
                return [parse_event(body)]
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError as err:
                raise EventError("bad_json", f"invalid JSON: {err}") from None
            return self.parser.parse(payload)
        except EventError:
            raise
        except PayloadError as err:
            raise EventError("bad_payload", str(err)) from None
        except Exception as err:  # a parser that failed on a payload it did not expect
            log.error("webhook: the payload could not be read: %s: %s", type(err).__name__, err)
            raise EventError(
                "bad_payload", f"the payload could not be read ({type(err).__name__})"
            ) from None

    # -- the server -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as err:  # pragma: no cover - the loop itself failed
            log.error("webhook server stopped: %s", err)
            self._error = self._error or err
        finally:
            self._ready.set()
            self._closed.set()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_loop_error)
        self._stop_event = asyncio.Event()
        self._sock.setblocking(False)
        fd = self._sock.fileno()
        loop.add_reader(fd, self._accept)
        self._loop = loop
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            self._stopping = True
            loop.remove_reader(fd)
            self._sock.close()
            self._closed.set()
            for task in list(self._idle):
                task.cancel()
            if self._tasks:  # answer the requests in progress, within their time limits
                await asyncio.wait(
                    set(self._tasks),
                    timeout=self.config.read_timeout + self.config.commit_timeout + LINGER_SECONDS,
                )

    def _accept(self) -> None:
        """The listening socket is readable: admit a few connections (a bounded number
        per turn of the loop, so that what is refused or evicted is closed before more
        is accepted)."""
        loop = asyncio.get_running_loop()
        for _attempt in range(ACCEPT_BATCH):
            try:
                conn, _peer = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:
                if err.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # Out of descriptors (used elsewhere in the process): pause accepting
                    # rather than spin on a socket that stays readable.
                    log.error(
                        _("webhook: cannot accept connections (%(reason)s); pausing %(pause)g s"),
                        {"reason": err.strerror, "pause": ACCEPT_PAUSE},
                    )
                    fd = self._sock.fileno()
                    loop.remove_reader(fd)
                    loop.call_later(ACCEPT_PAUSE, self._resume_accepting, fd)
                    return
                continue  # a connection aborted before it was accepted
            self._admit(conn)

    def _resume_accepting(self, fd: int) -> None:
        if not self._stopping:
            asyncio.get_running_loop().add_reader(fd, self._accept)

    def _admit(self, conn: socket.socket) -> None:
        if len(self._tasks) >= self.max_connections and self._idle:
            # Full: make room by closing the connection idle longest (its client has
            # nothing in flight and reconnects when it has something to send).
            oldest = next(iter(self._idle))
            self._idle.pop(oldest)
            self._tasks.discard(oldest)
            oldest.cancel()
            self.count("evicted")
        if len(self._tasks) >= self.max_connections or self._stopping:
            # Full of requests in progress (each ends within read_timeout): refuse now.
            self.count("refused")
            with contextlib.suppress(OSError):
                conn.send(
                    _response(
                        503, {"status": "unavailable", "reason": "too many connections"}, close=True
                    ),
                    socket.MSG_DONTWAIT,
                )
            conn.close()
            return
        accepted = _Accepted(conn)
        task = asyncio.get_running_loop().create_task(self._connection(accepted))
        self._tasks.add(task)
        self._idle[task] = None  # nothing read yet: it may make room for a newer one
        task.add_done_callback(accepted.never_started)

    async def _connection(self, accepted: _Accepted) -> None:
        accepted.started = True
        conn = accepted.sock
        task = asyncio.current_task()
        assert task is not None
        writer: asyncio.StreamWriter | None = None
        try:
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader(limit=self.config.max_header_bytes)
            protocol = asyncio.StreamReaderProtocol(reader)
            transport, _protocol = await loop.connect_accepted_socket(lambda: protocol, conn)
            writer = asyncio.StreamWriter(transport, protocol, reader, loop)
            await self._serve_connection(reader, writer, task)
        except asyncio.CancelledError:
            pass
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away, or would not read its answer
        except Exception as err:  # pragma: no cover - a bug: keep serving the others
            log.error("webhook: connection failed: %s: %s", type(err).__name__, err)
            log.debug("webhook: connection failure", exc_info=True)
        finally:
            self._tasks.discard(task)
            self._idle.pop(task, None)
            if writer is not None:
                writer.close()
            else:
                conn.close()

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, task: asyncio.Task[None]
    ) -> None:
        config = self.config
        while not self._stopping:
            self._idle[task] = None
            try:
                first = await asyncio.wait_for(reader.read(1), config.idle_timeout)
            except TimeoutError:
                self.count("idle_timeout")
                return  # nothing was asked: close without an answer
            finally:
                self._idle.pop(task, None)
            if not first:
                return  # the client closed the connection
            try:
                async with asyncio.timeout(config.read_timeout):
                    request = await self._read_request(first, reader, writer)
            except TimeoutError:
                self.count("read_timeout")
                await self._close_with(reader, writer, 408, "request not complete in time")
                return
            except _Reject as r:
                self.count("bad_request")
                if r.close:
                    await self._close_with(reader, writer, r.status, r.reason)
                    return
                writer.write(
                    _response(r.status, {"status": "rejected", "reason": r.reason}, close=False)
                )
                await asyncio.wait_for(writer.drain(), config.read_timeout)
                continue
            if request is None:
                return  # the client closed the connection mid-request
            status, body, head = await self._dispatch(request)
            keep = request.keep_alive and not self._stopping and not head
            writer.write(_response(status, body, close=not keep, head=head))
            await asyncio.wait_for(writer.drain(), config.read_timeout)
            if not keep:
                return

    async def _dispatch(self, request: _Request) -> tuple[int, dict[str, Any], bool]:
        """(status, JSON body, whether to leave the body out: a HEAD request)."""
        method = request.method
        if method == "POST":
            status, body = await self.handle_async(request.target, request.headers, request.body)
            return status, body, False
        if method == "GET" and request.target.split("?", 1)[0] == "/healthz":
            return 200, {"status": "ok"}, False
        return 405, {"status": "rejected", "reason": "use POST"}, method == "HEAD"

    async def _read_request(
        self, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> _Request | None:
        """One request from the connection (its first byte already read), or None if
        the client closed the connection; :class:`_Reject` for a malformed one."""
        try:
            method, target, version, headers = await self._read_head(first, reader)
        except asyncio.LimitOverrunError:
            raise _Reject(431, "request line and headers too large") from None
        except asyncio.IncompleteReadError:
            return None
        keep_alive = _keeps_alive(version, headers)
        length = _content_length(method, headers, keep_alive, self.config.max_body)
        if length and version == "HTTP/1.1" and headers.get("expect", "").lower() == "100-continue":
            writer.write(_CONTINUE)
        try:
            body = await reader.readexactly(length) if length else b""
        except asyncio.IncompleteReadError:
            return None
        return _Request(method, target, Headers(headers), body, keep_alive)

    async def _read_head(
        self, first: bytes, reader: asyncio.StreamReader
    ) -> tuple[str, str, str, dict[str, str]]:
        """The request line (method, target, version) and the headers (the first of each
        name), within ``max_header_bytes`` and :data:`MAX_HEADERS` lines."""
        budget = self.config.max_header_bytes
        line = first if first == b"\n" else first + await reader.readuntil(b"\n")
        while line in (b"\r\n", b"\n"):  # empty lines before a request are allowed
            budget -= len(line)
            if budget < 0:
                raise _Reject(431, "request line and headers too large")
            line = await reader.readuntil(b"\n")
        budget -= len(line)
        method, target, version = _request_line(line)
        headers: dict[str, str] = {}
        count = 0
        while True:
            line = await reader.readuntil(b"\n")
            budget -= len(line)
            if budget < 0:
                raise _Reject(431, "request line and headers too large")
            if line in (b"\r\n", b"\n"):
                break
            count += 1
            if count > MAX_HEADERS:
                raise _Reject(431, f"more than {MAX_HEADERS} header lines")
            name, value = _header_line(line)
            if name in headers and name in ("content-length", "transfer-encoding"):
                raise _Reject(400, f"repeated {name} header")
            headers.setdefault(name, value)
        if budget < 0:
            raise _Reject(431, "request line and headers too large")
        return method, target, version, headers

    async def _close_with(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int, reason: str
    ) -> None:
        """Answer, then close the connection once the client has read the answer (what
        it still sends meanwhile is dropped, within bounds)."""
        writer.write(_response(status, {"status": "rejected", "reason": reason}, close=True))
        try:
            async with asyncio.timeout(LINGER_SECONDS):
                await writer.drain()
                if writer.can_write_eof():
                    writer.write_eof()
                dropped = 0
                while dropped < LINGER_BYTES:
                    chunk = await reader.read(65536)
                    if not chunk:
                        break
                    dropped += len(chunk)
        except (TimeoutError, ConnectionError, OSError):
            pass


_COMMIT_TIMEOUT: tuple[int, dict[str, Any]] = (
    503,
    {"status": "unavailable", "reason": "commit timed out; retry"},
)


async def _outcome(future: Future[Outcome], timeout: float) -> Outcome:
    """Wait for a submission's outcome on the event loop.  (Unlike
    ``asyncio.wrap_future``, a timeout here never cancels the submission: the service
    loop completes it in any case.)"""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[Outcome] = loop.create_future()

    def settle(done: Future[Outcome]) -> None:
        if waiter.done():
            return
        err = done.exception()
        if err is not None:
            waiter.set_exception(err)
        else:
            waiter.set_result(done.result())

    def on_done(done: Future[Outcome]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has ended: nobody waits
            loop.call_soon_threadsafe(settle, done)

    future.add_done_callback(on_done)
    return await asyncio.wait_for(waiter, timeout)


def _keeps_alive(version: str, headers: Mapping[str, str]) -> bool:
    """Whether the connection stays open after the answer (HTTP/1.1 by default)."""
    connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    return "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection


def _content_length(
    method: str, headers: Mapping[str, str], keep_alive: bool, max_body: int
) -> int:
    """The body's length from Content-Length (required for a POST; no chunked bodies)."""
    if "transfer-encoding" in headers:
        raise _Reject(411, "Content-Length required (no Transfer-Encoding)")
    length_text = headers.get("content-length")
    if length_text is None:
        if method == "POST":  # no body, by HTTP's rules: the connection is in step
            raise _Reject(411, "Content-Length required", close=not keep_alive)
        return 0
    if not (length_text.isascii() and length_text.isdigit()):
        raise _Reject(400, "malformed Content-Length")
    if len(length_text) > 18 or int(length_text) > max_body:
        raise _Reject(413, "body too large")
    return int(length_text)


def _request_line(line: bytes) -> tuple[str, str, str]:
    parts = line.rstrip(b"\r\n").split(b" ")
    if (
        len(parts) != 3
        or not _TOKEN.fullmatch(parts[0])
        or not parts[1]
        or _BAD_VALUE.search(parts[1])
        or b"\t" in parts[1]
    ):
        raise _Reject(400, "malformed request line")
    version = parts[2]
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        if re.fullmatch(rb"HTTP/\d\.\d", version):
            raise _Reject(505, "HTTP version not supported")
        raise _Reject(400, "malformed request line")
    return parts[0].decode("ascii"), parts[1].decode("latin-1"), version.decode("ascii")


def _header_line(line: bytes) -> tuple[str, str]:
    if line[:1] in (b" ", b"\t"):
        raise _Reject(400, "folded header lines are not accepted")
    name, sep, value = line.partition(b":")
    value = value.rstrip(b"\r\n").strip(b" \t")
    if not sep or not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
        raise _Reject(400, "malformed header line")
    return name.decode("ascii").lower(), value.decode("latin-1")


def _response(status: int, body: dict[str, Any], *, close: bool, head: bool = False) -> bytes:
    data = orjson.dumps(body)
    head_lines = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"Server: engage-rules\r\n"
        f"Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n"
        + ("Allow: POST, GET\r\n" if status == 405 else "")
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    )
    return head_lines.encode("ascii") + (b"" if head else data)


def _loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio's own errors (an accept that failed for want of file descriptors...) as
    one log line, not a traceback."""
    err = context.get("exception")
    log.error(
        "webhook: %s%s",
        context.get("message", "event loop error"),
        f": {err}" if err is not None else "",
    )
