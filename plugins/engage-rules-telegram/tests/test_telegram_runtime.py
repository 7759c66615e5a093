"""The adapter inside `engage-rules run`: a signed Telegram update posted to the webhook
source (``parser: telegram``) is committed, and its actions reach the Bot API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from engage_rules.testing import live_service, wait_for

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parent / "data"
CHAT = -1001234567890
TOKEN = "123456:runtime-test"
HOOK_SECRET = "telegram-hook-secret-0123456789"

PLAYBOOK = """\
engage_rules: 1
name: telegram-live
community: {name: Fans, timezone: Asia/Shanghai}
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
"""


def config(tmp_path: Path, api_url: str) -> str:
    """The runtime config: a webhook source parsing Telegram payloads, the adapter
    pointed at ``api_url`` (the local server)."""
    return f"""\
store: sqlite:///{tmp_path}/state.db
timer_poll: 0.2
sources:
  - type: webhook
    listen: 127.0.0.1:0
    secret_env: HOOK_SECRET
    parser: telegram
adapters:
  telegram:
    token_env: TELEGRAM_TOKEN
    base_url: {api_url}
    chats: {{{CHAT}: fans}}
dispatch:
  default: telegram
  retry: {{base: 0.05, max_delay: 0.5, max_attempts: 50}}
  shutdown_timeout: 5
"""


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def test_updates_posted_to_the_runtime_reach_the_bot_api(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(f"/bot{TOKEN}/sendMessage").respond_with_json(
        {"ok": True, "result": {"message_id": 9001}}
    )
    httpserver.expect_request(f"/bot{TOKEN}/deleteMessage").respond_with_json(
        {"ok": True, "result": True}
    )
    with live_service(
        config(tmp_path, httpserver.url_for("/").rstrip("/")),
        playbook=PLAYBOOK,
        directory=tmp_path,
        env={"HOOK_SECRET": HOOK_SECRET, "TELEGRAM_TOKEN": TOKEN},
    ) as live:
        ad = load("message_text")
        ad["message"]["text"] = "兼职日结，加微信 abc123"
        assert live.post(load("chat_member_joined")) == (
            202,
            {"status": "accepted", "events": [f"telegram:{CHAT}:joined:6333333333:1772453900"]},
        )
        assert live.post(ad) == (202, {"status": "accepted", "events": [f"telegram:{CHAT}:4521"]})
        assert live.post(load("message_from_bot")) == (202, {"status": "accepted", "events": []})
        wait_for(lambda: len(httpserver.log) >= 2)
    calls = sorted((r.path.rsplit("/", 1)[1], json.loads(r.data)) for r, _ in httpserver.log)
    assert calls == [
        ("deleteMessage", {"chat_id": CHAT, "message_id": 4521}),
        ("sendMessage", {"chat_id": 6333333333, "text": "欢迎 Omar!"}),
    ]
