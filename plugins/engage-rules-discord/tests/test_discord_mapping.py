"""Discord gateway payloads (recorded in tests/data) → the exact events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engage_rules_discord.mapping import MappingConfig, parse_dispatch, snowflake_time
from engage_rules_discord.plugin import DiscordAdapter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.adapters import PayloadError
from engage_rules.events import event_to_json
from engage_rules.testing import strategies as est

DATA = Path(__file__).parent / "data"
GUILD = "81384788765712384"
GENERAL = "1301000000000000001"
FANS = MappingConfig(
    guilds={GUILD: "fans"},
    channels={GENERAL: "general"},
    roles={"1301000000000000101": "moderator"},
)
RECEIVED = datetime(2026, 3, 2, 12, 17, 0, tzinfo=UTC)

AMING = {
    "id": "1067468743521075230",
    "name": "阿明",
    "roles": ["moderator"],
    "created_at": "2023-01-24T15:39:41.065000+00:00",
}
SARA_CREATED = "2023-04-21T00:21:33.089000+00:00"
KENJI = {
    "id": "1112223334445556667",
    "name": "Kenji",
    "created_at": "2023-05-28T03:38:27.042000+00:00",
}


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def parsed(name: str, config: MappingConfig = FANS) -> list[dict[str, Any]]:
    return [event_to_json(e) for e in parse_dispatch(load(name), config, RECEIVED)]


def test_message_create() -> None:
    assert parsed("message_create") == [
        {
            "id": "discord:1478002685239230471",
            "type": "message.posted",
            "at": "2026-03-02T12:15:00.123000+00:00",
            "community": "fans",
            "platform": "discord",
            "channel": "general",
            "member": AMING,
            "data": {
                "text": "大家好！今天分享一个教程 https://example.com",
                "message_id": "1478002685239230471",
                "links": ["https://example.com"],
            },
        }
    ]


def test_reply_with_an_attachment() -> None:
    assert parsed("message_reply") == [
        {
            "id": "discord:1478002938294173705",
            "type": "message.posted",
            "at": "2026-03-02T12:16:00.456000+00:00",
            "community": "fans",
            "platform": "discord",
            "channel": "general",
            "member": {"id": "1098765432109876543", "name": "sara_k", "created_at": SARA_CREATED},
            "data": {
                "text": "Step 3 worked for me 👍",
                "message_id": "1478002938294173705",
                "attachments": 1,
                "reply_to": "1478002685239230471",
                "reply_to_member": "1067468743521075230",
            },
        }
    ]


def test_without_mappings_ids_stand_for_names() -> None:
    [event] = parsed("message_create", MappingConfig())
    assert (event["community"], event["channel"], event["member"]["roles"]) == (
        GUILD,
        GENERAL,
        ["1301000000000000101"],
    )


def test_guilds_not_listed_are_ignored() -> None:
    assert parsed("message_create", MappingConfig(guilds={"1": "other"})) == []


@pytest.mark.parametrize(
    "name",
    [
        "message_from_bot",
        "message_webhook",
        "message_direct",
        "message_system_join",
        "typing_start",
        "heartbeat_ack",
    ],
)
def test_payloads_that_carry_no_member_event(name: str) -> None:
    assert parsed(name) == []


def test_member_add_is_dated_by_joined_at() -> None:
    assert parsed("guild_member_add") == [
        {
            "id": f"discord:{GUILD}:joined:1112223334445556667:1772453940000",
            "type": "member.joined",
            "at": "2026-03-02T12:19:00+00:00",
            "community": "fans",
            "platform": "discord",
            "member": KENJI,
        }
    ]


def test_member_remove_is_dated_when_received() -> None:
    assert parsed("guild_member_remove") == [
        {
            "id": f"discord:{GUILD}:left:1112223334445556667:1772453820000",
            "type": "member.left",
            "at": "2026-03-02T12:17:00+00:00",
            "community": "fans",
            "platform": "discord",
            "member": KENJI,
        }
    ]


def test_reaction_add_names_the_message_author() -> None:
    assert parsed("message_reaction_add") == [
        {
            "id": "discord:1478002685239230471:reaction:1098765432109876543:"
            "pepe_love:1300000000000000777",
            "type": "reaction.added",
            "at": "2026-03-02T12:17:00+00:00",
            "community": "fans",
            "platform": "discord",
            "channel": "general",
            "member": {
                "id": "1098765432109876543",
                "name": "Sara",
                "roles": ["1301000000000000102"],
                "created_at": SARA_CREATED,
            },
            "data": {
                "message_id": "1478002685239230471",
                "emoji": "pepe_love:1300000000000000777",
                "to_member": "1067468743521075230",
            },
        }
    ]


def test_super_reaction_with_a_unicode_emoji() -> None:
    [event] = parsed("message_reaction_add_unicode")
    assert event["data"] == {
        "message_id": "1478002685239230471",
        "emoji": "🔥",
        "to_member": "1067468743521075230",
        "burst": True,
    }
    assert event["member"] == KENJI


def test_adapter_dates_by_received_at_when_the_relay_gives_it() -> None:
    adapter = DiscordAdapter({"token": "t"}, clock=lambda: 0.0)
    [event] = adapter.parse(load("message_reaction_add_unicode"))
    assert event.at == datetime(2026, 3, 2, 12, 17, 30, 250000, tzinfo=UTC)
    [left] = adapter.parse(load("guild_member_remove"))
    assert left.at == datetime(1970, 1, 1, tzinfo=UTC)  # else by its clock


def test_bad_received_at_is_rejected() -> None:
    adapter = DiscordAdapter({"token": "t"})
    with pytest.raises(PayloadError, match="received_at: expected an ISO 8601 time"):
        adapter.parse({**load("guild_member_remove"), "received_at": "2026-03-02 12:00"})


def test_snowflake_time() -> None:
    assert snowflake_time("175928847299117063") == datetime(
        2016, 4, 30, 11, 18, 25, 796000, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("hello", "payload: expected an object, got a string"),
        ({"op": None, "t": "MESSAGE_CREATE", "d": {}}, "op: expected an integer, got null"),
        ({"t": "MESSAGE_CREATE", "d": {}}, "d.id: expected a string, got null"),  # op read as 0
        ({"d": {}}, "op: expected an integer, got null"),
        ({"op": 0, "t": None, "d": {}}, "t: expected a string, got null"),
        ({"op": 0, "t": "MESSAGE_CREATE", "d": []}, "d: expected an object, got an array"),
        (
            {"op": 0, "t": "MESSAGE_CREATE", "d": {"id": 5}},
            "d.id: expected a string, got an integer",
        ),
        (
            {"op": 0, "t": "GUILD_MEMBER_REMOVE", "d": {"guild_id": "-1"}},
            "d.guild_id: '-1' is not a snowflake id",
        ),
        (
            {
                "op": 0,
                "t": "GUILD_MEMBER_ADD",
                "d": {
                    "guild_id": GUILD,
                    "user": {"id": "1", "username": "x"},
                    "joined_at": "yesterday",
                },
            },
            "d.joined_at: 'yesterday' is not an ISO 8601 time",
        ),
        (
            {
                "op": 0,
                "t": "MESSAGE_REACTION_ADD",
                "d": {"user_id": "1", "channel_id": "2", "message_id": "3", "emoji": {"id": None}},
            },
            "d.emoji.name: expected a string, got null",
        ),
        (
            {
                "op": 0,
                "t": "MESSAGE_REACTION_ADD",
                "d": {
                    "user_id": "1",
                    "channel_id": "2",
                    "message_id": "3",
                    "guild_id": GUILD,
                    "emoji": {"id": None, "name": "x"},
                    "member": {"user": {"id": "9", "username": "y"}},
                },
            },
            "d.member.user.id: is 9, not the reacting user 1",
        ),
    ],
)
def test_malformed_payloads_are_rejected_with_the_field(payload: Any, message: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_dispatch(payload, MappingConfig(), RECEIVED)
    assert str(info.value) == message


#: Any JSON, snowflake-looking ids included.
_json = est.json_values(
    est.json_scalars(text=st.text(max_size=12), extra=st.from_regex(r"\A[0-9]{1,21}\Z")),
    max_leaves=16,
)
_FIELDS = (
    "id",
    "channel_id",
    "guild_id",
    "timestamp",
    "type",
    "author",
    "content",
    "member",
    "user",
    "joined_at",
    "user_id",
    "message_id",
    "emoji",
    "message_author_id",
    "attachments",
    "message_reference",
    "referenced_message",
    "webhook_id",
    "burst",
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        _json,
        st.fixed_dictionaries(
            {
                "op": st.sampled_from([0, 1, 11]) | _json,
                "t": st.sampled_from(
                    [
                        "MESSAGE_CREATE",
                        "GUILD_MEMBER_ADD",
                        "GUILD_MEMBER_REMOVE",
                        "MESSAGE_REACTION_ADD",
                    ]
                )
                | _json,
                "d": est.json_objects(_FIELDS, _json, max_size=10) | _json,
            }
        ),
    )
)
@pytest.mark.slow
def test_random_payloads_raise_only_payload_errors(payload: Any) -> None:
    for config in (FANS, MappingConfig()):
        try:
            events = parse_dispatch(payload, config, RECEIVED)
        except PayloadError as err:
            assert str(err)
        else:
            assert isinstance(events, list)
