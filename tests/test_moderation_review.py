"""The review queue and the audit log from the command line: list, approve (through the
engine, idempotent), dismiss, and the JSON Lines export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engage_rules import Engine
from engage_rules.cli import main
from engage_rules.errors import PlaybookError
from engage_rules.features.moderation.review import (
    ReviewError,
    decide_review,
    find_item,
    review_items,
)
from engage_rules.testing import T0, message, open_store
from helpers import playbook
from moderation_helpers import EXAMPLE, EXAMPLE_EVENTS, decide

AT = "2026-03-04T10:00:00+08:00"


@pytest.fixture
def store_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert (
        main(
            [
                "replay",
                str(EXAMPLE),
                str(EXAMPLE_EVENTS),
                "--store",
                url,
                "--actions-out",
                str(tmp_path / "a.jsonl"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    return url


def listed(
    capsys: pytest.CaptureFixture[str], url: str, status: str = "open"
) -> list[dict[str, Any]]:
    assert main(["review", "list", "--store", url, "--json", "--status", status]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_list_shows_open_items_with_the_event(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", "--store", store_url]) == 0
    out, err = capsys.readouterr()
    assert "new-account-links" in out and "cheap-lens.shop" in out and "2 item(s) open" in err
    items = listed(capsys, store_url)
    assert [i["rule"] for i in items] == ["new-account-links", "heated"]
    first = items[0]
    assert first["member"] == "newbie" and first["event"] == "off-new-account-links-1"
    assert first["match"] == "cheap-lens.shop" and first["action"] == "do.1"
    assert first["event_json"]["data"]["text"].startswith("便宜镜头")


def test_approve_applies_the_on_approve_actions_once(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    item = listed(capsys, store_url)[0]
    args = [
        "review",
        "approve",
        item["id"][:8],
        "--store",
        store_url,
        "--playbook",
        str(EXAMPLE),
        "--actor",
        "mod-lin",
        "--at",
        AT,
    ]
    assert main(args) == 0
    out, err = capsys.readouterr()
    actions = [json.loads(line) for line in out.splitlines()]
    assert [a["type"] for a in actions] == ["strike", "warn"]
    strike = actions[0]
    assert strike["member"] == "newbie" and strike["rule"] == "new-account-links"
    assert strike["params"] == {"reason": "广告链接: cheap-lens.shop", "total": 1}
    assert strike["cause"] == f"review:{item['id']}:approve"
    assert "approved by mod-lin: 2 action(s)" in err
    # Approving again does nothing.
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert out == "" and "already approved" in err
    store = open_store(store_url)
    try:
        newbie = store.open().communities["photo"].member("newbie")
        assert len(newbie.strikes) == 1
        assert [e["status"] for e in review_items(store.review_queue())] == ["approved", "open"]
        assert store.is_processed(f"review:{item['id']}:approve")
        outbox = [o.action.key for o in store.outbox()]
        assert len(outbox) == len(set(outbox))
    finally:
        store.close()
    approved = listed(capsys, store_url, "approved")
    assert approved[0]["resolved_by"] == "mod-lin" and approved[0]["resolved_at"] == AT


def test_dismiss_closes_an_item_without_acting(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    heated = listed(capsys, store_url)[1]
    assert (
        main(
            ["review", "dismiss", heated["id"], "--store", store_url, "--actor", "mod", "--at", AT]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert out == "" and "dismissed by mod: 0 action(s)" in err
    assert [i["rule"] for i in listed(capsys, store_url)] == ["new-account-links"]
    # A dismissed item cannot be approved afterwards.
    assert (
        main(["review", "approve", heated["id"], "--store", store_url, "--playbook", str(EXAMPLE)])
        == 1
    )
    assert "already dismissed" in capsys.readouterr().err


def test_the_approval_of_an_item_whose_flag_has_several_actions(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    heated = listed(capsys, store_url)[1]
    assert (
        main(
            [
                "review",
                "approve",
                heated["id"],
                "--store",
                store_url,
                "--playbook",
                str(EXAMPLE),
                "--actor",
                "mod",
                "--at",
                AT,
            ]
        )
        == 0
    )
    actions = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [a["type"] for a in actions] == ["delete_message", "strike", "warn"]
    assert actions[0]["params"]["message_id"] == "msg-off-heated-1"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["review", "approve", "zzzzzzzz"], 1, "no review item 'zzzzzzzz'"),
        (["review", "approve", "abc"], 1, "at least 6 characters"),
        (["review", "approve"], 2, "needs the item's id"),
    ],
)
def test_review_errors(
    store_url: str, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    assert main([*args, "--store", store_url, "--playbook", str(EXAMPLE)]) == code
    assert message in capsys.readouterr().err


def test_approve_needs_the_playbook(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    item = listed(capsys, store_url)[0]
    assert main(["review", "approve", item["id"], "--store", store_url]) == 1
    assert "needs --playbook" in capsys.readouterr().err


def test_review_and_audit_need_a_persistent_store(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["review", "--store", "memory:"]) == 2
    assert main(["audit", "--store", "memory:"]) == 2
    assert "keeps nothing between commands" in capsys.readouterr().err


def test_find_item_is_unambiguous() -> None:
    items = [{"id": "abcdef01"}, {"id": "abcdef02"}]
    assert find_item(items, "abcdef01")["id"] == "abcdef01"
    with pytest.raises(ReviewError, match="matches 2 review items"):
        find_item(items, "abcdef")


def test_audit_export_as_json_lines(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    item = listed(capsys, store_url)[0]
    assert (
        main(
            [
                "review",
                "approve",
                item["id"],
                "--store",
                store_url,
                "--playbook",
                str(EXAMPLE),
                "--actor",
                "mod-lin",
                "--at",
                AT,
            ]
        )
        == 0
    )
    out = tmp_path / "audit.jsonl"
    assert main(["audit", "--store", store_url, "--out", str(out)]) == 0
    entries = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all({"at", "rule", "event", "reason", "actor", "action"} <= set(e) for e in entries)
    last = entries[-3:]
    assert [e["action"] for e in last] == ["strike", "warn", "review.approve"]
    assert {e["actor"] for e in last} == {"mod-lin"}
    capsys.readouterr()
    assert (
        main(["audit", "--store", store_url, "--member", "newbie", "--rule", "new-account-links"])
        == 0
    )
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["action"] for r in rows] == [
        "delete_message",
        "flag_for_review",
        "strike",
        "review.approve",
    ]


def _ladder_flag_playbook(extra: str) -> str:
    return f"""
moderation:
  strikes:
    ladder:
      - {{at: 1, do: [{{flag_for_review: {{reason: first strike{extra}}}}}]}}
rules:
  - id: banned
    on: message.posted
    if: "contains_any(event.data.text, ['代刷'])"
    do: [{{strike: {{reason: x}}}}]
"""


def test_flags_of_the_strike_ladder_are_approved_without_actions() -> None:
    with pytest.raises(PlaybookError, match="`on_approve` is for flags in rules"):
        playbook(_ladder_flag_playbook(", on_approve: [{ban: {}}]"))
    engine = Engine(playbook(_ladder_flag_playbook("")))
    [d] = decide(engine, message("u1", "代刷"))
    [item] = review_items(d.review)
    assert item["rule"] == "moderation.strikes"
    verdict = decide_review(engine, item, "approve", "mod", T0)
    assert verdict.actions == []
    assert [r["status"] for r in verdict.review] == ["approved"]
