"""End to end: recorded Telegram updates → the adapter → the shipped moderation playbook
(rules/moderation) → the actions it takes.  An edit, a hidden link, a forward and an album
each reach the moderation rules."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from engage_rules_telegram.plugin import TelegramAdapter

from engage_rules import Engine, load
from engage_rules.testing import actions_from_payloads

DATA = Path(__file__).parent / "data"
MODERATION = Path(__file__).resolve().parents[3] / "rules" / "moderation"
CHAT = -1001234567890
LINKER = "6555555555"
SARA = "6098765432"


def update(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def run(*updates: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(type, member, rule, message id) of every action the playbook takes."""
    adapter = TelegramAdapter({"token": "1:x", "chats": {str(CHAT): "fans"}})
    actions = actions_from_payloads(adapter, Engine(load(MODERATION)), updates)
    return [
        (
            a["type"],
            a["member"],
            a.get("rule") or "",
            str(a.get("params", {}).get("message_id", "")),
        )
        for a in actions
    ]


def test_an_ad_added_by_editing_is_deleted_and_the_edit_earns_nothing() -> None:
    clean = update("edited_message_ad")
    original = copy.deepcopy(clean["edited_message"])
    del original["edit_date"]
    original["text"] = "分享一组上周末拍的街头摄影作品，欢迎大家点评交流"
    posted = {"update_id": clean["update_id"] - 1, "message": original}
    assert run(posted, clean) == [
        ("award", LINKER, "quality-post", ""),
        ("delete_message", LINKER, "ads", "4532"),
        ("strike", LINKER, "ads", ""),
        ("warn", LINKER, "moderation.strikes", ""),
    ]


def test_a_shortened_link_hidden_behind_words_is_deleted() -> None:
    assert run(update("message_text_link"))[:2] == [
        ("delete_message", LINKER, "hidden-links", "4530"),
        ("strike", LINKER, "hidden-links", ""),
    ]


def test_the_same_words_without_the_hidden_link_are_left_alone() -> None:
    plain = update("message_text_link")
    del plain["message"]["entities"]
    del plain["message"]["reply_markup"]
    assert run(plain) == []


def test_a_forwarded_ad_is_deleted() -> None:
    assert run(update("message_forwarded"))[:2] == [
        ("delete_message", SARA, "ads", "4533"),
        ("strike", SARA, "ads", ""),
    ]


def test_a_hidden_link_in_a_later_album_caption_is_deleted_and_the_album_is_one_post() -> None:
    got = run(update("album_1"), update("album_2"), update("album_3"))
    assert got[:2] == [
        ("delete_message", SARA, "hidden-links", "4542"),
        ("strike", SARA, "hidden-links", ""),
    ]


def test_an_album_counts_as_one_post_towards_a_flood() -> None:
    items = []
    for i in range(8):  # an album of eight photos, sent at once
        item = update("album_2")
        item["update_id"] += i
        item["message"]["message_id"] = 4600 + i
        items.append(item)
    assert run(*items) == []


def test_stickers_and_photo_albums_are_not_repeated_text() -> None:
    # Three stickers and three captionless albums in a few minutes carry no text: the
    # repeated-text rule (the same text three times in ten minutes) leaves them alone.
    sent = []
    for i in range(3):
        sticker = update("message_sticker")
        sticker["update_id"] += i
        sticker["message"]["message_id"] += i
        sticker["message"]["date"] += 60 * i
        album = update("album_2")
        album["update_id"] += 100 + i
        album["message"]["message_id"] += 100 + i
        album["message"]["media_group_id"] = f"1396244876543210{i}"
        album["message"]["date"] += 60 * i
        sent += [sticker, album]
    assert run(*sent) == []
