"""Timers on demand: a SQLite store opens with the earliest pending timers and loads the
next ones when the clock reaches them, so opening costs the same however many timers are
pending; what fires, and in what order, is what a state holding every timer fires."""

from __future__ import annotations

import math
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules import parse_event
from engage_rules.model.state import MORE_TIMERS, State, Timer
from engage_rules.shell.runner import Runner
from engage_rules.store import MemoryStore, SQLiteStore
from engage_rules.testing import T0, event_line, playbook
from engage_rules.testing.store_contract import add_timer, decision
from test_crash_timers import PLAYBOOK


@pytest.fixture
def small_window(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(State, "TIMER_WINDOW", 4)
    return 4


def _stored_timers(path: Path, n: int) -> list[str]:
    """A store with ``n`` pending timers whose due times are shuffled (some shared);
    their ids in firing order."""
    store = SQLiteStore(path)
    state = store.open()
    rng = random.Random(n)
    d = decision(1)
    for i in range(n):
        add_timer(state, d, f"t{i}", rng.choice([5, 10, 10, 20, 30, 45, 60, 90]) + i % 3)
    order = [t.id for t in sorted(state.timers)]
    store.commit([d], state)
    store.close()
    return order


def test_a_store_opens_with_the_earliest_timers_and_fires_them_all_in_order(
    tmp_path: Path, small_window: int
) -> None:
    path = tmp_path / "s.db"
    order = _stored_timers(path, 25)
    with SQLiteStore(path) as store:
        state = store.open()
        real = [t for t in state.timers if t.kind != MORE_TIMERS]
        assert 0 < len(real) <= small_window + 2  # (timers sharing a due time come together)
        assert state.timers_until != math.inf
        fired = []
        while (t := state.pop_due(math.inf)) is not None:
            fired.append(t.id)
        assert fired == order
        assert state.timers == [] and state.timers_until == math.inf


def test_more_timers_due_at_one_time_than_the_window_all_come(
    tmp_path: Path, small_window: int
) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    state = store.open()
    d = decision(1)
    for i in range(10):
        add_timer(state, d, f"same{i}", 30)
    add_timer(state, d, "later", 60)
    store.commit([d], state)
    store.close()
    with SQLiteStore(path) as store:
        state = store.open()
        fired = []
        while (t := state.pop_due(math.inf)) is not None:
            fired.append(t.id)
        assert fired == [f"same{i}" for i in range(10)] + ["later"]


def test_a_timer_stored_beyond_the_window_is_pending_for_add_timer(
    tmp_path: Path, small_window: int
) -> None:
    path = tmp_path / "s.db"
    order = _stored_timers(path, 25)
    with SQLiteStore(path) as store:
        state = store.open()
        last = order[-1]
        assert last not in state.timer_ids  # stored, not in memory
        again = Timer(0.0, 0, last, "test", "default", "u1", "r")
        assert not state.add_timer(again)  # pending already: not added twice
        assert state.add_timer(Timer(0.0, 0, "new", "test", "default", "u1", "r"))
        assert "new" in state.timer_ids


def test_timers_due_later_are_let_go_once_stored_and_come_back(
    tmp_path: Path, small_window: int
) -> None:
    """A replay that adds many far-off timers keeps a window of them in memory."""
    events = [
        event_line("member.joined", f"u{i}", i * 60, id=f"j{i}", community="c") for i in range(60)
    ]
    pb = playbook(
        """
rules:
  - id: later
    on: {after: member.joined, delay: 30d}
    do: [{award: {points: 1, reason: a month in}}]
"""
    )
    path = tmp_path / "s.db"
    runner = Runner(pb, SQLiteStore(path), batch_size=5)
    for line in events[:30]:
        runner.feed(parse_event(line))
    runner.close()
    runner = Runner(pb, SQLiteStore(path), batch_size=5)
    state = runner.engine.state
    assert len(state.timers) <= small_window + 1
    for line in events[30:]:
        runner.feed(parse_event(line))
        assert len(state.timers) <= 2 * small_window + 5 + 1  # a window, a batch, the marker
    fired: list[str] = []
    runner.on_commit = lambda actions: fired.extend(a.cause for a in actions)
    runner.advance_to(T0 + timedelta(days=40))
    runner.close()
    assert fired == [f"after:c:later:j{i}" for i in range(60)]


# -- the same as a state holding every timer, end to end ------------------------------------


def _lines(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        mid = f"u{rng.randrange(12)}"
        kind = rng.random()
        data: dict[str, object] = {}
        if kind < 0.15:
            type_ = "member.joined"
        elif kind < 0.18:
            type_ = "member.left"
        elif kind < 0.8:
            type_ = "message.posted"
            data = {"text": rng.choice(["hello there", "spam offer", "ok", "今天分享一下"])}
        else:
            type_ = "checkin"
        at = i * rng.choice([60, 600, 3600, 7200])
        out.append(event_line(type_, mid, at, id=f"e{i}", community="c", data=data))
    return out


def _run(
    lines: list[str], store: Any, batch: int, reopen_at: int | None, path: Path | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The actions and final snapshot of ``lines`` (reopening the SQLite store at
    ``path`` before line ``reopen_at``)."""
    pb = playbook(PLAYBOOK)
    actions: list[dict[str, Any]] = []

    def start(s: Any) -> Runner:
        r = Runner(pb, s, batch_size=batch)
        r.on_commit = lambda acts: actions.extend(a.to_json() for a in acts)
        return r

    runner = start(store)
    for i, line in enumerate(lines):
        if i == reopen_at and path is not None:
            runner.close()
            runner = start(SQLiteStore(path))
        runner.feed(parse_event(line))
    runner.advance_to(T0 + timedelta(days=30))
    snapshot = runner.engine.state.load_all_members().snapshot()
    runner.close()
    return actions, snapshot


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(20, 160),
    batch=st.integers(1, 40),
    window=st.integers(1, 6),
    reopen=st.floats(0, 1),
)
def test_timers_on_demand_fire_what_a_full_heap_fires(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    n: int,
    batch: int,
    window: int,
    reopen: float,
) -> None:
    lines = _lines(seed, n)
    expected = _run(lines, MemoryStore(), batch, None, None)
    monkeypatch.setattr(State, "TIMER_WINDOW", window)
    path = tmp_path_factory.mktemp("on-demand") / "s.db"
    got = _run(lines, SQLiteStore(path), batch, int(reopen * n), path)
    assert got[0] == expected[0]
    assert got[1] == expected[1]
