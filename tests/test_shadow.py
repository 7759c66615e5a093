"""Shadow mode (issue 7): a rule or a whole playbook decides and records, but never acts."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from engage_rules import Engine
from engage_rules.cli import main
from engage_rules.runtime.config import DispatchConfig
from engage_rules.runtime.dispatcher import Dispatcher
from engage_rules.store.sqlite import SQLiteStore
from engage_rules.testing import FakeAdapter, event
from helpers import playbook, run

RULES = """
templates:
  banned: "{{ member.name }} would be banned"
rules:
  - id: quality-post
    on: message.posted
    if: "event.data.text | length >= 10"
    do: [{award: {points: 5}}]
  - id: strict-ban
    shadow: true
    on: message.posted
    if: "'spam' in event.data.text"
    cooldown: 1h
    do:
      - ban: {reason: "spam"}
      - award: {points: 50}
      - send: {template: banned}
  - id: bonus-shop
    shadow: true
    on: redeem.requested
    do: [{spend: {points: 8, reason: "sticker"}}, {tag: {name: buyer}}]
    else: [{send: {text: "not enough points"}}]
"""


def test_a_shadow_rule_records_what_it_would_do_and_changes_nothing() -> None:
    eng = Engine(playbook(RULES))
    actions = run(
        eng,
        event("message.posted", text="buy spam here now"),
        event("message.posted", at=60, text="more spam, more spam"),  # within the cooldown
        event("message.posted", at=7200, text="spam again, two hours on"),
    )
    live = [a for a in actions if not a.shadow]
    shadow = [a for a in actions if a.shadow]
    assert [a.type for a in live] == ["award"] * 3
    assert [(a.type, a.rule) for a in shadow] == [
        ("ban", "strict-ban"),
        ("award", "strict-ban"),
        ("send", "strict-ban"),
    ] * 2
    ban, award, send = shadow[:3]
    assert ban.params == {"reason": "spam"} and ban.member == "u1"
    assert award.params["points"] == 50
    assert send.params == {"template": "banned", "text": "u1 would be banned"}
    assert all(a.to_json()["shadow"] is True for a in shadow)
    assert "shadow" not in live[0].to_json()
    m = eng.state.community("default").members["u1"]
    assert m.status == "active"  # not banned
    assert m.balances["points"] == 15  # only the live rule's awards
    assert m.ledger_seq == 3


def test_a_shadow_spend_is_refused_as_it_would_be_and_spends_nothing() -> None:
    eng = Engine(playbook(RULES))
    poor = run(eng, event("redeem.requested", item="sticker"))
    assert [(a.type, a.shadow) for a in poor] == [("send", True)]
    assert poor[0].params == {"text": "not enough points"}
    run(
        eng,
        event("message.posted", at=10, text="a long enough post"),
        event("message.posted", at=20, text="another long post"),
    )
    rich = run(eng, event("redeem.requested", at=30, item="sticker"))
    assert [(a.type, a.shadow) for a in rich] == [("spend", True), ("tag", True)]
    m = eng.state.community("default").members["u1"]
    assert m.balances["points"] == 10 and "buyer" not in m.tags


def test_a_shadow_playbook_runs_in_full_but_every_action_is_shadow() -> None:
    pb = playbook(
        "shadow: true\n"
        "rules:\n"
        "  - id: post\n    on: message.posted\n"
        "    do: [{award: {points: 5}}, {tag: {name: poster}}]\n"
    )
    eng = Engine(pb)
    actions = run(eng, event("message.posted", text="hello"))
    assert [(a.type, a.shadow) for a in actions] == [("award", True), ("tag", True)]
    m = eng.state.community("default").members["u1"]
    assert m.balances["points"] == 5 and "poster" in m.tags  # its own state advances


def test_shadow_actions_reach_the_outbox_but_never_an_adapter(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("engage_rules: 1\nname: t\n" + RULES, encoding="utf-8")
    events = tmp_path / "e.jsonl"
    events.write_text(
        "\n".join(
            orjson.dumps(o).decode()
            for o in [
                {
                    "id": "e1",
                    "type": "message.posted",
                    "at": "2026-03-02T10:00:00+08:00",
                    "member": {"id": "u1"},
                    "data": {"text": "spam spam spam spam"},
                },
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert (
        main(
            [
                "replay",
                str(tmp_path / "p.yaml"),
                str(events),
                "--store",
                url,
                "--actions-out",
                str(tmp_path / "a.jsonl"),
            ]
        )
        == 0
    )
    printed = [orjson.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [(a["type"], a.get("shadow", False)) for a in printed] == [
        ("award", False),
        ("ban", True),
        ("award", True),
        ("send", True),
    ]
    store = SQLiteStore(tmp_path / "s.db")
    assert [i.action.type for i in store.outbox(status="shadow")] == ["ban", "award", "send"]
    adapter = FakeAdapter()
    dispatcher = Dispatcher(store, {"platform": adapter}, DispatchConfig(default="platform"))
    for _ in range(5):
        dispatcher.pump()
    assert [a["type"] for a in adapter.delivered] == ["award"]
    assert {i.status for i in store.outbox(status="shadow")} == {"shadow"}
    store.close()


def test_replay_summary_counts_shadow_actions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.yaml").write_text("engage_rules: 1\nname: t\n" + RULES, encoding="utf-8")
    events = tmp_path / "e.jsonl"
    events.write_text(
        orjson.dumps(
            {
                "id": "e1",
                "type": "message.posted",
                "at": "2026-03-02T10:00:00+08:00",
                "member": {"id": "u1"},
                "data": {"text": "spam spam spam spam"},
            }
        ).decode()
        + "\n",
        encoding="utf-8",
    )
    assert main(["replay", str(tmp_path / "p.yaml"), str(events)]) == 0
    err = capsys.readouterr().err
    assert "actions: 1 (award: 1)" in err
    assert "shadow actions (not delivered): 3 (award: 1, ban: 1, send: 1)" in err


def test_shadow_must_be_a_boolean() -> None:
    from engage_rules.errors import PlaybookError

    with pytest.raises(PlaybookError, match="shadow"):
        playbook(
            "rules:\n  - id: r\n    on: checkin\n    shadow: maybe\n"
            "    do: [{award: {points: 1}}]\n"
        )


def test_playbook_tests_can_expect_shadow_actions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.yaml").write_text("engage_rules: 1\nname: t\n" + RULES, encoding="utf-8")
    (tmp_path / "p.test.yaml").write_text(
        """
