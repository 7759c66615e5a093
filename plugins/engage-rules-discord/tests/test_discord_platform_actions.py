"""Roles, pins and polls on Discord: the REST requests (pure), end to end — recorded
gateway payloads → a YAML playbook → the actions → the calls a local server on 127.0.0.1
receives — and join requests, which Discord cannot answer, refused when the service
starts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engage_rules_discord.client import Request, Targets, plan
from engage_rules_discord.plugin import DiscordAdapter
from pytest_httpserver import HTTPServer
from werkzeug import Response

from engage_rules import Engine, compile_playbook
from engage_rules.adapters import DeliveryError
from engage_rules.runtime.config import load_config
from engage_rules.runtime.service import Service, SetupError
from engage_rules.testing import (
    FrozenClock,
    action,
    actions_from_payloads,
    deliver_all,
    load_playbook_text,
    write_setup,
)

DATA = Path(__file__).parent / "data"
GUILD = "81384788765712384"
GENERAL = "1301000000000000001"
VIP = "1301000000000000201"
USER = "1067468743521075230"
MESSAGE = "1478002685239230471"
CLOCK = FrozenClock(datetime(2026, 3, 2, 12, 17, tzinfo=UTC))
SETTINGS: dict[str, Any] = {
    "token": "t",
    "guilds": {GUILD: "fans"},
    "channels": {GENERAL: "general"},
    "roles": {VIP: "vip", "1301000000000000101": "moderator", "1301000000000000102": "moderator"},
    "broadcast_channels": {"fans": "general"},
}


def targets() -> Targets:
    a = DiscordAdapter(SETTINGS, clock=CLOCK.time)
    return Targets(a.guild_of, a.channel_id, a.broadcast_channel, a.role_id)


def act(type_: str, params: dict[str, Any], member: str | None = USER) -> dict[str, Any]:
    return action(type_, member, params=params, community="fans", key=f"k-{type_}")


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


POLL = {
    "poll": {
        "question": {"text": "周末去哪？"},
        "answers": [{"poll_media": {"text": "爬山"}}, {"poll_media": {"text": "看展"}}],
        "duration": 24,
        "allow_multiselect": True,
        "layout_type": 1,
    },
    "allowed_mentions": {"parse": ["users"]},
}


@pytest.mark.parametrize(
    ("action_", "request_"),
    [
        (
            act("grant_role", {"role": "vip", "reason": "100 posts"}),
            Request(
                "PUT",
                f"/guilds/{GUILD}/members/{USER}/roles/{VIP}",
                f"PUT /guilds/{GUILD}/members/:id/roles/:id",
                reason="100 posts",
            ),
        ),
        (
            act("remove_role", {"role": VIP}),
            Request(
                "DELETE",
                f"/guilds/{GUILD}/members/{USER}/roles/{VIP}",
                f"DELETE /guilds/{GUILD}/members/:id/roles/:id",
            ),
        ),
        (
            act("pin", {"message_id": MESSAGE, "channel": "general"}),
            Request(
                "PUT",
                f"/channels/{GENERAL}/messages/pins/{MESSAGE}",
                f"PUT /channels/{GENERAL}/messages/pins/:id",
            ),
        ),
        (
            act("unpin", {"message_id": MESSAGE, "channel": GENERAL, "reason": "old"}),
            Request(
                "DELETE",
                f"/channels/{GENERAL}/messages/pins/{MESSAGE}",
                f"DELETE /channels/{GENERAL}/messages/pins/:id",
                reason="old",
            ),
        ),
        (
            act(
                "poll",
                {"question": "周末去哪？", "options": ["爬山", "看展"], "multiple": True},
                member=None,
            ),
            Request(
                "POST", f"/channels/{GENERAL}/messages", f"POST /channels/{GENERAL}/messages", POLL
            ),
        ),
    ],
)
def test_plan(action_: dict[str, Any], request_: Request) -> None:
    assert plan(action_, targets(), CLOCK.time()) == [request_]


@pytest.mark.parametrize(
    ("action_", "message"),
    [
        (
            act("grant_role", {"role": "helper"}),
            "role 'helper' is not a Discord role id: map its id to it in `roles`",
        ),
        (
            act("grant_role", {"role": "moderator"}),
            "role 'moderator' is the name of several ids in `roles` (1301000000000000101, "
            "1301000000000000102): grant_role needs one; give the id",
        ),
        (act("remove_role", {}), "`remove_role` has no role"),
        (act("pin", {"message_id": MESSAGE}), "`pin` has no channel (the event carried none)"),
        (act("unpin", {"channel": "general"}), "`unpin` has no message_id"),
        (
            act("poll", {"question": "q", "options": ["a", "b"], "anonymous": True}, member=None),
            "Discord polls always show who voted: `anonymous: true` cannot be delivered",
        ),
        (
            act("poll", {"question": "q", "options": ["x" * 56, "b"]}, member=None),
            "the poll needs 1 to 10 answers of 1 to 55 characters",
        ),
        (
            act("approve_join", {}),
            "the discord adapter cannot deliver `approve_join` actions",
        ),
    ],
)
def test_undeliverable_actions_are_permanent(action_: dict[str, Any], message: str) -> None:
    with pytest.raises(DeliveryError) as info:
        plan(action_, targets(), CLOCK.time())
    assert info.value.permanent and str(info.value) == message


def test_join_requests_are_not_capabilities() -> None:
    capabilities = DiscordAdapter(SETTINGS).capabilities
    assert {"grant_role", "remove_role", "pin", "unpin", "poll"} <= capabilities
    assert not {"approve_join", "decline_join"} & capabilities


PLAYBOOK = """\
engage_rules: 1
name: discord-platform
community: {name: Fans, timezone: Asia/Shanghai}
rules:
  - id: tutorial
    on: message.posted
    if: "'教程' in event.data.text"
    do:
      - pin: {reason: 教程}
      - grant_role: {role: vip, reason: 分享教程}
      - poll: {question: 有用吗？, options: [有用, 一般]}
