"""Rule traces and `engage-rules explain` (issue 7): why a rule did or did not fire."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from engage_rules import Engine
from engage_rules.cli import main
from engage_rules.shell.reader import Quarantined, read_events
from engage_rules.store.sqlite import SQLiteStore
from engage_rules.testing import after, event, event_obj, load
from helpers import playbook

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = [
    ("rules/starter/community.yaml", "examples/starter-events.jsonl"),
    ("rules/points-community/community.yaml", "examples/rewards-events.jsonl"),
    ("rules/moderation/community.yaml", "examples/moderation-events.jsonl"),
]
UNTIL = datetime.fromisoformat("2026-05-01T12:00:00+08:00")


def _replay(pb_path: str, events: str, trace: bool) -> tuple[list[Any], Any, int]:
    eng = Engine(load(ROOT / pb_path), trace=trace)
    actions: list[Any] = []
    traces = 0
    decisions = []
    for _, item in read_events(str(ROOT / events)):
        if not isinstance(item, Quarantined):
            decisions.extend(eng.process(item))
    decisions.extend(eng.advance_to(UNTIL))
    for d in decisions:
        actions.extend(a.to_json() for a in d.actions)
        traces += len(d.traces)
    return actions, eng.state.snapshot(), traces


@pytest.mark.parametrize(("pb_path", "events"), EXAMPLES)
def test_a_traced_run_decides_exactly_what_an_untraced_one_does(pb_path: str, events: str) -> None:
    plain_actions, plain_state, none = _replay(pb_path, events, trace=False)
    traced_actions, traced_state, traces = _replay(pb_path, events, trace=True)
    assert none == 0 and traces > 0
    assert traced_actions == plain_actions
    assert traced_state == plain_state


OUTCOMES = """
vars: {min: 20}
rules:
  - id: staff-only
    on: message.posted
    exempt: {roles: [vip]}
    if: "member.points >= 0"
    do: [{tag: {name: seen}}]
  - id: first
    on: message.posted
    once: true
    do: [{award: {points: 1}}]
  - id: long-post
    on: message.posted
    cooldown: 1h
    if: "event.data.text | length >= vars.min and not ('spam' in event.data.text)"
    do: [{award: {points: 5}}]
  - id: flood
    on: message.posted
    threshold: {count: 3, within: 1m}
    do: [{warn: {text: slow down}}]
  - id: shop
    on: redeem.requested
    do: [{spend: {points: 100}}]
    else: [{send: {text: not enough}}]
  - id: picky
    on: redeem.requested
    if: "event.data.item == 'mug'"
    do: [{tag: {name: mug}}]
    else: [{tag: {name: no-mug}}]
  - id: broken
    on: redeem.requested
    if: "event.data.qty + 1 > 2"
    stop: true
    do: [{tag: {name: qty}}]
  - id: stopper
    on: checkin
    stop: true
    do: [{award: {points: 1}}]
  - id: after-stop
    on: checkin
    do: [{award: {points: 1}}]
