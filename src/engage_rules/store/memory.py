"""An in-process store: the state lives in memory and nothing survives the process.

It is the default for ``replay`` and for playbook tests.  It follows the same contract as
the durable stores (processed ids, outbox order and key de-duplication, timers, logs), so
code that runs against it behaves the same against SQLite — except that, by default, it
keeps only what is live, not history (docs/reference.md §10):

- no ledger: entries flow out in the decisions and are not kept (:meth:`ledger` raises);
- no activity counts for reports (:meth:`activity` raises);
- an outbox of the actions still to deliver: delivered items are dropped; shadow items,
  never delivered, are not kept; at most :attr:`MemoryStore.max_pending_actions` items
  (the oldest beyond are dropped and counted); and during a replay
  (:meth:`begin_replay`) no action is kept, since the replay prints each batch's actions
  as it commits and a memory store cannot be resumed (:meth:`begin_replay` returns no
  earlier ranges);
- the latest :attr:`MemoryStore.max_log_entries` of each log (rule errors, audit,
  review).

``MemoryStore(keep_history=True)`` keeps all of it, as a durable store does: the test
kit, playbook tests, `replay --compare` and `explain` use it.  Processed ids (within
the dedup window) and traces (within their retention) are kept either way.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import date, datetime
from itertools import islice
from typing import Any

import msgspec
import orjson

from ..errors import StoreError
from ..model.decision import ActionRecord, Decision, RuleFailure
from ..model.persons import PERSONS
from ..model.state import LedgerEntry, MemberState, State, Timer, ts
from .base import (
    OutboxItem,
    check_outbox_query,
    collect,
    completed,
    find_member,
    link_reversals,
)
from .records import (
    DEFAULT_DEDUP_WINDOW,
    DEFAULT_TRACE_RETENTION,
    ActivityCounter,
    ActivityCounts,
    DayTotals,
    MemberMarks,
    ReportContext,
    add_totals,
    trace_matches,
    trace_rows,
)
from .report_breakdowns import BreakdownTally, tally_breakdowns
from .reports import (
    ActionTally,
    ActivityRow,
    MemberTally,
    ReportQuery,
    member_rows,
    newest_day,
    points_entries,
    tally_actions,
    tally_audit,
    tally_daily_active,
    tally_experiments,
    tally_members,
    tally_points,
)


class MemoryStore:
    """A :class:`~engage_rules.store.base.Store` kept in memory.

    :meth:`open` returns a fresh :class:`State` the first time and the same live object
    afterwards: that object *is* the store's memory.  Committing with that object only
    records the batch's side data; committing with another ``State`` copies the touched
    members, community data, clock and timers into the store's own state.

    ``keep_history``: keep the ledger, activity counts, and every outbox item (see the
    module docstring); without it the store holds only what is live.
    """

    #: Batches buy nothing here (there is no fsync to share), and small ones let the
    #: runner release decided events sooner.
    preferred_batch_size = 100

    #: The most processed ids remembered, whatever the dedup window: memory is all this
    #: store has, so it forgets the oldest ids first beyond this many (an event dated
    #: before the newest forgotten one is quarantined, never processed twice).  About
    #: 30 MB of ids; duplicates in an event file come within minutes, not 100,000 events.
    max_processed_ids = 100_000

    #: Without history, the most actions waiting for delivery that are kept: beyond, the
    #: oldest are dropped and counted in :attr:`dropped_actions`.  A memory store is no
    #: delivery queue (nothing in it survives the process): it keeps a dispatcher's
    #: backlog, not every action of a runner that nobody dispatches for.
    max_pending_actions = 100_000

    #: Without history, the most entries kept of each log (rule errors, audit, review):
    #: the latest ones; :attr:`dropped_log_entries` counts the others.
    max_log_entries = 10_000

    def __init__(self, *, keep_history: bool = False) -> None:
        self.keep_history = keep_history
        self._state: State | None = None
        #: The processed ids remembered.
        self._processed: set[str] = set()
        #: The ids each commit added to ``_processed``, oldest first, with the store's
        #: clock at that commit: what is forgotten first.
        self._generations: deque[tuple[float, list[str]]] = deque()
        self._dedup_window: float | None = DEFAULT_DEDUP_WINDOW
        self._horizon: float | None = None
        # Committed actions, in order.  Outbox items (and the de-duplication by key) are
        # built from them on first query, so a commit only appends.
        self._records: list[ActionRecord] = []
        #: index in ``_records`` -> the platform of the causing event (when it had one).
        self._platforms: dict[int, str] = {}
        self._indexed = 0
        #: seq -> item, in seq order (without history, done items are removed).
        self._outbox: dict[int, OutboxItem] = {}
        self._outbox_seq = 0
        self._by_key: dict[str, OutboxItem] = {}
        logs = None if keep_history else self.max_log_entries
        self._errors: deque[RuleFailure] = deque(maxlen=logs)
        self._audit: deque[dict[str, Any]] = deque(maxlen=logs)
        self._review: deque[dict[str, Any]] = deque(maxlen=logs)
        #: Without history: actions dropped undelivered (beyond max_pending_actions), and
        #: log entries dropped (beyond max_log_entries).
        self.dropped_actions = 0
        self.dropped_log_entries = 0
        self._context = ReportContext()
        self._counter = ActivityCounter()
        self._activity: ActivityCounts = {}
        self._totals: DayTotals = {}
        self._marks: MemberMarks = {}
        #: (community, member) -> ledger entries, by seq (only with ``keep_history``).
        self._ledgers: dict[tuple[str, str], list[LedgerEntry]] = {}
        self._traces: list[dict[str, Any]] = []
        self._trace_retention: float | None = DEFAULT_TRACE_RETENTION
        #: Replay runs: key -> closed outbox ranges; and the run in progress.
        self._replays: dict[str, list[tuple[int, int]]] = {}
        self._replaying: tuple[str, int] | None = None

    def open(self) -> State:
        if self._state is None:
            self._state = State()
        return self._state

    def is_processed(self, cause_id: str) -> bool:
        return cause_id in self._processed

    def processed_among(self, ids: Sequence[str]) -> set[str]:
        return self._processed.intersection(ids)

    def keep_processed(self, seconds: float | None) -> None:
        self._dedup_window = seconds

    def dedup_horizon(self) -> float | None:
        return self._horizon

    def _forget_processed(self, clock: float) -> None:
        """Forget ids older than the dedup window behind ``clock``, and the oldest ones
        beyond :attr:`max_processed_ids`."""
        processed, generations = self._processed, self._generations
        window = self._dedup_window
        limit = clock - window if window is not None else None
        horizon = self._horizon
        while generations:
            at, ids = generations[0]
            if limit is not None and at < limit:  # the whole commit is past the window
                processed.difference_update(ids)
                generations.popleft()
            else:
                excess = len(processed) - self.max_processed_ids
                if excess <= 0:
                    break
                if excess < len(ids):  # the oldest ids of the commit
                    processed.difference_update(ids[:excess])
                    del ids[:excess]
                else:
                    processed.difference_update(ids)
                    generations.popleft()
            if horizon is None or at > horizon:
                horizon = at
        self._horizon = horizon

    def _note_platforms(self, d: Decision, start: int) -> None:
        """Note the platform of each action of ``d`` (to be outbox items ``start``...):
        the one it names (``Decision.routed``), else its event's."""
        event = d.event
        if event is not None and event.platform is not None:
            for i in range(start, start + len(d.actions)):
                self._platforms[i] = event.platform
        if d.routed:
            routed = {id(a) for a in d.routed}
            for i, a in enumerate(d.actions, start):
                if id(a) in routed:
                    self._platforms[i] = a.params["platform"]

    def commit(self, decisions: Sequence[Decision], state: State) -> None:
        if not decisions and not state.cursors_moved:
            return
        state.cursors_moved = False
        if state is not self._state:
            if self._state is None:
                self._state = State()
            batch = collect(decisions, state)
            self._copy_from(state, batch.members, batch.communities, batch.timers)
        # The live state already holds members, community data, clock and timers.
        processed, records = self._processed, self._records
        added: list[str] = []
        clock = ts(state.clock) if state.clock is not None else 0.0
        # Without history, a replay's actions are done once committed (it prints them).
        keep_actions = self.keep_history or self._replaying is None
        for d in decisions:
            cause = d.cause
            if cause not in processed:
                processed.add(cause)
                added.append(cause)
            if d.actions and keep_actions:
                self._note_platforms(d, len(records))
                records.extend(d.actions)
            if d.errors:
                self._log(self._errors, d.errors)
            if d.audit:
                self._log(self._audit, d.audit)
            if d.review:
                self._log(self._review, d.review)
        if added:
            self._generations.append((clock, added))
        self._forget_processed(clock)
        if (
            not self.keep_history
            and len(records) + len(self._outbox) > self.max_pending_actions
            and self._replaying is None
        ):
            self._drop_oldest_pending()
        if self.keep_history:
            self._keep_history(decisions)
        self._keep_traces(decisions)

    def _log(self, log: deque[Any], entries: Sequence[Any]) -> None:
        """Append ``entries`` to ``log``, counting what a bounded log drops."""
        if log.maxlen is not None:
            self.dropped_log_entries += max(0, len(log) + len(entries) - log.maxlen)
        log.extend(entries)

    def _keep_traces(self, decisions: Sequence[Decision]) -> None:
        """Keep the batch's rule traces, dropping those past their retention."""
        traces = trace_rows(decisions)
        if traces:
            self._traces.extend(traces)
            keep = self._trace_retention
            if keep is not None:
                horizon = max(t["ts"] for t in traces) - keep
                if self._traces[0]["ts"] < horizon:
                    self._traces = [t for t in self._traces if t["ts"] >= horizon]

    def _keep_history(self, decisions: Sequence[Decision]) -> None:
        """Keep the batch's ledger entries and count its activity."""
        totals: DayTotals = {}
        batch = self._counter.count(decisions, {}, totals, self._marks)
        add_totals(batch, totals)
        for key, n in batch.items():
            self._activity[key] = self._activity.get(key, 0) + n
        for total, n in totals.items():
            self._totals[total] = self._totals.get(total, 0) + n
        ledgers = self._ledgers
        state = self._state
        assert state is not None
        for d in decisions:
            for community, member, entry in d.ledger:
                entry.action_key()
                kept = msgspec.structs.replace(entry, action=None, original=None)
                ledgers.setdefault((community, member), []).append(kept)
            for community, member in d.touched:
                if find_member(state, community, member) is None:  # deleted
                    ledgers.pop((community, member), None)

    def commit_async(self, decisions: Sequence[Decision], state: State) -> Future[None]:
        """Commit at once (memory has nothing to wait for) and return a done future."""
        self.commit(decisions, state)
        return completed()

    def _copy_from(
        self,
        state: State,
        members: set[tuple[str, str]],
        communities: set[str],
        timers: dict[str, Timer | None],
    ) -> None:
        own = self._state
        assert own is not None
        for community, member in members:
            m = find_member(state, community, member)
            if m is None:
                c = own.communities.get(community)
                if c is not None:
                    c.members.pop(member, None)
            else:
                copy = MemberState.from_json(orjson.loads(orjson.dumps(m.to_json())))
                own.community(community).members[member] = copy
        for name in communities:
            c = state.communities.get(name)
            if c is None:
                own.communities.pop(name, None)
            else:
                own.community(name).data = orjson.loads(orjson.dumps(c.data))
        own.clock = state.clock
        own.timer_seq = state.timer_seq
        own.cursors = dict(state.cursors)
        if timers:
            kept = [t for t in own.timers if t.id not in timers]
            kept.extend(replace(t) for t in timers.values() if t is not None)
            heapq.heapify(kept)
            own.timers = kept
            own.timer_ids = {t.id for t in kept}

    def _index(self) -> None:
        """Turn actions committed since the last query into outbox items (first key wins).
        Without history, shadow actions (never delivered) are not kept."""
        records, outbox, by_key = self._records, self._outbox, self._by_key
        history = self.keep_history
        for i in range(self._indexed, len(records)):
            action = records[i]
            key = action.key
            platform = self._platforms.pop(i, None) if self._platforms else None
            if key not in by_key and (history or not action.shadow):
                self._outbox_seq += 1
                item = OutboxItem(
                    seq=self._outbox_seq,
                    action=action,
                    platform=platform,
                    status="shadow" if action.shadow else "pending",
                )
                outbox[item.seq] = item
                by_key[key] = item
        if history or self._replaying is not None:
            self._indexed = len(records)
        else:  # the outbox items hold what is left to deliver
            records.clear()
            self._indexed = 0
            if len(outbox) > self.max_pending_actions:
                self._drop_oldest_pending()

    def _drop_oldest_pending(self) -> None:
        """Without history: drop the oldest actions waiting for delivery — outbox items,
        then actions committed since the last query — down to three quarters of
        :attr:`max_pending_actions` (so that this runs once per quarter of it), counting
        them in :attr:`dropped_actions`."""
        excess = len(self._outbox) + len(self._records) - self.max_pending_actions * 3 // 4
        if excess <= 0:
            return
        outbox = self._outbox
        from_outbox = min(excess, len(outbox))
        if from_outbox:  # one pass (popping the oldest one by one is quadratic)
            for item in islice(outbox.values(), from_outbox):
                del self._by_key[item.action.key]
            self._outbox = dict(islice(outbox.items(), from_outbox, None))
        from_records = excess - from_outbox
        if from_records:  # (never indexed: records hold nothing else without history)
            del self._records[:from_records]
            self._platforms = {
                i - from_records: p for i, p in self._platforms.items() if i >= from_records
            }
        self.dropped_actions += excess

    def outbox(
        self, *, status: str | None = None, limit: int | None = None, after: int = 0
    ) -> list[OutboxItem]:
        check_outbox_query(status, limit, after)
        self._index()
        out: list[OutboxItem] = []
        items = self._outbox.values()
        if after and self.keep_history:  # nothing is removed: seq == position + 1
            items = list(self._outbox.values())[after:]  # type: ignore[assignment]
        for item in items:
            if item.seq <= after:
                continue
            if status is None or item.status == status:
                if limit is not None and len(out) >= limit:
                    break
                out.append(replace(item))
        return out

    def mark_sending(self, keys: Sequence[str]) -> None:
        self._index()
        for key in keys:
            item = self._by_key.get(key)
            if item is not None and item.status == "pending":
                item.status = "sending"

    def mark_delivered(self, keys: Sequence[str]) -> None:
        self._index()
        for key in keys:
            item = self._by_key.get(key)
            if item is not None and item.status != "delivered":
                item.status = "delivered"
                item.attempts += 1
                if not self.keep_history:  # done: forgotten
                    del self._outbox[item.seq]
                    del self._by_key[key]

    def mark_failed(self, key: str, error: str, permanent: bool) -> None:
        self._index()
        item = self._by_key.get(key)
        if item is None or item.status == "delivered":
            return
        item.attempts += 1
        item.last_error = error
        item.status = "failed" if permanent else "pending"

    def begin_replay(self, key: str) -> list[tuple[int, int]]:
        """Start a run of the replay ``key``; the outbox ranges earlier runs committed
        (none without history: a replay's actions are not kept)."""
        self._index()
        if self._replaying is not None:  # a run that never ended stops here
            self.end_replay(self._replaying[0])
        earlier = list(self._replays.get(key, ()))
        self._replaying = (key, self._outbox_seq + 1)
        return earlier

    def end_replay(self, key: str) -> None:
        """The run of ``key`` that :meth:`begin_replay` started is complete."""
        if self._replaying is None or self._replaying[0] != key:
            return
        self._index()
        first = self._replaying[1]
        self._replaying = None
        if self.keep_history and self._outbox_seq >= first:
            self._replays.setdefault(key, []).append((first, self._outbox_seq))

    def rule_errors(self) -> list[RuleFailure]:
        return list(self._errors)

    def audit_log(self) -> list[dict[str, Any]]:
        return list(self._audit)

    def review_queue(self) -> list[dict[str, Any]]:
        return list(self._review)

    def _history(self, what: str) -> None:
        if not self.keep_history:
            raise StoreError(
                f"this memory store keeps no history ({what}): create it with "
                "MemoryStore(keep_history=True), or use a SQLite store"
            )

    def ledger(self, community: str, member: str) -> list[LedgerEntry]:
        """The member's ledger (only with ``keep_history``: else StoreError)."""
        self._history("the ledger")
        entries = self._ledgers.get((community, member), [])
        return link_reversals(
            [msgspec.structs.replace(e) for e in sorted(entries, key=lambda e: e.seq)]
        )

    def ledgers(self, community: str | None = None) -> Iterator[tuple[str, str, LedgerEntry]]:
        """Every ledger entry (of one community), member by member, by ``seq`` (only
        with ``keep_history``: else StoreError)."""
        self._history("the ledger")
        for c, m in sorted(self._ledgers):
            if community is None or c == community:
                for e in self.ledger(c, m):
                    yield c, m, e

    def set_report_context(self, context: ReportContext) -> None:
        self._context = context
        self._counter.use(context)

    def report_context(self) -> ReportContext:
        return self._context

    def activity(self) -> list[tuple[str, str, str, str, int]]:
        """Daily activity counts (only with ``keep_history``: else StoreError)."""
        return sorted(self._activity_rows())

    def activity_totals(self) -> list[tuple[str, str, str, int]]:
        """Events per (community, day, type) (records.DayTotals; with ``keep_history``)."""
        self._history("activity counts")
        return sorted((c, day, t, n) for (c, day, t), n in self._totals.items())

    def member_marks(self) -> list[tuple[str, str, str, str]]:
        """Each member's marks and their first day (records.MemberMarks; with
        ``keep_history``)."""
        self._history("activity counts")
        return sorted((c, m, mark, day) for (c, m, mark), day in self._marks.items())

    def _activity_rows(self) -> Iterator[ActivityRow]:
        self._history("activity counts")
        return ((c, m, day, t, n) for (c, m, day, t), n in self._activity.items())

    # -- report aggregates (reports.py: the reference implementation) ------------------
    # A report reads history: without ``keep_history`` each of these raises StoreError.
    def report_communities(self) -> list[str]:
        names = set(self.open().communities) - {PERSONS}  # (persons are not a group)
        names.update(row[0] for row in self._activity_rows())
        return sorted(names)

    def report_newest_day(self, timezone: str, community: str | None) -> date | None:
        return newest_day(timezone, community, self._activity_rows(), self.open().clock)

    def report_clock(self) -> datetime | None:
        return self.open().clock

    def report_members(self, query: ReportQuery) -> MemberTally:
        return tally_members(
            query, member_rows(self.open()), self._activity_rows(), self.member_marks()
        )

    def report_daily_active(self, query: ReportQuery) -> dict[date, int]:
        return tally_daily_active(query, self._activity_rows())

    def report_experiments(self, query: ReportQuery) -> dict[tuple[str, str], tuple[int, int]]:
        return tally_experiments(query, self._activity_rows())

    def report_breakdowns(self, query: ReportQuery) -> BreakdownTally:
        return tally_breakdowns(query, self.activity_totals())

    def report_actions(self, query: ReportQuery) -> ActionTally:
        self._history("the outbox's history")
        self._index()
        return tally_actions(query, ((item.action, item.status) for item in self._outbox.values()))

    def report_audit(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        self._history("the audit log's history")
        return tally_audit(query, self._audit)

    def report_points(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        return tally_points(query, points_entries(self.ledgers, query))

    def keep_traces(self, seconds: float | None) -> None:
        self._trace_retention = seconds

    def traces(
        self,
        *,
        event: str | None = None,
        cause: str | None = None,
        member: str | None = None,
        community: str | None = None,
    ) -> list[dict[str, Any]]:
        return [t for t in self._traces if trace_matches(t, event, cause, member, community)]

    def close(self) -> None:
        """Nothing to release: the state stays available to :meth:`open`."""
