"""Rules (docs/reference.md §5.1) from YAML to emitted actions."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from engage_rules import Engine
from engage_rules.compile.rule_helpers import condition_error
from engage_rules.model.decision import Decision
from engage_rules.testing import T0, event
from helpers import playbook, run, types


def test_if_else_and_priority_order() -> None:
    pb = playbook("""
rules:
  - id: low
    on: message.posted
    do: [{tag: low}]
  - id: high
    on: message.posted
    priority: 10
    if: "event.data.text | length >= 5"
    do: [{tag: high}]
    else: [{tag: short}]
""")
    eng = Engine(pb)
    acts = run(eng, event("message.posted", text="hello world"))
    assert [(a.rule, a.params["name"]) for a in acts] == [("high", "high"), ("low", "low")]
    acts = run(eng, event("message.posted", "u2", 1, text="hi"))
    assert [(a.rule, a.params["name"]) for a in acts] == [("high", "short"), ("low", "low")]


def test_ties_keep_file_order_and_stop_hides_later_rules() -> None:
    pb = playbook("""
rules:
  - id: a
    on: message.posted
    do: [{tag: a}]
  - id: b
    on: message.posted
    stop: true
    do: [{tag: b}]
  - id: c
    on: message.posted
    do: [{tag: c}]
""")
    acts = run(Engine(pb), event("message.posted"))
    assert [a.rule for a in acts] == ["a", "b"]


def test_later_rules_see_state_left_by_earlier_rules() -> None:
    pb = playbook("""
rules:
  - id: give
    on: checkin
    priority: 1
    do: [{award: {points: 10, reason: x}}]
  - id: check
    on: checkin
    if: "member.points >= 10"
    do: [{tag: rich}]
""")
    acts = run(Engine(pb), event("checkin"))
    assert types(acts) == ["award", "tag"]


def test_cooldown_once_and_threshold() -> None:
    pb = playbook("""
rules:
  - id: cool
    on: message.posted
    cooldown: 60s
    do: [{award: {points: 1, reason: c}}]
  - id: first
    on: message.posted
    once: true
    do: [{award: {points: 10, reason: f}}]
  - id: flood
    on: message.posted
    threshold: {count: 3, within: 10s}
    do: [{tag: flooder}]
""")
    eng = Engine(pb)
    acts = run(eng, *(event("message.posted", at=s) for s in (0, 2, 4, 30, 61, 200)))
    by_rule: dict[str, list[str]] = {}
    for a in acts:
        by_rule.setdefault(a.rule, []).append(a.cause)
    assert len(by_rule["cool"]) == 3  # at 0, 61, 200
    assert len(by_rule["first"]) == 1
    assert len(by_rule["flood"]) == 1  # the third post within 10 s; then the window resets
    m = eng.state.communities["default"].members["u1"]
    assert m.balances["points"] == 13


def test_exempt_by_role_member_and_channel() -> None:
    pb = playbook("""
rules:
  - id: r
    on: message.posted
    exempt: {roles: [admin], members: [u9], channels: [staff]}
    do: [{tag: seen}]
""")
    eng = Engine(pb)
    assert run(eng, event("message.posted", "u1", roles=["admin"])) == []
    assert run(eng, event("message.posted", "u9")) == []
    assert run(eng, event("message.posted", "u2", channel="staff")) == []
    assert types(run(eng, event("message.posted", "u3"))) == ["tag"]


def test_moderation_exempt_applies_to_rules_with_moderation_actions_only() -> None:
    pb = playbook("""
moderation:
  exempt: {roles: [moderator]}
rules:
  - id: words
    on: message.posted
    if: "contains_any(event.data.text, ['spam'])"
    do: [{delete_message: {}}]
  - id: points
    on: message.posted
    do: [{award: {points: 1, reason: p}}]
""")
    eng = Engine(pb)
    acts = run(eng, event("message.posted", "mod", roles=["moderator"], text="spam spam"))
    assert types(acts) == ["award"]
    acts = run(eng, event("message.posted", "u1", text="buy spam now", message_id="m1"))
    assert types(acts) == ["delete_message", "award"]
    assert acts[0].params["message_id"] == "m1"


def test_failing_condition_fails_that_rule_only() -> None:
    pb = playbook("""
rules:
  - id: bad
    on: message.posted
    if: "event.data.count > 3"
    do: [{tag: bad}]
  - id: good
    on: message.posted
    do: [{tag: good}]
