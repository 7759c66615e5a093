"""The Discord gateway as a runtime source: shards → ``parse`` → ``context.submit``.

:meth:`GatewaySource.start` returns at once; a setup thread asks REST for the application
id and ``/gateway/bot`` (retrying while Discord cannot be reached), then runs one
:class:`~.gateway.Shard` per shard, each on its own thread.  ``shards: auto`` uses
Discord's recommended count, ``shards: N`` that many.  Identifies wait for their turn
(:class:`IdentifyGate`: one per ``max_concurrency`` bucket every 5 s, and none while the
session start limit is spent).

Every dispatch is submitted with ``cursor=("discord:<application id>:<shard>", json)``,
where the JSON holds the session id, the dispatch's sequence number, the resume URL and
the shard count; the runtime commits it with the dispatch's events.  At start each shard
reads its cursor and RESUMEs that session from that sequence number, so Discord replays
what was not committed; a session Discord no longer knows (op 9) is identified anew.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from engage_rules.plugin_api import Event, Outcome, PayloadError, ServiceStopping, SourceContext

from . import rest_gateway
from .gateway import DEFAULT_TIMING, GatewayError, Session, Shard, Timing
from .i18n import _
from .intents import intents_for

#: Discord allows one identify per ``max_concurrency`` bucket every 5 seconds.
IDENTIFY_INTERVAL = 5.0
#: Waits (seconds) between REST attempts while Discord cannot be reached.
SETUP_RETRY = (1.0, 2.0, 5.0, 10.0, 30.0)


class IdentifyGate:
    """Paces identifies: shard ``i`` uses bucket ``i % max_concurrency``; a bucket lets one
    identify through every ``interval`` seconds.  While ``remaining`` session starts are
    spent, the first identify waits ``reset_after`` seconds."""

    def __init__(
        self,
        max_concurrency: int,
        *,
        interval: float = IDENTIFY_INTERVAL,
        remaining: int = 1,
        reset_after: float = 0.0,
        stopping: threading.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self._interval = interval
        self._clock = clock
        self._stopping = stopping
        self._lock = threading.Lock()
        self._buckets: dict[int, threading.Lock] = {}
        self._next: dict[int, float] = {}
        self._not_before = clock() + reset_after if remaining <= 0 else 0.0

    def wait_turn(self, shard_id: int) -> bool:
        """Block until shard ``shard_id`` may identify; False if the source is stopping."""
        key = shard_id % self.max_concurrency
        with self._lock:
            bucket = self._buckets.setdefault(key, threading.Lock())
        with bucket:
            start = max(self._next.get(key, 0.0), self._not_before)
            delay = start - self._clock()
            if delay > 0 and self._stopping.wait(delay):
                return False
            self._next[key] = self._clock() + self._interval
        return not self._stopping.is_set()


def cursor_name(application: str, shard: int) -> str:
    return f"discord:{application}:{shard}"


def read_cursor(raw: str | None, shard_count: int) -> Session | None:
    """The session a committed cursor names; None if there is none, it does not parse,
    or it was written with another shard count (its session belongs to another shard)."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict) or value.get("shards") != shard_count:
        return None
    sid, seq, url = value.get("session_id"), value.get("seq"), value.get("resume_gateway_url")
    if not (isinstance(sid, str) and isinstance(url, str) and isinstance(seq, int)):
        return None
    if isinstance(seq, bool):
        return None
    return Session(sid, seq, url)


def cursor_value(session: Session, shard_count: int) -> str:
    return json.dumps(
        {
            "session_id": session.session_id,
            "seq": session.seq,
            "resume_gateway_url": session.resume_url,
            "shards": shard_count,
        },
        sort_keys=True,
    )


