"""A local Discord gateway (a ``websockets`` server on 127.0.0.1) speaking Gateway v10 JSON.

It follows https://discord.com/developers/docs/events/gateway: HELLO on connect,
HEARTBEAT → HEARTBEAT ACK (unless ``ack`` is off: a zombie connection), IDENTIFY → a new
session and READY (``session_id``, ``resume_gateway_url``, ``shard``), dispatches with
increasing sequence numbers, RESUME → the dispatches after the client's sequence number
replayed, then RESUMED (or op 9 ``d: false`` for a session it does not know, close 4007
for a sequence number ahead of the session).  Dispatches pushed while a shard has no
connection are kept and replayed on RESUME, as Discord does within its resume window.
The test drives it: :meth:`dispatch`, :meth:`send` (any frame, op 7, op 9, garbage),
:meth:`close` (a close code), :meth:`forget_sessions` (past the resume window).
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

APPLICATION_ID = "1301000000000000900"


@dataclass
class FakeSession:
    session_id: str
    shard: tuple[int, int]
    #: Every dispatch sent in this session, by sequence number.
    log: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Conn:
    """One client connection: what it sent, and a queue of frames to send it."""

    path: str
    received: list[dict[str, Any]] = field(default_factory=list)
    outbox: queue.Queue[str | bytes | tuple[int, str]] = field(default_factory=queue.Queue)
    session: FakeSession | None = None
    closed_code: int | None = None


class FakeGateway:
    """The gateway; ``url`` is what ``GET /gateway/bot`` answers."""

    def __init__(self, token: str, *, heartbeat_ms: int = 250, max_size: int = 2**24) -> None:
        self.token = token
        self.heartbeat_ms = heartbeat_ms
        self.ack = True
        self.resumable = True
        #: Close code sent in answer to IDENTIFY (4004, 4014...), None: READY.
        self.identify_close: int | None = None
        self.conns: list[Conn] = []
        self.sessions: dict[str, FakeSession] = {}
        self._by_shard: dict[int, FakeSession] = {}
        self._live: dict[int, Conn] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: Server = serve(
            self._handle, "127.0.0.1", 0, compression=None, max_size=max_size, ping_interval=None
        )
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def resume_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume"

    def shutdown(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    # -- what the test does ------------------------------------------------------------------

    def dispatch(self, t: str, d: Any, *, shard: int = 0) -> int:
        """Send a dispatch in the shard's session (kept for a RESUME while it has no
        connection); its sequence number."""
        with self._lock:
            session = self._by_shard[shard]
            seq = len(session.log) + 1
            frame = {"op": 0, "t": t, "s": seq, "d": d}
            session.log.append(frame)
            live = self._live.get(shard)
            if live is not None and live.session is session:
                live.outbox.put(json.dumps(frame))
        return seq

    def send(self, frame: Mapping[str, Any] | str | bytes, *, shard: int = 0) -> None:
        """Send any frame (text or bytes as given) on the shard's live connection."""
        text = frame if isinstance(frame, str | bytes) else json.dumps(frame)
        self._live[shard].outbox.put(text)

    def close(self, code: int, *, shard: int = 0) -> None:
        self._live[shard].outbox.put((code, "closed by the test"))

    def forget_sessions(self) -> None:
        """Past the resume window: every session is unknown."""
        with self._lock:
            self.sessions.clear()

    def has_session(self, shard: int = 0) -> bool:
        with self._lock:
            return shard in self._by_shard and shard in self._live

    def sent_by_clients(self, op: int) -> list[dict[str, Any]]:
        with self._lock:
            return [f for c in self.conns for f in c.received if f.get("op") == op]

    # -- the protocol ---------------------------------------------------------------------

    def _handle(self, ws: ServerConnection) -> None:
        conn = Conn(ws.request.path if ws.request else "/")
        with self._lock:
            self.conns.append(conn)
        ws.send(json.dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_ms}}))
        try:
            while True:
                while not conn.outbox.empty():
                    item = conn.outbox.get()
                    if isinstance(item, tuple):
                        conn.closed_code = item[0]
                        ws.close(*item)
                        return
                    ws.send(item)
                try:
                    raw = ws.recv(timeout=0.02)
                except TimeoutError:
                    continue
                frame = json.loads(raw)
                with self._lock:
                    conn.received.append(frame)
                self._answer(ws, conn, frame)
                if conn.closed_code is not None:
                    return
        except ConnectionClosed:
            return
        finally:
            with self._lock:
                for shard, live in list(self._live.items()):
                    if live is conn:
                        del self._live[shard]

    def _answer(self, ws: ServerConnection, conn: Conn, frame: dict[str, Any]) -> None:
        op, d = frame.get("op"), frame.get("d")
        if op == 1 and self.ack:
            ws.send(json.dumps({"op": 11}))
        elif op == 2:
            self._identify(ws, conn, d)
        elif op == 6:
            self._resume(ws, conn, d)

    def _identify(self, ws: ServerConnection, conn: Conn, d: Any) -> None:
        if d.get("token") != self.token:
            conn.closed_code = 4004
            ws.close(4004, "Authentication failed.")
            return
        if self.identify_close is not None:
            conn.closed_code = self.identify_close
            ws.close(self.identify_close, "closed on identify")
            return
        shard = (int(d["shard"][0]), int(d["shard"][1]))
        session = FakeSession(f"session-{next(self._ids)}", shard)
        ready = {
            "op": 0,
            "t": "READY",
            "s": 1,
            "d": {
                "v": 10,
                "user": {"id": APPLICATION_ID, "username": "engage", "bot": True},
                "guilds": [],
                "session_id": session.session_id,
                "resume_gateway_url": self.resume_url,
                "shard": list(shard),
                "application": {"id": APPLICATION_ID, "flags": 0},
            },
        }
        with self._lock:
            session.log.append(ready)
            self.sessions[session.session_id] = session
            self._by_shard[shard[0]] = session
            self._live[shard[0]] = conn
            conn.session = session
        ws.send(json.dumps(ready))

    def _resume(self, ws: ServerConnection, conn: Conn, d: Any) -> None:
        with self._lock:
            session = self.sessions.get(d.get("session_id")) if self.resumable else None
        if session is None or d.get("token") != self.token:
            ws.send(json.dumps({"op": 9, "d": False}))
            return
        seq = d.get("seq")
        if not isinstance(seq, int) or seq > len(session.log):
            conn.closed_code = 4007
            ws.close(4007, "Invalid seq.")
            return
        with self._lock:
            missed = [f for f in session.log[seq:]]
            resumed = {"op": 0, "t": "RESUMED", "s": len(session.log) + 1, "d": None}
            session.log.append(resumed)
            self._live[session.shard[0]] = conn
            conn.session = session
        for frame in missed:
            ws.send(json.dumps(frame))
        ws.send(json.dumps(resumed))


@contextmanager
def fake_gateway(token: str, **kwargs: Any) -> Iterator[FakeGateway]:
    gateway = FakeGateway(token, **kwargs)
    try:
        yield gateway
    finally:
        gateway.shutdown()


def gateway_bot(
    gateway: FakeGateway, *, shards: int = 1, max_concurrency: int = 1
) -> dict[str, Any]:
    """The ``GET /gateway/bot`` answer pointing at ``gateway`` (the documented shape:
    https://discord.com/developers/docs/events/gateway#get-gateway-bot)."""
    return {
        "url": gateway.url,
        "shards": shards,
        "session_start_limit": {
            "total": 1000,
            "remaining": 999,
            "reset_after": 14400000,
            "max_concurrency": max_concurrency,
        },
    }