"""


def _rules(eng: Engine, event: Any) -> dict[str, dict[str, Any]]:
    decisions = eng.process(event)
    trace = decisions[-1].traces[0]
    assert trace["event"] == event.id and trace["member"] == "u1"
    return {r["rule"]: r for r in trace["rules"]}


def test_each_outcome_is_recorded_with_its_reason() -> None:
    eng = Engine(playbook(OUTCOMES), trace=True)
    first = _rules(eng, event("message.posted", roles=["vip"], text="a long enough post here"))
    assert first["staff-only"]["outcome"] == "exempt"
    assert first["staff-only"]["roles"] == ["vip"]
    assert first["first"]["outcome"] == "fired"
    assert first["first"]["actions"] == [
        {
            "type": "award",
            "member": "u1",
            "params": {"currency": "points", "amount": 1, "reason": "first"},
        }
    ]
    long_post = first["long-post"]
    assert long_post["outcome"] == "fired" and long_post["line"] > 0
    assert long_post["file"] == "test.yaml"
    assert long_post["condition"]["value"] is True
    assert long_post["condition"]["parts"][0] == {
        "text": "event.data.text | length >= vars.min",
        "value": True,
        "parts": [{"text": "event.data.text | length", "value": 23}],
    }
    assert first["flood"] == {
        "rule": "flood",
        "file": "test.yaml",
        "line": first["flood"]["line"],
        "outcome": "threshold",
        "count": 1,
        "needed": 3,
        "within": 60.0,
    }

    second = _rules(eng, event("message.posted", at=30, text="spam spam spam spam spam!"))
    assert second["first"]["outcome"] == "once"
    assert second["long-post"]["outcome"] == "cooldown"
    assert second["long-post"]["remaining"] == 3600 - 30
    third = _rules(eng, event("message.posted", at=40, text="short"))
    assert third["flood"]["outcome"] == "fired" and third["flood"]["threshold_reached"] == 3
    after_cooldown = _rules(eng, event("message.posted", at=4000, text="spam spam spam spam spam!"))
    cond = after_cooldown["long-post"]["condition"]
    assert after_cooldown["long-post"]["outcome"] == "condition_false"
    assert [p["value"] for p in cond["parts"]] == [True, False]

    shop = _rules(eng, event("redeem.requested", at=4100, item="cup", qty="x"))
    assert shop["shop"]["outcome"] == "refused_else"
    assert [a["type"] for a in shop["shop"]["actions"]] == ["send"]
    assert shop["picky"]["outcome"] == "else"
    assert shop["picky"]["actions"][0]["params"] == {"name": "no-mug"}
    assert shop["broken"]["outcome"] == "error" and "qty" in shop["broken"]["condition"]["text"]

    checkin = _rules(eng, event("checkin", at=4200))
    assert checkin["stopper"]["outcome"] == "fired"
    assert checkin["after-stop"] == {
        "rule": "after-stop",
        "file": "test.yaml",
        "line": checkin["after-stop"]["line"],
        "outcome": "not_reached",
        "stopped_by": "stopper",
    }


def _write(tmp_path: Path, events: list[dict[str, Any]]) -> tuple[str, str]:
    pb = tmp_path / "community.yaml"
    pb.write_text(
        "engage_rules: 1\nname: t\ncommunity: {timezone: Asia/Shanghai}\n" + OUTCOMES,
        encoding="utf-8",
    )
    path = tmp_path / "events.jsonl"
    path.write_text("".join(orjson.dumps(e).decode() + "\n" for e in events), encoding="utf-8")
    return str(pb), str(path)


EVENTS = [
    event_obj("message.posted", "u1", after(minutes=1), id="e1", text="a long enough post here"),
    event_obj("message.posted", "u1", after(minutes=2), id="e2", text="hi"),
    event_obj("message.posted", "u1", after(minutes=3), id="e3", text="another long post!!!"),
    event_obj(
        "message.posted", "u2", after(minutes=4), id="e4", text="a post by someone else entirely"
    ),
]


def test_explain_an_event_from_a_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pb, events = _write(tmp_path, EVENTS)
    assert main(["explain", pb, events, "--event", "e2"]) == 0
    out = capsys.readouterr().out
    assert "e2 · message.posted · member u1 · 2026-03-02 10:02:00+0800" in out
    assert 'data: {"text": "hi"}' in out
    assert f"✘ first ({pb}:" in out
    assert "did not fire: it has `once: true` and already fired for this member" in out
    assert f"✘ long-post ({pb}:" in out and "did not fire: it is cooling down" in out
    assert (
        "it last fired for this member at 2026-03-02 10:01:00+0800; it waits 1h "
        "between firings (59m to go)" in out
    )
    # e1 came exactly a minute before: the window (the last 60 s) no longer holds it
    assert "1 of 3 matching events within 1m so far" in out


def test_explain_why_a_member_did_not_get_a_reward(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [
        *EVENTS,
        event_obj("message.posted", "u1", after(days=1, minutes=5), id="e5", text="short"),
        event_obj(
            "message.posted",
            "u1",
            after(days=1, minutes=6),
            id="e6",
            text="a long enough post, next day",
        ),
    ]
    pb, path = _write(tmp_path, events)
    assert main(["explain", pb, path, "--member", "u1", "--rule", "long-post"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("rule long-post for member u1: 5 events")
    assert "event.data.text | length  →  5" in out  # the short post, e5
    assert out.rstrip().endswith(
        "in short: long-post fired 2 of 5 times for u1; it did not fire because: "
        "cooldown ×2, condition false ×1"
    )
    assert main(["explain", pb, path, "--member", "u1"]) == 0
    summary = capsys.readouterr().out.splitlines()
    assert summary[0] == "member u1: 5 traced events"
    assert summary[2].endswith(
        "e2  message.posted: fired staff-only; not: first (once), "
        "long-post (cooldown), flood (threshold 1/3)"
    )


def test_a_rule_that_never_saw_the_member(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pb, path = _write(tmp_path, EVENTS)
    assert main(["explain", pb, path, "--member", "u2", "--rule", "shop"]) == 0
    assert (
        "rule shop never saw an event of member u2: it listens to other event types "
        "than the 1 traced events of u2 (message.posted ×1)." in capsys.readouterr().out
    )
    # A rule nobody wrote is an error (exit 1), with the rule it likely means.
    assert main(["explain", pb, path, "--member", "u2", "--rule", "log-post"]) == 1
    assert "no rule is named 'log-post'; did you mean 'long-post'?" in capsys.readouterr().err


def test_explain_from_a_store_written_with_tracing_and_its_retention(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [
        *EVENTS,
        event_obj(
            "message.posted",
            "u1",
            after(days=7, minutes=7),
            id="e7",
            text="a long enough post, a week on",
        ),
    ]
    pb, path = _write(tmp_path, events)
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert (
        main(
            [
                "replay",
                pb,
                path,
                "--store",
                url,
                "--trace",
                "--trace-keep",
                "2d",
                "--actions-out",
                str(tmp_path / "a.jsonl"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    # e1..e4 (day 2) are more than two days older than e7 (day 9): pruned
    assert main(["explain", "--store", url, "--event", "e7", "--json"]) == 0
    traces = orjson.loads(capsys.readouterr().out)
    assert [t["event"] for t in traces] == ["e7"]
    assert main(["explain", "--store", url, "--event", "e2"]) == 1
    assert "no trace of event 'e2'" in capsys.readouterr().out
    store = SQLiteStore(tmp_path / "s.db")
    assert [t["event"] for t in store.traces()] == ["e7"]
    store.close()


def test_a_replay_without_trace_records_none(tmp_path: Path) -> None:
    pb, path = _write(tmp_path, EVENTS)
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert (
        main(["replay", pb, path, "--store", url, "--actions-out", str(tmp_path / "a.jsonl")]) == 0
    )
    store = SQLiteStore(tmp_path / "s.db")
    assert store.traces() == []
    store.close()


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["explain", "--event", "e1"], 2, "give a playbook and an event file"),
        (["explain", "P", "E", "--store", "sqlite:///x.db", "--event", "e1"], 2, "not both"),
        (["explain", "--store", "memory:", "--event", "e1"], 2, "keeps nothing between"),
    ],
)
def test_explain_usage_errors(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == code
    assert message in capsys.readouterr().err


def test_explain_reports_an_invalid_playbook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "engage_rules: 1\nrules:\n  - id: x\n    on: checkin\n    do: [{awrd: {}}]\n",
        encoding="utf-8",
    )
    assert main(["explain", str(bad), str(tmp_path / "none.jsonl"), "--event", "e1"]) == 1
    assert f"{bad}:5:" in capsys.readouterr().err
