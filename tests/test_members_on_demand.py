"""Members on demand: a SQLite store loads a member when it is first needed, and the
runner keeps a bounded number in memory (docs/reference.md §10).

Whatever the cache size, a run decides exactly what a run holding every member decides:
the same actions, the same final state.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.errors import StoreError
from engage_rules.model.decision import ActionRecord
from engage_rules.model.events import Event
from engage_rules.shell.runner import Runner
from engage_rules.store import Store
from engage_rules.store.memory import MemoryStore
from engage_rules.store.sqlite import SQLiteStore
from engage_rules.testing import after, event, playbook

PLAYBOOK = playbook("""
segments:
  regulars: "member.points >= 20"
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 10, reason: post}}, {tag: {name: poster, expires: 2h}}]
  - id: thanks
    on: reaction.added
    if: "event.data.to != member.id"
    do: [{award: {points: 1, reason: thanks, to: "{{ event.data.to }}"}}]
  - id: weekly
    on: {cron: "0 20 * * FRI", audience: regulars}
    do: [{send: {text: "本周之星 {{ member.id }}"}}]
""")


def _events(n: int, members: int) -> list[Event]:
    out = []
    for i in range(n):
        mid = f"u{(i * 7) % members}"
        if i % 3:
            out.append(event("message.posted", mid, after(hours=i), id=f"e{i}"))
        else:
            to = f"u{(i * 5) % members}"
            out.append(event("reaction.added", mid, after(hours=i), id=f"e{i}", data={"to": to}))
    return out


def _run(store: Store, events: list[Event], cache: int | None) -> tuple[list[str], object]:
    if cache is not None:
        store.member_cache = cache  # type: ignore[attr-defined]
    actions: list[ActionRecord] = []
    runner = Runner(PLAYBOOK, store, batch_size=5, on_commit=actions.extend)
    for i in range(0, len(events), 8):
        runner.feed_many(events[i : i + 8])
    runner.advance_to(after(days=len(events) // 24 + 8))
    runner.flush()
    return [a.key for a in actions], runner.state.snapshot()


def test_opening_loads_no_member_and_a_member_comes_back_when_needed(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with SQLiteStore(db) as store:
        _run(store, _events(30, 6), None)
    with SQLiteStore(db) as store:
        state = store.open()
        assert all(not c.members for c in state.communities.values())
        community = state.community("default")
        assert community.member_ids() == [f"u{i}" for i in range(6)]
        u1 = community.find("u1")
        assert u1 is not None and u1.balance("points") > 0
        assert list(community.members) == ["u1"]
        assert community.find("nobody") is None and "nobody" not in community.members


def test_a_small_cache_decides_what_everyone_in_memory_decides(tmp_path: Path) -> None:
    events = _events(120, 40)
    expected = _run(MemoryStore(), events, None)
    with SQLiteStore(tmp_path / "s.db") as store:
        got = _run(store, events, 8)
        state = store.open()
    assert got == expected
    assert got[0], "the run decided something"
    del state


def test_the_runner_keeps_at_most_about_the_cache_in_memory(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store:
        store.member_cache = 10
        runner = Runner(PLAYBOOK, store, batch_size=5)
        sizes = []
        for e in _events(200, 100):
            runner.feed(e)
            sizes.append(len(runner.state.community("default").members))
        runner.flush()
        # between commits the cache holds at most what a batch adds to it
        assert max(sizes) <= 10 + 5 * 2
        assert len(runner.state.community("default").member_ids()) == 100


def test_a_broadcast_reaches_members_not_in_memory(tmp_path: Path) -> None:
    events = [event("message.posted", f"u{i}", after(minutes=i), id=f"e{i}") for i in range(30)]
    events += [
        event("message.posted", f"u{i}", after(hours=1, minutes=i), id=f"f{i}")
        for i in range(0, 30, 3)
    ]
    with SQLiteStore(tmp_path / "s.db") as store:
        keys, snapshot = _run(store, events, 4)
    expected_keys, expected = _run(MemoryStore(), events, None)
    assert (keys, snapshot) == (expected_keys, expected)
    assert len(keys) > len(events) * 2  # awards and tags, then the weekly sends


def test_a_closed_store_loads_nothing_more(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with SQLiteStore(db) as store:
        _run(store, _events(10, 3), None)
    store = SQLiteStore(db)
    state = store.open()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        state.community("default").find("u1")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(1, 80),
    members=st.integers(1, 30),
    cache=st.integers(1, 12),
)
def test_any_cache_size_gives_the_same_run(
    tmp_path_factory: pytest.TempPathFactory, n: int, members: int, cache: int
) -> None:
    events = _events(n, members)
    db = tmp_path_factory.mktemp("cache") / "s.db"
    with SQLiteStore(db) as store:
        got = _run(store, events, cache)
    assert got == _run(MemoryStore(), events, None)
