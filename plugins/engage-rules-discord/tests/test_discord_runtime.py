"""The adapter inside `engage-rules run`: a gateway payload forwarded, signed, to the
webhook source (``parser: discord``) is committed, and its actions reach the REST API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from engage_rules.testing import live_service, wait_for

pytestmark = pytest.mark.e2e

DATA = Path(__file__).parent / "data"
GUILD = "81384788765712384"
GENERAL = "1301000000000000001"
DM = "1300000000000000555"
TOKEN = "discord-runtime-test-token"
HOOK_SECRET = "discord-hook-secret-0123456789"

PLAYBOOK = """\
engage_rules: 1
name: discord-live
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
    """The runtime config: a webhook source parsing Discord payloads, the adapter
    pointed at ``api_url`` (the local server)."""
    return f"""\
store: sqlite:///{tmp_path}/state.db
timer_poll: 0.2
sources:
  - type: webhook
    listen: 127.0.0.1:0
    secret_env: HOOK_SECRET
    parser: discord
adapters:
  discord:
    token_env: DISCORD_TOKEN
    base_url: {api_url}
    guilds: {{{GUILD}: fans}}
    channels: {{{GENERAL}: general}}
dispatch:
  default: discord
  retry: {{base: 0.05, max_delay: 0.5, max_attempts: 50}}
  shutdown_timeout: 5
"""


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


def test_gateway_payloads_posted_to_the_runtime_reach_the_rest_api(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/api/v10/users/@me/channels").respond_with_json({"id": DM})
    httpserver.expect_request(f"/api/v10/channels/{DM}/messages").respond_with_json(
        {"id": "1478004000000000001"}
    )
    httpserver.expect_request(
        f"/api/v10/channels/{GENERAL}/messages/1478002685239230471", method="DELETE"
    ).respond_with_response(Response(status=204))
    with live_service(
        config(tmp_path, httpserver.url_for("/api/v10")),
        playbook=PLAYBOOK,
        directory=tmp_path,
        env={"HOOK_SECRET": HOOK_SECRET, "DISCORD_TOKEN": TOKEN},
    ) as live:
        ad = load("message_create")
        ad["d"]["content"] = "兼职日结，加微信 abc123"
        assert live.post(load("guild_member_add")) == (
            202,
            {
                "status": "accepted",
                "events": [f"discord:{GUILD}:joined:1112223334445556667:1772453940000"],
            },
        )
        assert live.post(ad) == (
            202,
            {"status": "accepted", "events": ["discord:1478002685239230471"]},
        )
        assert live.post(load("heartbeat_ack")) == (202, {"status": "accepted", "events": []})
        wait_for(lambda: len(httpserver.log) >= 3)
    calls = sorted((r.method, r.path, r.headers.get("Authorization")) for r, _ in httpserver.log)
    assert calls == [
        ("DELETE", f"/api/v10/channels/{GENERAL}/messages/1478002685239230471", f"Bot {TOKEN}"),
        ("POST", f"/api/v10/channels/{DM}/messages", f"Bot {TOKEN}"),
        ("POST", "/api/v10/users/@me/channels", f"Bot {TOKEN}"),
    ]
