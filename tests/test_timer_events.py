"""Timers that raise internal events, and community-level timers (the shared mechanism
that levels, leaderboards, flows, silence and schedules build on)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engage_rules import Engine
from engage_rules.decision import Decision
from engage_rules.state import MemberState, Timer, ts
from engage_rules.timers import TIMER_KINDS, register_timer_kind
from helpers import T0, ev, playbook, run


def _ping(engine: Engine, d: Decision, timer: Timer, m: MemberState | None,
          at: datetime) -> None:
    engine.timer_event(d, timer, "test.ping", m, {"n": timer.payload["n"]})


@pytest.fixture(autouse=True)
def ping_kind() -> object:
    register_timer_kind("test_ping", _ping)
    yield
    del TIMER_KINDS["test_ping"]


PB = """
rules:
  - id: pinged
    on: test.ping
    if: "event.data.n >= 5"
    do: [{award: {points: "{{ event.data.n }}", reason: ping}}]
  - id: community-pinged
    on: test.ping
    if: "event.data.n < 5"
    do: [{broadcast: {text: "ping {{ event.data.n }}"}}]
"""


def _timer(member: str | None, due: datetime, n: int) -> Timer:
    return Timer(ts(due), 0, f"test_ping:{member}:{n}", "test_ping", "default", member,
                 "test", {"n": n})


def test_a_member_timer_raises_an_event_that_rules_see() -> None:
    engine = Engine(playbook(PB))
    run(engine, ev("message.posted", "u1", 0))
    engine.state.add_timer(_timer("u1", T0 + timedelta(hours=1), 7))
    decisions = engine.advance_to(T0 + timedelta(hours=2))
    assert len(decisions) == 1
    (d,) = decisions
    assert d.is_timer and d.cause == "test_ping:u1:7"
    assert [(a.type, a.member, a.params["amount"]) for a in d.actions] == [("award", "u1", 7)]
    assert engine.state.community("default").members["u1"].balances == {"points": 7}
    assert d.ledger[0][2].cause == "test_ping:u1:7"


def test_a_community_timer_fires_without_a_member() -> None:
    engine = Engine(playbook(PB))
    engine.state.add_timer(_timer(None, T0 + timedelta(hours=1), 3))
    (d,) = engine.advance_to(T0 + timedelta(hours=2))
    assert [(a.type, a.member, a.params["text"]) for a in d.actions] == [
        ("broadcast", None, "ping 3")
    ]


def test_a_timer_for_an_unknown_member_does_nothing() -> None:
    engine = Engine(playbook(PB))
    engine.state.add_timer(_timer("ghost", T0 + timedelta(hours=1), 3))
    (d,) = engine.advance_to(T0 + timedelta(hours=2))
    assert d.actions == [] and d.timers_fired == ["test_ping:ghost:3"]


def test_timer_event_outside_a_timer_handler_is_an_error() -> None:
    engine = Engine(playbook(PB))
    with pytest.raises(RuntimeError):
        engine.timer_event(Decision("x", T0), _timer(None, T0, 1), "test.ping", None, {})


def test_member_checks_run_on_touched_members_and_their_events_reach_rules() -> None:
    pb = playbook("""
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 10, reason: post}}]
  - id: congratulate
    on: test.milestone
    do: [{send: {text: "milestone {{ event.data.points }}"}}]
""")

    def milestone(engine: Engine, d: Decision, m: MemberState, at: datetime) -> None:
        if m.balance("points") >= 20 and "milestone" not in m.attrs:
            m.attrs["milestone"] = True
            engine.engine_action(d, "milestone", m.community, m.id, "test", {}, "m")
            engine.engine_event(d, "test.milestone", m, {"points": m.balance("points")}, "ms")

    pb.member_checks.append(milestone)
    engine = Engine(pb)
    first = run(engine, ev("message.posted", "u1", 0, id="p1"))
    assert [a.type for a in first] == ["award"]
    second = run(engine, ev("message.posted", "u1", 1, id="p2"))
    assert [(a.type, a.rule, a.cause) for a in second] == [
        ("award", "post", "p2"), ("milestone", "test", "p2"), ("send", "congratulate", "p2/ms")
    ]
    assert second[2].params["text"] == "milestone 20"
    assert run(engine, ev("message.posted", "u1", 2)) [1:] == []
