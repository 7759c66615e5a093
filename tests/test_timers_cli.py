"""Flows, silence and delays through `engage-rules replay --until` (docs/reference.md §7): the
virtual clock fires every timer in event time, and SQLite-backed replays resume them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engage_rules.testing import CliResult, event_obj, run_cli

PLAYBOOK = """\
engage_rules: 1
name: timers
community: {name: 测试社群, timezone: Asia/Shanghai}
activity_events: [message.posted, checkin]
templates:
  day0: "欢迎！今天的任务：发一条自我介绍"
flows:
  onboarding:
    exit_on: [member.left]
    steps:
      - send: {template: day0}
      - wait: 1d
      - if: "count('message.posted') == 0"
        then: [{send: {text: 还没发言哦}}]
      - wait_for: {event: message.posted, timeout: 3d}
        on_timeout: [{tag: onboarding-stalled}, {exit: {}}]
      - award: {points: 20, reason: 新手任务完成}
rules:
  - id: welcome
    on: member.joined
    do: [{start_flow: onboarding}]
  - id: day3
    on: {after: member.joined, delay: 3d}
    do: [{send: {text: "第三天了"}}]
  - id: winback-7d
    on: {silent_for: 7d}
    do: [{send: {text: "7 天没见"}}]
  - id: cycle
    on: {silent_for: {factor: 3, min: 2d, max: 20d}}
    if: "member.typical_gap is not none"
    do: [{tag: {name: drifting, expires: 10d}}]
  - id: spam
    on: message.posted
    if: "'spam' in event.data.text"
    do: [{mute: {for: 2d, reason: spam}}]
"""


def _events() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(type_: str, member: str, at: str, **data: Any) -> None:
        out.append(event_obj(type_, member, at, id=f"e{len(out)}", **data))

    add("member.joined", "u1", "2026-03-01T10:00:00+08:00")
    add("member.joined", "u2", "2026-03-01T11:00:00+08:00")
    add("message.posted", "u1", "2026-03-02T12:00:00+08:00", text="大家好")
    for day in range(3, 9):
        add("checkin", "u3", f"2026-03-0{day}T09:00:00+08:00")
    add("message.posted", "u3", "2026-03-09T09:30:00+08:00", text="spam spam")
    return out


def _replay(tmp_path: Path, *extra: str) -> CliResult:
    pb = tmp_path / "timers.yaml"
    pb.write_text(PLAYBOOK, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in _events()), encoding="utf-8"
    )
    return run_cli("replay", pb, events, *extra)


def _actions(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Any]:
    tmp = tmp_path_factory.mktemp("replay")
    proc = _replay(
        tmp, "--until", "2026-04-01T00:00:00+08:00", "--state-out", str(tmp / "state.json")
    )
    assert proc.returncode == 0, proc.stderr
    state = json.loads((tmp / "state.json").read_text())
    return _actions(proc.stdout), state


def pick(actions: list[dict[str, Any]], **match: Any) -> list[dict[str, Any]]:
    return [a for a in actions if all(a.get(k) == v for k, v in match.items())]


def test_flow_steps_wait_and_resume_in_virtual_time(replayed: Any) -> None:
    actions, state = replayed
    u1 = [
        (a["type"], a["rule"], a["at"])
        for a in pick(actions, member="u1")
        if a["rule"] in ("welcome", "flows.onboarding")
    ]
    assert u1 == [
        ("start_flow", "welcome", "2026-03-01T10:00:00+08:00"),
        ("send", "flows.onboarding", "2026-03-01T10:00:00+08:00"),
        # day 1: u1 has not posted yet, so the nudge goes out
        ("send", "flows.onboarding", "2026-03-02T10:00:00+08:00"),
        # the post resumes the wait_for
        ("award", "flows.onboarding", "2026-03-02T12:00:00+08:00"),
        ("complete_flow", "flows.onboarding", "2026-03-02T12:00:00+08:00"),
    ]
    u2 = [
        (a["type"], a["params"].get("name") or a["params"].get("reason"), a["at"])
        for a in pick(actions, member="u2", rule="flows.onboarding")
    ][2:]
    assert u2 == [
        ("tag", "onboarding-stalled", "2026-03-05T11:00:00+08:00"),
        ("exit_flow", "exit", "2026-03-05T11:00:00+08:00"),
    ]
    assert state["members"]["u1"]["flows"]["onboarding"]["status"] == "completed"
    assert state["members"]["u2"]["flows"]["onboarding"]["status"] == "exited"
    assert state["members"]["u1"]["balances"] == {"points": 20}


def test_delays_and_silence_fire_in_event_time(replayed: Any) -> None:
    actions, _ = replayed
    assert [(a["member"], a["at"]) for a in pick(actions, rule="day3")] == [
        ("u1", "2026-03-04T10:00:00+08:00"),
        ("u2", "2026-03-04T11:00:00+08:00"),
    ]
    winback = [(a["member"], a["at"]) for a in pick(actions, rule="winback-7d")]
    assert winback == [
        ("u2", "2026-03-08T11:00:00+08:00"),  # from joining
        ("u1", "2026-03-09T12:00:00+08:00"),  # from the post
        ("u3", "2026-03-16T09:30:00+08:00"),
    ]
    # u3 checked in daily: typical gap 1 day, so 3 days of silence is a cycle.
    assert [(a["member"], a["at"]) for a in pick(actions, rule="cycle", type="tag")] == [
        ("u3", "2026-03-12T09:30:00+08:00")
    ]


def test_mute_and_tag_expiry_fire_as_actions(replayed: Any) -> None:
    actions, state = replayed
    assert [
        (a["type"], a["at"])
        for a in pick(actions, member="u3")
        if a["type"] in ("mute", "unmute", "tag", "untag")
    ] == [
        ("mute", "2026-03-09T09:30:00+08:00"),
        ("unmute", "2026-03-11T09:30:00+08:00"),
        ("tag", "2026-03-12T09:30:00+08:00"),
        ("untag", "2026-03-22T09:30:00+08:00"),
    ]
    assert state["members"]["u3"]["status"] == "active"


def test_until_earlier_leaves_timers_pending_and_a_sqlite_replay_resumes_them(
    tmp_path: Path, replayed: Any
) -> None:
    full, _ = replayed
    db = tmp_path / "s.db"
    first = _replay(tmp_path, "--store", f"sqlite:///{db}", "--until", "2026-03-03T00:00:00+08:00")
    assert first.returncode == 0, first.stderr
    second = _replay(tmp_path, "--store", f"sqlite:///{db}", "--until", "2026-04-01T00:00:00+08:00")
    assert second.returncode == 0, second.stderr
    # The second run prints what the first committed, then the rest: the whole replay.
    got = _actions(second.stdout)
    assert got[: len(_actions(first.stdout))] == _actions(first.stdout)
    assert [a["key"] for a in got] == [a["key"] for a in full]
    assert "timers fired" in second.stderr


JOURNEYS = """\
engage_rules: 1
name: journeys
community: {name: t, timezone: Asia/Shanghai}
flows:
  activate:
    exit_on: [member.left]
    goal: {event: checkin, if: "count('checkin') >= 2"}
    steps:
      - if: "member.points > 0"
        then: [{send: {text: 老朋友}}]
        else: [{send: {text: 新朋友}}]
      - wait: 10d
      - send: {text: 还在吗}
