"""End to end: recorded gateway payloads → a YAML playbook → the actions it emits → the
REST calls a local server receives."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engage_rules_discord.plugin import DiscordAdapter
from pytest_httpserver import HTTPServer
from werkzeug import Response

from engage_rules import Engine, compile_playbook
from engage_rules.testing import FrozenClock, actions_from_payloads, deliver_all, load_playbook_text

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parent / "data"
GUILD = "81384788765712384"
GENERAL = "1301000000000000001"
DM = "1300000000000000555"

PLAYBOOK = """\
engage_rules: 1
name: discord-e2e
community: {name: Fans, timezone: Asia/Shanghai}
currencies: [points]
moderation:
  exempt: {roles: [moderator]}
rules:
  - id: welcome
    on: member.joined
    do:
      - send: {text: "Welcome {{ member.name }}!"}
  - id: no-ads
    on: message.posted
    if: "contains_any(event.data.text, ['加微信'])"
    do:
      - delete_message: {reason: advertising}
      - mute: {for: 1h, reason: advertising}
  - id: thanks
    on: reaction.added
    do:
      - reply: {text: "🔥 noted"}
"""


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def test_gateway_payloads_to_rest_calls(httpserver: HTTPServer) -> None:
    clock = FrozenClock(datetime(2026, 3, 2, 12, 19, 10, tzinfo=UTC))  # as the payloads arrive
    adapter = DiscordAdapter(
        {
            "token": "t",
            "base_url": httpserver.url_for("/api/v10"),
            "guilds": {GUILD: "fans"},
            "channels": {GENERAL: "general"},
            "roles": {"1301000000000000101": "moderator"},
        },
        clock=clock.time,
    )
    engine = Engine(compile_playbook(load_playbook_text(PLAYBOOK, "discord-e2e.yaml")))
    moderator_ad = load("message_create")  # by a moderator: exempt from no-ads
    moderator_ad["d"]["content"] = "加微信 for the meetup list"
    ad = load("message_reply")
    ad["d"]["content"] = "兼职日结，加微信 abc123"
    payloads = [
        load("guild_member_add"),
        moderator_ad,
        ad,
        {**load("message_reaction_add_unicode"), "received_at": "2026-03-02T12:19:30Z"},
    ]
    actions = actions_from_payloads(adapter, engine, payloads)
    assert [(a["type"], a["member"]) for a in actions] == [
        ("send", "1112223334445556667"),
        ("delete_message", "1098765432109876543"),
        ("mute", "1098765432109876543"),
        ("reply", "1112223334445556667"),
    ]
    httpserver.expect_request("/api/v10/users/@me/channels").respond_with_json({"id": DM})
    httpserver.expect_request(f"/api/v10/channels/{DM}/messages").respond_with_json(
        {"id": "1478004000000000001"}
    )
    httpserver.expect_request(
        f"/api/v10/channels/{GENERAL}/messages", method="POST"
    ).respond_with_json({"id": "1478004000000000002"})
    httpserver.expect_request(
        f"/api/v10/channels/{GENERAL}/messages/1478002938294173705", method="DELETE"
    ).respond_with_response(Response(status=204))
    httpserver.expect_request(
        f"/api/v10/guilds/{GUILD}/members/1098765432109876543", method="PATCH"
    ).respond_with_json({"user": {}})
    deliver_all(adapter, actions)
    calls = [(r.method, r.path, json.loads(r.data) if r.data else None) for r, _ in httpserver.log]
    assert calls == [
        ("POST", "/api/v10/users/@me/channels", {"recipient_id": "1112223334445556667"}),
        (
            "POST",
            f"/api/v10/channels/{DM}/messages",
            {"content": "Welcome Kenji!", "allowed_mentions": {"parse": ["users"]}},
        ),
        ("DELETE", f"/api/v10/channels/{GENERAL}/messages/1478002938294173705", None),
        (
            "PATCH",
            f"/api/v10/guilds/{GUILD}/members/1098765432109876543",
            {"communication_disabled_until": "2026-03-02T13:16:00.456000+00:00"},
        ),
        (
            "POST",
            f"/api/v10/channels/{GENERAL}/messages",
            {
                "content": "🔥 noted",
                "allowed_mentions": {"parse": ["users"], "replied_user": True},
                "message_reference": {
                    "message_id": "1478002685239230471",
                    "fail_if_not_exists": False,
                },
            },
        ),
    ]
