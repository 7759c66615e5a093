"""The engine, its state and a run's decisions are freed by reference counting alone:
no reference cycle holds them, so dropping them is immediate (and cheap at exit) even
with the cyclic garbage collector off or frozen (interpreter.tune_gc)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from engage_rules import Engine
from engage_rules.shell.runner import Runner
from engage_rules.store import MemoryStore
from engage_rules.testing import event
from helpers import playbook

PLAYBOOK = playbook("""
currencies: [{name: points, expires_after: 1d}]
leaderboards:
  weekly: {measure: points, period: week}
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 5}}, {tag: {name: poster, expires: 1h}}]
  - id: removed
    on: message.deleted
    do: [{revoke: {event: "{{ event.data.message_id }}"}}]
""")


class Probe:
    """Something only the object under watch refers to."""


def _events() -> Iterator[object]:
    for i in range(5):
        yield event("message.posted", "u1", i * 60, message_id=f"m{i}")
    yield event("message.deleted", "u1", 600, message_id="m1")
    yield event("checkin", "u2", 3 * 86400)  # the clock moves on: timers fire


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_gc")
def test_an_engine_its_state_and_its_decisions_die_with_their_last_reference() -> None:
    engine = Engine(PLAYBOOK)
    decisions = [d for e in _events() for d in engine.process(e)]  # type: ignore[arg-type]
    assert any(d.ledger for d in decisions) and any(d.timers_added for d in decisions)
    in_state, in_decision = Probe(), Probe()
    engine.state.community("default").data["probe"] = in_state
    decisions[0].add_audit(in_decision)  # type: ignore[arg-type]
    engine_ref, state_ref, decision_ref = (
        weakref.ref(engine),
        weakref.ref(in_state),
        weakref.ref(in_decision),
    )
    del in_state, in_decision
    del decisions
    assert decision_ref() is None
    del engine
    assert engine_ref() is None and state_ref() is None


@pytest.mark.usefixtures("no_gc")
def test_a_runner_and_its_memory_store_die_with_their_last_reference() -> None:
    store = MemoryStore()
    runner = Runner(PLAYBOOK, store)
    for e in _events():
        runner.feed(e)  # type: ignore[arg-type]
    runner.close()
    probe = Probe()
    runner.state.community("default").data["probe"] = probe
    refs = weakref.ref(runner), weakref.ref(runner.engine), weakref.ref(probe)
    del probe, runner, store
    assert [r() for r in refs] == [None, None, None]