playbook: p.yaml
cases:
  - name: the shadow ban is recorded, not carried out
    events:
      - {type: message.posted, member: u1, data: {text: "spam spam spam"}}
    expect:
      actions:
        - {type: award, rule: quality-post}
        - {type: ban, member: u1, shadow: true}
      members:
        u1: {points: 5, status: active}
  - name: a live ban would not match a shadow expectation
    events:
      - {type: message.posted, member: u1, data: {text: "spam spam spam"}}
    expect:
      not_actions:
        - {type: ban, shadow: false}
""",
        encoding="utf-8",
    )
    assert main(["test", str(tmp_path / "p.test.yaml")]) == 0, capsys.readouterr().out


def test_report_shows_what_shadow_rules_would_have_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.yaml").write_text("engage_rules: 1\nname: t\n" + RULES, encoding="utf-8")
    events = tmp_path / "e.jsonl"
    events.write_text(
        "".join(
            orjson.dumps(o).decode() + "\n"
            for o in [
                {
                    "id": "e1",
                    "type": "message.posted",
                    "at": "2026-03-02T10:00:00+08:00",
                    "member": {"id": "u1"},
                    "data": {"text": "spam spam spam spam"},
                },
                {
                    "id": "e2",
                    "type": "message.posted",
                    "at": "2026-03-02T10:30:00+08:00",
                    "member": {"id": "u1"},
                    "data": {"text": "spam again within the hour"},
                },
                {
                    "id": "e3",
                    "type": "message.posted",
                    "at": "2026-03-02T11:00:00+08:00",
                    "member": {"id": "u2"},
                    "data": {"text": "more spam from u2 today"},
                },
            ]
        ),
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    assert main(["replay", str(tmp_path / "p.yaml"), str(events), "--store", url]) == 0
    capsys.readouterr()
    assert main(["report", "--store", url, "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    # strict-ban fired for u1 once (its 1h cooldown held back e2) and for u2 once
    assert report["shadow"] == [
        {"rule": "strict-ban", "action": action, "actions": 2, "members": 2}
        for action in ("award", "ban", "send")
    ]
    assert {r["rule"] for r in report["rules"]} == {"quality-post"}