class GatewaySource:
    """The gateway connections of one Discord adapter, feeding the runtime."""

    def __init__(
        self,
        context: SourceContext,
        *,
        token: str,
        base_url: str,
        shards: int | str,
        parse: Callable[[Mapping[str, Any]], list[Event]],
        timeout: float = 10.0,
        timing: Timing = DEFAULT_TIMING,
        identify_interval: float = IDENTIFY_INTERVAL,
    ) -> None:
        self._context = context
        self._log = context.log
        self._token = token
        self._base_url = base_url
        self._shards_setting = shards
        self._parse = parse
        self._timeout = timeout
        self._timing = timing
        self._identify_interval = identify_interval
        self.intents = intents_for(context.event_types)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.shards: list[Shard] = []
        #: The error that stopped the source (a refused token, disallowed intents...).
        self.error: str | None = None

    def start(self) -> None:
        setup = threading.Thread(target=self._setup, name="discord-gateway-setup", daemon=True)
        with self._lock:
            self._threads.append(setup)
        setup.start()

    def stop(self) -> None:
        """Stop reading (at once: the shards close their connections on their threads,
        with a code that keeps their sessions resumable)."""
        self._stopping.set()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds in all for the threads to end."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _fail(self, message: str) -> None:
        """A fatal error (a refused token, intents not enabled...): stop the shards and
        the runtime (``context.fail``: ``engage-rules run`` exits 2 with the message)."""
        self.error = message
        self._log.error(_("discord gateway stopped: %(error)s"), {"error": message})
        self._stopping.set()
        self._context.fail(_("discord gateway: {error}").format(error=message))

    def _setup(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                application = rest_gateway.application_id(
                    self._base_url, self._token, self._timeout
                )
                info = rest_gateway.gateway_bot(self._base_url, self._token, self._timeout)
                break
            except rest_gateway.RestError as err:
                if err.fatal:
                    self._fail(str(err))
                    return
                delay = SETUP_RETRY[min(attempt, len(SETUP_RETRY) - 1)]
                self._log.warning(
                    _("discord gateway: %(error)s; trying again in %(delay)g s"),
                    {"error": err, "delay": delay},
                )
                attempt += 1
                if self._stopping.wait(delay):
                    return
        else:
            return
        count = info.shards if self._shards_setting == "auto" else int(self._shards_setting)
        gate = IdentifyGate(
            info.max_concurrency,
            interval=self._identify_interval,
            remaining=info.remaining,
            reset_after=info.reset_after,
            stopping=self._stopping,
        )
        if info.remaining <= 0:
            self._log.warning(
                _(
                    "discord gateway: the daily session start limit is spent; identifying "
                    "in %(seconds).0f s"
                ),
                {"seconds": info.reset_after},
            )
        self._log.info(
            _(
                "discord gateway: application %(application)s, %(count)d shard(s), "
                "intents %(intents)s"
            ),
            {
                "application": application,
                "count": count,
                "intents": " | ".join(self.intents.names()),
            },
        )
        for shard_id in range(count):
            self._start_shard(application, shard_id, count, info.url, gate)

    def _start_shard(
        self, application: str, shard_id: int, count: int, url: str, gate: IdentifyGate
    ) -> None:
        name = cursor_name(application, shard_id)
        session = read_cursor(self._context.cursor(name), count)
        if session is not None:
            self._log.info(
                _(
                    "discord gateway: shard %(shard)d resumes session %(session)s after "
                    "sequence %(seq)d"
                ),
                {"shard": shard_id, "session": session.session_id, "seq": session.seq},
            )
        shard = Shard(
            token=self._token,
            intents=self.intents.value,
            shard=(shard_id, count),
            url=url,
            session=session,
            on_dispatch=lambda frame, s: self._submit(name, count, frame, s),
            before_identify=lambda: gate.wait_turn(shard_id),
            log=self._log,
            timing=self._timing,
            describe_intents=self.intents.privileged,
            stopping=self._stopping,
        )
        thread = threading.Thread(
            target=self._run_shard, args=(shard,), name=f"discord-shard-{shard_id}", daemon=True
        )
        with self._lock:
            if self._stopping.is_set():
                return
            self.shards.append(shard)
            self._threads.append(thread)
        thread.start()

    def _run_shard(self, shard: Shard) -> None:
        try:
            shard.run()
        except GatewayError as err:
            self._fail(str(err))

    def _submit(self, name: str, count: int, frame: Mapping[str, Any], session: Session) -> bool:
        """Parse one dispatch and submit its events with the shard's new cursor."""
        try:
            events = self._parse(frame)
        except PayloadError as err:
            self._log.warning(
                _("discord gateway: skipped dispatch %(name)s (sequence %(seq)s): %(error)s"),
                {"name": frame.get("t"), "seq": session.seq, "error": err},
            )
            events = []
        try:
            future = self._context.submit(events, cursor=(name, cursor_value(session, count)))
        except ServiceStopping:
            self._stopping.set()
            return False
        future.add_done_callback(self._outcome)
        return not self._stopping.is_set()

    def _outcome(self, future: Future[Outcome]) -> None:
        try:
            outcome = future.result()
        except ServiceStopping:
            self._stopping.set()  # the shards see it within Timing.poll (never block here)
            return
        except Exception as err:  # a failed commit is logged; the shard goes on
            self._log.error(
                _("discord gateway: a dispatch was not committed: %(error)s"), {"error": err}
            )
            return
        if outcome.status == "quarantined":
            self._log.warning(
                _("discord gateway: dispatch quarantined (%(reason)s): %(message)s"),
                {"reason": outcome.reason, "message": outcome.message},
            )


__all__ = ["GatewaySource", "IdentifyGate", "cursor_name", "cursor_value", "read_cursor"]