"""


@pytest.mark.e2e
def test_gateway_payloads_to_rest_calls(httpserver: HTTPServer) -> None:
    adapter = DiscordAdapter(
        {**SETTINGS, "base_url": httpserver.url_for("/api/v10")}, clock=CLOCK.time
    )
    engine = Engine(compile_playbook(load_playbook_text(PLAYBOOK, "discord-platform.yaml")))
    actions = actions_from_payloads(adapter, engine, [load("message_create")])
    assert [(a["type"], a["member"]) for a in actions] == [
        ("pin", USER),
        ("grant_role", USER),
        ("poll", None),
    ]
    for method, path in (
        ("PUT", f"/api/v10/channels/{GENERAL}/messages/pins/{MESSAGE}"),
        ("PUT", f"/api/v10/guilds/{GUILD}/members/{USER}/roles/{VIP}"),
    ):
        httpserver.expect_request(path, method=method).respond_with_response(
            Response(status=204, headers={"X-RateLimit-Bucket": "b1", "X-RateLimit-Remaining": "4"})
        )
    httpserver.expect_request(f"/api/v10/channels/{GENERAL}/messages").respond_with_json(
        {"id": "1478004000000000009", "channel_id": GENERAL}
    )
    delivered = deliver_all(adapter, actions)
    assert delivered[0].route == f"discord:b1:{GENERAL}"
    assert delivered[1].remaining == 4 and delivered[1].platform_id is None
    assert delivered[2].platform_id == "1478004000000000009"
    calls = [
        (r.method, r.path, r.headers.get("X-Audit-Log-Reason"), r.get_json(silent=True))
        for r, _ in httpserver.log
    ]
    assert calls[:2] == [
        ("PUT", f"/api/v10/channels/{GENERAL}/messages/pins/{MESSAGE}", "%E6%95%99%E7%A8%8B", None),
        (
            "PUT",
            f"/api/v10/guilds/{GUILD}/members/{USER}/roles/{VIP}",
            "%E5%88%86%E4%BA%AB%E6%95%99%E7%A8%8B",
            None,
        ),
    ]
    method, path, _, body = calls[2]
    assert (method, path) == ("POST", f"/api/v10/channels/{GENERAL}/messages")
    assert isinstance(body, dict)
    assert body["poll"]["question"] == {"text": "有用吗？"}
    assert [a["poll_media"]["text"] for a in body["poll"]["answers"]] == ["有用", "一般"]


def test_a_playbook_answering_join_requests_is_refused_at_start(tmp_path: Path) -> None:
    playbook = """\
engage_rules: 1
name: screening
rules:
  - id: screen
    on: member.join_requested
    do: [{approve_join: {}}]
"""
    config = write_setup(
        tmp_path,
        f"""\
store: memory://
sources:
  - type: webhook
    listen: 127.0.0.1:0
    secret_env: HOOK_SECRET
    parser: discord
adapters:
  discord:
    token_env: DISCORD_TOKEN
    guilds: {{{GUILD}: fans}}
""",
        playbook=playbook,
    )
    with pytest.raises(SetupError) as info:
        Service.from_config(load_config(config, {"DISCORD_TOKEN": "t", "HOOK_SECRET": "s" * 32}))
    [problem] = info.value.problems
    assert problem.startswith(f"{(tmp_path / 'playbook.yaml').resolve()}:6:")
    assert "action `approve_join` is not supported by any configured adapter" in problem
    assert "discord (" in problem and "grant_role" in problem
