"""End to end: recorded Telegram updates → a YAML playbook → the actions it emits →
the Bot API calls a local server receives."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engage_rules_telegram.plugin import TelegramAdapter
from pytest_httpserver import HTTPServer

from engage_rules import Engine, compile_playbook
from engage_rules.testing import FrozenClock, actions_from_payloads, deliver_all, load_playbook_text

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parent / "data"
CHAT = -1001234567890
TOKEN = "123456:e2e"

PLAYBOOK = """\
engage_rules: 1
name: telegram-e2e
community: {name: Fans, timezone: Asia/Shanghai}
currencies: [points]
rules:
  - id: welcome
    on: member.joined
    do:
      - send: {text: "欢迎 {{ member.name }}!"}
  - id: no-ads
    on: message.posted
    if: "contains_any(event.data.text, ['加微信'])"
    do:
      - delete_message: {reason: advertising}
      - mute: {for: 1h, reason: advertising}
  - id: thank-reactions
    on: reaction.added
    if: "event.data.emoji == '🔥'"
    do:
      - award: {points: 1, to: "{{ event.data.to_member }}", reason: fire}
"""


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def test_updates_to_bot_api_calls(httpserver: HTTPServer) -> None:
    # The ad's date: its actions are delivered as it arrives.
    clock = FrozenClock(datetime(2026, 3, 2, 12, 15, tzinfo=UTC))
    adapter = TelegramAdapter(
        {"token": TOKEN, "base_url": httpserver.url_for("/"), "chats": {str(CHAT): "fans"}},
        clock=clock.time,
    )
    engine = Engine(compile_playbook(load_playbook_text(PLAYBOOK, "telegram-e2e.yaml")))
    ad = load("message_text")
    ad["message"]["text"] = "兼职日结，加微信 abc123"
    updates = [load("chat_member_joined"), ad, load("message_reaction")]
    actions = actions_from_payloads(adapter, engine, updates)
    assert [(a["type"], a["member"]) for a in actions] == [
        ("send", "6333333333"),
        ("delete_message", "5012345678"),
        ("mute", "5012345678"),
        ("award", "5012345678"),  # the reacted message's author, remembered by the adapter
    ]
    httpserver.expect_request(f"/bot{TOKEN}/sendMessage").respond_with_json(
        {"ok": True, "result": {"message_id": 9001}}
    )
    httpserver.expect_request(f"/bot{TOKEN}/deleteMessage").respond_with_json(
        {"ok": True, "result": True}
    )
    httpserver.expect_request(f"/bot{TOKEN}/restrictChatMember").respond_with_json(
        {"ok": True, "result": True}
    )
    delivered = deliver_all(adapter, actions, skip_unsupported=True)
    assert delivered[0].platform_id == "9001"
    calls = [(r.path.rsplit("/", 1)[1], json.loads(r.data)) for r, _ in httpserver.log]
    assert calls[0] == ("sendMessage", {"chat_id": 6333333333, "text": "欢迎 Omar!"})
    assert calls[1] == ("deleteMessage", {"chat_id": CHAT, "message_id": 4521})
    method, body = calls[2]
    assert method == "restrictChatMember"
    assert (body["chat_id"], body["user_id"], body["until_date"]) == (
        CHAT,
        5012345678,
        int(clock.time()) + 3600,
    )
    assert not any(body["permissions"].values())
    assert len(calls) == 3  # `award` is bookkeeping: nothing to call
