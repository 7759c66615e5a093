"""The WebSocket side of OneBot v11 (communication/ws.md, ws-reverse.md): events read from
a connection, API calls made over the same connection with an ``echo``.

* :class:`WsApi` — the API caller: sends ``{"action", "params", "echo"}`` on the current
  connection and waits for the answer carrying that ``echo``.  With no connection (the
  implementation is away) a call fails as retryable, and the dispatcher retries it.
* :class:`Intake` — one event payload → events submitted with the delivery key of
  :func:`~.mapping.delivery_key`; a payload that cannot be read is logged and skipped.
* :class:`ForwardSource` — connects to the implementation's WebSocket server
  (``Authorization: Bearer <access_token>``) and reconnects with backoff.
* :class:`ReverseSource` — runs a WebSocket server the implementation connects to; it
  checks the access token, ``X-Self-ID`` and ``X-Client-Role: Universal``.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.client import ClientConnection, connect
from websockets.sync.server import Server, ServerConnection, serve

from engage_rules.plugin_api import (
    DeliveryError,
    Event,
    Outcome,
    PayloadError,
    ServiceStopping,
    SourceContext,
)

from .client import ApiCall
from .i18n import _
from .mapping import delivery_key

Connection = ClientConnection | ServerConnection
log = logging.getLogger("engage_rules.onebot")


class WsApi:
    """API calls over the current WebSocket connection (thread-safe)."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._pending: dict[str, Future[Any]] = {}
        self._echo = itertools.count(1)

    def attach(self, conn: Connection | None) -> None:
        """Make ``conn`` the connection calls go over (None: none); calls waiting on the
        previous one fail as retryable."""
        with self._lock:
            self._conn = conn
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(DeliveryError(_("the OneBot connection was closed")))

    def detach(self, conn: Connection) -> None:
        """Forget ``conn`` if it is the current connection (a newer one stays)."""
        with self._lock:
            current = self._conn is conn
        if current:
            self.attach(None)

    def answer(self, message: Mapping[str, Any]) -> bool:
        """Complete the call ``message`` answers; False when it answers none."""
        echo = message.get("echo")
        with self._lock:
            future = self._pending.pop(str(echo), None) if echo is not None else None
        if future is None:
            return False
        future.set_result(message)
        return True

    def __call__(self, call: ApiCall) -> Any:
        echo = f"engage-rules-{next(self._echo)}"
        future: Future[Any] = Future()
        with self._lock:
            conn = self._conn
            if conn is None:
                message = _("{action}: not connected to the OneBot implementation")
                raise DeliveryError(message.format(action=call.action), route=call.route)
            self._pending[echo] = future
        try:
            conn.send(json.dumps({"action": call.action, "params": call.params, "echo": echo}))
            return future.result(self._timeout)
        except TimeoutError:
            message = _("{action}: no answer within {seconds} s").format(
                action=call.action, seconds=f"{self._timeout:g}"
            )
            raise DeliveryError(message, route=call.route) from None
        except ConnectionClosed:
            message = _("{action}: the OneBot connection was closed").format(action=call.action)
            raise DeliveryError(message, route=call.route) from None
        finally:
            with self._lock:
                self._pending.pop(echo, None)


class Intake:
    """Payloads → the runtime, through ``context``."""

    def __init__(self, context: SourceContext, parse: Callable[[Any], list[Event]]) -> None:
        self.context = context
        self._parse = parse

    def handle(self, payload: Any) -> Future[Outcome] | None:
        """Submit the events of one payload; None when it carries none (or is unreadable)."""
        try:
            events = self._parse(payload)
        except PayloadError as err:
            self.context.log.warning(_("skipped a OneBot payload: %s"), err)
            return None
        if not events:
            return None
        return self.context.submit(events, key=delivery_key(payload))

    def read(self, conn: Connection, api: WsApi, stopping: threading.Event) -> None:
        """Read ``conn`` until it closes: answers go to ``api``, events to the runtime."""
        for raw in conn:
            if stopping.is_set():
                return
            try:
                message = json.loads(raw)
            except ValueError:
                self.context.log.warning(_("skipped a OneBot frame that is not JSON"))
                continue
            if isinstance(message, Mapping) and api.answer(message):
                continue
            try:
                self.handle(message)
            except ServiceStopping:
                return


