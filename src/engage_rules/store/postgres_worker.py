"""Kafka workers on one PostgreSQL schema: fencing, offsets and per-partition state
(docs/scaling.md, "Fencing").

The table ``partitions(topic, part, epoch, next_offset, clock, timer_seq)`` holds a row
per partition of the topic.  A worker assigned partitions fences them
(:func:`fence_partitions`): one transaction bumps each one's epoch and reads the offset
to resume from.  Every commit of a partition's batch (``PostgreSQLStore.commit_partition``)
first runs :func:`claim_partition`, ``UPDATE partitions ... WHERE epoch = <the epoch it
fenced>``, which writes the consumed offset, the clock and the timer sequence: if
another worker fenced the partition since, no row matches, the transaction is rolled
back and the worker gets :class:`~engage_rules.errors.FencedError`.  The UPDATE and the
fence take the same row lock, so one of them waits for the other: a commit either lands
before the fence (and the new owner resumes after it) or is refused.

:class:`PartitionStore` is the store one partition's runner sees: the shared
worker-mode store, with commits fenced and carrying the partition's offset.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg

from ..errors import StoreError
from ..model.decision import Decision
from ..model.state import MemberState, State, Timer
from .base import completed
from .batch_rows import Rows, number_outbox_rows
from .records import ReportContext
from .timer_pages import timer_page


class WorkerStore(Protocol):
    """What :class:`PartitionStore` needs of the worker-mode ``PostgreSQLStore``."""

    member_cache: int

    def partition_state(self, fence: Fence) -> State: ...
    def partition_timers(
        self, part: int, start: float, limit: int
    ) -> tuple[list[Timer], float]: ...
    def partition_timer_pending(self, part: int, timer_id: str, start: float) -> bool: ...
    def commit_partition(
        self, decisions: Sequence[Decision], state: State, fence: Fence, next_offset: int
    ) -> None: ...
    def load_member(self, community: str, member: str) -> MemberState | None: ...
    def load_members(self, community: str, members: Sequence[str]) -> dict[str, MemberState]: ...
    def member_ids(self, community: str) -> Iterator[str]: ...
    def is_processed(self, cause_id: str) -> bool: ...
    def processed_among(self, ids: Sequence[str]) -> set[str]: ...
    def keep_processed(self, seconds: float | None) -> None: ...
    def dedup_horizon(self) -> float | None: ...
    def keep_traces(self, seconds: float | None) -> None: ...
    def set_report_context(self, context: ReportContext) -> None: ...


@dataclass(frozen=True, slots=True)
class Fence:
    """One partition as a worker fenced it: the epoch it holds, where to resume."""

    topic: str
    partition: int
    epoch: int
    #: The offset of the first record not committed yet.
    next_offset: int
    #: The partition's engine clock and timer sequence as last committed.
    clock: datetime | None
    timer_seq: int


def fence_partitions(
    conn: psycopg.Connection, topic: str, partitions: Sequence[int]
) -> dict[int, Fence]:
    """Bump the epoch of each of ``partitions`` (rows created as needed) in one
    transaction; their fences by partition.  Rows are locked in partition order, so two
    workers fencing overlapping partitions at once do not deadlock.  A schema a single
    writer wrote communities to is refused (StoreError): they belong to no partition."""
    parts = sorted(set(partitions))
    out: dict[int, Fence] = {}
    if not parts:
        return out
    with conn.transaction():
        cur = conn.cursor()
        if cur.execute("SELECT 1 FROM communities WHERE part IS NULL LIMIT 1").fetchone():
            raise StoreError(
                "this schema was written by a single writer (run or replay): its "
                "communities belong to no partition, so workers cannot take them over; "
                "give the workers a schema of their own (docs/scaling.md)"
            )
        cur.executemany(
            "INSERT INTO partitions (topic, part) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            [(topic, p) for p in parts],
        )
        cur.execute(
            "SELECT part FROM partitions WHERE topic = %s AND part = ANY(%s) "
            "ORDER BY part FOR UPDATE",
            (topic, parts),
        )
        rows = cur.execute(
            "UPDATE partitions SET epoch = epoch + 1 WHERE topic = %s AND part = ANY(%s) "
            "RETURNING part, epoch, next_offset, clock, timer_seq",
            (topic, parts),
        ).fetchall()
    for part, epoch, offset, clock, timer_seq in rows:
        out[int(part)] = Fence(
            topic,
            int(part),
            int(epoch),
            int(offset),
            datetime.fromisoformat(clock) if clock else None,
            int(timer_seq),
        )
    return out


def claim_partition(cur: psycopg.Cursor[Any], fence: Fence, next_offset: int, state: State) -> bool:
    """In a commit's transaction: record the offset consumed up to, the clock and the
    timer sequence of ``fence``'s partition, if its epoch is still ``fence``'s.  False
    (nothing written) if another worker fenced it since."""
    clock = state.clock.isoformat() if state.clock is not None else ""
    cur.execute(
        "UPDATE partitions SET next_offset = %s, clock = %s, timer_seq = %s "
        "WHERE topic = %s AND part = %s AND epoch = %s",
        (next_offset, clock, state.timer_seq, fence.topic, fence.partition, fence.epoch),
    )
    return cur.rowcount == 1


def partition_timers(
    conn: psycopg.Connection, part: int | None, start: float, limit: int
) -> tuple[list[Timer], float]:
    """The stored timers of partition ``part`` (None: of the whole store) due at or
    after ``start``: a page of them (timer_pages.py, model/state.py ``TimerSource``)."""
    where = "" if part is None else "part = %(part)s AND "
    params: dict[str, Any] = {"part": part, "start": start, "n": limit + 1}
    first = conn.execute(
        f"SELECT due, json FROM timers WHERE {where}due >= %(start)s ORDER BY due LIMIT %(n)s",
        params,
    ).fetchall()

    def due_at(due: float) -> list[tuple[float, str]]:
        rows: list[tuple[float, str]] = conn.execute(
            f"SELECT due, json FROM timers WHERE {where}due = %(due)s", {**params, "due": due}
        ).fetchall()
        return rows

    def due_after(due: float) -> float | None:
        row = conn.execute(
            f"SELECT min(due) FROM timers WHERE {where}due > %(due)s", {**params, "due": due}
        ).fetchone()
        return None if row is None else row[0]

    return timer_page(first, limit, due_at, due_after)


def number_from_sequence(cur: psycopg.Cursor[Any], rows: Rows) -> list[tuple[Any, ...]]:
    """The batch's outbox rows numbered from the database sequence ``outbox_seqs``
    (workers commit at once: numbers increase within a batch and with commit order of
    one partition; across partitions they interleave)."""
    outbox, end = number_outbox_rows(rows.actions, rows.causes, 0)
    if not end:
        return outbox
    seqs = [
        int(n)
        for (n,) in cur.execute(
            "SELECT nextval('outbox_seqs') FROM generate_series(1, %s)", (end,)
        ).fetchall()
    ]
    seqs.sort()
    return [(seq, *row[1:]) for seq, row in zip(seqs, outbox, strict=True)]


class PartitionStore:
    """What one partition's runner sees of the shared worker-mode store: reads go to
    it; a commit is :meth:`PostgreSQLStore.commit_partition` with this partition's fence
    and the offset the worker consumed up to (:attr:`position`, which it sets before
    each flush).  Closing it leaves the shared store open."""

    def __init__(self, store: WorkerStore, fence: Fence) -> None:
        self.store = store
        self.fence = fence
        #: The offset after the last record handed to the runner.
        self.position = fence.next_offset
        #: The offset committed last (with its batch).
        self.committed = fence.next_offset
        self.member_cache = store.member_cache

    def open(self) -> State:
        """The partition's state: its clock, communities and earliest timers (members
        and later timers on demand)."""
        state = self.store.partition_state(self.fence)
        state.source = self
        state.timer_source = self
        state.take_timers(*self.load_timers(-math.inf, state.TIMER_WINDOW))
        return state

    def load_timers(self, start: float, limit: int) -> tuple[list[Timer], float]:
        return self.store.partition_timers(self.fence.partition, start, limit)

    def timer_pending(self, timer_id: str, start: float) -> bool:
        return self.store.partition_timer_pending(self.fence.partition, timer_id, start)

    def load_member(self, community: str, member: str) -> MemberState | None:
        return self.store.load_member(community, member)

    def load_members(self, community: str, members: Sequence[str]) -> dict[str, MemberState]:
        return self.store.load_members(community, members)

    def member_ids(self, community: str) -> Iterator[str]:
        return self.store.member_ids(community)

    def is_processed(self, cause_id: str) -> bool:
        return self.store.is_processed(cause_id)

    def processed_among(self, ids: Sequence[str]) -> set[str]:
        return self.store.processed_among(ids)

    def keep_processed(self, seconds: float | None) -> None:
        self.store.keep_processed(seconds)

    def dedup_horizon(self) -> float | None:
        return self.store.dedup_horizon()

    def keep_traces(self, seconds: float | None) -> None:
        self.store.keep_traces(seconds)

    def set_report_context(self, context: ReportContext) -> None:
        self.store.set_report_context(context)

    def commit(self, decisions: Sequence[Decision], state: State) -> None:
        """Commit ``decisions`` and the offset :attr:`position`, fenced (FencedError)."""
        position = self.position
        self.store.commit_partition(decisions, state, self.fence, position)
        self.committed = position

    def commit_async(self, decisions: Sequence[Decision], state: State) -> Future[None]:
        self.commit(decisions, state)
        return completed()

    def close(self) -> None:
        """Nothing to release: the worker closes the shared store."""
