"""One Discord gateway connection (one shard), speaking Gateway v10 with JSON encoding.

The cycle (https://discord.com/developers/docs/events/gateway#connection-lifecycle):
connect to ``<url>?v=10&encoding=json``; Discord sends HELLO (op 10) with
``heartbeat_interval``; the shard heartbeats (op 1, the last sequence number) first after
``interval * jitter``, then every interval, and expects an ACK (op 11) in between; it
IDENTIFYs (op 2: token, intents, properties, ``[shard id, shard count]``), or RESUMEs
(op 6: token, session id, sequence number) a known session on its ``resume_gateway_url``;
READY (a dispatch) gives the session.  Every dispatch (op 0, sequence ``s``) goes to
``on_dispatch`` in order, with the session it belongs to.

Disconnections (https://discord.com/developers/docs/topics/opcodes-and-status-codes):

======================================  ==================================================
What happened                           What the shard does
======================================  ==================================================
no ACK since the last heartbeat         closes (code 4000: the session stays resumable),
(a "zombie" connection)                 reconnects, RESUMEs
op 7 RECONNECT                          reconnects and RESUMEs
op 9 INVALID SESSION, ``d: true``       reconnects and RESUMEs
op 9 INVALID SESSION, ``d: false``      waits 1–5 s (random), reconnects, IDENTIFYs anew
close 4007 (bad seq), 4009 (timed out)  reconnects and IDENTIFYs anew
close 4000–4008, a dropped connection   reconnects and RESUMEs (IDENTIFYs without session)
close 4004 (authentication failed),     stops: :class:`GatewayError` with what to fix
4010–4014 (shard, version, intents)
======================================  ==================================================

Frames that are not JSON objects, unknown opcodes and dispatches without a sequence number
are logged and skipped; a frame over ``Timing.max_frame`` closes the connection (and the
shard resumes).  Reconnections back off while they keep failing.
"""

from __future__ import annotations

import json
import logging
import random
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.sync.client import ClientConnection, connect

from .heartbeat import Heartbeat
from .i18n import _

GATEWAY_QUERY = "v=10&encoding=json"
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME = 0, 1, 2, 6
OP_RECONNECT, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 7, 9, 10, 11
#: The close code the shard sends when it means to resume (1000/1001 would end the session).
RESUMABLE_CLOSE = 4000

#: Close codes after which reconnecting cannot help → what to tell the operator.
#: (Marked for translation: read through ``_`` when told.)
FATAL_CLOSES: Mapping[int, str] = {
    4004: _.N_(
        "authentication failed: Discord refused the bot token (reset it in the "
        "developer portal, Bot → Reset Token, and set the environment variable again)"
    ),
    4010: _.N_("invalid shard: the shard id is not below the shard count"),
    4011: _.N_(
        "sharding required: the bot is in too many guilds for one connection "
        "(set `shards: auto` in the adapter's settings)"
    ),
    4012: _.N_("invalid API version"),
    4013: _.N_("invalid intents"),
    4014: _.N_("disallowed intents"),
}
#: Close codes after which the session cannot be resumed: identify anew.
NEW_SESSION_CLOSES = frozenset({4007, 4009})


class GatewayError(Exception):
    """The connection cannot go on: the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Session:
    """A gateway session: what RESUME needs."""

    session_id: str
    seq: int
    resume_url: str


@dataclass(frozen=True, slots=True)
class Timing:
    """The shard's waits (seconds), bounded so tests can shorten them."""

    hello_timeout: float = 20.0
    invalid_session_wait: tuple[float, float] = (1.0, 5.0)
    #: Waits before the 1st, 2nd... reconnection in a row that fails (the last repeats).
    backoff: tuple[float, ...] = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0)
    close_timeout: float = 2.0
    #: How often a blocked read looks whether the shard is stopping.
    poll: float = 0.5
    #: The largest frame read (bytes); a bigger one closes the connection.
    max_frame: int = 16 * 1024 * 1024


