"""What moderation needs, in the events: edits, every URL, forwards, albums, stickers,
forum topics, invite links and migrations (recorded updates in tests/data, README.md
there cites their sources)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from engage_rules_telegram.fields import Skip
from engage_rules_telegram.mapping import MappingConfig, map_update, parse_update
from engage_rules_telegram.parser import UpdateParser
from engage_rules_telegram.plugin import TelegramAdapter

from engage_rules.events import event_to_json
from engage_rules.runtime.config import load_config
from engage_rules.runtime.service import Service

DATA = Path(__file__).parent / "data"
CHAT = -1001234567890
FANS = {str(CHAT): "fans"}


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def adapter(chats: dict[str, str] | None = None) -> TelegramAdapter:
    return TelegramAdapter({"token": "1:x", "chats": FANS if chats is None else chats})


def events(a: TelegramAdapter, *names: str) -> list[dict[str, Any]]:
    return [event_to_json(e) for name in names for e in a.parse(load(name))]


def test_a_link_hidden_behind_words_and_a_button_link_are_in_data_links() -> None:
    [e] = events(adapter(), "message_text_link")
    assert e["data"]["text"] == "点这里看完整的摄影教程合集，全部免费"
    assert e["data"]["links"] == ["https://bit.ly/3xYzAbc", "https://cheap-lens.shop/free"]


def test_a_visible_url_is_cut_from_the_text_in_utf16_units() -> None:
    [e] = events(adapter(), "message_url_entity")
    assert e["data"]["links"] == ["https://example.com/guide"]


def test_an_edit_is_message_edited_with_the_new_text_dated_at_the_edit() -> None:
    [e] = events(adapter(), "edited_message_ad")
    assert e["type"] == "message.edited"
    assert e["id"] == f"telegram:{CHAT}:4532:edited:1772454080"
    assert e["at"] == "2026-03-02T12:21:20+00:00"
    assert e["data"] == {
        "text": "分享一组街头摄影作品，加微信 领福利",
        "message_id": "4532",
        "kind": "text",
    }


def test_forwards_are_marked_with_their_origin() -> None:
    user, channel = events(adapter(), "message_forwarded", "message_forwarded_channel")
    assert user["data"]["forwarded"] is True
    assert user["data"]["forward_origin"] == {
        "type": "user",
        "date": "2026-03-02T11:13:20+00:00",
        "id": "5012345678",
        "name": "阿明 李",
    }
    assert channel["data"]["forward_origin"] == {
        "type": "channel",
        "date": "2026-03-02T08:26:40+00:00",
        "id": "-1009876543210",
        "name": "摄影频道",
        "message_id": "77",
    }


def test_legacy_forward_fields_alone_are_read_too() -> None:
    update = load("message_forwarded")
    del update["message"]["forward_origin"]
    [e] = parse_update(update, MappingConfig(chats=FANS))
    assert e.data["forward_origin"] == {
        "type": "user",
        "date": "2026-03-02T11:13:20+00:00",
        "id": "5012345678",
        "name": "阿明 李",
    }


def test_an_album_is_one_post_and_a_later_caption_is_checked_as_an_edit() -> None:
    a = adapter()
    first = events(a, "album_1")
    assert [e["type"] for e in first] == ["message.posted"]
    assert first[0]["data"]["media_group_id"] == "13962448765432101"
    assert events(a, "album_2") == []  # no caption, no link: nothing to check or count
    [third] = events(a, "album_3")
    assert third["type"] == "message.edited"
    assert third["id"] == f"telegram:{CHAT}:4542:album"
    assert third["data"]["album_first"] == "4540"
    assert third["data"]["links"] == ["https://t.cn/A6abcdEF"]
    # Delivered again (a webhook retry): the same events, the first item still the post.
    assert events(a, "album_1") == first
    assert [e["type"] for e in events(a, "album_3")] == ["message.edited"]


def test_without_the_adapters_memory_every_album_item_is_a_post() -> None:
    types = [e.type for n in ("album_1", "album_2") for e in parse_update(load(n), MappingConfig())]
    assert types == ["message.posted", "message.posted"]


def test_album_memory_is_bounded() -> None:
    p = UpdateParser(MappingConfig(chats=FANS), author_cache=10, albums=1)
    p.parse(load("album_1"))
    other = load("album_1")
    other["message"]["media_group_id"] = "999"
    other["message"]["message_id"] = 5000
    p.parse(other)  # pushes the first album out
    [again] = p.parse(load("album_3"))
    assert again.type == "message.posted"  # forgotten: counted as a post of its own


def test_stickers_carry_data_sticker_and_no_text() -> None:
    [e] = events(adapter(), "message_sticker")
    assert e["data"]["text"] == ""
    assert e["data"]["kind"] == "sticker"
    assert e["data"]["sticker"] == {"id": "AgADtwADVp29Cg", "emoji": "👍", "set": "HotCherry"}


def test_a_message_in_a_forum_topic_is_not_a_reply_to_the_topic_creator() -> None:
    [e] = events(adapter(), "message_in_topic")
    assert e["data"]["thread_id"] == "4400"
    assert "reply_to" not in e["data"]
    assert "reply_to_member" not in e["data"]


def test_a_real_reply_inside_a_topic_stays_a_reply() -> None:
    [e] = events(adapter(), "message_photo_reply")
    assert (e["data"]["reply_to"], e["data"]["thread_id"]) == ("4521", "4400")


def test_a_join_by_invite_link_carries_the_link() -> None:
    [e] = events(adapter(), "chat_member_joined")
    assert e["data"] == {
        "invite_link": "https://t.me/+AbCdEfGhIjK1MmNn",
        "invite_name": "spring-campaign",
        "invite_creator": "5012345678",
    }


def test_a_migrated_group_stays_one_community(caplog: pytest.LogCaptureFixture) -> None:
    a = adapter({"-4012345678": "fans"})
    [before] = events(a, "message_in_old_group")
    assert before["community"] == "fans"
    assert events(a, "message_after_migration") == []  # not yet known: another chat
    with caplog.at_level(logging.WARNING, "engage_rules_telegram"):
        assert events(a, "migrate_to_chat") == []
    assert "Change its id in `chats` to -1004012345678" in caplog.text
    [after] = events(a, "message_after_migration")
    assert (after["community"], after["channel"]) == ("fans", "-1004012345678")
    assert a.chat_of("fans") == -1004012345678  # actions go to the supergroup
    assert events(a, "migrate_from_chat") == []  # the same migration, seen from the new chat


def test_without_chats_the_migrated_group_keeps_its_first_id_as_community() -> None:
    a = adapter({})
    assert events(a, "migrate_from_chat") == []
    [after] = events(a, "message_after_migration")
    assert after["community"] == "-4012345678"
    assert a.chat_of("-4012345678") == -1004012345678


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("private_message", "a private chat: only groups and supergroups are read"),
        ("message_from_bot", "a message from a bot, a channel or an anonymous admin"),
        ("pinned_service_message", "a service message"),
        ("migrate_to_chat", "the group -4012345678 was migrated to the supergroup -1004012345678"),
        ("chat_member_restricted", "a change of status to 'restricted': not a join or a leave"),
    ],
)
def test_updates_that_make_no_event_say_why(name: str, reason: str) -> None:
    p = UpdateParser(MappingConfig(chats=FANS), author_cache=10)
    assert p.explain(load(name)) == ([], reason)


def test_map_update_raises_the_reason_parse_update_swallows() -> None:
    with pytest.raises(Skip):
        map_update({"update_id": 1, "poll": {}}, MappingConfig())
    assert parse_update({"update_id": 1, "poll": {}}, MappingConfig()) == []


def test_the_runtime_warns_at_start_up_about_rules_reading_account_age(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    moderation = Path(__file__).resolve().parents[3] / "rules" / "moderation"
    config = tmp_path / "run.yaml"
    config.write_text(
        f"playbook: {moderation}\n"
        f"store: sqlite:///{tmp_path}/engage.db\n"
        "sources:\n"
        "  - type: jsonl\n"
        f"    path: {tmp_path}/in.jsonl\n"
        "adapters:\n"
        "  telegram:\n"
        "    token_env: TG_TOKEN\n"
        "dispatch:\n"
        "  default: telegram\n",
        "utf-8",
    )
    with caplog.at_level(logging.WARNING, "engage_rules.runtime"):
        service = Service.from_config(load_config(config, {"TG_TOKEN": "1:x"}))
    service.shutdown()
    [warning] = [r.getMessage() for r in caplog.records if "account_age" in r.getMessage()]
    assert "rule 'new-account-links' reads member.account_age" in warning
    assert warning.startswith(str(moderation / "community.yaml"))
