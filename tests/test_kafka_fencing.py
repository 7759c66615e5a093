"""Fencing in PostgreSQL alone (store/postgres_worker.py): worker-mode store handles on
one schema, as Kafka workers use them, without Kafka.

A fence bumps a partition's epoch; a commit checks the epoch it fenced, so the older
holder's commits are refused (FencedError) and write nothing; the offsets, clocks and
timer sequences live per partition; outbox numbers come from a database sequence; a
partition's state holds only its communities and timers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from engage_rules.errors import FencedError, StoreError
from engage_rules.model.decision import Decision
from engage_rules.model.state import State, Timer
from engage_rules.store.postgres import PostgreSQLStore
from engage_rules.store.postgres_worker import PartitionStore
from engage_rules.testing import T0
from engage_rules.testing.store_contract import action, award, decision

TOPIC = "events"


@pytest.fixture
def stores(pg_url: str) -> Iterator[tuple[PostgreSQLStore, PostgreSQLStore]]:
    a = PostgreSQLStore(pg_url, worker=True)
    b = PostgreSQLStore(pg_url, worker=True)
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def _batch(state: State, n: int, community: str, member: str) -> list[Decision]:
    """One decision for event ``n`` of ``member`` in ``community``: an award, an action
    and a timer."""
    d = decision(n, cause=f"{community}-evt-{n}")
    award(state, d, member, community=community)
    action(d, f"{community}-key-{n}", member=member).community = community
    timer = Timer(
        due=(T0 + timedelta(days=1, minutes=n)).timestamp(),
        seq=0,
        id=f"{community}-timer-{n}",
        kind="unmute",
        community=community,
        member=member,
        rule="moderation",
    )
    assert state.add_timer(timer)
    d.add_timer(timer)
    d.touch_community(community)
    state.community(community).data["n"] = n
    state.clock = d.at
    return [d]


def _offset(url: str, part: int) -> tuple[int, int]:
    conninfo, schema = url.split("?schema=")
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            f'SELECT epoch, next_offset FROM "{schema}".partitions WHERE topic = %s AND part = %s',
            (TOPIC, part),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_a_fence_bumps_epochs_and_returns_where_to_resume(
    stores: tuple[PostgreSQLStore, PostgreSQLStore], pg_url: str
) -> None:
    a, b = stores
    first = a.fence(TOPIC, [1, 0])
    assert sorted(first) == [0, 1]
    assert all(f.epoch == 1 and f.next_offset == 0 and f.clock is None for f in first.values())
    view = PartitionStore(a, first[0])
    state = view.open()
    view.position = 7
    view.commit(_batch(state, 1, "c0", "u1"), state)
    again = b.fence(TOPIC, [0])[0]
    assert (again.epoch, again.next_offset) == (2, 7)
    assert again.clock == T0 + timedelta(minutes=1)
    assert again.timer_seq == state.timer_seq == 1
    assert _offset(pg_url, 0) == (2, 7)


def test_the_older_epoch_cannot_commit_and_writes_nothing(
    stores: tuple[PostgreSQLStore, PostgreSQLStore], pg_url: str
) -> None:
    a, b = stores
    old = PartitionStore(a, a.fence(TOPIC, [3])[3])
    old_state = old.open()
    new = PartitionStore(b, b.fence(TOPIC, [3])[3])
    new_state = new.open()
    old.position = 5
    with pytest.raises(FencedError, match=r"events\[3\]") as caught:
        old.commit(_batch(old_state, 1, "c3", "u1"), old_state)
    assert caught.value.partitions == [3] and caught.value.topic == TOPIC
    assert isinstance(caught.value, StoreError)
    # Nothing of the refused batch is there: no processed id, ledger, outbox or offset.
    assert not b.is_processed("c3-evt-1")
    assert list(b.ledgers("c3")) == []
    assert b.outbox() == []
    assert _offset(pg_url, 3) == (2, 0)
    # An empty commit (offsets only) is refused just the same.
    with pytest.raises(FencedError):
        old.commit([], old_state)
    # The new holder commits.
    new.position = 5
    new.commit(_batch(new_state, 1, "c3", "u1"), new_state)
    assert a.is_processed("c3-evt-1")
    assert _offset(pg_url, 3) == (2, 5)
    assert [i.action.key for i in a.outbox()] == ["c3-key-1"]


def test_a_partition_state_holds_its_communities_and_timers_only(
    stores: tuple[PostgreSQLStore, PostgreSQLStore],
) -> None:
    a, b = stores
    fences = a.fence(TOPIC, [0, 1])
    for part, community in ((0, "left"), (1, "right")):
        view = PartitionStore(a, fences[part])
        state = view.open()
        view.position = 1
        view.commit(_batch(state, part + 1, community, "u1"), state)
    again = b.fence(TOPIC, [1])[1]
    state = PartitionStore(b, again).open()
    assert sorted(state.communities) == ["right"]
    assert state.communities["right"].data == {"n": 2}
    assert [t.id for t in state.timers] == ["right-timer-2"]
    # Members on demand, through the view.
    member = state.community("right").member("u1")
    assert member.balances == {"points": 5}


def test_outbox_numbers_come_from_a_sequence_shared_by_workers(
    stores: tuple[PostgreSQLStore, PostgreSQLStore], pg_url: str
) -> None:
    a, b = stores
    va = PartitionStore(a, a.fence(TOPIC, [0])[0])
    vb = PartitionStore(b, b.fence(TOPIC, [1])[1])
    sa, sb = va.open(), vb.open()
    for n in range(1, 4):
        va.position = vb.position = n
        va.commit(_batch(sa, n, "left", "u1"), sa)
        vb.commit(_batch(sb, n, "right", "u1"), sb)
    seqs = [i.seq for i in a.outbox()]
    assert seqs == sorted(set(seqs)) and len(seqs) == 6
    keys = [i.action.key for i in a.outbox()]
    assert keys == [f"{c}-key-{n}" for n in range(1, 4) for c in ("left", "right")]


def test_workers_and_a_single_writer_exclude_each_other(pg_url: str) -> None:
    worker = PostgreSQLStore(pg_url, worker=True)
    try:
        worker.fence(TOPIC, [0])
        single = PostgreSQLStore(pg_url)
        try:
            with pytest.raises(StoreError, match="another process"):
                single.begin_replay("k")
        finally:
            single.close()
    finally:
        worker.close()
    single = PostgreSQLStore(pg_url)
    try:
        single.begin_replay("k")
        worker = PostgreSQLStore(pg_url, worker=True)
        try:
            with pytest.raises(StoreError, match="single writer"):
                worker.fence(TOPIC, [0])
        finally:
            worker.close()
    finally:
        single.close()


def test_a_single_writer_keeps_the_sequence_past_its_outbox(pg_url: str) -> None:
    single = PostgreSQLStore(pg_url)
    try:
        state = single.open()
        d = decision(1)
        action(d, "k1")
        action(d, "k2")
        single.commit([d], state)
    finally:
        single.close()
    worker = PostgreSQLStore(pg_url, worker=True)
    try:
        view = PartitionStore(worker, worker.fence(TOPIC, [0])[0])
        state = view.open()
        view.commit(_batch(state, 1, "c", "u1"), state)
        assert [i.seq for i in worker.outbox()] == [1, 2, 3]
    finally:
        worker.close()


def test_workers_refuse_a_schema_whose_communities_a_single_writer_wrote(pg_url: str) -> None:
    single = PostgreSQLStore(pg_url)
    try:
        state = single.open()
        d = decision(1)
        award(state, d, "u1", community="old")
        single.commit([d], state)
    finally:
        single.close()
    worker = PostgreSQLStore(pg_url, worker=True)
    try:
        with pytest.raises(StoreError, match=r"single writer .* schema of their own"):
            worker.fence(TOPIC, [0])
    finally:
        worker.close()


def test_a_worker_store_commits_only_through_partitions(
    stores: tuple[PostgreSQLStore, PostgreSQLStore],
) -> None:
    a, _ = stores
    with pytest.raises(StoreError, match="through its partitions"):
        a.commit([decision(1)], State())


def test_a_single_writer_store_has_no_partition_commits(pg_url: str) -> None:
    single = PostgreSQLStore(pg_url)
    try:
        fence = PostgreSQLStore.fence  # fencing is a write like any other
        assert fence(single, TOPIC, [0])[0].epoch == 1
        with pytest.raises(StoreError, match="worker-mode"):
            single.commit_partition([], State(), fence(single, TOPIC, [0])[0], 0)
    finally:
        single.close()


def test_a_partitions_members_come_on_demand_a_chunk_at_a_time(
    stores: tuple[PostgreSQLStore, PostgreSQLStore],
) -> None:
    a, b = stores
    view = PartitionStore(a, a.fence(TOPIC, [0])[0])
    state = view.open()
    view.commit(_batch(state, 1, "c", "u1") + _batch(state, 2, "c", "u2"), state)
    again = PartitionStore(b, b.fence(TOPIC, [0])[0]).open()
    assert again.members_in_memory() == 0
    assert again.prefetch_members([("c", "u1"), ("c", "u2"), ("c", "nobody")]) == 2
    assert sorted(again.communities["c"].members) == ["u1", "u2"]
    assert again.communities["c"].members["u2"].balances == {"points": 5}


def test_a_partition_loads_its_timers_on_demand(
    stores: tuple[PostgreSQLStore, PostgreSQLStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = stores
    fences = a.fence(TOPIC, [0, 1])
    for part, community in ((0, "left"), (1, "right")):
        view = PartitionStore(a, fences[part])
        state = view.open()
        batch = [d for n in range(1, 6) for d in _batch(state, n, community, f"u{n}")]
        view.commit(batch, state)
    monkeypatch.setattr(State, "TIMER_WINDOW", 2)
    view = PartitionStore(b, b.fence(TOPIC, [0])[0])
    state = view.open()
    assert [t.id for t in state.pending_timers()] == ["left-timer-1", "left-timer-2"]
    assert state.timer_seq == 5
    # A timer stored beyond the window is known, not scheduled twice.
    stored = Timer(
        due=0.0,
        seq=0,
        id="left-timer-5",
        kind="unmute",
        community="left",
        member="u5",
        rule="moderation",
    )
    assert not state.add_timer(stored)
    fired = []
    while (timer := state.pop_due(float("inf"))) is not None:
        fired.append(timer.id)
    assert fired == [f"left-timer-{n}" for n in range(1, 6)]
