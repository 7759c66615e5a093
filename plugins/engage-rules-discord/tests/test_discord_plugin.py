"""The installed plugin: entry point, settings, and the engage_rules adapter contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from engage_rules_discord.plugin import DiscordAdapter
from pydantic import ValidationError

from engage_rules.plugins import default_registry as registry
from engage_rules.testing import AdapterContract, FrozenClock, PayloadSample

DATA = Path(__file__).parent / "data"
GUILD = "81384788765712384"
GENERAL = "1301000000000000001"
USER = "1067468743521075230"
#: The instant the adapter works at (the recorded payloads arrive just before).
CLOCK = FrozenClock(datetime(2026, 3, 2, 12, 17, tzinfo=UTC))


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def test_entry_point_registers_the_adapter() -> None:
    entry = registry().adapters["discord"]
    assert entry.plugin == "discord"
    adapter = entry({"token": "t", "guilds": {GUILD: "fans"}})
    assert isinstance(adapter, DiscordAdapter)
    assert adapter.name == "discord"
    assert registry().by_plugin["discord"]["adapters"] == ["discord"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "token\n  Field required"),
        (
            {"token": "t", "base_url": "api.example.org"},
            "'api.example.org' is not an http:// or https:// URL",
        ),
        ({"token": "t", "base_url": "http://127.0.0.1:port"}, "Port could not be cast"),
        ({"token": "t", "guilds": {"fans": "fans"}}, "guild id 'fans' is not a Discord id"),
        (
            {"token": "t", "channels": {"#general": "general"}},
            "channel id '#general' is not a Discord id",
        ),
        (
            {"token": "t", "guilds": {"1": "fans", "2": "fans"}},
            "community names given to several ids: ['fans']",
        ),
        (
            {"token": "t", "channels": {"1": "general", "2": "general"}},
            "channel names given to several ids: ['general']",
        ),
        (
            {"token": "t", "broadcast_channels": {"fans": "announcements"}},
            "broadcast_channels: fans: channel 'announcements' is neither an id nor a name",
        ),
        ({"token": "t", "timeout": 0}, "timeout\n  Input should be greater than 0"),
        ({"token": "t", "guild": {}}, "guild\n  Extra inputs are not permitted"),
    ],
)
def test_bad_settings_are_rejected_clearly(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        DiscordAdapter(settings)
    assert message in str(info.value)


def test_the_config_key_names_the_adapter_and_its_events() -> None:
    adapter = DiscordAdapter({"token": "t", "platform": "dc"})
    assert adapter.name == "dc"
    assert [e.platform for e in adapter.parse(load("message_create"))] == ["dc"]


def test_yaml_integer_ids_are_accepted() -> None:
    adapter = DiscordAdapter(
        {
            "token": "t",
            "guilds": {int(GUILD): "fans"},
            "channels": {int(GENERAL): "general"},
            "broadcast_channels": {"fans": int(GENERAL)},
        }
    )
    assert adapter.guild_of("fans") == GUILD
    assert adapter.broadcast_channel("fans") == GENERAL


SAMPLES = [
    PayloadSample(
        "message",
        load("message_create"),
        [
            {
                "id": "discord:1478002685239230471",
                "type": "message.posted",
                "at": "2026-03-02T12:15:00.123000+00:00",
                "community": "fans",
                "platform": "discord",
                "channel": "general",
                "member": {
                    "id": USER,
                    "name": "阿明",
                    "roles": ["moderator"],
                    "created_at": "2023-01-24T15:39:41.065000+00:00",
                },
                "data": {
                    "text": "大家好！今天分享一个教程 https://example.com",
                    "message_id": "1478002685239230471",
                    "links": ["https://example.com"],
                },
            }
        ],
    ),
    PayloadSample(
        "join",
        load("guild_member_add"),
        [
            {
                "id": f"discord:{GUILD}:joined:1112223334445556667:1772453940000",
                "type": "member.joined",
                "at": "2026-03-02T12:19:00+00:00",
                "community": "fans",
                "platform": "discord",
                "member": {
                    "id": "1112223334445556667",
                    "name": "Kenji",
                    "created_at": "2023-05-28T03:38:27.042000+00:00",
                },
            }
        ],
    ),
    PayloadSample(
        "leave",
        load("guild_member_remove"),
        [
            {
                "id": f"discord:{GUILD}:left:1112223334445556667:1772453820000",
                "type": "member.left",
                "at": "2026-03-02T12:17:00+00:00",
                "community": "fans",
                "platform": "discord",
                "member": {
                    "id": "1112223334445556667",
                    "name": "Kenji",
                    "created_at": "2023-05-28T03:38:27.042000+00:00",
                },
            }
        ],
    ),
    PayloadSample(
        "reaction",
        load("message_reaction_add_unicode"),
        [
            {
                "id": "discord:1478002685239230471:reaction:1112223334445556667:🔥",
                "type": "reaction.added",
                "at": "2026-03-02T12:17:30.250000+00:00",
                "community": "fans",
                "platform": "discord",
                "channel": "general",
                "member": {
                    "id": "1112223334445556667",
                    "name": "Kenji",
                    "created_at": "2023-05-28T03:38:27.042000+00:00",
                },
                "data": {
                    "message_id": "1478002685239230471",
                    "emoji": "🔥",
                    "to_member": USER,
                    "burst": True,
                },
            }
        ],
    ),
    PayloadSample("bot message", load("message_from_bot"), []),
    PayloadSample("heartbeat ack", load("heartbeat_ack"), []),
]

ACTIONS: dict[str, dict[str, Any]] = {
    "send": {"text": "Welcome!"},
    "warn": {"text": "Please keep it civil", "reason": "rude"},
    "reply": {"text": "Thanks!", "channel": "general", "reply_to": "1478002685239230471"},
    "broadcast": {"text": "Weekly top 10 is out"},
    "delete_message": {"message_id": "1478002685239230471", "channel": "general", "reason": "spam"},
    "mute": {"for": "1h", "until": "2026-03-02T13:17:00+00:00", "reason": "flood"},
    "unmute": {"reason": "expired"},
    "kick": {"reason": "spam"},
    "ban": {"reason": "scam"},
    "unban": {"reason": "appeal"},
    "grant_role": {"role": "moderator", "reason": "promoted"},
    "remove_role": {"role": "1301000000000000101"},
    "pin": {"message_id": "1478002685239230471", "channel": "general"},
    "unpin": {"message_id": "1478002685239230471", "channel": "general"},
    "poll": {"question": "周末去哪？", "options": ["爬山", "看展"], "channel": "general"},
}


class TestDiscordAdapterContract(AdapterContract):
    samples: ClassVar[list[PayloadSample]] = SAMPLES
    #: Every recorded payload (not the history export) for the stream fuzz test.
    fuzz_payloads: ClassVar[list[dict[str, Any]]] = [
        json.loads(p.read_text("utf-8"))
        for p in sorted(DATA.glob("*.json"))
        if p.name != "discord_export.json"
    ]
    malformed: ClassVar[list[Any]] = [
        [],
        {"t": "MESSAGE_CREATE"},
        {"op": 0, "t": "MESSAGE_CREATE", "d": None},
        {"op": 0, "t": "GUILD_MEMBER_REMOVE", "d": {"guild_id": 81384788765712384}},
        {**load("guild_member_remove"), "received_at": 1772453820},
    ]

    def make_adapter(self, base_url: str) -> DiscordAdapter:
        return DiscordAdapter(
            {
                "token": "t",
                "base_url": base_url,
                "guilds": {GUILD: "fans"},
                "channels": {GENERAL: "general"},
                "roles": {"1301000000000000101": "moderator"},
                "broadcast_channels": {"fans": "general"},
            },
            clock=CLOCK.time,
        )

    def sample_action(self, capability: str) -> dict[str, Any]:
        return {
            "key": f"k-{capability}",
            "type": capability,
            "member": None if capability in ("broadcast", "poll") else USER,
            "rule": "r",
            "cause": "e",
            "at": "2026-03-02T12:17:00+00:00",
            "params": ACTIONS[capability],
            "community": "fans",
        }

    def success_body(self, capability: str) -> Any:
        # a DM channel or a message: both answer with their id
        return {"id": "1478003500000000000", "channel_id": GENERAL, "type": 0}

    def rate_limited_body(self, retry_after: int) -> Any:
        return {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
        }

    def error_body(self, status: int) -> Any:
        return {"message": "Missing Permissions", "code": 50013}
