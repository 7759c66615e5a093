"""An in-process store: the state lives in memory and nothing survives the process.

It is the default for ``replay`` and for playbook tests.  It follows the same contract as
the durable stores (processed ids, outbox order and key de-duplication, timers, logs), so
code that runs against it behaves the same against SQLite.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import date
from typing import Any

import orjson

from ..model.decision import ActionRecord, Decision, RuleFailure
from ..model.state import LedgerEntry, MemberState, State, Timer
from .base import OutboxItem, check_outbox_query, collect, completed, find_member
from .records import (
    DEFAULT_TRACE_RETENTION,
    ActivityCounter,
    ActivityCounts,
    ReportContext,
    trace_matches,
    trace_rows,
    zone,
)
from .reports import (
    ActionTally,
    ActivityRow,
    MemberTally,
    ReportQuery,
    member_rows,
    newest_day,
    tally_actions,
    tally_audit,
    tally_daily_active,
    tally_members,
    tally_points,
)


class MemoryStore:
    """A :class:`~engage_rules.store.base.Store` kept in memory.

    :meth:`open` returns a fresh :class:`State` the first time and the same live object
    afterwards: that object *is* the store's memory.  Committing with that object only
    records the batch's side data; committing with another ``State`` copies the touched
    members, community data, clock and timers into the store's own state.
    """

    #: Batches buy nothing here (there is no fsync to share), and small ones let the
    #: runner release decided events sooner.
    preferred_batch_size = 100

    def __init__(self) -> None:
        self._state: State | None = None
        self._processed: set[str] = set()
        # Committed actions, in order.  Outbox items (and the de-duplication by key) are
        # built from them on first query, so a commit only appends.
        self._records: list[ActionRecord] = []
        #: index in ``_records`` -> the platform of the causing event (when it had one).
        self._platforms: dict[int, str] = {}
        self._indexed = 0
        self._outbox: list[OutboxItem] = []
        self._by_key: dict[str, OutboxItem] = {}
        self._errors: list[RuleFailure] = []
        self._audit: list[dict[str, Any]] = []
        self._review: list[dict[str, Any]] = []
        self._context = ReportContext()
        self._counter = ActivityCounter()
        self._activity: ActivityCounts = {}
        #: Decisions whose events are not counted in ``_activity`` yet (counted when a
        #: report asks: a replay in memory pays nothing per event for activity).
        self._counted: list[Decision] = []
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

    def commit(self, decisions: Sequence[Decision], state: State) -> None:
        if not decisions:
            return
        if state is not self._state:
            if self._state is None:
                self._state = State()
            batch = collect(decisions, state)
            self._copy_from(state, batch.members, batch.communities, batch.timers)
        # The live state already holds members, community data, clock and timers.
        processed, records = self._processed, self._records
        for d in decisions:
            processed.add(d.cause)
            if d.actions:
                event = d.event
                if event is not None and event.platform is not None:
                    start = len(records)
                    for i in range(start, start + len(d.actions)):
                        self._platforms[i] = event.platform
                records.extend(d.actions)
            if d.errors:
                self._errors.extend(d.errors)
            if d.audit:
                self._audit.extend(d.audit)
            if d.review:
                self._review.extend(d.review)
        self._counted.extend(decisions)
        traces = trace_rows(decisions)
        if traces:
            self._traces.extend(traces)
            keep = self._trace_retention
            if keep is not None:
                horizon = max(t["ts"] for t in traces) - keep
                if self._traces[0]["ts"] < horizon:
                    self._traces = [t for t in self._traces if t["ts"] >= horizon]

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
        if timers:
            kept = [t for t in own.timers if t.id not in timers]
            kept.extend(replace(t) for t in timers.values() if t is not None)
            heapq.heapify(kept)
            own.timers = kept
            own.timer_ids = {t.id for t in kept}

    def _index(self) -> None:
        """Turn actions committed since the last query into outbox items (first key wins)."""
        records, outbox, by_key = self._records, self._outbox, self._by_key
        for i in range(self._indexed, len(records)):
            action = records[i]
            key = action.key
            platform = self._platforms.pop(i, None) if self._platforms else None
            if key not in by_key:
                item = OutboxItem(
                    seq=len(outbox) + 1,
                    action=action,
                    platform=platform,
                    status="shadow" if action.shadow else "pending",
                )
                outbox.append(item)
                by_key[key] = item
        self._indexed = len(records)

    def outbox(
        self, *, status: str | None = None, limit: int | None = None, after: int = 0
    ) -> list[OutboxItem]:
        check_outbox_query(status, limit, after)
        self._index()
        out: list[OutboxItem] = []
        for item in self._outbox[after:]:  # seq == position + 1
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

    def mark_failed(self, key: str, error: str, permanent: bool) -> None:
        self._index()
        item = self._by_key.get(key)
        if item is None or item.status == "delivered":
            return
        item.attempts += 1
        item.last_error = error
        item.status = "failed" if permanent else "pending"

    def begin_replay(self, key: str) -> list[tuple[int, int]]:
        """Start a run of the replay ``key``; the outbox ranges earlier runs committed."""
        self._index()
        if self._replaying is not None:  # a run that never ended stops here
            self.end_replay(self._replaying[0])
        earlier = list(self._replays.get(key, ()))
        self._replaying = (key, len(self._outbox) + 1)
        return earlier

    def end_replay(self, key: str) -> None:
        """The run of ``key`` that :meth:`begin_replay` started is complete."""
        if self._replaying is None or self._replaying[0] != key:
            return
        self._index()
        first = self._replaying[1]
        self._replaying = None
        if len(self._outbox) >= first:
            self._replays.setdefault(key, []).append((first, len(self._outbox)))

    def rule_errors(self) -> list[RuleFailure]:
        return list(self._errors)

    def audit_log(self) -> list[dict[str, Any]]:
        return list(self._audit)

    def review_queue(self) -> list[dict[str, Any]]:
        return list(self._review)

    def ledger(self, community: str, member: str) -> list[LedgerEntry]:
        if self._state is None:
            return []
        m = find_member(self._state, community, member)
        return sorted(m.ledger, key=lambda e: e.seq) if m is not None else []

    def set_report_context(self, context: ReportContext) -> None:
        if self._counted:  # what came before is counted in the former time zone
            self._counter.count(self._counted, self._activity)
            self._counted = []
        self._context = context
        self._counter.tz = zone(context.timezone)

    def report_context(self) -> ReportContext:
        return self._context

    def activity(self) -> list[tuple[str, str, str, str, int]]:
        return sorted(self._activity_rows())

    def _activity_rows(self) -> Iterator[ActivityRow]:
        if self._counted:
            self._counter.count(self._counted, self._activity)
            self._counted = []
        return ((c, m, day, t, n) for (c, m, day, t), n in self._activity.items())

    # -- report aggregates (reports.py: the reference implementation) ------------------
    def _ledger_entries(self) -> Iterator[tuple[str, LedgerEntry]]:
        """Every ledger entry, with its community."""
        for name, cs in self.open().communities.items():
            for m in cs.members.values():
                for e in m.ledger:
                    yield name, e

    def report_communities(self) -> list[str]:
        names = set(self.open().communities)
        names.update(row[0] for row in self._activity_rows())
        return sorted(names)

    def report_newest_day(self, timezone: str, community: str | None) -> date | None:
        return newest_day(timezone, community, self._activity_rows(), self.open().clock)

    def report_members(self, query: ReportQuery) -> MemberTally:
        return tally_members(query, member_rows(self.open()), self._activity_rows())

    def report_daily_active(self, query: ReportQuery) -> dict[date, int]:
        return tally_daily_active(query, self._activity_rows())

    def report_actions(self, query: ReportQuery) -> ActionTally:
        self._index()
        return tally_actions(query, ((item.action, item.status) for item in self._outbox))

    def report_audit(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        return tally_audit(query, self._audit)

    def report_points(self, query: ReportQuery) -> dict[tuple[str, str], int]:
        return tally_points(query, self._ledger_entries())

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
