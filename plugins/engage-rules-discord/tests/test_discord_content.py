"""What moderation needs, in the events: edits, forwards, every URL, stickers and threads
(recorded gateway payloads in tests/data, README.md there cites their sources)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engage_rules_discord.fields import Skip
from engage_rules_discord.mapping import MappingConfig, map_dispatch, parse_dispatch
from engage_rules_discord.parser import DispatchParser
from engage_rules_discord.plugin import DiscordAdapter

from engage_rules.events import event_to_json

DATA = Path(__file__).parent / "data"
GUILD = "81384788765712384"
CHANNEL = "1301000000000000001"
THREAD = "1478003100000000000"
NOW = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def adapter(**settings: Any) -> DiscordAdapter:
    return DiscordAdapter({"token": "x", "guilds": {GUILD: "fans"}, **settings})


def events(a: DiscordAdapter, *names: str) -> list[dict[str, Any]]:
    return [event_to_json(e) for name in names for e in a.parse(load(name))]


def test_an_edit_is_message_edited_with_the_new_text_dated_at_the_edit() -> None:
    [e] = events(adapter(), "message_update_edit")
    assert e["type"] == "message.edited"
    assert e["id"] == "discord:1478002685239230471:edited:1772454005500"
    assert e["at"] == "2026-03-02T12:20:05.500000+00:00"
    assert e["data"] == {
        "text": "分享一组街头摄影作品，加微信 领福利",
        "message_id": "1478002685239230471",
    }
    assert e["member"]["name"] == "阿明"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("message_update_embed", "an update that is no edit (a link preview resolved, a pin...)"),
        (
            "message_update_partial",
            "a partial MESSAGE_UPDATE without the message's author and text",
        ),
    ],
)
def test_updates_that_are_no_edit_make_no_event(name: str, reason: str) -> None:
    assert DispatchParser(MappingConfig()).explain(load(name)) == ([], reason)


def test_a_forward_carries_the_forwarded_text_and_is_marked() -> None:
    [e] = events(adapter(), "message_forward")
    assert e["type"] == "message.posted"
    assert e["data"] == {
        "text": "周末外拍活动报名中，加微信 领福利",
        "message_id": "1478003000000000001",
        "forwarded": True,
        "forward_origin": {
            "message_id": "1478001111111111111",
            "channel_id": "1301000000000000009",
            "guild_id": "81384788765712399",
        },
    }


def test_a_forward_with_a_comment_keeps_both_texts() -> None:
    payload = load("message_forward")
    payload["d"]["content"] = "看看这个"
    [e] = parse_dispatch(payload, MappingConfig(), NOW)
    assert e.data["text"] == "看看这个\n周末外拍活动报名中，加微信 领福利"


def test_links_in_text_embeds_and_buttons_are_all_in_data_links() -> None:
    [e] = events(adapter(), "message_hidden_links")
    assert e["data"]["links"] == [
        "https://bit.ly/3xYzAbc",
        "https://cheap-lens.shop",
        "https://cheap-lens.shop/free",
    ]
    [visible] = events(adapter(), "message_create")
    assert visible["data"]["links"] == ["https://example.com"]


def test_visible_links_lose_the_punctuation_after_them() -> None:
    payload = load("message_create")
    payload["d"]["content"] = "看 (https://example.com/a), 还有 <https://x.org/b>."
    [e] = parse_dispatch(payload, MappingConfig(), NOW)
    assert e.data["links"] == ["https://example.com/a", "https://x.org/b"]


def test_a_sticker_is_a_message_with_data_sticker_and_no_text() -> None:
    [e] = events(adapter(), "message_sticker")
    assert e["data"] == {
        "text": "",
        "message_id": "1478003000000000003",
        "sticker": {"id": "749054660769218631", "name": "Wave"},
    }


def test_a_message_in_a_thread_has_the_parent_channel_and_the_thread_in_data() -> None:
    a = adapter(channels={CHANNEL: "general"})
    assert events(a, "thread_create") == []
    [e] = events(a, "message_in_thread")
    assert e["channel"] == "general"
    assert (e["data"]["thread"], e["data"]["thread_name"]) == (THREAD, "器材讨论")


def test_threads_are_learned_from_guild_create_and_thread_list_sync() -> None:
    thread = load("thread_create")["d"]
    for name in ("GUILD_CREATE", "THREAD_LIST_SYNC"):
        p = DispatchParser(MappingConfig())
        p.parse({"op": 0, "t": name, "d": {"id": GUILD, "threads": [thread]}})
        [e] = p.parse(load("message_in_thread"))
        assert (e.channel, e.data["thread"]) == (CHANNEL, THREAD)


def test_a_thread_not_yet_seen_stays_its_own_channel() -> None:
    [e] = events(adapter(), "message_in_thread")
    assert e["channel"] == THREAD
    assert "thread" not in e["data"]


def test_thread_memory_is_bounded() -> None:
    p = DispatchParser(MappingConfig(), threads=1)
    p.parse(load("thread_create"))
    other = load("thread_create")
    other["d"]["id"] = "1478003100000000099"
    p.parse(other)
    [e] = p.parse(load("message_in_thread"))
    assert e.channel == THREAD  # forgotten


def test_a_dispatch_stored_without_its_opcode_is_read() -> None:
    payload = load("message_create")
    del payload["op"]
    assert [e.type for e in parse_dispatch(payload, MappingConfig(), NOW)] == ["message.posted"]


def test_map_dispatch_raises_the_reason_parse_dispatch_swallows() -> None:
    with pytest.raises(Skip):
        map_dispatch(load("typing_start"), MappingConfig(), NOW)
    assert parse_dispatch(load("typing_start"), MappingConfig(), NOW) == []
