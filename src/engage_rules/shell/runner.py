"""The I/O shell around the pure engine: dedup, batching and durable group commits.

``Runner`` feeds events to an :class:`~engage_rules.engine.core.Engine`, skips ids the store
has already committed (a duplicate is processed once), and commits decisions to the store
in batches: one store transaction holds many events, each of which is all-or-nothing.
Nothing is reported as done (``on_commit``) before its batch is durable.  After a crash,
re-feeding the same input resumes where the last committed batch ended.

The store remembers processed ids for its dedup window (30 days by default,
``dedup_window``); an event dated before what it has forgotten is refused
(``beyond_dedup_window``) rather than risk processing it twice.  :meth:`Runner.feed_many`
asks the store about a chunk of ids in one query.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from ..compile.playbook import CompiledPlaybook
from ..engine.core import Engine
from ..model.decision import ActionRecord, Decision, RuleFailure
from ..model.events import Event
from ..model.state import State
from ..store import Store
from ..store.base import evict_committed
from ..store.records import (
    BEYOND_DEDUP_WINDOW,
    DEFAULT_DEDUP_WINDOW,
    DEFAULT_TRACE_RETENTION,
    ReportContext,
    beyond_horizon,
    dedup_message,
)
from .interpreter import BatchCollector

#: Batch bounds for offline replays: a replay has no one waiting on a single event, so it
#: commits large groups — fewer fsyncs, and each busy member's row rewritten once per
#: group rather than once per event.  Nothing is printed before its group is durable; a
#: crash redoes at most the group in progress (`replay --batch-size` makes it smaller).
REPLAY_BATCH_SIZE = 50000
REPLAY_BATCH_SECONDS = 2.0


@dataclass
class RunStats:
    """What a run did: the figures of the replay summary."""

    read: int = 0
    processed: int = 0
    duplicates: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    timers_fired: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    rule_errors: int = 0
    late: int = 0
    #: What the messaging policy did: "deferred", "suppressed: <reason>" -> count.
    messages: Counter[str] = field(default_factory=Counter)
    #: Shadow actions (shadow.py) by type: recorded, never delivered.
    shadow: Counter[str] = field(default_factory=Counter)

    def add(self, other: RunStats) -> None:
        """Add the figures of another run (another part of the same stream)."""
        self.read += other.read
        self.processed += other.processed
        self.duplicates += other.duplicates
        self.quarantined.update(other.quarantined)
        self.timers_fired += other.timers_fired
        self.actions.update(other.actions)
        self.rule_errors += other.rule_errors
        self.late += other.late
        self.messages.update(other.messages)
        self.shadow.update(other.shadow)


#: How often (in decisions) a batch's age is checked against ``max_batch_seconds``:
#: reading the clock per event would cost more than the check is worth.
AGE_CHECKS = 64


def _count_actions(stats: RunStats, actions: list[ActionRecord]) -> None:
    """Count a batch's actions by type (shadow ones apart).  Comprehensions, whose
    attribute reads are specialised to slot reads: an ``attrgetter`` on these structs
    takes the generic path, several times dearer."""
    shadow = [a.type for a in actions if a.shadow]
    if shadow:
        stats.shadow.update(shadow)
        stats.actions.update([a.type for a in actions if not a.shadow])
    else:
        stats.actions.update([a.type for a in actions])


class Runner:
    """Drive an engine over a stream, committing to a store in durable batches."""

    def __init__(
        self,
        playbook: CompiledPlaybook,
        store: Store,
        *,
        batch_size: int | None = None,
        max_batch_seconds: float = 0.2,
        on_commit: Callable[[Sequence[ActionRecord]], None] | None = None,
        on_error: Callable[[RuleFailure], None] | None = None,
        on_decisions: Callable[[Sequence[Decision]], None] | None = None,
        trace: bool = False,
        trace_retention: float | None = DEFAULT_TRACE_RETENTION,
        dedup_window: float | None = DEFAULT_DEDUP_WINDOW,
        collector: BatchCollector | None = None,
    ) -> None:
        """``trace``: record rule traces (tracing.py) for `explain`, kept in the store for
        ``trace_retention`` seconds of event time (None: forever).  ``dedup_window``: how
        long the store remembers processed ids, in seconds of its clock (None: forever).
        ``on_decisions``: called with each batch's decisions, in order, once durable
        (before ``on_commit``), for a caller that needs to know which decision made what.
        ``collector``: run Python's cyclic garbage collector between batches, not during
        them (interpreter.py; started here, stopped by :meth:`close`)."""
        self.store = store
        store.set_report_context(ReportContext.of(playbook))
        store.keep_processed(dedup_window)
        if trace:
            store.keep_traces(trace_retention)
        self.engine = Engine(playbook, store.open(), trace=trace)
        #: Decisions per commit: as given, else what the store prefers (a memory store has
        #: no fsync to share, and small batches keep memory warm), else 1,000.
        self.batch_size = batch_size or getattr(store, "preferred_batch_size", None) or 1000
        self.max_batch_seconds = max_batch_seconds
        self.on_commit = on_commit
        self.on_error = on_error
        self.on_decisions = on_decisions
        self.stats = RunStats()
        self.collector = collector
        if collector is not None:
            collector.start()
        self._pending: list[Decision] = []
        self._pending_ids: set[str] = set()
        self._batch_started = 0.0
        self._inflight: tuple[Future[None] | None, list[Decision]] | None = None
        #: The ids of the chunk :meth:`feed_many` is feeding known as processed.
        self._chunk_done: set[str] | None = None
        #: Events dated at or before this (epoch seconds) are refused: see the module doc.
        self._horizon = store.dedup_horizon()
        #: While a commit in flight may move the horizon, the latest it may move it to:
        #: an event dated at or before it waits for that commit (:meth:`_settle_horizon`).
        self._horizon_bound: float | None = None
        # A stored state may lack what this playbook needs (a schedule added since).
        started = self.engine.start()
        if started:
            self._add(started)

    @property
    def state(self) -> State:
        """The live engine state (what the store will hold once pending batches commit)."""
        return self.engine.state

    def feed(self, event: Event) -> str | None:
        """Process one event unless it was already processed.  Returns None, or the
        quarantine reason (``beyond_dedup_window``) of an event that was refused."""
        return self._feed(event, self.store.is_processed(event.id))

    def feed_many(self, events: Sequence[Event]) -> list[str | None]:
        """:meth:`feed` each event in order, asking the store about all their ids at once.
        Returns what :meth:`feed` returns, per event."""
        ids = [e.id for e in events]
        # What is pending now may be committed, and forgotten by ``_pending_ids``, by a
        # flush within the chunk: it is known from the start, and what the chunk adds
        # joins it when a flush forgets it (a later duplicate in the chunk is known).
        done = self.store.processed_among(ids)
        pending = self._pending_ids
        if pending:
            done |= pending.intersection(ids)
        state = self.engine.state
        if state.source is not None:  # the chunk's members, in one query per community
            state.prefetch_members(
                [(e.community, e.member.id) for e in events if e.member is not None]
            )
        self._chunk_done = done
        try:
            if not done and len(set(ids)) == len(ids):
                return self._feed_new(events, ids)
            feed = self._feed  # duplicates among them: event by event
            return [feed(e, e.id in done) for e in events]
        finally:
            self._chunk_done = None
            if state.source is not None:
                state.forget_absent()

    def _feed_new(self, events: Sequence[Event], ids: list[str]) -> list[str | None]:
        """:meth:`feed` each of ``events``, none of which is known as processed nor
        repeats another (their ``ids``).

        The events newer than the dedup horizon are decided by runs of
        :meth:`Engine.process_run` up to the next check of the batch's size and age
        (every :data:`AGE_CHECKS` decisions), their ids and counts added per run; an
        event out of time order, or with timers due first, goes through :meth:`_feed`.
        The outcome is the same as feeding them one by one."""
        results: list[str | None] = [None] * len(events)
        engine, stats = self.engine, self.stats
        oldest: float | None = None  # a bound on the times of those not decided yet
        i, n = 0, len(events)
        while i < n:
            bound = self._horizon_bound
            limit = bound if bound is not None else self._horizon
            if limit is not None and (oldest is None or oldest <= limit):
                oldest = min([e.ts for e in events[i:]])
                if oldest <= limit:  # some are refused, or wait for the commit in flight
                    feed = self._feed
                    results[i:] = [feed(e, False) for e in events[i:]]
                    return results
            pending = self._pending
            before = len(pending)
            if not before:
                self._batch_started = time.monotonic()
            end = min(
                n, i + max(1, min(self.batch_size - before, AGE_CHECKS - before % AGE_CHECKS))
            )
            try:
                engine.process_run(events[i:end], pending)
            finally:
                decided = len(pending) - before  # one decision per event
                if decided:
                    self._pending_ids.update(ids[i : i + decided])
                    stats.read += decided
                    stats.processed += decided
                    i += decided
            if i < end:  # late, or timers due first
                results[i] = self._feed(events[i], False)
                i += 1
                continue
            self._flush_if_due(len(pending))
        return results

    def refusal(self, event: Event) -> str:
        """The message of a refused event (:meth:`feed` returned its reason)."""
        return dedup_message(event.id, event.at.isoformat(), self._horizon or 0.0)

    def _feed(self, event: Event, processed: bool) -> str | None:
        stats = self.stats
        eid = event.id
        if processed or eid in self._pending_ids:
            stats.read += 1
            stats.duplicates += 1
            return None
        bound = self._horizon_bound
        if bound is not None and event.ts <= bound:
            self._settle_horizon()
        horizon = self._horizon
        if horizon is not None and beyond_horizon(event.ts, horizon):
            stats.quarantined[BEYOND_DEDUP_WINDOW] += 1
            return BEYOND_DEDUP_WINDOW
        stats.read += 1
        state = self.engine.state
        clock = state.clock
        if clock is not None and event.at < clock:
            stats.late += 1
        elif state.timers and state.timers[0].due <= event.ts:
            # Timers due first fire one at a time, each committed with its batch, so an
            # event far ahead of the clock holds no more than a batch in memory however
            # many schedule slots it passes.
            self._add_each(self.engine.advance_iter(event.at))
        pending = self._pending
        before = len(pending)
        if not before:
            self._batch_started = time.monotonic()
        self.engine.process_into(event, pending)
        stats.processed += 1
        n = len(pending)
        if n == before + 1:
            self._pending_ids.add(eid)
        else:  # timers fired before the event
            for d in pending[before:]:
                self._pending_ids.add(d.cause)
                if d.is_timer:
                    stats.timers_fired += 1
        self._flush_if_due(n)
        return None

    def _flush_if_due(self, n: int) -> None:
        """Flush, without waiting, a batch of ``n`` decisions that is full, or (asked
        every :data:`AGE_CHECKS` decisions) older than ``max_batch_seconds``."""
        if n >= self.batch_size or (
            n % AGE_CHECKS == 0 and time.monotonic() - self._batch_started >= self.max_batch_seconds
        ):
            self.flush(wait=False)

    def advance_to(self, at: datetime) -> None:
        """Fire every timer due by ``at`` and move the clock there."""
        self._add_each(self.engine.advance_iter(at))

    def _add_each(self, decisions: Iterator[Decision]) -> None:
        for d in decisions:
            self._add([d])

    def _add(self, decisions: list[Decision]) -> None:
        pending = self._pending
        if not pending:
            self._batch_started = time.monotonic()
        pending.extend(decisions)
        ids = self._pending_ids
        for d in decisions:
            ids.add(d.cause)
            if d.is_timer:
                self.stats.timers_fired += 1
        self._flush_if_due(len(pending))

    def flush(self, *, wait: bool = True) -> None:
        """Commit what is pending in one transaction, then report it once durable.

        With a store that pipelines commits (``commit_async``), the fsync of one batch
        overlaps the processing of the next: a batch is reported (``on_commit``) when
        its commit has completed, at the latest by the next flush.  ``wait=False`` lets
        the runner itself flush without waiting for the batch it just wrote.
        """
        if self._pending:
            batch = self._pending
            commit_async = getattr(self.store, "commit_async", None)
            if commit_async is not None:
                future = commit_async(batch, self.engine.state)
            else:
                self.store.commit(batch, self.engine.state)
                future = None
            evict_committed(self.store, self.engine.state, batch)
            self._pending = []
            if self._chunk_done is not None:
                self._chunk_done |= self._pending_ids
            self._pending_ids = set()
            unsettled = getattr(self.store, "unsettled_dedup_horizon", None)
            if unsettled is not None:  # no wait for the commit: see _settle_horizon
                self._horizon, self._horizon_bound = unsettled()
            else:
                self._horizon = self.store.dedup_horizon()
            self._report_inflight()
            self._inflight = (future, batch)
            if self.collector is not None:
                self.collector.batch_done()
        if wait:
            self._report_inflight()

    def _settle_horizon(self) -> None:
        """The exact dedup horizon, once the commit that may move it is durable.

        A store that commits in the background (SQLite) tells, without waiting, the
        horizon it had and how far the commit in flight may move it
        (``unsettled_dedup_horizon``); the runner waits for that commit only when an
        event dated at or before the latter comes: in time order, none does."""
        self._horizon = self.store.dedup_horizon()
        self._horizon_bound = None

    def _report_inflight(self) -> None:
        """Wait for the batch in flight to be durable, then report it."""
        if self._inflight is None:
            return
        future, batch = self._inflight
        self._inflight = None
        if future is not None:
            future.result()  # raises StoreError if the commit failed: nothing is reported
        if self.on_decisions is not None:
            self.on_decisions(batch)
        actions: list[ActionRecord] = []
        stats = self.stats
        for d in batch:
            if d.actions:
                actions.extend(d.actions)
            if d.errors:  # usually the empty tuple: no iterator for it
                for err in d.errors:
                    stats.rule_errors += 1
                    if self.on_error is not None:
                        self.on_error(err)
            if d.audit:
                self._count_audit(d.audit)
        if actions:
            _count_actions(stats, actions)
            if self.on_commit is not None:
                self.on_commit(actions)

    def _count_audit(self, audit: Sequence[dict[str, object]]) -> None:
        """Count what the messaging policy did, from a decision's audit entries."""
        messages = self.stats.messages
        for entry in audit:
            kind = entry.get("action")
            if kind == "message_deferred":
                messages["deferred"] += 1
            elif kind == "message_suppressed":
                messages[f"suppressed: {entry.get('reason')}"] += 1

    def close(self) -> None:
        """Commit and report everything, then close the store."""
        try:
            self.flush()
            self.store.close()
        finally:
            if self.collector is not None:
                self.collector.stop()