DEFAULT_TIMING = Timing()

#: ``on_dispatch(payload, session)``: one dispatch, in order; False stops the shard.
OnDispatch = Callable[[Mapping[str, Any], Session], bool]
Next = Literal["resume", "identify", "stop"]


def gateway_url(url: str) -> str:
    """``url`` with the version and encoding query (replacing any query it had)."""
    return f"{url.split('?', 1)[0].rstrip('/')}/?{GATEWAY_QUERY}"


class Shard:
    """One gateway connection, kept open by :meth:`run` until :meth:`stop`."""

    def __init__(
        self,
        *,
        token: str,
        intents: int,
        shard: tuple[int, int],
        url: str,
        session: Session | None,
        on_dispatch: OnDispatch,
        before_identify: Callable[[], bool],
        log: logging.Logger,
        timing: Timing = DEFAULT_TIMING,
        describe_intents: Callable[[], str] = lambda: "",
        stopping: threading.Event | None = None,
    ) -> None:
        self._token = token
        self._intents = intents
        self.shard = shard
        self.label = f"discord shard {shard[0]}/{shard[1]}"
        self._url = url
        self._session_id = session.session_id if session else None
        self._resume_url = session.resume_url if session else None
        self._seq: int | None = session.seq if session else None
        self._on_dispatch = on_dispatch
        self._before_identify = before_identify
        self._log = log
        self._timing = timing
        self._describe_intents = describe_intents
        self._stopping = stopping if stopping is not None else threading.Event()
        self._conn: ClientConnection | None = None
        self._lock = threading.Lock()
        self._rng = random.Random()
        #: Whether the current connection got READY or RESUMED (a working handshake).
        self._ready_seen = False
        #: True while ``on_dispatch`` runs (it may wait for room in the runtime's queue).
        self._dispatching = False
        #: Counters for tests and logs: connections opened, identifies, resumes sent.
        self.identifies = 0
        self.resumes = 0

    @property
    def session(self) -> Session | None:
        if self._session_id is None or self._resume_url is None or self._seq is None:
            return None
        return Session(self._session_id, self._seq, self._resume_url)

    def stop(self) -> None:
        """Stop reading; :meth:`run` returns soon after.  The session stays resumable."""
        self._stopping.set()
        with self._lock:
            conn = self._conn
        if conn is not None:
            conn.close(RESUMABLE_CLOSE, "stopping")

    def run(self) -> None:
        """Connect, and reconnect after every disconnection, until :meth:`stop` or a
        fatal close (raises :class:`GatewayError`)."""
        failures = 0
        while not self._stopping.is_set():
            resume = self.session is not None
            # A resume URL that cannot be reached twice in a row: resume on the main URL.
            url = self._resume_url if resume and self._resume_url and failures < 2 else self._url
            step = self._connect_once(gateway_url(url), resume)
            if step == "stop":
                return
            if step == "identify":
                self._session_id = self._resume_url = None
                self._seq = None
            ready = self._ready_seen
            failures = 0 if ready else failures + 1
            delay = self._timing.backoff[min(failures, len(self._timing.backoff) - 1)]
            if delay and self._stopping.wait(delay):
                return

    def _connect_once(self, url: str, resume: bool) -> Next:
        self._ready_seen = False
        try:
            conn = connect(
                url,
                compression=None,
                open_timeout=self._timing.hello_timeout,
                close_timeout=self._timing.close_timeout,
                max_size=self._timing.max_frame,
                ping_interval=None,
                user_agent_header="engage-rules-discord",
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as err:
            self._log.warning(
                _("%(shard)s: could not connect to %(url)s: %(error)s"),
                {"shard": self.label, "url": url, "error": err},
            )
            return "resume" if resume else "identify"
        with conn:  # (websockets 17.1 wants the context manager; it closes with 1000)
            return self._on_connection(conn, resume)

    def _on_connection(self, conn: ClientConnection, resume: bool) -> Next:
        with self._lock:
            self._conn = conn
        if self._stopping.is_set():
            conn.close(RESUMABLE_CLOSE, "stopping")
        heartbeat: Heartbeat | None = None
        try:
            hello = self._hello(conn)
            if self._stopping.is_set():
                return "stop"
            if hello is None or hello.get("op") != OP_HELLO:
                self._log.warning(_("%(shard)s: the gateway sent no HELLO"), {"shard": self.label})
                return "resume" if resume else "identify"
            heartbeat = self._start_heartbeat(conn, hello)
            if heartbeat is None:
                return "resume" if resume else "identify"
            if resume:
                self._send_resume(conn)
            elif not self._identify(conn):
                return "stop"
            return self._converse(conn, heartbeat)
        except ConnectionClosed as closed:
            return self._closed(closed, heartbeat)
        finally:
            if heartbeat is not None:
                heartbeat.stop()
            conn.close(RESUMABLE_CLOSE, "reconnecting")  # before the 1000 of the `with`
            with self._lock:
                self._conn = None

    def _hello(self, conn: ClientConnection) -> Mapping[str, Any] | None:
        """The first frame (HELLO), read in short waits so that stopping is prompt."""
        waited = 0.0
        while waited < self._timing.hello_timeout and not self._stopping.is_set():
            frame = self._read(conn, self._timing.poll)
            if frame is not None:
                return frame
            waited += self._timing.poll
        return None

    def _start_heartbeat(
        self, conn: ClientConnection, hello: Mapping[str, Any]
    ) -> Heartbeat | None:
        d = hello.get("d")
        interval = d.get("heartbeat_interval") if isinstance(d, Mapping) else None
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval <= 0:
            self._log.warning(
                _("%(shard)s: HELLO without a heartbeat_interval"), {"shard": self.label}
            )
            return None
        beat = Heartbeat(
            conn,
            interval / 1000,
            self._rng.random(),
            lambda: self._seq,
            self._log,
            busy=lambda: self._dispatching,
        )
        beat.start()
        return beat

    def _identify(self, conn: ClientConnection) -> bool:
        if not self._before_identify() or self._stopping.is_set():
            return False
        self.identifies += 1
        properties = {"os": sys.platform, "browser": "engage_rules", "device": "engage_rules"}
        d = {
            "token": self._token,
            "intents": self._intents,
            "properties": properties,
            "shard": list(self.shard),
        }
        conn.send(json.dumps({"op": OP_IDENTIFY, "d": d}))
        return True

    def _send_resume(self, conn: ClientConnection) -> None:
        self.resumes += 1
        d = {"token": self._token, "session_id": self._session_id, "seq": self._seq}
        conn.send(json.dumps({"op": OP_RESUME, "d": d}))

    def _read(self, conn: ClientConnection, timeout: float) -> Mapping[str, Any] | None:
        """The next frame as a JSON object; None on a timeout or a frame that is not one."""
        try:
            raw = conn.recv(timeout=timeout)
        except TimeoutError:
            return None
        try:
            frame = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            self._log.warning(
                _("%(shard)s: skipped a frame that is not JSON"), {"shard": self.label}
            )
            return None
        if not isinstance(frame, dict):
            self._log.warning(
                _("%(shard)s: skipped a frame that is not an object"), {"shard": self.label}
            )
            return None
        return frame

    def _converse(self, conn: ClientConnection, heartbeat: Heartbeat) -> Next:
        while not self._stopping.is_set():
            try:
                frame = self._read(conn, self._timing.poll)
            except ConnectionClosed as closed:
                return self._closed(closed, heartbeat)
            if frame is None:
                continue
            op = frame.get("op")
            if op == OP_DISPATCH:
                if not self._dispatch(frame):
                    return "stop"
            elif op == OP_HEARTBEAT_ACK:
                heartbeat.ack()
            elif op == OP_HEARTBEAT:
                heartbeat.beat()
            elif op == OP_RECONNECT:
                self._log.info(
                    _("%(shard)s: the gateway asked to reconnect"), {"shard": self.label}
                )
                return "resume"
            elif op == OP_INVALID_SESSION:
                return self._invalid_session(frame.get("d") is True)
            else:
                self._log.debug("%s: skipped opcode %r", self.label, op)
        return "stop"

    def _dispatch(self, frame: Mapping[str, Any]) -> bool:
        seq, name, d = frame.get("s"), frame.get("t"), frame.get("d")
        if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(name, str):
            self._log.warning(
                _("%(shard)s: skipped a dispatch without `s` or `t`"), {"shard": self.label}
            )
            return True
        if name == "READY":
            sid = d.get("session_id") if isinstance(d, Mapping) else None
            resume_url = d.get("resume_gateway_url") if isinstance(d, Mapping) else None
            if not (isinstance(sid, str) and sid and isinstance(resume_url, str) and resume_url):
                self._log.warning(
                    _("%(shard)s: READY without session_id/resume_gateway_url"),
                    {"shard": self.label},
                )
                return True
            self._session_id, self._resume_url = sid, resume_url
            self._ready_seen = True
            self._log.info(
                _("%(shard)s: ready, session %(session)s"), {"shard": self.label, "session": sid}
            )
        elif name == "RESUMED":
            self._ready_seen = True
            self._log.info(
                _("%(shard)s: resumed session %(session)s at %(seq)s"),
                {"shard": self.label, "session": self._session_id, "seq": seq},
            )
        self._seq = seq
        session = self.session
        if session is None:  # a dispatch before READY: nothing to resume it with
            return True
        self._dispatching = True
        try:
            return self._on_dispatch(frame, session)
        finally:
            self._dispatching = False

    def _invalid_session(self, resumable: bool) -> Next:
        if resumable and self.session is not None:
            self._log.info(
                _("%(shard)s: invalid session (resumable): resuming"), {"shard": self.label}
            )
            return "resume"
        low, high = self._timing.invalid_session_wait
        self._log.warning(
            _(
                "%(shard)s: the gateway invalidated session %(session)s: identifying anew; "
                "dispatches after sequence %(seq)s that were not received are lost"
            ),
            {"shard": self.label, "session": self._session_id, "seq": self._seq},
        )
        self._stopping.wait(self._rng.uniform(low, high))
        return "identify"

    def _closed(self, closed: ConnectionClosed, heartbeat: Heartbeat | None) -> Next:
        if self._stopping.is_set():
            return "stop"
        if heartbeat is not None and heartbeat.zombie:
            return "resume"
        code = closed.rcvd.code if closed.rcvd is not None else None
        reason = closed.rcvd.reason if closed.rcvd is not None else ""
        if code is not None and code in FATAL_CLOSES:
            message = _("Discord closed the gateway connection ({code}): {reason}").format(
                code=code, reason=_(FATAL_CLOSES[code])
            )
            if code == 4014:
                message += _(
                    ": the bot asks for the privileged intents {intents}; enable them in the "
                    "developer portal (Applications → the bot's application → Bot → "
                    "Privileged Gateway Intents)"
                ).format(intents=self._describe_intents())
            raise GatewayError(message)
        self._log.info(
            _("%(shard)s: gateway closed (%(code)s %(reason)s): reconnecting"),
            {"shard": self.label, "code": code, "reason": reason},
        )
        if code in NEW_SESSION_CLOSES:
            return "identify"
        return "resume" if self.session is not None else "identify"


__all__ = [
    "DEFAULT_TIMING",
    "FATAL_CLOSES",
    "GatewayError",
    "OnDispatch",
    "Session",
    "Shard",
    "Timing",
    "gateway_url",
]
