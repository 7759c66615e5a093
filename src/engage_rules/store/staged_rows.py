"""A batch serialised while it is decided: the rows of each chunk of decisions are built
right after the chunk, the rows that depend on the state at the commit at the commit.

:func:`serialise` turns a batch of decisions into :class:`~.batch_rows.Rows` for the SQL
stores.  It does so in two steps, which a store may run at different times:

1. :meth:`StagedRows.add` — what each decision writes by itself: its ledger entries,
   actions, errors, audit and review entries, traces, the activity it counts, and the
   keys of the members, communities and timers it touched.  The runner hands each chunk
   it has decided to the store's ``stage`` (``Runner.feed_many``), so these rows are
   built while the chunk's objects are still in the processor's caches: building the
   rows of 50,000 decisions 512 at a time, each chunk just after it was decided, takes
   about a third less time than building them all at the commit (docs/performance.md).
2. :meth:`StagedRows.finish` — at the commit, what depends on the state then: the rows
   of the members and communities the batch touched, the timers it left, the clock, the
   cursors, and the activity summed per day.

A commit serialises whatever of its batch was not staged; staged rows that are not a
prefix of the batch being committed are dropped and the batch is serialised whole, so a
caller that stages and then commits something else still writes the right rows.

Serialising never fails a batch: a value JSON cannot hold is replaced
(``batch_rows.storable``) and the replacement recorded as a rule error of the ``store``
(``batch_rows.Lenient``) — per chunk for the decisions' rows, per commit for the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from ..model.decision import ActionRecord, Decision
from ..model.state import MemberState, State, Timer, ts
from .base import Batch, collect
from .batch_rows import (
    Lenient,
    Rows,
    action_rows,
    audit_rows,
    cursor_rows,
    encode_member,
    ledger_rows,
    member_rows,
)
from .records import ActivityCounter, ActivityCounts, DayTotals, MemberMarks, add_totals, trace_rows

Dumps = Callable[[Any], bytes]


class StagedRows:
    """The rows of the decisions of a batch staged so far (see the module docs)."""

    __slots__ = (
        "actions",
        "activity",
        "audit",
        "causes",
        "communities",
        "count",
        "errors",
        "last",
        "ledger",
        "marks",
        "members",
        "platforms",
        "review",
        "timers",
        "totals",
        "traces",
    )

    def __init__(self) -> None:
        #: How many decisions are staged, and the last of them (:meth:`holds_prefix_of`).
        self.count = 0
        self.last: Decision | None = None
        self.causes: list[str] = []
        self.ledger: list[tuple[Any, ...]] = []
        self.actions: list[tuple[Any, ...]] = []
        self.errors: list[tuple[str]] = []
        self.audit: list[tuple[Any, ...]] = []
        self.review: list[tuple[str]] = []
        self.traces: list[tuple[str, str, str, str | None, float, str]] = []
        #: What ``base.collect`` gathers across the batch (shared by every chunk).
        self.platforms: dict[str, str] = {}
        self.timers: dict[str, Timer | None] = {}
        self.members: set[tuple[str, str]] = set()
        self.communities: set[str] = set()
        self.activity: ActivityCounts = {}
        self.totals: DayTotals = {}
        self.marks: MemberMarks = {}

    def holds_prefix_of(self, decisions: Sequence[Decision]) -> bool:
        """True if the staged decisions are the first ones of ``decisions``."""
        n = self.count
        return n == 0 or (n <= len(decisions) and decisions[n - 1] is self.last)

    def add(self, decisions: Sequence[Decision], state: State, counter: ActivityCounter) -> None:
        """Stage ``decisions``, the ones decided after those staged already."""
        if not decisions:
            return
        b = Batch(
            causes=[d.cause for d in decisions],
            platforms=self.platforms,
            timers=self.timers,
            members=self.members,
            communities=self.communities,
        )
        collect(decisions, state, b)
        try:
            ledger, actions, errors, audit, review, traces = _decision_rows(
                b, decisions, orjson.dumps, None
            )
        except TypeError:  # orjson.JSONEncodeError: a value JSON cannot hold
            lenient = Lenient(state)
            ledger, actions, errors, audit, review, traces = _decision_rows(
                b, decisions, lenient.dumps, lenient.outbox_json
            )
            errors += [(orjson.dumps(e.to_json()).decode(),) for e in lenient.errors]
        self.causes += b.causes
        self.ledger += ledger
        self.actions += actions
        self.errors += errors
        self.audit += audit
        self.review += review
        self.traces += traces
        counter.count(decisions, self.activity, self.totals, self.marks)
        self.count += len(decisions)
        self.last = decisions[-1]

    def finish(self, state: State) -> Rows:
        """The batch's rows, with those of the state as it is now (its members,
        communities, timers, clock and cursors)."""
        try:
            rows = self._rows(state, orjson.dumps, encode_member)
        except TypeError:  # orjson.JSONEncodeError
            lenient = Lenient(state)
            rows = self._rows(state, lenient.dumps, lenient.member)
            rows.errors += [(orjson.dumps(e.to_json()).decode(),) for e in lenient.errors]
        return rows

    def _rows(self, state: State, dumps: Dumps, member_text: Callable[[MemberState], str]) -> Rows:
        timers = self.timers
        timers_add = [
            (t.id, t.due, dumps(t.to_json()).decode()) for t in timers.values() if t is not None
        ]
        members, members_gone = member_rows(self.members, state, member_text)
        communities: list[tuple[str, str]] = []
        communities_gone: list[tuple[str]] = []
        for name in self.communities:
            cs = state.communities.get(name)
            if cs is None:
                communities_gone.append((name,))
            else:
                communities.append((name, dumps(cs.data).decode()))
        activity = self.activity
        totals = add_totals(activity, self.totals)
        return Rows(
            causes=self.causes,
            clock=ts(state.clock) if state.clock is not None else 0.0,
            ledger=self.ledger,
            actions=self.actions,
            timers_add=timers_add,
            timers_del=[(tid,) for tid, t in timers.items() if t is None],
            timer_communities=[t.community for t in timers.values() if t is not None],
            errors=list(self.errors),
            audit=self.audit,
            review=self.review,
            meta=[
                ("clock", state.clock.isoformat() if state.clock is not None else ""),
                ("timer_seq", str(state.timer_seq)),
                *cursor_rows(state),
            ],
            # (tuple concatenation: one C call per row, where ``(*key, n)`` goes
            # through a list)
            activity=[key + (n,) for key, n in activity.items()],  # noqa: RUF005
            totals=[(c, day, t, n) for (c, day, t), n in totals.items()],
            marks=[(c, m, mark, day) for (c, m, mark), day in self.marks.items()],
            traces=self.traces,
            members=members,
            members_gone=members_gone,
            communities=communities,
            communities_gone=communities_gone,
            communities_seen=[(name, "{}") for name in {k[0] for k in members} - self.communities],
        )


def _decision_rows(
    b: Batch,
    decisions: Sequence[Decision],
    dumps: Dumps,
    action_json: Callable[[ActionRecord, dict[str, str]], str] | None,
) -> tuple[
    list[tuple[Any, ...]],
    list[tuple[Any, ...]],
    list[tuple[str]],
    list[tuple[Any, ...]],
    list[tuple[str]],
    list[tuple[str, str, str, str | None, float, str]],
]:
    """The rows of a chunk's decisions (collected into ``b``): ledger, outbox (without
    their numbers), errors, audit, review and traces."""
    traces = [
        (
            t["event"],
            t.get("cause", t["event"]),
            t["community"],
            t.get("member"),
            t["ts"],
            dumps(t).decode(),
        )
        for t in trace_rows(decisions)
    ]
    return (
        ledger_rows(b.ledger, dumps),
        action_rows(b.actions, b.platforms, action_json),
        [(dumps(e.to_json()).decode(),) for e in b.errors],
        audit_rows(b.audit, dumps),
        [(dumps(r).decode(),) for r in b.review],
        traces,
    )


def serialise(
    decisions: Sequence[Decision],
    state: State,
    counter: ActivityCounter,
    staged: StagedRows | None = None,
) -> Rows:
    """Everything the batch writes, as rows (CPU only: no lock, no I/O): what ``staged``
    holds of it already, the rest serialised now.  The rows hold the state's cursors,
    so it is no longer ``cursors_moved``."""
    state.cursors_moved = False
    if staged is None or not staged.holds_prefix_of(decisions):
        staged = StagedRows()
    staged.add(decisions[staged.count :], state, counter)
    return staged.finish(state)