""")
    eng = Engine(pb)
    ds = eng.process(event("message.posted", text="no count here"))
    d = ds[-1]
    assert [a.rule for a in d.actions] == ["good"]
    assert [e.rule for e in d.errors] == ["bad"]
    assert "count" in d.errors[0].message or "undefined" in d.errors[0].message.lower()


class _Truthless:
    """A value whose truth cannot be told."""

    def __bool__(self) -> bool:
        raise TypeError("no truth")


def test_condition_error_records_the_failure_or_returns_the_value() -> None:
    """Generated dispatch tests a condition's truth inside its ``try``: condition_error
    records a condition that fails (None: the rule does not run), and returns the
    value of one that does not (it was the value's truth that raised), so that the
    rule's ``if ok:`` raises as it would have for the value itself."""
    ev = event("message.posted", id="e1")
    d = Decision("e1", T0)

    def failing(c: Any) -> Any:
        raise ValueError("bad input")

    rule: Any = SimpleNamespace(id="r", cond=failing)
    assert condition_error(d, rule, ev, None) is None
    assert [(e.rule, e.message) for e in d.errors] == [("r", "bad input")]
    value = _Truthless()
    rule = SimpleNamespace(id="r", cond=lambda c: value)
    assert condition_error(d, rule, ev, None) is value
    assert len(d.errors) == 1
    with pytest.raises(TypeError, match="no truth"):
        bool(value)


def test_internal_events_and_depth_limit() -> None:
    pb = playbook("""
rules:
  - id: ping
    on: custom.ping
    do: [{emit: {type: custom.pong, data: {n: "{{ event.data.n }}"}}}]
  - id: pong
    on: custom.pong
    do: [{emit: {type: custom.ping, data: {n: "{{ event.data.n }}"}}}]
  - id: start
    on: message.posted
    do: [{emit: {type: custom.ping, data: {n: 1}}}]
""")
    eng = Engine(pb)
    ds = eng.process(event("message.posted"))
    d = ds[-1]
    assert len(d.actions) > 3
    assert any("loop" in e.message for e in d.errors)
    # Internal event ids are derived from the cause, so keys are deterministic.
    assert len({a.key for a in d.actions}) == len(d.actions)


def test_canonical_member_events_update_state_before_rules() -> None:
    pb = playbook("""
rules:
  - id: greet
    on: member.joined
    if: "member.status == 'active' and member.joined_at is not none"
    do: [{tag: greeted}]
""")
    eng = Engine(pb)
    run(eng, event("member.joined"), event("member.left", at=5))
    m = eng.state.communities["default"].members["u1"]
    assert m.status == "left"
    run(eng, event("member.opted_out", at=6))
    assert m.opted_out
    run(eng, event("member.joined", at=10))
    assert m.status == "active" and m.joined_at == T0  # the first join time is kept
    assert "greeted" in m.tags


def test_late_event_uses_its_own_time_and_does_not_move_the_clock_back() -> None:
    pb = playbook("""
rules:
  - id: r
    on: checkin
    do: [{tag: x}]
""")
    eng = Engine(pb)
    run(eng, event("checkin", at=100))
    acts = run(eng, event("checkin", "u2", at=50))
    assert acts[0].at == event("checkin", at=50).at
    assert eng.state.clock == event("checkin", at=100).at


def test_community_events_without_member() -> None:
    pb = playbook("""
rules:
  - id: announce
    on: custom.announcement
    do: [{broadcast: {text: "{{ event.data.title }}", channel: news}}]
""")
    acts = run(Engine(pb), event("custom.announcement", None, title="周末外拍"))
    assert acts[0].member is None
    assert acts[0].params == {"text": "周末外拍", "channel": "news"}


def test_member_values_read_by_later_rules_follow_do_and_else_branches() -> None:
    # Dispatch code reads member.points once per event and again after any rule's
    # actions ran, whichever branch ran: this checks both branches.
    pb = playbook("""
rules:
  - id: buy
    on: redeem.requested
    priority: 2
    do: [{spend: {points: 5, reason: buy}}]
    else: [{award: {points: 3, reason: consolation}}]
  - id: rich
    on: redeem.requested
    priority: 1
    if: "member.points >= 3"
    do: [{tag: rich}]
    else: [{untag: rich}]
""")
    eng = Engine(pb)
    acts = run(eng, event("redeem.requested"))  # 0 points: refused, consolation 3 -> rich
    assert types(acts) == ["award", "tag"]
    run(eng, event("checkin", at=1))
    acts = run(eng, event("redeem.requested", at=2))  # 3 points: refused again -> 6
    assert types(acts) == ["award"]
    acts = run(eng, event("redeem.requested", at=3))  # 6 points: spend 5 -> 1 -> not rich
    assert types(acts) == ["spend", "untag"]
