"""The points-and-levels example (rules/points-community): its sample month replays to
exactly what its README says — balances, levels with promotions and timed demotions,
badges and tiers, an honour title granted, renewed, revoked and held, closed weekly
leaderboards, a lottery whose stock runs out, and redemption with `else:`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from engage_rules.testing import run_cli

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "rules" / "points-community" / "community.yaml"
EVENTS = ROOT / "examples" / "rewards-events.jsonl"
UNTIL = "2026-05-01T00:00:00+08:00"


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    out = tmp_path_factory.mktemp("points")
    state = out / "state.json"
    proc = run_cli("replay", PLAYBOOK, EVENTS, "--until", UNTIL, "--state-out", state)
    assert proc.returncode == 0, proc.stderr
    assert "rule errors: 0" in proc.stderr
    actions = [json.loads(line) for line in proc.stdout.splitlines()]
    return actions, json.loads(state.read_text())


def _of(
    actions: list[dict[str, Any]], type_: str, member: str | None = None
) -> list[dict[str, Any]]:
    return [a for a in actions if a["type"] == type_ and (member is None or a["member"] == member)]


def _levels(actions: list[dict[str, Any]], member: str) -> list[tuple[str, int, int]]:
    return [
        (a["at"][:10], a["params"]["from"], a["params"]["to"])
        for a in _of(actions, "level_changed", member)
    ]


@pytest.mark.subprocess
def test_the_sample_generator_is_deterministic_and_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_rewards_events.py")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == EVENTS.read_text().strip()


def test_xiaolin_climbs_keeps_her_streak_and_holds_the_title(replay: Any) -> None:
    actions, state = replay
    assert _levels(actions, "u1") == [("2026-04-07", 1, 2), ("2026-04-14", 2, 3)]
    u1 = state["members"]["u1"]
    assert (u1["level"], u1["level_name"]) == (3, "学习标兵")
    assert {"streak-7", "streak-21", "top-contributor"} <= set(u1["badges"])
    assert u1["titles"] == ["top-contributor"]
    assert u1["balances"]["coins"] >= 60  # 10 + 50 for the streaks, plus any lottery win


def test_ahua_is_demoted_twice_while_silent_and_loses_the_title(replay: Any) -> None:
    actions, state = replay
    assert _levels(actions, "u2") == [
        ("2026-04-03", 1, 2),
        ("2026-04-06", 2, 3),
        ("2026-04-21", 3, 2),
        ("2026-04-24", 2, 1),
    ]
    # Both demotions are caused by level-check timers: she sent nothing after 12 April.
    for a in _of(actions, "level_changed", "u2")[2:]:
        assert a["cause"].startswith("level:english:u2:")
    last_event = max(
        json.loads(line)["at"]
        for line in EVENTS.read_text().splitlines()
        if json.loads(line)["member"]["id"] == "u2"
    )
    assert last_event < "2026-04-13"
    grants = [
        a["at"][:10]
        for a in _of(actions, "grant_badge", "u2")
        if a["params"]["badge"] == "top-contributor"
    ]
    assert grants == ["2026-04-06", "2026-04-13"]
    (revoked,) = _of(actions, "revoke_badge", "u2")
    assert revoked["at"] == "2026-04-27T00:00:00+08:00"
    assert state["members"]["u2"]["titles"] == []
    assert state["members"]["u2"]["level"] == 1


def test_xiaomei_earns_every_helper_tier(replay: Any) -> None:
    actions, state = replay
    tiers = [
        (a["at"][:10], a["params"]["tier_name"])
        for a in _of(actions, "grant_badge", "u3")
        if a["params"]["badge"] == "helper"
    ]
    assert tiers == [("2026-04-03", "铜"), ("2026-04-08", "银"), ("2026-04-20", "金")]
    assert state["members"]["u3"]["level"] == 2


def test_tom_is_refused_then_buys_then_is_demoted_after_grace(replay: Any) -> None:
    actions, state = replay
    sends = [(a["at"][:16], a["rule"]) for a in _of(actions, "send", "u4")]
    assert ("2026-04-08T10:00", "redeem") in sends  # refused: `else:` ran
    refusal = next(a for a in _of(actions, "send", "u4") if a["at"].startswith("2026-04-08T10:00"))
    assert refusal["params"]["template"] == "redeem_short"
    (spend,) = _of(actions, "spend", "u4")
    assert spend["params"] == {"currency": "coins", "amount": 10, "reason": "兑换 贴纸"}
    (unknown,) = _of(actions, "reply", "u4")
    assert unknown["rule"] == "redeem-unknown"
    assert _levels(actions, "u4") == [("2026-04-10", 1, 2), ("2026-04-17", 2, 1)]
    assert state["members"]["u4"]["balances"]["coins"] == 0


def test_ada_joins_late_and_catches_up(replay: Any) -> None:
    actions, _ = replay
    assert [a["at"][:10] for a in _of(actions, "grant_badge", "u5")] == ["2026-04-21"]
    assert _levels(actions, "u5") == [("2026-04-24", 1, 2)]


def test_four_weekly_leaderboards_close_and_stay_queryable(replay: Any) -> None:
    actions, state = replay
    board = state["community"]["leaderboards"]["weekly-stars"]
    closed = board["closed"]
    assert list(closed) == ["2026-W14", "2026-W15", "2026-W16", "2026-W17"]
    assert [closed[w]["ranking"][0]["member"] for w in closed] == ["u2", "u2", "u1", "u1"]
    for week in closed.values():
        ranking = week["ranking"]
        assert [r["rank"] for r in ranking] == [1, 2, 3, 4, 5]
        scores = [r["score"] for r in ranking]
        assert scores == sorted(scores, reverse=True)
    assert list(board["open"]) == ["2026-W18"]
    announcements = _of(actions, "broadcast")
    assert [a["at"] for a in announcements] == [
        "2026-04-06T00:00:00+08:00",
        "2026-04-13T00:00:00+08:00",
        "2026-04-20T00:00:00+08:00",
        "2026-04-27T00:00:00+08:00",
    ]
    prizes = Counter(
        a["params"]["reason"]
        for a in _of(actions, "award")
        if a["rule"] == "leaderboards.weekly-stars"
    )
    assert prizes == {"本周之星": 4, "本周前五": 16}


def test_the_lottery_never_oversells_its_three_bookmarks(replay: Any) -> None:
    actions, state = replay
    draws = Counter(a["params"]["name"] for a in _of(actions, "lottery"))
    assert draws["定制书签"] == 3
    assert state["community"]["lotteries"]["checkin-lottery/do.0"] == [0, None, None]


def test_daily_caps_hold_for_every_member_and_day(replay: Any) -> None:
    actions, _ = replay
    caps = {"checkin": 5, "homework": 20, "chat": 5, "helpful": 10}
    per_day: Counter[tuple[str, str, str]] = Counter()
    for a in _of(actions, "award"):
        if a["rule"] in caps:
            per_day[(a["rule"], a["member"], a["at"][:10])] += a["params"]["amount"]
    assert per_day  # the month awards under every capped rule
    for (rule, _member, _day), amount in per_day.items():
        assert amount <= caps[rule]
