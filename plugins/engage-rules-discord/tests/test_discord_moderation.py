"""End to end: recorded Discord gateway payloads → the adapter → the shipped moderation
playbook (rules/moderation) → the actions it takes.  An edit, a hidden link, a forward
and an album each reach the moderation rules (a Discord message holds all its
attachments: an album is one message, so one post)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engage_rules_discord.plugin import DiscordAdapter

from engage_rules import Engine, load
from engage_rules.testing import actions_from_payloads

DATA = Path(__file__).parent / "data"
MODERATION = Path(__file__).resolve().parents[3] / "rules" / "moderation"
AMING = "1067468743521075230"


def payload(name: str) -> dict[str, Any]:
    p: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    p["received_at"] = "2026-03-02T12:30:00+00:00"
    return p


def run(*payloads: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    adapter = DiscordAdapter({"token": "x", "guilds": {"81384788765712384": "fans"}})
    actions = actions_from_payloads(adapter, Engine(load(MODERATION)), payloads)
    return [
        (a["type"], a["member"], a.get("rule") or "", a.get("params", {}).get("message_id", ""))
        for a in actions
    ]


def test_an_ad_added_by_editing_is_deleted_and_the_edit_earns_nothing() -> None:
    posted = payload("message_create")  # 20+ characters: a quality post
    posted["d"]["content"] = "分享一组上周末拍的街头摄影作品，欢迎大家点评交流"
    assert run(posted, payload("message_update_edit")) == [
        ("award", AMING, "quality-post", ""),
        ("delete_message", AMING, "ads", "1478002685239230471"),
        ("strike", AMING, "ads", ""),
        ("warn", AMING, "moderation.strikes", ""),
    ]


def test_a_link_behind_an_embed_is_deleted() -> None:
    assert run(payload("message_hidden_links"))[:2] == [
        ("delete_message", AMING, "hidden-links", "1478003000000000002"),
        ("strike", AMING, "hidden-links", ""),
    ]


def test_the_same_words_without_the_embed_and_button_are_left_alone() -> None:
    plain = payload("message_hidden_links")
    plain["d"]["embeds"] = []
    plain["d"]["components"] = []
    assert run(plain) == []


def test_a_forwarded_ad_is_deleted() -> None:
    assert run(payload("message_forward"))[:2] == [
        ("delete_message", AMING, "ads", "1478003000000000001"),
        ("strike", AMING, "ads", ""),
    ]


def _album(message_id: int, photos: int, text: str) -> dict[str, Any]:
    """The recorded album (one MESSAGE_CREATE with four photos) with ``photos`` photos."""
    p = payload("message_album")
    first = p["d"]["attachments"][0]
    p["s"] += message_id
    p["d"]["id"] = str(1478003000000000003 + message_id)
    p["d"]["content"] = text
    p["d"]["attachments"] = [{**first, "id": str(int(first["id"]) + i)} for i in range(photos)]
    return p


def test_an_album_with_an_ad_in_its_caption_is_deleted_once() -> None:
    assert run(payload("message_album")) == [
        ("delete_message", AMING, "ads", "1478003000000000003"),
        ("strike", AMING, "ads", ""),
        ("warn", AMING, "moderation.strikes", ""),
    ]


def test_an_album_counts_as_one_post_towards_a_flood() -> None:
    # Ten photos (Discord's most in one message), sent at once: one post, no flood.
    assert run(_album(0, 10, "")) == []
    # Six messages of one photo each within thirty seconds are six posts: a flood.
    flood = run(*(_album(i, 1, "") for i in range(6)))
    assert [(kind, rule) for kind, _, rule, _ in flood][:2] == [
        ("mute", "flood"),
        ("strike", "flood"),
    ]
