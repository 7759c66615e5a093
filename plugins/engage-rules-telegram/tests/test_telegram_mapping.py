"""Telegram ``Update`` objects (recorded in tests/data) → the exact events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engage_rules_telegram.mapping import MappingConfig, parse_update
from engage_rules_telegram.plugin import TelegramAdapter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.adapters import PayloadError
from engage_rules.events import event_to_json
from engage_rules.testing import strategies as est

DATA = Path(__file__).parent / "data"
CHAT = -1001234567890
FANS = MappingConfig(chats={str(CHAT): "fans"})
SERVICE = MappingConfig(chats={str(CHAT): "fans"}, member_updates="service_messages")


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def parsed(name: str, config: MappingConfig = FANS, **kw: Any) -> list[dict[str, Any]]:
    return [event_to_json(e) for e in parse_update(load(name), config, **kw)]


AMING = {"id": "5012345678", "name": "阿明 李"}


def test_text_message() -> None:
    assert parsed("message_text") == [
        {
            "id": f"telegram:{CHAT}:4521",
            "type": "message.posted",
            "at": "2026-03-02T12:15:00+00:00",
            "community": "fans",
            "platform": "telegram",
            "channel": str(CHAT),
            "member": AMING,
            "data": {
                "text": "大家好！今天分享一个教程 https://example.com",
                "message_id": "4521",
                "kind": "text",
                "links": ["https://example.com"],
            },
        }
    ]


def test_photo_reply_in_a_topic_uses_the_caption() -> None:
    assert parsed("message_photo_reply") == [
        {
            "id": f"telegram:{CHAT}:4522",
            "type": "message.posted",
            "at": "2026-03-02T12:16:00+00:00",
            "community": "fans",
            "platform": "telegram",
            "channel": str(CHAT),
            "member": {"id": "6098765432", "name": "Sara"},
            "data": {
                "text": "Step 3 worked for me 👍",
                "message_id": "4522",
                "kind": "photo",
                "reply_to": "4521",
                "reply_to_member": "5012345678",
                "thread_id": "4400",
            },
        }
    ]


@pytest.mark.parametrize(
    "name",
    [
        "message_from_bot",
        "message_anonymous_admin",
        "private_message",
        "pinned_service_message",
        "message_reaction_anonymous",
        "chat_member_restricted",
    ],
)
def test_updates_that_carry_no_member_event(name: str) -> None:
    assert parsed(name) == []


def test_without_chats_the_community_is_the_chat_id() -> None:
    [event] = parsed("message_text", MappingConfig())
    assert event["community"] == str(CHAT)


def test_chats_not_listed_are_ignored() -> None:
    assert parsed("message_text", MappingConfig(chats={"-100999": "other"})) == []


def test_chat_member_join_via_invite_link() -> None:
    assert parsed("chat_member_joined") == [
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
    ]


def test_chat_member_added_by_an_admin_names_the_inviter_and_role() -> None:
    [event] = parsed("chat_member_added_by_admin")
    assert event["type"] == "member.joined"
    assert event["member"] == {"id": "6444444444", "name": "Wei", "roles": ["admin"]}
    assert event["data"] == {"inviter": "5012345678"}


def test_chat_member_kicked_is_a_leave() -> None:
    assert parsed("chat_member_kicked") == [
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
    ]


def test_service_messages_are_read_only_when_configured() -> None:
    assert parsed("new_chat_members") == []
    assert parsed("chat_member_joined", SERVICE) == []
    joined = parsed("new_chat_members", SERVICE)
    assert [(e["id"], e["member"], e.get("data")) for e in joined] == [
        (
            f"telegram:{CHAT}:4525:joined:6111111111",
            {"id": "6111111111", "name": "Kenji"},
            {"inviter": "5012345678"},
        ),
        (
            f"telegram:{CHAT}:4525:joined:6222222222",
            {"id": "6222222222", "name": "Lena Ortiz"},
            {"inviter": "5012345678"},
        ),
    ]  # the bot among the new members is skipped
    assert parsed("left_chat_member", SERVICE) == [
        {
            "id": f"telegram:{CHAT}:4526:left:6222222222",
            "type": "member.left",
            "at": "2026-03-02T13:16:40+00:00",
            "community": "fans",
            "platform": "telegram",
            "channel": str(CHAT),
            "member": {"id": "6222222222", "name": "Lena Ortiz"},
            "data": {"reason": "left"},
        }
    ]


def test_reaction_events_for_newly_added_reactions_only() -> None:
    authors = {(str(CHAT), "4521"): "5012345678"}
    events = parsed("message_reaction", author_of=lambda c, m: authors.get((c, m)))
    assert events == [
        {
            "id": f"telegram:{CHAT}:4521:reaction:6098765432:{key}",
            "type": "reaction.added",
            "at": "2026-03-02T12:17:00+00:00",
            "community": "fans",
            "platform": "telegram",
            "channel": str(CHAT),
            "member": {"id": "6098765432", "name": "Sara"},
            "data": {"message_id": "4521", "emoji": key, "to_member": "5012345678"},
        }
        for key in ("🔥", "custom:5368324170671202286")
    ]


def test_reaction_to_an_unknown_message_has_no_to_member() -> None:
    events = parsed("message_reaction")
    assert [e["data"] for e in events] == [
        {"message_id": "4521", "emoji": "🔥"},
        {"message_id": "4521", "emoji": "custom:5368324170671202286"},
    ]


def test_adapter_remembers_authors_for_reactions() -> None:
    adapter = TelegramAdapter({"token": "t", "chats": {CHAT: "fans"}})
    adapter.parse(load("message_text"))
    events = adapter.parse(load("message_reaction"))
    assert {e.data["to_member"] for e in events} == {"5012345678"}


def test_author_memory_is_bounded() -> None:
    adapter = TelegramAdapter({"token": "t", "chats": {CHAT: "fans"}, "author_cache": 1})
    adapter.parse(load("message_text"))
    adapter.parse(load("message_photo_reply"))  # pushes message 4521 out
    assert all("to_member" not in e.data for e in adapter.parse(load("message_reaction")))


def test_redelivered_update_maps_to_the_same_ids() -> None:
    assert parsed("message_text") == parsed("message_text")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "update: expected an object, got an array"),
        ({"message": {}}, "update_id: expected an integer, got null"),
        ({"update_id": 1, "message": "hi"}, "message: expected an object, got a string"),
        (
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "text": "x",
                    "chat": {"id": "x", "type": "group"},
                },
            },
            "message.chat.id: expected an integer, got a string",
        ),
        (
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 1.5,
                    "text": "x",
                    "chat": {"id": 1, "type": "group"},
                },
            },
            "message.date: expected an integer, got a number",
        ),
        (
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 10**20,
                    "text": "x",
                    "chat": {"id": 1, "type": "group"},
                },
            },
            "message.date: 100000000000000000000 is not a valid Unix time",
        ),
        (
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 1,
                    "text": 5,
                    "chat": {"id": 1, "type": "group"},
                    "from": {"id": 2, "is_bot": False, "first_name": "A"},
                },
            },
            "message.text: expected a string, got an integer",
        ),
        (
            {
                "update_id": 1,
                "chat_member": {
                    "chat": {"id": 1, "type": "group"},
                    "date": 1,
                    "from": {"id": 2, "is_bot": False, "first_name": "A"},
                    "old_chat_member": {
                        "status": "left",
                        "user": {"id": 2, "is_bot": False, "first_name": "A"},
                    },
                    "new_chat_member": {
                        "status": "vip",
                        "user": {"id": 2, "is_bot": False, "first_name": "A"},
                    },
                },
            },
            "chat_member.new_chat_member.status: unknown chat member status 'vip'",
        ),
    ],
)
def test_malformed_updates_are_rejected_with_the_field(payload: Any, message: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_update(payload, MappingConfig())
    assert str(info.value) == message


_json = est.json_values(est.json_scalars(text=st.text(max_size=12)), max_leaves=16)
_update_keys = st.sampled_from(["message", "chat_member", "message_reaction", "edited_message"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        _json,
        st.fixed_dictionaries(
            {"update_id": st.integers()},
            optional={"message": _json, "chat_member": _json, "message_reaction": _json},
        ),
        st.builds(
            lambda k, v, uid: {"update_id": uid, k: v},
            _update_keys,
            est.json_objects(
                (
                    "message_id",
                    "date",
                    "chat",
                    "from",
                    "text",
                    "caption",
                    "user",
                    "new_chat_members",
                    "left_chat_member",
                    "old_chat_member",
                    "new_chat_member",
                    "old_reaction",
                    "new_reaction",
                    "reply_to_message",
                ),
                _json,
                max_size=8,
            ),
            st.integers(),
        ),
    )
)
@pytest.mark.slow
def test_random_updates_raise_only_payload_errors(payload: Any) -> None:
    for config in (FANS, SERVICE, MappingConfig()):
        try:
            events = parse_update(payload, config)
        except PayloadError as err:
            assert str(err)
        else:
            assert isinstance(events, list)
