"""The cookbook's sample months (examples/make_cookbook_events.py): each file is what the
generator writes, and replaying it with its playbook makes every rule act and tells the
story docs/cookbook.md tells."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.lang.yaml_source import read_yaml_file
from engage_rules.testing import event, load, run_cli, run_events

ROOT = Path(__file__).resolve().parent.parent
UNTIL = {
    "checkin-referral": "2026-05-01T12:00:00+08:00",
    "content-rhythm": "2026-05-01T12:00:00+08:00",
    "community-health": "2026-05-11T08:30:00+08:00",
}


def replay(name: str, tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / f"{name}.jsonl"
    result = run_cli(
        "replay",
        ROOT / "rules" / name / "community.yaml",
        ROOT / "examples" / f"{name}-events.jsonl",
        "--until",
        UNTIL[name],
        "--actions-out",
        out,
    )
    assert result.returncode == 0, result.stderr
    assert "rule errors: 0" in result.stderr
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", sorted(UNTIL))
def test_the_sample_is_what_the_generator_writes(name: str) -> None:
    generated = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_cookbook_events.py"), name],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    ).stdout
    assert generated == (ROOT / "examples" / f"{name}-events.jsonl").read_text(encoding="utf-8")


def test_the_generator_refuses_an_unknown_sample() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_cookbook_events.py"), "checkin"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert "usage: make_cookbook_events.py {checkin-referral|" in result.stderr


@pytest.mark.parametrize("name", sorted(UNTIL))
def test_every_rule_acts_on_the_sample(name: str, tmp_path: Path) -> None:
    playbook = read_yaml_file(ROOT / "rules" / name / "community.yaml").data
    rules = {r["id"] for r in playbook["rules"]}
    rules |= {f"badges.{b}" for b in playbook.get("badges", {})}
    rules |= {f"leaderboards.{b}" for b in playbook.get("leaderboards", {})}
    acted = {a["rule"] for a in replay(name, tmp_path)}
    assert rules <= acted, rules - acted


def test_the_check_in_and_referral_story(tmp_path: Path) -> None:
    actions = replay("checkin-referral", tmp_path)
    reminders = [a for a in actions if a["rule"] == "streak-reminder" and a["member"] == "u2"]
    assert [a["at"] for a in reminders] == ["2026-04-07T21:00:00+08:00"]
    assert "已经连续 6 天了" in reminders[0]["params"]["text"]
    gold = [a for a in actions if a["params"].get("tier_name") == "金"]
    assert [(a["member"], a["at"][:10]) for a in gold] == [("u1", "2026-04-30")]
    # Effective referrals: f1, f2, f3 for 老王 (u9), f5 for 阿梅 (u8); f4 checked in once.
    invites = [
        (a["member"], a["at"][:10])
        for a in actions
        if a["rule"] == "referral-reward" and a["params"].get("currency") == "invites"
    ]
    assert invites == [
        ("u9", "2026-04-05"),
        ("u9", "2026-04-08"),
        ("u9", "2026-04-12"),
        ("u8", "2026-04-13"),
    ]
    champion = [a for a in actions if a["rule"] == "leaderboards.invite-stars"]
    assert [(a["member"], a["params"]["amount"]) for a in champion] == [("u9", 200)]
    (announce,) = [a for a in actions if a["rule"] == "invite-stars-announce"]
    assert announce["params"]["text"] == "🏆 本月拉新冠军：老王，有效邀请 3 人，奖励 200 积分！"


def test_the_content_rhythm_story(tmp_path: Path) -> None:
    actions = replay("content-rhythm", tmp_path)
    nudges = [a["at"][:10] for a in actions if a["rule"] == "topic-midweek-nudge"]
    # 1 April: no topic yet; 15 April: the quiet week of 13 April.
    assert nudges == ["2026-04-01", "2026-04-15"]
    topics = [a["at"][:10] for a in actions if a["rule"] == "weekly-topic"]
    assert topics == ["2026-04-06", "2026-04-13", "2026-04-20", "2026-04-27"]
    invited = {
        a["member"]
        for a in actions
        if a["rule"] == "monthly-event-invite"
        and a["type"] == "send"
        and a["at"][:10] == "2026-05-01"
    }
    assert {"u1", "u2"} <= invited
    assert all(a["at"][:10] == "2026-05-01" for a in actions if a["rule"] == "monthly-event-invite")


def test_the_community_health_story(tmp_path: Path) -> None:
    actions = replay("community-health", tmp_path)

    def of(rule: str, type_: str | None = None) -> list[tuple[str | None, str]]:
        return [
            (a["member"], a["at"])
            for a in actions
            if a["rule"] == rule and (type_ is None or a["type"] == type_)
        ]

    u3 = [(r, a["at"][:10]) for a in actions if a["member"] == "u3" for r in [a["rule"]]]
    assert ("winback-gentle", "2026-04-10") in u3 and ("at-risk-recovered", "2026-04-13") in u3
    assert [m for m, _ in of("winback-last", "send")] == ["u4"]
    assert of("welcome-back", "award") == [("u4", "2026-05-05T09:00:00+08:00")]
    assert [at[:16] for _, at in of("negativity-alert")] == [
        "2026-04-10T20:15"
    ]  # 想退款 (20:12) is mild
    assert of("negative-member") == [("u6", "2026-04-17T23:40:00+08:00")]
    assert [at[:10] for _, at in of("join-spike")] == ["2026-04-21"]
    assert [at[:10] for _, at in of("leave-spike")] == ["2026-04-21"]
    assert len(of("daily-report")) == 40  # 1 April to 10 May, at 09:00


def test_approving_the_flagged_member_sends_the_caring_message(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'health.db'}"
    name = "community-health"
    replayed = run_cli(
        "replay",
        ROOT / "rules" / name / "community.yaml",
        ROOT / "examples" / f"{name}-events.jsonl",
        "--until",
        UNTIL[name],
        "--store",
        store,
    )
    assert replayed.returncode == 0, replayed.stderr
    (item,) = run_cli("review", "--store", store, "--json").jsonl()
    assert (item["rule"], item["member"], item["status"]) == ("negative-member", "u6", "open")
    approved = run_cli(
        "review",
        "--store",
        store,
        "approve",
        item["id"][:12],
        "--playbook",
        ROOT / "rules" / name,
        "--actor",
        "版主小周",
        "--at",
        UNTIL[name],
    )
    assert approved.returncode == 0, approved.stderr
    (send,) = approved.jsonl()
    assert (send["type"], send["member"], send["at"]) == ("send", "u6", UNTIL[name])
    assert send["params"]["template"] == "care"
    assert send["params"]["text"].startswith("小雨妈，看到你最近有些烦心事")
    # Approving again does nothing.
    again = run_cli(
        "review", "--store", store, "approve", item["id"][:12], "--playbook", ROOT / "rules" / name
    )
    assert again.jsonl() == []


def _runs_of(days: set[int], length: int) -> bool:
    return any(all(d + k in days for k in range(length)) for d in days)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["u8", "u9"]),
            st.sets(st.integers(0, 9), max_size=10),
            st.booleans(),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_referrals_and_check_ins_pay_what_the_cookbook_says(
    invitees: list[tuple[str, set[int], bool]],
) -> None:
    """An inviter earns 50 points and one invite per friend with three check-in days in a
    row, once each; a member's check-ins earn 5 points a day (a second check-in the same
    day earns nothing) and 20 more for a 7-day streak."""
    tz = timezone(timedelta(hours=8))
    start = datetime(2026, 3, 2, tzinfo=tz)
    evs = []
    for i, (inviter, days, twice) in enumerate(invitees):
        friend = f"f{i}"
        evs.append(
            event("member.joined", friend, start + timedelta(minutes=i), data={"inviter": inviter})
        )
        for d in days:
            at = start + timedelta(days=d, hours=7, minutes=i)
            evs.append(event("checkin", friend, at))
            if twice:
                evs.append(event("checkin", friend, at + timedelta(hours=12)))
    evs.sort(key=lambda e: e.at)
    actions = run_events(load(ROOT / "rules" / "checkin-referral" / "community.yaml"), evs)

    def earned(member: str, currency: str, rule: str | None = None) -> int:
        return sum(
            a.params["amount"]
            for a in actions
            if a.type == "award"
            and a.member == member
            and a.params["currency"] == currency
            and (rule is None or a.rule == rule)
        )

    for inviter in ("u8", "u9"):
        mine = [days for who, days, _ in invitees if who == inviter]
        effective = sum(1 for days in mine if _runs_of(days, 3))
        assert earned(inviter, "invites") == effective
        assert earned(inviter, "points") == 50 * effective
    for i, (_, days, _) in enumerate(invitees):
        assert earned(f"f{i}", "points") == 5 * len(days) + (20 if _runs_of(days, 7) else 0)
    thanks = [a for a in actions if a.rule == "referral-reward" and a.type == "send"]
    assert len(thanks) == sum(1 for _, days, _ in invitees if _runs_of(days, 3))
