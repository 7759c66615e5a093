"""The installed plugin: entry point, settings, and the engage_rules adapter contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from engage_rules_telegram.plugin import TelegramAdapter
from pydantic import ValidationError

from engage_rules.plugins import default_registry as registry
from engage_rules.testing import AdapterContract, FrozenClock, PayloadSample

DATA = Path(__file__).parent / "data"
CHAT = -1001234567890
#: The instant the adapter works at (the recorded payloads arrive just before).
CLOCK = FrozenClock(datetime(2026, 3, 2, 12, 15, tzinfo=UTC))


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def test_entry_point_registers_the_adapter() -> None:
    entry = registry().adapters["telegram"]
    assert entry.plugin == "telegram"
    adapter = entry({"token": "t", "chats": {str(CHAT): "fans"}})
    assert isinstance(adapter, TelegramAdapter)
    assert adapter.name == "telegram"
    assert registry().by_plugin["telegram"]["adapters"] == ["telegram"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "token\n  Field required"),
        (
            {"token": "t", "base_url": "api.example.org"},
            "'api.example.org' is not an http:// or https:// URL",
        ),
        ({"token": "t", "base_url": "http://127.0.0.1:port"}, "Port could not be cast"),
        ({"token": ""}, "String should have at least 1 character"),
        ({"token": "t", "chats": {"fans": "fans"}}, "chat id 'fans' is not an integer"),
        (
            {"token": "t", "chats": {"-1001": "fans", "-1002": "fans"}},
            "communities mapped to several chats: ['fans']",
        ),
        ({"token": "t", "member_updates": "both"}, "'chat_member' or 'service_messages'"),
        ({"token": "t", "tokn": "x"}, "tokn\n  Extra inputs are not permitted"),
    ],
)
def test_bad_settings_are_rejected_clearly(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        TelegramAdapter(settings)
    assert message in str(info.value)


def test_the_config_key_names_the_adapter_and_its_events() -> None:
    adapter = TelegramAdapter({"token": "t", "platform": "tg-fans"})
    assert adapter.name == "tg-fans"
    assert [e.platform for e in adapter.parse(load("message_text"))] == ["tg-fans"]


def test_yaml_integer_chat_ids_are_accepted() -> None:
    adapter = TelegramAdapter({"token": "t", "chats": {CHAT: "fans"}})
    assert adapter.chat_of("fans") == CHAT
    assert adapter.chat_of("-100777") == -100777


SAMPLES = [
    PayloadSample(
        "text message",
        load("message_text"),
        [
            {
                "id": f"telegram:{CHAT}:4521",
                "type": "message.posted",
                "at": "2026-03-02T12:15:00+00:00",
                "community": "fans",
                "platform": "telegram",
                "channel": str(CHAT),
                "member": {"id": "5012345678", "name": "阿明 李"},
                "data": {
                    "text": "大家好！今天分享一个教程 https://example.com",
                    "message_id": "4521",
                    "kind": "text",
                    "links": ["https://example.com"],
                },
            }
        ],
    ),
    PayloadSample(
        "join",
        load("chat_member_joined"),
        [
            {
                "id": f"telegram:{CHAT}:joined:6333333333:1772453900",
                "type": "member.joined",
                "at": "2026-03-02T12:18:20+00:00",
                "community": "fans",
                "platform": "telegram",
                "channel": str(CHAT),
                "member": {"id": "6333333333", "name": "Omar"},
                "data": {
                    "invite_link": "https://t.me/+AbCdEfGhIjK1MmNn",
                    "invite_name": "spring-campaign",
                    "invite_creator": "5012345678",
                },
            }
        ],
    ),
    PayloadSample(
        "kick",
        load("chat_member_kicked"),
        [
            {
                "id": f"telegram:{CHAT}:left:6333333333:1772460000",
                "type": "member.left",
                "at": "2026-03-02T14:00:00+00:00",
                "community": "fans",
                "platform": "telegram",
                "channel": str(CHAT),
                "member": {"id": "6333333333", "name": "Omar"},
                "data": {"reason": "kicked"},
            }
        ],
    ),
    PayloadSample(
        "reaction",
        load("message_reaction"),
        [
            {
                "id": f"telegram:{CHAT}:4521:reaction:6098765432:{key}",
                "type": "reaction.added",
                "at": "2026-03-02T12:17:00+00:00",
                "community": "fans",
                "platform": "telegram",
                "channel": str(CHAT),
                "member": {"id": "6098765432", "name": "Sara"},
                # the adapter read message 4521 (the first sample), so it knows its author
                "data": {"message_id": "4521", "emoji": key, "to_member": "5012345678"},
            }
            for key in ("🔥", "custom:5368324170671202286")
        ],
    ),
    PayloadSample(
        "join request",
        load("chat_join_request"),
        [
            {
                "id": f"telegram:{CHAT}:join_requested:6444444444:1772453950",
                "type": "member.join_requested",
                "at": "2026-03-02T12:19:10+00:00",
                "community": "fans",
                "platform": "telegram",
                "channel": str(CHAT),
                "member": {"id": "6444444444", "name": "小雨 林"},
                "data": {"bio": "摄影爱好者 | 上海", "invite_link": "spring-campaign"},
            }
        ],
    ),
    PayloadSample("bot message", load("message_from_bot"), []),
    PayloadSample(
        "edited message",
        load("edited_message"),
        [
            {
                "id": f"telegram:{CHAT}:4521:edited:1772453710",
                "type": "message.edited",
                "at": "2026-03-02T12:15:10+00:00",
                "community": "fans",
                "platform": "telegram",
                "channel": str(CHAT),
                "member": {"id": "5012345678", "name": "阿明 李"},
                "data": {
                    "text": "大家好！今天分享一个教程 https://example.com/tutorial",
                    "message_id": "4521",
                    "kind": "text",
                },
            }
        ],
    ),
]

ACTIONS: dict[str, dict[str, Any]] = {
    "send": {"text": "Welcome!"},
    "warn": {"text": "Please keep it civil", "reason": "rude"},
    "reply": {"text": "Thanks!", "channel": str(CHAT), "reply_to": "4521"},
    "broadcast": {"text": "Weekly top 10 is out"},
    "delete_message": {"message_id": "4521", "channel": str(CHAT), "reason": "spam"},
    "mute": {"for": "1h", "until": "2026-03-02T13:15:00+00:00", "reason": "flood"},
    "unmute": {"reason": "expired"},
    "kick": {"reason": "spam"},
    "ban": {"reason": "scam"},
    "unban": {"reason": "appeal"},
    "grant_role": {"role": "vip"},
    "remove_role": {"role": "vip"},
    "pin": {"message_id": "4521", "channel": str(CHAT)},
    "unpin": {"message_id": "4521", "channel": str(CHAT)},
    "approve_join": {},
    "decline_join": {"reason": "no bio"},
    "poll": {"question": "周末去哪？", "options": ["爬山", "看展"], "channel": str(CHAT)},
}


class TestTelegramAdapterContract(AdapterContract):
    samples: ClassVar[list[PayloadSample]] = SAMPLES
    #: Every recorded payload (not the history export) for the stream fuzz test.
    fuzz_payloads: ClassVar[list[dict[str, Any]]] = [
        json.loads(p.read_text("utf-8"))
        for p in sorted(DATA.glob("*.json"))
        if p.name != "telegram_export.json"
    ]
    malformed: ClassVar[list[Any]] = [
        [],
        {"message": {}},
        {"update_id": "1"},
        {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": "yesterday",
                "chat": {"id": CHAT, "type": "supergroup"},
            },
        },
        {"update_id": 1, "chat_join_request": []},
        {
            "update_id": 1,
            "chat_join_request": {
                "chat": {"id": CHAT, "type": "supergroup"},
                "from": {"id": 6444444444, "is_bot": False, "first_name": "小雨"},
                "date": 1772453950,
                "invite_link": {"name": "x"},
            },
        },
        {
            "update_id": 1,
            "message_reaction": {
                "chat": {"id": CHAT, "type": "supergroup"},
                "message_id": 1,
                "date": 1,
                "old_reaction": [],
                "new_reaction": "👍",
            },
        },
    ]
    retry_after_seconds: ClassVar[int] = 7

    def make_adapter(self, base_url: str) -> TelegramAdapter:
        return TelegramAdapter(
            {"token": "123:abc", "base_url": base_url, "chats": {str(CHAT): "fans"}},
            clock=CLOCK.time,
        )

    def sample_action(self, capability: str) -> dict[str, Any]:
        return {
            "key": f"k-{capability}",
            "type": capability,
            "member": None if capability in ("broadcast", "poll") else "5012345678",
            "rule": "r",
            "cause": "e",
            "at": "2026-03-02T12:15:00+00:00",
            "params": ACTIONS[capability],
            "community": "fans",
        }

    def success_body(self, capability: str) -> Any:
        return {
            "ok": True,
            "result": {"message_id": 4530}
            if capability in ("send", "warn", "reply", "broadcast", "poll")
            else True,
        }

    def rate_limited_body(self, retry_after: int) -> Any:
        return {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        }

    def error_body(self, status: int) -> Any:
        return {"ok": False, "error_code": status, "description": "Bad Request: test"}
