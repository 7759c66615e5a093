"""Timers that raise internal events, and community-level timers (the shared mechanism
that levels, leaderboards, flows, silence and schedules build on)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engage_rules import Engine, hookimpl
from engage_rules.compile.feature import (
    BaseFeature,
    CompileContext,
    FeaturePlan,
    MemberCheck,
    TimerHandler,
)
from engage_rules.engine.effects import Effects
from engage_rules.model.decision import Decision
from engage_rules.model.state import MemberState, Timer, ts
from engage_rules.plugins import Registry
from engage_rules.testing import T0, event, isolated_plugins
from helpers import playbook as make_playbook
from helpers import run


def _ping(engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime) -> None:
    engine.raise_event(d, "test.ping", m, {"n": timer.payload["n"]}, community=timer.community)


class PingFeature(BaseFeature):
    """A feature with a timer kind (and, when given, a member check)."""

    name = "ping"

    def __init__(self, check: MemberCheck | None = None) -> None:
        self.check = check

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {"ping.test": _ping}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        return FeaturePlan(member_checks=(self.check,)) if self.check else None


class PingPlugin:
    def __init__(self, check: MemberCheck | None = None) -> None:
        self.feature = PingFeature(check)

    @hookimpl
    def register_features(self, register: object) -> None:
        register(self.feature)  # type: ignore[operator]


REGISTRY: Registry = isolated_plugins(("ping", PingPlugin()))


def playbook(body: str) -> object:
    return make_playbook(body, registry=REGISTRY)


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
    return Timer(
        ts(due), 0, f"ping.test:{member}:{n}", "ping.test", "default", member, "test", {"n": n}
    )


def test_a_member_timer_raises_an_event_that_rules_see() -> None:
    engine = Engine(playbook(PB))  # type: ignore[arg-type]
    run(engine, event("message.posted", "u1", 0))
    engine.state.add_timer(_timer("u1", T0 + timedelta(hours=1), 7))
    decisions = engine.advance_to(T0 + timedelta(hours=2))
    assert len(decisions) == 1
    (d,) = decisions
    assert d.is_timer and d.cause == "ping.test:u1:7"
    assert [(a.type, a.member, a.params["amount"]) for a in d.actions] == [("award", "u1", 7)]
    assert engine.state.community("default").members["u1"].balances == {"points": 7}
    assert d.ledger[0][2].cause == "ping.test:u1:7"


def test_a_community_timer_fires_without_a_member() -> None:
    engine = Engine(playbook(PB))  # type: ignore[arg-type]
    engine.state.add_timer(_timer(None, T0 + timedelta(hours=1), 3))
    (d,) = engine.advance_to(T0 + timedelta(hours=2))
    assert [(a.type, a.member, a.params["text"]) for a in d.actions] == [
        ("broadcast", None, "ping 3")
    ]


def test_a_timer_for_an_unknown_member_does_nothing() -> None:
    engine = Engine(playbook(PB))  # type: ignore[arg-type]
    engine.state.add_timer(_timer("ghost", T0 + timedelta(hours=1), 3))
    (d,) = engine.advance_to(T0 + timedelta(hours=2))
    assert d.actions == [] and d.timers_fired == ["ping.test:ghost:3"]


def test_an_engine_event_outside_a_timer_handler_is_an_error() -> None:
    engine = Engine(playbook(PB))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        engine.raise_event(Decision("x", T0), "test.ping", None, {})


def test_member_checks_run_on_touched_members_and_their_events_reach_rules() -> None:
    def milestone(engine: Effects, d: Decision, m: MemberState, at: datetime) -> None:
        if m.balance("points") >= 20 and "milestone" not in m.attrs:
            m.attrs["milestone"] = True
            engine.engine_action(d, "milestone", m.community, m.id, "test", {}, "m")
            engine.raise_event(d, "test.milestone", m, {"points": m.balance("points")}, "ms")

    pb = make_playbook(
        """
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 10, reason: post}}]
  - id: congratulate
    on: test.milestone
    do: [{send: {text: "milestone {{ event.data.points }}"}}]
""",
        registry=isolated_plugins(("ping", PingPlugin(milestone))),
    )
    engine = Engine(pb)
    first = run(engine, event("message.posted", "u1", 0, id="p1"))
    assert [a.type for a in first] == ["award"]
    second = run(engine, event("message.posted", "u1", 1, id="p2"))
    assert [(a.type, a.rule, a.cause) for a in second] == [
        ("award", "post", "p2"),
        ("milestone", "test", "p2"),
        ("send", "congratulate", "p2/ms"),
    ]
    assert second[2].params["text"] == "milestone 20"
    assert run(engine, event("message.posted", "u1", 2))[1:] == []