rules:
  - {id: go, on: member.joined, do: [{start_flow: activate}]}
  - {id: again, on: poll.voted, do: [{start_flow: {flow: activate, restart: true}}]}
  - {id: stop, on: report.filed, do: [{exit_flow: activate}]}
  - {id: buy, on: purchase, do: [{award: {points: 5, reason: buy}}]}
  - {id: completed, on: flow.completed, do: [{set: {completed: "{{ event.data.reason }}"}}]}
  - {id: exited, on: flow.exited, do: [{set: {exited: "{{ event.data.reason }}"}}]}
  - id: quiet
    on: {silent_for: 3d}
    do: [{set: {quiet_gap: "{{ member.typical_gap }}"}}]
  - id: noticed
    on: member.silent
    do: [{tag: silent}]
"""


def _journey_events() -> list[dict[str, Any]]:
    rows = [
        ("member.joined", "goal", "2026-03-01T10:00:00+08:00"),
        ("checkin", "goal", "2026-03-02T10:00:00+08:00"),
        ("checkin", "goal", "2026-03-03T10:00:00+08:00"),  # goal reached
        ("purchase", "leaver", "2026-03-01T09:00:00+08:00"),
        ("member.joined", "leaver", "2026-03-01T10:00:00+08:00"),
        ("member.left", "leaver", "2026-03-02T10:00:00+08:00"),  # exit_on
        ("member.joined", "again", "2026-03-01T10:00:00+08:00"),
        ("poll.voted", "again", "2026-03-05T10:00:00+08:00"),  # restart: run 2
        ("member.joined", "stop", "2026-03-01T10:00:00+08:00"),
        ("report.filed", "stop", "2026-03-02T10:00:00+08:00"),  # exit_flow
    ]
    rows.sort(key=lambda r: r[2])
    return [event_obj(t, mid, at, id=f"j{n}") for n, (t, mid, at) in enumerate(rows)]


def test_goal_exit_on_restart_exit_flow_and_else_through_replay(tmp_path: Path) -> None:
    pb = tmp_path / "journeys.yaml"
    pb.write_text(JOURNEYS, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in _journey_events()))
    proc = run_cli(
        "replay",
        pb,
        events,
        "--until",
        "2026-03-20T00:00:00+08:00",
        "--state-out",
        tmp_path / "s.json",
    )
    assert proc.returncode == 0, proc.stderr
    actions = _actions(proc.stdout)
    members = json.loads((tmp_path / "s.json").read_text())["members"]

    def flow(mid: str) -> list[tuple[str, Any]]:
        return [
            (a["type"], a["params"].get("text") or a["params"].get("reason"))
            for a in pick(actions, member=mid)
            if a["rule"].startswith("flows.")
        ]

    assert flow("goal") == [("send", "新朋友"), ("complete_flow", "goal")]
    assert members["goal"]["attrs"]["completed"] == "goal"
    assert flow("leaver") == [("send", "老朋友"), ("exit_flow", "exit_on")]
    assert flow("again") == [
        ("send", "新朋友"),
        ("exit_flow", "restart"),
        ("send", "新朋友"),
        ("send", "还在吗"),
        ("complete_flow", "end"),
    ]
    assert members["again"]["flows"]["activate"]["run"] == 2
    assert [a["params"] for a in pick(actions, member="stop", type="exit_flow")] == [
        {"flow": "activate", "run": 1}
    ]
    assert members["stop"]["attrs"]["exited"] == "exit_flow"
    # Silence: from joining (no activity) for members still here; `member.silent` too.
    assert sorted(a["member"] for a in pick(actions, rule="noticed")) == ["again", "goal", "stop"]
    assert members["goal"]["attrs"]["quiet_gap"] is None  # typical_gap unknown
