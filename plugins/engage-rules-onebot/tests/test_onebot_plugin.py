"""The ``onebot`` plugin: its entry point, settings, and the adapter contract every
adapter passes (delivery through the HTTP API against a local server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from engage_rules_onebot import OneBotAdapter
from pydantic import ValidationError

from engage_rules.plugins import default_registry as registry
from engage_rules.runtime.config import load_config
from engage_rules.runtime.service import adapter_limits, build_adapters
from engage_rules.testing import AdapterContract, PayloadSample

DATA = Path(__file__).parent / "data"


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def test_entry_point_registers_the_adapter_event_types_and_command() -> None:
    reg = registry()
    adapter = reg.adapters["onebot"]({"url": "ws://127.0.0.1:3001", "groups": {123456: "fans"}})
    assert isinstance(adapter, OneBotAdapter)
    assert adapter.name == "onebot"
    assert reg.by_plugin["onebot"]["adapters"] == ["onebot"]
    assert {"onebot.poke", "onebot.honor", "onebot.file_uploaded"} <= set(reg.event_types)
    assert "onebot" in reg.commands
    assert reg.by_plugin["onebot"]["actions"] == ["onebot.set_card"]
    assert "onebot.set_card" in adapter.capabilities
    # Badges reach the adapter only when some of them are QQ titles.
    assert "grant_badge" not in adapter.capabilities
    titled = reg.adapters["onebot"]({"url": "ws://h", "badge_titles": {"helper": "热心群友"}})
    assert {"grant_badge", "revoke_badge"} <= titled.capabilities


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "mode forward needs `url`"),
        ({"mode": "http"}, "mode http needs `api_url`"),
        ({"url": "127.0.0.1:3001"}, "is not a ws://"),
        ({"url": "ws://h", "groups": {"qq群": "fans"}}, "not a QQ group number"),
        ({"url": "ws://h", "groups": {"1": "a", "2": "a"}}, "several groups"),
        ({"url": "ws://h", "mode": "websocket"}, "mode"),
        ({"url": "ws://h", "token": "x"}, "Extra inputs are not permitted"),
        ({"url": "ws://h", "api_url": "ws://h"}, "`api_url` must be an http"),
        ({"url": "ws://h", "badge_titles": {"helper": " "}}, "give each badge the title"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        OneBotAdapter(settings)
    assert message in str(err.value)


def test_rate_limits_are_the_runtimes(tmp_path: Path) -> None:
    path = tmp_path / "live.yaml"
    path.write_text(
        "playbook: rules\nstore: memory://\nadapters:\n  onebot:\n"
        "    url: ws://127.0.0.1:3001\n    rate_limit: {rate: 5, burst: 10}\n"
        "    route_rate_limit: {rate: 0.5, burst: 3}\n",
        "utf-8",
    )
    config = load_config(path)
    [adapter] = build_adapters(config, registry()).values()
    assert isinstance(adapter, OneBotAdapter)  # the limits are not the adapter's settings
    limits = adapter_limits(config)["onebot"]
    assert limits.platform is not None and (limits.platform.rate, limits.platform.burst) == (5, 10)
    assert limits.route is not None and (limits.route.rate, limits.route.burst) == (0.5, 3)


def test_community_without_a_group_is_a_permanent_failure() -> None:
    adapter = OneBotAdapter({"url": "ws://h", "groups": {"123456": "fans"}})
    assert adapter.group_of("fans") == 123456
    with pytest.raises(Exception, match="has no QQ group") as err:
        adapter.group_of("123456")
    assert getattr(err.value, "permanent", False)
    assert OneBotAdapter({"url": "ws://h"}).group_of("123456") == 123456


def test_a_seen_join_request_gives_its_flag_to_the_answer() -> None:
    adapter = OneBotAdapter({"mode": "http", "api_url": "http://127.0.0.1:9"})
    adapter.parse(load("request_group_add"))
    assert adapter._flag_of("123456", "50005000") == "1700000010123456"


SAMPLES = [
    PayloadSample(
        name="a group message",
        payload=load("group_message_array"),
        events=[
            {
                "id": "onebot:123456:-2147480000",
                "type": "message.posted",
                "at": "2023-11-14T22:13:20+00:00",
                "community": "fans",
                "platform": "onebot",
                "channel": "123456",
                "member": {"id": "20002000", "name": "群名片", "roles": ["admin"]},
                "data": {
                    "text": " 看这个 https://example.com/a?b=1，",
                    "message_id": "-2147480000",
                    "kind": "face",
                    "mentions": ["30003000"],
                    "reply_to": "-2147479999",
                    "images": 1,
                    "faces": ["178"],
                    "links": ["https://example.com/a?b=1", "http://baidu.com"],
                },
            }
        ],
    ),
    PayloadSample(
        name="a recall",
        payload=load("group_recall"),
        events=[
            {
                "id": "onebot:123456:42:recalled",
                "type": "message.deleted",
                "at": "2023-11-14T22:13:24+00:00",
                "community": "fans",
                "platform": "onebot",
                "channel": "123456",
                "member": {"id": "20002000"},
                "data": {"message_id": "42", "operator": "30003000", "by_author": False},
            }
        ],
    ),
    PayloadSample(name="a heartbeat", payload=load("heartbeat"), events=[]),
]

ACTIONS: dict[str, dict[str, Any]] = {
    "send": {"text": "欢迎"},
    "warn": {"text": "注意"},
    "reply": {"text": "收到", "channel": "123456", "reply_to": "42"},
    "broadcast": {"text": "公告"},
    "delete_message": {"message_id": "42", "channel": "123456"},
    "mute": {"for": "1h", "until": "2099-01-01T00:00:00+00:00", "reason": "spam"},
    "unmute": {"reason": "mute expired"},
    "kick": {"reason": "spam"},
    "ban": {"reason": "spam"},
    "grant_role": {"role": "vip"},
    "remove_role": {"role": "vip"},
    "pin": {"message_id": "42", "channel": "123456"},
    "unpin": {"message_id": "42", "channel": "123456"},
    "approve_join": {},
    "decline_join": {"reason": "no"},
    "onebot.set_card": {"card": "【新人】小王"},
    "grant_badge": {"badge": "helper", "name": "热心群友", "title": True},
    "revoke_badge": {"badge": "helper"},
}


class TestOneBotAdapterContract(AdapterContract):
    samples: ClassVar[list[PayloadSample]] = SAMPLES
    #: Every recorded payload (not the history export) for the stream fuzz test.
    fuzz_payloads: ClassVar[list[dict[str, Any]]] = [
        json.loads(p.read_text("utf-8"))
        for p in sorted(DATA.glob("*.json"))
        if p.name != "history_gocqhttp.json"
    ]
    malformed: ClassVar[list[Any]] = [
        [],
        {"post_type": "message"},
        {**load("group_message_array"), "message": 5},
        {**load("group_recall"), "group_id": "123456"},
    ]

    def make_adapter(self, base_url: str) -> OneBotAdapter:
        return OneBotAdapter(
            {
                "mode": "http",
                "api_url": base_url,
                "groups": {"123456": "fans"},
                "badge_titles": {"helper": "热心群友"},
            }
        )

    def sample_action(self, capability: str) -> dict[str, Any]:
        return {
            "key": f"k-{capability}",
            "type": capability,
            "member": None if capability == "broadcast" else "20002000",
            "rule": "r",
            "cause": "onebot:123456:request:17000",
            "at": "2023-11-14T22:13:20+00:00",
            "params": ACTIONS[capability],
            "community": "fans",
        }

    def success_body(self, capability: str) -> Any:
        return {"status": "ok", "retcode": 0, "data": {"message_id": 1001}}

    def rate_limited_body(self, retry_after: int) -> Any:
        return {"status": "failed", "retcode": 429, "data": None}

    def error_body(self, status: int) -> Any:
        return {"status": "failed", "retcode": status, "data": None}
