"""Bounded idempotency: stores remember processed ids for a dedup window (reference §10).

Inside the window a redelivered event is processed once.  Past it the store forgets ids,
oldest first, and an event dated before what it forgot is refused with the reason
``beyond_dedup_window`` — never processed a second time.  Nothing about processed ids is
held in memory by the SQLite store, and the memory store keeps a bounded number.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.model.decision import Decision
from engage_rules.model.events import Event
from engage_rules.shell.runner import Runner
from engage_rules.store import Store
from engage_rules.store import sqlite as sqlite_store
from engage_rules.store.memory import MemoryStore
from engage_rules.store.records import BEYOND_DEDUP_WINDOW
from engage_rules.store.sqlite import SQLiteStore
from engage_rules.testing import (
    HEADER,
    FrozenClock,
    after,
    event,
    event_line,
    event_obj,
    playbook,
    run_cli,
)
from hostile_helpers import live, signed_post

DAY = 86400.0

POSTS = """
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 1, reason: post}}]
"""
PLAYBOOK = playbook(POSTS)


def _post(n: int, days: float, member: str = "u1") -> Event:
    return event("message.posted", member, after(days=days), id=f"evt-{n}")


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store
    if request.param == "postgresql":
        from engage_rules.store.postgres import PostgreSQLStore

        s = PostgreSQLStore(request.getfixturevalue("pg_url"))
    else:
        s = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.db")
    yield s
    s.close()


def _points(runner: Runner, member: str = "u1") -> int:
    return runner.state.community("default").member(member).balance("points")


def test_a_redelivery_inside_the_window_is_processed_once(store: Store) -> None:
    runner = Runner(PLAYBOOK, store, batch_size=2, dedup_window=10 * DAY)
    for n in range(6):
        runner.feed(_post(n, days=n))
    # Redelivered up to nine days later: each is known, in one query or one at a time.
    assert runner.feed_many([_post(1, days=1), _post(5, days=5)]) == [None, None]
    assert runner.feed(_post(2, days=2)) is None
    runner.flush()
    assert runner.stats.duplicates == 3 and runner.stats.processed == 6
    assert _points(runner) == 6


def test_past_the_window_ids_are_forgotten_and_old_events_refused(store: Store) -> None:
    runner = Runner(PLAYBOOK, store, batch_size=1, dedup_window=2 * DAY)
    for n in range(10):
        runner.feed(_post(n, days=n))
    runner.flush()
    horizon = store.dedup_horizon()
    assert horizon is not None
    assert after(days=5).timestamp() <= horizon < after(days=8).timestamp()
    assert not store.is_processed("evt-0") and store.is_processed("evt-9")
    # A redelivery of a forgotten event is refused, and changes nothing.
    assert runner.feed(_post(0, days=0)) == BEYOND_DEDUP_WINDOW
    assert "evt-0" in runner.refusal(_post(0, days=0))
    # One still remembered is a duplicate; a new event dated late but after the horizon
    # is processed.
    assert runner.feed(_post(9, days=9)) is None
    assert runner.feed(_post(10, days=8.5)) is None
    runner.flush()
    assert runner.stats.quarantined[BEYOND_DEDUP_WINDOW] == 1
    assert runner.stats.duplicates == 1
    assert _points(runner) == 11


def test_without_a_window_nothing_is_forgotten(store: Store) -> None:
    runner = Runner(PLAYBOOK, store, batch_size=1, dedup_window=None)
    for n in range(10):
        runner.feed(_post(n, days=30 * n))
    runner.flush()
    assert store.dedup_horizon() is None
    assert runner.feed(_post(0, days=0)) is None
    assert runner.stats.duplicates == 1


def test_the_horizon_survives_reopening(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with SQLiteStore(db) as store:
        runner = Runner(PLAYBOOK, store, batch_size=1, dedup_window=DAY)
        for n in range(5):
            runner.feed(_post(n, days=n))
        runner.flush()
        horizon = store.dedup_horizon()
    assert horizon is not None
    with SQLiteStore(db) as store:
        assert store.dedup_horizon() == horizon
        runner = Runner(PLAYBOOK, store, dedup_window=DAY)
        assert runner.feed(_post(0, days=0)) == BEYOND_DEDUP_WINDOW


def test_sqlite_deletes_forgotten_ids_and_holds_none_in_memory(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with SQLiteStore(db) as store:
        runner = Runner(PLAYBOOK, store, batch_size=10, dedup_window=DAY)
        for n in range(300):
            runner.feed(_post(n, days=n / 10, member=f"u{n % 7}"))
        runner.flush()
        # The store's attributes hold nothing that grows with the events processed: at
        # most the members (7) and the ids of the last batch committed (10).
        sizes = [len(v) for v in vars(store).values() if isinstance(v, set | dict | list)]
        assert max(sizes, default=0) <= 10
    with sqlite3.connect(db) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM processed").fetchone()
    assert 10 <= rows <= 12 + 10 + 3  # a day of ids, plus at most 1/100 day, a batch


def test_the_memory_store_keeps_a_bounded_number_of_ids() -> None:
    store = MemoryStore()
    store.max_processed_ids = 50
    runner = Runner(PLAYBOOK, store, batch_size=5, dedup_window=None)
    for n in range(200):
        runner.feed(_post(n, days=n / 100))
    runner.flush()
    assert len(store.processed_among([f"evt-{n}" for n in range(200)])) == 50
    assert runner.feed(_post(199, days=1.99)) is None  # remembered: a duplicate
    assert runner.feed(_post(3, days=0.03)) == BEYOND_DEDUP_WINDOW
    assert _points(runner) == 200


def test_the_memory_store_forgets_the_oldest_ids_of_a_commit_first() -> None:
    store = MemoryStore()
    store.max_processed_ids = 3
    state = store.open()
    ids = [f"evt-{n}" for n in range(6)]
    for first, size, day in ((0, 2, 1.0), (2, 4, 2.0)):  # a commit of 2 ids, then of 4
        state.clock = after(days=day)
        store.commit([Decision(ids[n], state.clock) for n in range(first, first + size)], state)
    # 6 ids, 3 kept: the first commit's two and the oldest of the second go, in order.
    assert store.processed_among(ids) == {"evt-3", "evt-4", "evt-5"}
    assert store.dedup_horizon() == after(days=2.0).timestamp()
    store.max_processed_ids = 100
    store.keep_processed(DAY / 2)
    state.clock = after(days=2.4)
    store.commit([Decision("evt-6", state.clock)], state)
    assert store.processed_among([*ids, "evt-6"]) == {"evt-3", "evt-4", "evt-5", "evt-6"}
    state.clock = after(days=2.6)  # the second commit is past the window now
    store.commit([Decision("evt-7", state.clock)], state)
    assert store.processed_among([*ids, "evt-6", "evt-7"]) == {"evt-6", "evt-7"}


def test_a_chunk_with_a_duplicate_after_a_flush_inside_it(store: Store) -> None:
    runner = Runner(PLAYBOOK, store, batch_size=1)
    chunk = [_post(1, days=0), _post(2, days=0), _post(1, days=0)]
    assert runner.feed_many(chunk) == [None, None, None]
    runner.flush()
    assert runner.stats.duplicates == 1 and _points(runner) == 2


def _feed_in_chunks(
    store: Store, fed: list[Event], batch: int, window: float | None
) -> tuple[Runner, list[str | None], list[str]]:
    """``fed`` through a runner in chunks of four, flushed: the runner, each event's
    outcome and the causes of the actions committed, in order."""
    causes: list[str] = []
    runner = Runner(
        PLAYBOOK,
        store,
        batch_size=batch,
        dedup_window=window,
        on_commit=lambda actions: causes.extend(a.cause for a in actions),
    )
    outcomes: list[str | None] = []
    for i in range(0, len(fed), 4):
        outcomes += runner.feed_many(fed[i : i + 4])
    runner.flush()
    return runner, outcomes, causes


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ids=st.lists(st.integers(0, 30), min_size=1, max_size=60),
    window_days=st.sampled_from([None, 0.5, 2.0, 10.0]),
    batch=st.integers(1, 7),
    cap=st.sampled_from([5, 1000]),
)
def test_no_event_is_processed_twice(
    ids: list[int], window_days: float | None, batch: int, cap: int
) -> None:
    """Any stream of events and redeliveries (an id always comes with its own time),
    any window, id cap and batch size: every id is processed at most once, and every
    event is processed, a known duplicate or refused."""
    store = MemoryStore()
    store.max_processed_ids = cap
    window = window_days * DAY if window_days is not None else None
    fed = [event("message.posted", "u1", after(days=n / 3), id=f"evt-{n}") for n in ids]
    runner, outcomes, causes = _feed_in_chunks(store, fed, batch, window)
    stats = runner.stats
    assert len(causes) == len(set(causes)) == stats.processed == _points(runner)
    assert stats.duplicates + stats.processed + outcomes.count(BEYOND_DEDUP_WINDOW) == len(fed)
    if window is None and cap >= len(set(ids)):
        assert BEYOND_DEDUP_WINDOW not in outcomes
        assert stats.processed == len(set(ids))


class _WaitingSQLiteStore(SQLiteStore):
    """A SQLite store whose runner waits for every commit that may move the horizon (it
    does not tell the runner how far: ``unsettled_dedup_horizon``)."""

    unsettled_dedup_horizon = None  # type: ignore[assignment]


def _sqlite_outcomes(
    store: SQLiteStore, fed: list[Event], batch: int, window: float | None
) -> tuple[list[str | None], list[str], int]:
    runner, outcomes, causes = _feed_in_chunks(store, fed, batch, window)
    runner.close()
    return outcomes, causes, runner.stats.duplicates


@settings(max_examples=60, deadline=None)
@given(
    ids=st.lists(st.integers(0, 30), min_size=1, max_size=40),
    window_days=st.sampled_from([0.5, 2.0, 10.0]),
    batch=st.integers(1, 5),
)
def test_sqlite_refuses_the_same_events_without_waiting_for_its_commits(
    ids: list[int], window_days: float, batch: int
) -> None:
    """The runner does not wait for a SQLite commit that forgets ids before reading on
    (it asks how far the horizon may move, and waits only for an event dated before
    that): every event has the outcome it has when the runner waits for every commit."""
    fed = [event("message.posted", "u1", after(days=n / 3), id=f"evt-{n}") for n in ids]
    with tempfile.TemporaryDirectory() as tmp:
        fast = _sqlite_outcomes(SQLiteStore(Path(tmp) / "a.db"), fed, batch, window_days * DAY)
        waiting = _WaitingSQLiteStore(Path(tmp) / "b.db")
        assert fast == _sqlite_outcomes(waiting, fed, batch, window_days * DAY)
    outcomes, causes, duplicates = fast
    assert len(causes) == len(set(causes))
    assert duplicates + len(causes) + outcomes.count(BEYOND_DEDUP_WINDOW) == len(fed)


def test_replay_refuses_forgotten_events_with_their_line(tmp_path: Path) -> None:
    lines = [event_line("message.posted", "u1", after(days=d), id=f"evt-{d}") for d in range(5)]
    first, again = tmp_path / "first.jsonl", tmp_path / "again.jsonl"
    first.write_text("\n".join(lines) + "\n")
    again.write_text(f"{lines[4]}\n{lines[0]}\n")  # the newest, and one four days old
    pb = tmp_path / "p.yaml"
    pb.write_text(HEADER + POSTS)
    db = f"sqlite:///{tmp_path / 's.db'}"
    window = ("--dedup-window", "2d")
    done = run_cli("replay", pb, first, "--store", db, "--batch-size", "1", *window)
    assert done.returncode == 0, done.stderr
    assert len(done.jsonl()) == 5
    result = run_cli("replay", pb, again, "--store", db, *window)
    assert result.returncode == 0, result.stderr
    assert "0 processed, 1 duplicate, 1 quarantined" in result.stderr
    assert "quarantined beyond_dedup_window: 1 (lines 2)" in result.stderr
    assert "line 2: beyond_dedup_window: event 'evt-0' is dated" in result.stderr
    assert result.stdout == ""


@pytest.mark.e2e
def test_the_live_runtime_refuses_a_delivery_beyond_the_dedup_window(tmp_path: Path) -> None:
    start = after(days=0)
    clock = FrozenClock(start)

    def post(event_id: str, at: float, delivery: str) -> tuple[int, dict[str, object]]:
        obj = event_obj("message.posted", "u1", after(days=at), id=event_id)
        body = orjson.dumps(obj)
        answer = signed_post(run.port, body, delivery, clock.time())
        assert answer is not None
        return answer.status, answer.body

    with live(tmp_path, clock.time, extra="dedup_window: 1d\n") as run:
        assert post("evt-1", 0, "d-1")[0] == 202
        clock.advance(days=3)
        assert post("evt-2", 3, "d-2")[0] == 202  # its commit forgets evt-1 and d-1
        status, body = post("evt-1", 0, "d-3")
        assert (status, body["status"], body["reason"]) == (
            422,
            "quarantined",
            BEYOND_DEDUP_WINDOW,
        )
        assert "evt-1" in str(body["message"])
        assert post("evt-2", 3, "d-4") == (200, {"status": "duplicate", "events": ["evt-2"]})
        service = run.service
        assert service.stats.quarantined == {BEYOND_DEDUP_WINDOW: 1}
        assert not service.store.is_processed("webhook-delivery:d-3")


def test_a_long_backlog_of_ids_is_forgotten_over_several_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    with SQLiteStore(db) as store:
        runner = Runner(PLAYBOOK, store, batch_size=100, dedup_window=None)
        for n in range(100):
            runner.feed(_post(n, days=n / 100))
        runner.flush()
    monkeypatch.setattr(sqlite_store, "FORGET_AT_ONCE", 30)

    def remembered() -> int:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM processed").fetchone()[0])

    with SQLiteStore(db) as store:
        runner = Runner(PLAYBOOK, store, batch_size=1, dedup_window=DAY)
        counts = []
        for n in range(100, 104):  # ten days later: every earlier id is past the window
            runner.feed(_post(n, days=10 + n / 100))
            runner.flush()
            counts.append(remembered())
        assert counts == [100 - 30 + 1, 100 - 60 + 2, 100 - 90 + 3, 4]
        assert runner.feed(_post(50, days=0.5)) == BEYOND_DEDUP_WINDOW
        assert runner.feed(_post(103, days=10 + 1.03)) is None  # a duplicate
    assert runner.stats.duplicates == 1
