"""The moderation example (rules/moderation/) replays its sample events and handles each
offence as its README says, touching no clean message."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from engage_rules.cli import main
from engage_rules.testing import open_store
from moderation_helpers import EXAMPLE, EXAMPLE_EVENTS, PUNITIVE, ROOT

sys.path.insert(0, str(ROOT / "examples"))
import make_moderation_events

#: What each offence of the sample triggers (README.md, "What each offence triggers").
EXPECTED: dict[str, tuple[str, list[str]]] = {
    "off-banned-1": ("banned-words", ["delete_message", "strike", "warn"]),
    "off-ads-1": ("ads", ["delete_message", "strike", "mute"]),
    "off-contact-1": ("contact-info", ["delete_message", "strike", "mute"]),
    "off-banned-2": ("banned-words", ["delete_message", "strike", "ban"]),
    "off-contact-2": ("contact-info", ["delete_message", "strike", "warn"]),
    "off-contact-3": ("contact-info", ["delete_message", "strike", "mute"]),
    "off-ads-2": ("ads", ["delete_message", "strike", "mute"]),
    "off-banned-3": ("banned-words", ["delete_message", "strike", "ban"]),
    "off-hidden-links-1": ("hidden-links", ["delete_message", "strike", "warn"]),
    "off-hidden-links-2": ("hidden-links", ["delete_message", "strike", "mute"]),
    "off-abuse-1": ("abuse", ["delete_message", "strike", "warn"]),
    "off-abuse-2": ("abuse", ["delete_message", "strike", "mute"]),
    "off-mass-mentions-1": ("mass-mentions", ["delete_message", "strike", "warn"]),
    "off-new-account-links-1": ("new-account-links", ["delete_message", "flag_for_review"]),
    "off-heated-1": ("heated", ["flag_for_review"]),
    "off-shouting-1": ("shouting", ["warn"]),
    "off-repeated-text-1": ("repeated-text", ["delete_message", "strike", "warn"]),
    "off-flood-1": ("flood", ["mute", "strike", "warn"]),
    "off-ads-3": ("ads", ["delete_message", "strike"]),
    "mod-delete-1": ("post-removed", ["revoke"]),
    "mod-strike-1": ("moderation.strike", ["strike", "mute"]),
    "mod-reset-1": ("moderation.strike_reset", ["reset_strikes"]),
}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("example")
    db = folder / "state.db"
    out = folder / "actions.jsonl"
    code = main(
        [
            "replay",
            str(EXAMPLE),
            str(EXAMPLE_EVENTS),
            "--store",
            f"sqlite:///{db}",
            "--actions-out",
            str(out),
            "--until",
            "2026-03-05T00:00:00+08:00",
        ]
    )
    assert code == 0
    actions = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    store = open_store(f"sqlite:///{db}")
    try:
        audit = store.audit_log()
        review = store.review_queue()
        errors = store.rule_errors()
        state = store.open().load_all_members()
    finally:
        store.close()
    return {
        "actions": actions,
        "audit": audit,
        "review": review,
        "errors": errors,
        "state": state,
        "db": db,
    }


def test_the_sample_events_are_what_the_generator_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "events.jsonl"
    monkeypatch.setattr(sys, "argv", ["make_moderation_events.py", str(out)])
    make_moderation_events.main()
    assert out.read_text(encoding="utf-8") == EXAMPLE_EVENTS.read_text(encoding="utf-8")


def test_each_offence_is_handled_as_documented(replayed: dict[str, Any]) -> None:
    by_cause: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in replayed["actions"]:
        if a["type"] != "award":
            by_cause[a["cause"]].append(a)
    for cause, (rule, types) in EXPECTED.items():
        got = by_cause[cause]
        assert [a["type"] for a in got] == types, cause
        assert got[0]["rule"] == rule, cause
    offences = {c for c in by_cause if c.startswith(("off-", "mod-"))}
    assert offences == set(EXPECTED)
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    for rule, _ in EXPECTED.values():
        assert f"`{rule}`" in readme


def test_the_audit_log_shows_every_moderation_action(replayed: dict[str, Any]) -> None:
    audit = replayed["audit"]
    moderation = [
        a
        for a in replayed["actions"]
        if a["type"] in PUNITIVE | {"warn", "unmute", "reset_strikes"}
    ]
    assert len(audit) == len(moderation)
    for entry in audit:
        assert set(entry) >= {"at", "rule", "event", "member", "action", "reason", "actor"}
    strike = next(e for e in audit if e["event"] == "off-contact-3" and e["action"] == "strike")
    assert strike["reason"] == "留联系方式: 13800138000" and strike["actor"] == "engine"
    manual = [e for e in audit if e["event"] == "mod-strike-1"]
    assert {e["actor"] for e in manual} == {"mod"}


def test_no_clean_message_is_touched(replayed: dict[str, Any]) -> None:
    clean = {
        a["cause"]
        for a in replayed["actions"]
        if a["cause"].startswith("ok-") and a["type"] != "award"
    }
    assert clean == set()
    assert not [e for e in replayed["audit"] if str(e["event"]).startswith("ok-")]
    # The forged strike is refused with a recorded error, and changes nothing.
    [error] = replayed["errors"]
    assert error.cause == "ok-forged-strike" and "not a moderator" in error.message
    photo = replayed["state"].communities["photo"]
    assert photo.member("alice").strikes == []
    for mid in ("alice", "bob", "carol", "mod"):
        assert photo.member(mid).status == "active"


def test_final_state_of_the_offenders(replayed: dict[str, Any]) -> None:
    photo = replayed["state"].communities["photo"]
    assert photo.member("spammer").status == "banned"
    assert photo.member("lurer").status == "banned"  # resetting strikes does not lift a ban
    assert all(s.expires is not None for s in photo.member("lurer").strikes)
    assert photo.member("flooder").status == "active"  # the 10-minute mute expired
    assert photo.member("alice").balances == {
        "points": sum(
            5 for a in replayed["actions"] if a["type"] == "award" and a["member"] == "alice"
        )
        - 5
    }
    assert [i["rule"] for i in replayed["review"]] == ["new-account-links", "heated"]