class ForwardSource:
    """Connect to the implementation's WebSocket server; reconnect with backoff."""

    def __init__(
        self, url: str, token: str | None, intake: Intake, api: WsApi, max_backoff: float = 30.0
    ) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._intake = intake
        self._api = api
        self._max_backoff = max_backoff
        self._stopping = threading.Event()
        self._conn: ClientConnection | None = None
        self._thread = threading.Thread(target=self._run, name="onebot-forward", daemon=True)
        #: How many times a connection was opened (tests read it).
        self.connections = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        backoff = 0.25
        log = self._intake.context.log
        while not self._stopping.is_set():
            try:
                with connect(self._url, additional_headers=self._headers) as conn:
                    backoff = 0.25
                    self._serve(conn)
            except ConnectionClosed:
                pass
            except Exception as err:  # any failure to connect: refused, 401, timeout
                log.warning(_("OneBot at %s: %s; reconnecting"), self._url, err)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            if not self._stopping.is_set():
                log.warning(_("the OneBot connection closed; reconnecting"))
                self._stopping.wait(backoff)

    def _serve(self, conn: ClientConnection) -> None:
        self._conn = conn
        self.connections += 1
        self._api.attach(conn)
        self._intake.context.log.info(_("connected to OneBot at %s"), self._url)
        try:
            self._intake.read(conn, self._api, self._stopping)
        finally:
            self._api.detach(conn)

    def stop(self) -> None:
        self._stopping.set()
        conn = self._conn
        if conn is not None:
            conn.close()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class ReverseSource:
    """A WebSocket server the implementation connects to (its ``ws_reverse`` URL)."""

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        token: str | None,
        self_id: str | None,
        intake: Intake,
        api: WsApi,
    ) -> None:
        self._path = path
        self._token = token
        self._self_id = self_id
        self._intake = intake
        self._api = api
        self._stopping = threading.Event()
        self._server: Server = serve(self._handle, host, port, process_request=self._check)
        self.address: tuple[str, int] = self._server.socket.getsockname()[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="onebot-reverse", daemon=True
        )

    def _check(self, conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path.rstrip("/") != self._path.rstrip("/"):
            return conn.respond(404, "no OneBot endpoint here\n")
        if self._token:
            given = request.headers.get("Authorization", "")
            query = request.path.partition("?")[2]
            if given not in (f"Bearer {self._token}", f"Token {self._token}") and (
                f"access_token={self._token}" not in query.split("&")
            ):
                return conn.respond(401 if not given else 403, "wrong or missing access token\n")
        self_id = request.headers.get("X-Self-ID", "")
        if not (self_id.isascii() and self_id.isdigit()):
            return conn.respond(400, "X-Self-ID must be the bot's QQ number\n")
        if self._self_id is not None and self_id != self._self_id:
            return conn.respond(403, f"this endpoint serves the bot {self._self_id}\n")
        if request.headers.get("X-Client-Role", "") != "Universal":
            return conn.respond(400, "X-Client-Role must be Universal (one connection)\n")
        return None

    def _handle(self, conn: ServerConnection) -> None:
        self._api.attach(conn)
        self._intake.context.log.info(_("OneBot connected from %s"), conn.remote_address)
        try:
            self._intake.read(conn, self._api, self._stopping)
        except ConnectionClosed:
            pass
        finally:
            self._api.detach(conn)

    def start(self) -> None:
        self._thread.start()
        host, port = self.address
        self._intake.context.log.info(
            _("OneBot reverse WebSocket listening on ws://%s:%d%s"), host, port, self._path
        )

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


__all__ = ["ForwardSource", "Intake", "ReverseSource", "WsApi"]
