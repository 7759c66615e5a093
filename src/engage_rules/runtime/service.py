"""The live runtime (``engage-rules run``): sources → engine → one commit → dispatcher.

One loop thread owns the engine.  It takes whatever the sources submitted since its last
turn (up to ``max_batch`` deliveries), decides each event, fires the timers due by the
wall clock (``engine.advance_to(now)``), and commits all of it in ONE durable store
transaction; only then are the submitting requests answered and the dispatcher woken.
So an accepted event is never lost, and a crash at any point loses only what nobody
was told was accepted.  At start-up the engine state, the timers and the outbox come
back from the store: nothing that was committed is lost or done twice.

Delivery ids of webhook requests are committed in the same transaction, as processed
ids named ``webhook-delivery:<id>`` (or ``webhook-signature:<hex>`` for requests signed
the legacy way; both prefixes are reserved), so a replayed request is rejected even after
a restart.

The engine's clock follows the wall clock, never an event's say-so: an event dated more
than ``max_clock_skew`` ahead of the wall clock is quarantined (``future_time``) with its
whole delivery, so a forged or buggy far-future timestamp cannot fire a year of timers
(docs/running.md, "Time").  The store remembers processed ids and delivery ids for
``dedup_window``; a delivery with an event dated before what it has forgotten is
quarantined (``beyond_dedup_window``), never processed twice.  At start-up,
:meth:`Engine.resume` brings a stored engine to the wall clock and applies each
schedule's ``catch_up`` to the slots missed meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

from ..adapters.base import Adapter
from ..adapters.capabilities import building_adapters, is_platform_action
from ..adapters.fields import platform_warnings
from ..adapters.sources import SourceContext, connecting_adapters, playbook_event_types
from ..compile.compiler import load
from ..compile.playbook import CompiledPlaybook
from ..engine.core import Engine
from ..errors import Problem, SetupError
from ..i18n import _
from ..model import event_problems
from ..model.decision import Decision
from ..model.events import Event
from ..model.rule_problems import in_words as rule_in_words
from ..plugins.manager import default_registry
from ..plugins.registry import Registry
from ..store import Store, open_store
from ..store.base import evict_committed
from ..store.records import BEYOND_DEDUP_WINDOW, ReportContext, beyond_horizon, dedup_message
from .config import JsonlSource, RuntimeConfig, WebhookSource
from .dispatcher import AdapterLimits, Dispatcher
from .intake import Intake, Outcome, Submission
from .jsonl_source import JsonlReader
from .webhook_source import DELIVERY_PREFIX, SIGNATURE_PREFIX, WebhookServer

log = logging.getLogger("engage_rules.runtime")

__all__ = ["DELIVERY_PREFIX", "FUTURE_TIME", "SIGNATURE_PREFIX", "Service", "SetupError"]

#: The reason code of a delivery refused for an event dated too far ahead of the clock.
FUTURE_TIME = "future_time"
#: How long shutdown waits for each source (webhook servers, connected adapters) to
#: take in its last answers.
SOURCE_DRAIN_SECONDS = 2.0


class Source(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass
class ServiceStats:
    accepted: int = 0
    duplicates: int = 0
    replayed: int = 0
    timers_fired: int = 0
    commits: int = 0
    rule_errors: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    #: Deliveries refused by the loop, by reason code (``future_time``).
    quarantined: Counter[str] = field(default_factory=Counter)


def build_adapters(config: RuntimeConfig, registry: Registry) -> dict[str, Adapter]:
    """Build every configured adapter through the plugin registry (the factories see
    the registry's action types in :func:`~engage_rules.adapters.capabilities.action_types`)."""
    known = registry.adapters
    adapters: dict[str, Adapter] = {}
    problems: list[str] = []
    for name, ac in config.adapters.items():
        kind = config.adapter_type(name)
        entry = known.get(kind)
        if entry is None:
            problems.append(
                _(
                    "adapter {name!r}: no adapter type {kind!r} is installed (installed: {known})"
                ).format(name=name, kind=kind, known=", ".join(sorted(known)) or _("none"))
            )
            continue
        try:
            with building_adapters(registry):
                adapters[name] = entry(ac.settings(name))
        except (ValueError, TypeError, KeyError) as err:
            problems.append(
                _("adapter {name!r} ({kind}): {reason}").format(name=name, kind=kind, reason=err)
            )
    if problems:
        for adapter in adapters.values():
            adapter.close()
        raise SetupError(problems)
    return adapters


def adapter_limits(config: RuntimeConfig) -> dict[str, AdapterLimits]:
    """The rate limits of each configured adapter."""
    return {
        name: AdapterLimits(ac.rate_limit, ac.route_rate_limit)
        for name, ac in config.adapters.items()
    }


def future_dated(events: list[Event], wall: float, skew: float) -> Outcome | None:
    """The quarantine of a delivery with an event dated more than ``skew`` seconds
    after the wall clock ``wall`` (the whole delivery: nothing of it is processed)."""
    ahead = next((e for e in events if e.ts > wall + skew), None)
    if ahead is None:
        return None
    now = datetime.fromtimestamp(wall, UTC)
    return Outcome(
        "quarantined",
        [e.id for e in events],
        FUTURE_TIME,
        event_problems.FUTURE_DATED.format(
            id=repr(ahead.id),
            at=ahead.at.isoformat(),
            ahead=f"{ahead.ts - wall:.0f}",
            now=now.isoformat(),
            skew=f"{skew:g}",
        ),
    )


def playbook_action_types(playbook: CompiledPlaybook) -> dict[str, tuple[str, int, int]]:
    """Every action type the playbook can emit → where it is first written
    (file, line, col), including the engine's own expiries (a mute needs ``unmute``)."""
    source = playbook.loaded.source if playbook.loaded is not None else None
    used: dict[str, tuple[str, int, int]] = {}
    for action in playbook.actions:  # wherever written: rules, ladders, flows, prizes
        where = source.pos(action.source) if source is not None else ("<playbook>", 0, 0)
        used.setdefault(action.name, where)
        if action.name == "mute":
            used.setdefault("unmute", where)
        if action.name == "ban" and getattr(action.params, "for_", None) is not None:
            used.setdefault("unban", where)
    return used


def check_capabilities(playbook: CompiledPlaybook, adapters: dict[str, Adapter]) -> None:
    """Raise :class:`SetupError` if the playbook uses a platform action (message,
    moderation, plugin action) that no configured adapter declares (docs/plugins.md)."""
    problems: list[str] = []
    configured = ", ".join(
        f"{n} ({', '.join(sorted(a.capabilities & _interesting(a)))})" for n, a in adapters.items()
    )
    for kind, (file, line, col) in sorted(playbook_action_types(playbook).items()):
        if not is_platform_action(kind):
            continue
        if any(kind in a.capabilities for a in adapters.values()):
            continue
        problems.append(
            str(
                Problem(
                    file,
                    line,
                    col,
                    _(
                        "action `{kind}` is not supported by any configured adapter; "
                        "configured: {configured}"
                    ).format(kind=kind, configured=configured),
                )
            )
        )
    if problems:
        raise SetupError(problems)


def _interesting(adapter: Adapter) -> frozenset[str]:
    return frozenset(k for k in adapter.capabilities if is_platform_action(k))


class Service:
    """The runtime of one config: build with :meth:`from_config`, then :meth:`run`."""

    def __init__(
        self,
        config: RuntimeConfig,
        playbook: CompiledPlaybook,
        store: Store,
        adapters: dict[str, Adapter],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.playbook = playbook
        self.store = store
        self.adapters = adapters
        self.clock = clock
        self.stats = ServiceStats()
        store.set_report_context(ReportContext.of(playbook))
        store.keep_traces(config.traces.keep)
        store.keep_processed(config.dedup_window)
        self.engine = Engine(playbook, store.open(), trace=config.traces.enabled)
        self.intake = Intake()
        self.dispatcher = Dispatcher(
            store, adapters, config.dispatch, limits=adapter_limits(config)
        )
        self.sources: list[Source] = []
        self.webhooks: list[WebhookServer] = []
        for sc in config.sources:
            if isinstance(sc, WebhookSource):
                parser = adapters[sc.parser] if sc.parser is not None else None
                server = WebhookServer(sc, self.intake, parser=parser, clock=clock)
                self.webhooks.append(server)
                self.sources.append(server)
            elif isinstance(sc, JsonlSource):
                self.sources.append(JsonlReader(sc, self.intake, str(config.base_dir)))
        self.connected = self._connect_adapters()
        if not self.sources:
            raise SetupError(
                [
                    _(
                        "nothing to read events from: the config lists no `sources` and no "
                        "configured adapter connects to its platform by itself (configured: "
                        "{configured}; docs/running.md)"
                    ).format(configured=", ".join(sorted(adapters)) or _("none"))
                ]
            )
        self._stop = threading.Event()
        self.failure: BaseException | None = None
        #: Why a connected adapter's source stopped the runtime (``source_failed``).
        self.source_failure: str | None = None
        self._last_commit: Future[None] | None = None

    @classmethod
    def from_config(
        cls,
        config: RuntimeConfig,
        *,
        registry: Registry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Service:
        """Load the playbook, build and check the adapters, open the store, with the
        plugins of ``registry`` (default: the installed plugins'; the service is an edge
        of the program)."""
        if registry is None:
            registry = default_registry()
        playbook = load(config.playbook_path(), registry=registry)
        adapters = build_adapters(config, registry)
        try:
            check_capabilities(playbook, adapters)
            for warning in platform_warnings(playbook, adapters):
                log.warning("%s", warning)
            store = open_store(config.store, registry=registry)
        except BaseException:
            for adapter in adapters.values():
                adapter.close()
            raise
        try:
            return cls(config, playbook, store, adapters, clock=clock)
        except BaseException:
            store.close()
            for adapter in adapters.values():
                adapter.close()
            raise

    def _connect_adapters(self) -> list[str]:
        """Add the sources of the adapters that read their platform by themselves
        (adapters/sources.py); the names of those adapters."""
        config = self.config
        parsers = {
            sc.parser
            for sc in config.sources
            if isinstance(sc, WebhookSource) and sc.parser is not None
        }
        wanted = {name: ac.connect for name, ac in config.adapters.items()}
        connecting = connecting_adapters(self.adapters, wanted, parsers)
        if not connecting:
            return []
        event_types = playbook_event_types(self.playbook)
        cursors = dict(self.engine.state.cursors)
        for name, adapter in connecting.items():
            context = SourceContext(
                platform=name,
                event_types=event_types,
                submitter=self.intake.submit,
                cursors=cursors,
                clock=self.clock,
                log=logging.getLogger(f"engage_rules.source.{name}"),
                fail=partial(self.source_failed, name),
            )
            self.sources.append(adapter.connect(context))
        return list(connecting)

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Bring the engine to the wall clock, resume the outbox, start the dispatcher,
        then the sources."""
        self.resume()
        self.dispatcher.recover()
        self.dispatcher.start()
        for source in self.sources:
            source.start()
        for server in self.webhooks:
            host, port = server.address
            log.info("webhook source listening on http://%s:%d%s", host, port, server.config.path)
        for name in self.connected:
            log.info("adapter %s connected to its platform", name)
        log.info("running playbook %s (store %s)", self.playbook.name, self.config.store)

    def source_failed(self, name: str, message: str) -> None:
        """A connected adapter cannot go on (:attr:`SourceContext.fail`): stop, with what
        was queued committed, and exit with an error."""
        log.error(
            _("stopping: the source of adapter %(adapter)s failed: %(message)s"),
            {"adapter": name, "message": message},
        )
        self.source_failure = f"{name}: {message}"
        self.request_stop()

    def request_stop(self) -> None:
        """Ask the loop to stop (safe from a signal handler)."""
        self._stop.set()
        self.intake.wake()

    def run(self) -> None:
        """Start, loop until :meth:`request_stop`, then shut down gracefully."""
        self.start()
        try:
            while not self._stop.is_set() and self.failure is None:
                subs = self.intake.take(self.config.max_batch, self._timer_wait())
                self.step(subs)
                if self.dispatcher.error is not None:  # nothing would be delivered
                    self.failure = self.dispatcher.error
                    log.error(
                        _("stopping: the dispatcher failed: %(error)s"), {"error": self.failure}
                    )
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Stop accepting, commit what was accepted, flush the dispatcher, close."""
        log.info("shutting down")
        for source in self.sources:
            source.stop()
        self.intake.close()
        try:
            while True:
                subs = self.intake.take(self.config.max_batch, 0)
                if not subs:
                    break
                if self.failure is None:
                    self.step(subs)
                else:  # nothing more can be committed: the senders will retry
                    for sub in subs:
                        sub.future.set_exception(self.failure)
        finally:
            if self._last_commit is not None:
                wait([self._last_commit])
            for source in self.sources:  # let them take in the answers just decided
                join = getattr(source, "join", None)
                if join is not None:
                    join(timeout=SOURCE_DRAIN_SECONDS)
            try:
                self.dispatcher.stop()
            finally:
                for adapter in self.adapters.values():
                    adapter.close()
                self.store.close()
        d = self.dispatcher.stats
        s = self.stats
        log.info(
            "stopped: %d events accepted, %d duplicate, %d replayed, %d quarantined, "
            "%d timers fired; actions delivered %d, skipped %d, retried %d, failed %d",
            s.accepted,
            s.duplicates,
            s.replayed,
            s.quarantined.total(),
            s.timers_fired,
            d.delivered,
            d.skipped,
            d.retries,
            d.failed,
        )

    def resume(self) -> None:
        """Before taking events: fire the timers that fell due while the runtime was
        stopped and apply each schedule's ``catch_up`` to the slots it missed
        (:meth:`Engine.resume`, docs/language.md), and commit that."""
        wall = self.clock()
        now = datetime.fromtimestamp(wall, UTC)
        clock = self.engine.state.clock
        if clock is not None and clock.timestamp() > wall + self.config.max_clock_skew:
            log.warning(
                _(
                    "the stored engine clock (%(clock)s) is ahead of the wall clock (%(now)s): "
                    "an event dated in the future moved it; timers due until then have "
                    "fired already"
                ),
                {"clock": clock.isoformat(), "now": now.isoformat()},
            )
        decisions = self.engine.resume(now)
        self.stats.timers_fired += sum(1 for d in decisions if d.is_timer)
        if decisions:
            self.store.commit(decisions, self.engine.state)
            self.stats.commits += 1

    def _timer_wait(self) -> float:
        """Seconds until the next timer is due, at most ``timer_poll``."""
        timers = self.engine.state.timers
        wait = self.config.timer_poll
        if timers:
            wait = min(wait, max(0.0, timers[0].due - self.clock()))
        return wait

    # -- one turn ----------------------------------------------------------------------------
    def step(self, subs: list[Submission]) -> None:
        """Decide ``subs`` and the timers due now and commit them as one transaction;
        each submission is answered when that transaction is durable."""
        try:
            self._step(subs)
        except BaseException as err:
            self.failure = err
            for sub in subs:
                if not sub.future.done():
                    sub.future.set_exception(err)
            self._stop.set()
            raise

    def _step(self, subs: list[Submission]) -> None:
        store, engine = self.store, self.engine
        wall = self.clock()
        now = datetime.fromtimestamp(wall, UTC)
        decisions: list[Decision] = []
        seen: set[str] = set()
        outcomes: list[tuple[Submission, Outcome]] = []
        cursors = engine.state.cursors
        for sub in subs:
            if sub.cursor is not None:  # committed below, whatever the outcome
                name, value = sub.cursor
                if cursors.get(name) != value:
                    cursors[name] = value
                    engine.state.cursors_moved = True
            dkey = sub.key
            if dkey is not None and (dkey in seen or store.is_processed(dkey)):
                self.stats.replayed += 1
                outcomes.append((sub, Outcome("replayed")))
                continue
            ahead = future_dated(sub.events, wall, self.config.max_clock_skew)
            if ahead is not None:  # the whole delivery, before any of it is processed
                self.stats.quarantined[FUTURE_TIME] += 1
                outcomes.append((sub, ahead))
                continue
            forgotten = self._beyond_dedup_window(sub, seen)
            if forgotten is not None:  # likewise
                outcomes.append((sub, forgotten))
                continue
            ids: list[str] = []
            fresh = False
            for event in sub.events:
                ids.append(event.id)
                if event.id in seen or store.is_processed(event.id):
                    self.stats.duplicates += 1
                    continue
                before = len(decisions)
                engine.process_into(event, decisions)
                for d in decisions[before:]:
                    seen.add(d.cause)
                    if d.is_timer:
                        self.stats.timers_fired += 1
                self.stats.accepted += 1
                fresh = True
            if dkey is not None:
                decisions.append(Decision(dkey, now))
                seen.add(dkey)
            status = "accepted" if fresh or not sub.events else "duplicate"
            outcomes.append((sub, Outcome(status, ids)))
        fired = engine.advance_to(now)
        self.stats.timers_fired += len(fired)
        decisions.extend(fired)
        if not decisions and not engine.state.cursors_moved:
            for sub, outcome in outcomes:
                sub.future.set_result(outcome)
            return
        # The fsync runs on the store's writer thread while this loop decides the next
        # group: whatever arrives meanwhile is committed together (group commit).
        # Requests are answered, and the dispatcher woken, once the group is durable.
        commit = store.commit_async(decisions, engine.state)
        evict_committed(store, engine.state, decisions)
        self.stats.commits += 1
        actions = self._count_actions_and_errors(decisions)
        self._last_commit = commit
        commit.add_done_callback(partial(self._answer_when_durable, outcomes, actions))

    def _beyond_dedup_window(self, sub: Submission, seen: set[str]) -> Outcome | None:
        """The quarantine of a delivery with an event dated at or before the store's dedup
        horizon and not known as processed (it may have been, and been forgotten)."""
        horizon = self.store.dedup_horizon()
        if horizon is None:
            return None
        store = self.store
        for e in sub.events:
            if beyond_horizon(e.ts, horizon) and e.id not in seen and not store.is_processed(e.id):
                self.stats.quarantined[BEYOND_DEDUP_WINDOW] += 1
                return Outcome(
                    "quarantined",
                    [e.id for e in sub.events],
                    BEYOND_DEDUP_WINDOW,
                    dedup_message(e.id, e.at.isoformat(), horizon),
                )
        return None

    def _count_actions_and_errors(self, decisions: list[Decision]) -> int:
        """Count the group's actions and rule errors in the stats (logging each error);
        the number of actions."""
        actions = 0
        for d in decisions:
            for a in d.actions:
                self.stats.actions[a.type] += 1
            actions += len(d.actions)
            for e in d.errors:
                self.stats.rule_errors += 1
                log.warning(
                    _("rule %(rule)s failed on %(cause)s: %(message)s"),
                    {"rule": e.rule, "cause": e.cause, "message": rule_in_words(e.message)},
                )
        return actions

    def _answer_when_durable(
        self, outcomes: list[tuple[Submission, Outcome]], actions: int, done: Future[None]
    ) -> None:
        """The group's commit finished: answer its submissions and wake the dispatcher
        if it queued actions; or, if the commit failed, fail them all and stop."""
        err = done.exception()
        if err is not None:
            log.error(_("commit failed: %(error)s"), {"error": err})
            self.failure = err
            for sub, _outcome in outcomes:
                sub.future.set_exception(err)
            self.request_stop()
            return
        for sub, outcome in outcomes:
            sub.future.set_result(outcome)
        if actions:
            self.dispatcher.notify()
