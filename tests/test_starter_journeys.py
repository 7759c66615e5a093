"""The starter playbook's journeys: the 7-day onboarding flow and staged win-back."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engage_rules import Engine, load
from engage_rules.compile.playbook import CompiledPlaybook
from engage_rules.model.decision import ActionRecord
from engage_rules.model.state import MemberState
from engage_rules.testing import T0, event
from helpers import run

STARTER = Path(__file__).resolve().parents[1] / "rules" / "starter" / "community.yaml"
DAY = 86400
INTRO = "大家好，我是新来的，平时喜欢拍街头和夜景，请多指教！"


@pytest.fixture(scope="module")
def pb() -> CompiledPlaybook:
    return load(STARTER)


@pytest.fixture
def eng(pb: CompiledPlaybook) -> Engine:
    return Engine(pb)


def advance(eng: Engine, at: datetime) -> list[ActionRecord]:
    return [a for d in eng.advance_to(at) for a in d.actions]


def member(eng: Engine, mid: str = "u1") -> MemberState:
    return eng.state.communities["default"].members[mid]


def flow_steps(actions: list[ActionRecord]) -> list[tuple[str, str]]:
    return [
        (
            a.type,
            str(a.params.get("template") or a.params.get("reason") or a.params.get("name") or ""),
        )
        for a in actions
        if a.rule == "flows.onboarding"
    ]


def test_onboarding_for_a_newcomer_who_introduces_themselves(eng: Engine) -> None:
    joined = run(eng, event("member.joined", "u1", 0))
    assert [(a.type, a.rule) for a in joined][2:] == [
        ("start_flow", "welcome"),
        ("send", "flows.onboarding"),
    ]
    assert joined[3].params["template"] == "onboarding_tasks"
    run(eng, event("message.posted", "u1", 2 * 3600, text=INTRO, message_id="m1"))
    day1 = advance(eng, T0 + timedelta(days=1, hours=1))
    assert flow_steps(day1) == [("award", "新手任务完成"), ("send", "onboarding_done")]
    assert day1[0].at == T0 + timedelta(days=1)
    day2 = advance(eng, T0 + timedelta(days=2, hours=1))
    assert flow_steps(day2) == [("send", "checkin_tip"), ("complete_flow", "end")]
    assert member(eng).flows["onboarding"]["status"] == "completed"
    assert member(eng).balances["points"] == 10 + 5 + 20  # first post, quality post, flow


def test_onboarding_nudges_a_silent_newcomer_then_gives_up_on_day_7(eng: Engine) -> None:
    run(eng, event("member.joined", "u1", 0))
    day1 = advance(eng, T0 + timedelta(days=1, hours=1))
    assert flow_steps(day1) == [("send", "nudge_first_post")]
    week = advance(eng, T0 + timedelta(days=7, hours=1))
    assert flow_steps(week) == [("tag", "onboarding-stalled"), ("exit_flow", "no first post")]
    assert member(eng).flows["onboarding"]["status"] == "exited"
    # Silence counts from joining: the first win-back message goes out on day 7 too.
    assert [a.params["template"] for a in week if a.rule == "winback-7d"] == ["winback_7d"]


def test_onboarding_waits_for_the_first_post_after_the_nudge(eng: Engine) -> None:
    run(eng, event("member.joined", "u1", 0))
    advance(eng, T0 + timedelta(days=2))
    acts = run(eng, event("message.posted", "u1", 3 * DAY, text=INTRO, message_id="m1"))
    assert flow_steps(acts) == [("award", "新手任务完成"), ("send", "onboarding_done")]


def test_a_member_who_leaves_exits_onboarding(eng: Engine) -> None:
    run(eng, event("member.joined", "u1", 0))
    acts = run(eng, event("member.left", "u1", 3600))
    assert flow_steps(acts) == [("exit_flow", "exit_on")]
    assert flow_steps(advance(eng, T0 + timedelta(days=10))) == []


def test_staged_win_back_after_7_14_and_30_silent_days(eng: Engine) -> None:
    run(eng, event("message.posted", "u1", 0, text=INTRO, message_id="m1"))
    acts = advance(eng, T0 + timedelta(days=31))
    staged = [(a.rule, a.type, a.at - T0) for a in acts if a.rule.startswith("winback")]
    assert staged == [
        ("winback-7d", "send", timedelta(days=7)),
        ("winback-14d", "send", timedelta(days=14)),
        ("winback-14d", "tag", timedelta(days=14)),
        ("winback-30d", "send", timedelta(days=30)),
        ("winback-30d", "tag", timedelta(days=30)),
    ]
    assert {"at-risk", "dormant"} <= set(member(eng).tag_names(T0 + timedelta(days=31)))
    # Coming back: a bonus, the tags go, and the staged messages are re-armed.
    back = run(eng, event("checkin", "u1", 40 * DAY))
    assert [(a.rule, a.type) for a in back if a.rule == "welcome-back"] == [
        ("welcome-back", "untag"),
        ("welcome-back", "untag"),
        ("welcome-back", "award"),
    ]
    assert "dormant" not in member(eng).tag_names(T0 + timedelta(days=40))
    again = advance(eng, T0 + timedelta(days=48))
    assert [(a.rule, a.at - T0) for a in again if a.rule.startswith("winback")] == [
        ("winback-7d", timedelta(days=47))
    ]
