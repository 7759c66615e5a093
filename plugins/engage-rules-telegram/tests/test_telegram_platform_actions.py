"""Roles (member tags), pins, join requests and polls: what is sent to the Bot API (pure),
and end to end — recorded updates → a YAML playbook → the actions → the calls a local
Bot API server on 127.0.0.1 receives."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from engage_rules_telegram.client import plan
from engage_rules_telegram.plugin import TelegramAdapter
from pytest_httpserver import HTTPServer

from engage_rules import Engine, compile_playbook
from engage_rules.adapters import DeliveryError
from engage_rules.testing import (
    FrozenClock,
    action,
    actions_from_payloads,
    deliver_all,
    load_playbook_text,
)

DATA = Path(__file__).parent / "data"
CHAT = -1001234567890
TOKEN = "123456:platform"
CLOCK = FrozenClock(datetime(2026, 3, 2, 12, 20, tzinfo=UTC))
NOW = CLOCK.time()
USER = {"chat_id": CHAT, "user_id": 5012345678}


def act(type_: str, params: dict[str, Any], member: str | None = "5012345678") -> dict[str, Any]:
    return action(type_, member, params=params, community="fans", key=f"k-{type_}")


def chat_of(community: str) -> int:
    return {"fans": CHAT}[community]


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return payload


@pytest.mark.parametrize(
    ("action_", "calls"),
    [
        (act("grant_role", {"role": "vip"}), [("setChatMemberTag", {**USER, "tag": "VIP 会员"})]),
        (act("grant_role", {"role": "helper"}), [("setChatMemberTag", {**USER, "tag": "helper"})]),
        (act("remove_role", {"role": "vip"}), [("setChatMemberTag", {**USER, "tag": ""})]),
        (
            act("pin", {"message_id": "4521", "channel": str(CHAT)}),
            [
                (
                    "pinChatMessage",
                    {"chat_id": CHAT, "message_id": 4521, "disable_notification": True},
                )
            ],
        ),
        (
            act("unpin", {"message_id": "4521", "channel": None}),
            [("unpinChatMessage", {"chat_id": CHAT, "message_id": 4521})],
        ),
        (act("approve_join", {}), [("approveChatJoinRequest", USER)]),
        (act("decline_join", {"reason": "no bio"}), [("declineChatJoinRequest", USER)]),
        (
            act(
                "poll",
                {"question": "周末去哪？", "options": ["爬山", "看展"], "channel": None},
                member=None,
            ),
            [
                (
                    "sendPoll",
                    {
                        "chat_id": CHAT,
                        "question": "周末去哪？",
                        "options": [{"text": "爬山"}, {"text": "看展"}],
                        "allows_multiple_answers": False,
                    },
                )
            ],
        ),
        (
            act(
                "poll",
                {"question": "q", "options": ["a", "b", "c"], "multiple": True, "anonymous": False},
                member=None,
            ),
            [
                (
                    "sendPoll",
                    {
                        "chat_id": CHAT,
                        "question": "q",
                        "options": [{"text": "a"}, {"text": "b"}, {"text": "c"}],
                        "allows_multiple_answers": True,
                        "is_anonymous": False,
                    },
                )
            ],
        ),
    ],
)
def test_plan(action_: dict[str, Any], calls: list[tuple[str, dict[str, Any]]]) -> None:
    planned = plan(action_, chat_of, NOW, {"vip": "VIP 会员"})
    assert [(c.method, c.params) for c in planned] == calls


@pytest.mark.parametrize(
    ("action_", "message"),
    [
        (
            act("grant_role", {"role": "a-very-long-role-name"}),
            "role 'a-very-long-role-name': the Telegram member tag 'a-very-long-role-name' is "
            "longer than 16 characters; map the role to a shorter tag in `roles`",
        ),
        (act("grant_role", {}), "`grant_role` has no role"),
        (act("pin", {"channel": str(CHAT)}), "`pin` has no message_id"),
        (act("unpin", {"message_id": "abc"}), "message_id 'abc' is not a Telegram id"),
        (act("approve_join", {}, member=None), "`approve_join` needs a member"),
        (
            act("poll", {"question": "q", "options": ["only one"]}, member=None),
            "the poll needs 2 to 10 options of 1 to 100 characters",
        ),
        (
            act("poll", {"question": "", "options": ["a", "b"]}, member=None),
            "the poll's question must have 1 to 300 characters",
        ),
    ],
)
def test_undeliverable_actions_are_permanent(action_: dict[str, Any], message: str) -> None:
    with pytest.raises(DeliveryError) as info:
        plan(action_, chat_of, NOW)
    assert info.value.permanent and str(info.value) == message


def test_a_role_tag_longer_than_telegram_allows_is_refused_in_settings() -> None:
    with pytest.raises(ValueError, match="a member tag has 1 to 16 characters"):
        TelegramAdapter({"token": "1:a", "roles": {"vip": "x" * 17}})


PLAYBOOK = """\
engage_rules: 1
name: telegram-platform
community: {name: Fans, timezone: Asia/Shanghai}
rules:
  - id: screen
    on: member.join_requested
    if: "event.data.bio and event.data.invite_link == 'spring-campaign'"
    do: [{approve_join: {}}]
    else: [{decline_join: {reason: 来源不明}}]
  - id: announcements
    on: message.posted
    if: "event.data.text.startswith('大家好')"
    do:
      - pin: {}
      - grant_role: vip
      - poll: {question: 喜欢这个教程吗？, options: [喜欢, 一般], anonymous: false}
"""


@pytest.mark.e2e
def test_updates_to_bot_api_calls(httpserver: HTTPServer) -> None:
    adapter = TelegramAdapter(
        {
            "token": TOKEN,
            "base_url": httpserver.url_for("/"),
            "chats": {str(CHAT): "fans"},
            "roles": {"vip": "VIP"},
        },
        clock=CLOCK.time,
    )
    engine = Engine(compile_playbook(load_playbook_text(PLAYBOOK, "telegram-platform.yaml")))
    request = load("chat_join_request")
    no_bio = load("chat_join_request")
    del no_bio["chat_join_request"]["bio"]
    no_bio["chat_join_request"]["from"]["id"] = 6555555555
    no_bio["update_id"] += 1
    actions = actions_from_payloads(adapter, engine, [request, no_bio, load("message_text")])
    assert [(a["type"], a["member"]) for a in actions] == [
        ("approve_join", "6444444444"),
        ("decline_join", "6555555555"),
        ("pin", "5012345678"),
        ("grant_role", "5012345678"),
        ("poll", None),
    ]
    for method in ("approveChatJoinRequest", "declineChatJoinRequest", "pinChatMessage"):
        httpserver.expect_request(f"/bot{TOKEN}/{method}").respond_with_json(
            {"ok": True, "result": True}
        )
    httpserver.expect_request(f"/bot{TOKEN}/setChatMemberTag").respond_with_json(
        {"ok": True, "result": True}
    )
    httpserver.expect_request(f"/bot{TOKEN}/sendPoll").respond_with_json(
        {"ok": True, "result": {"message_id": 4600}}
    )
    delivered = deliver_all(adapter, actions)
    assert delivered[-1].platform_id == "4600"
    calls = [(r.path.rsplit("/", 1)[1], json.loads(r.data)) for r, _ in httpserver.log]
    assert calls == [
        ("approveChatJoinRequest", {"chat_id": CHAT, "user_id": 6444444444}),
        ("declineChatJoinRequest", {"chat_id": CHAT, "user_id": 6555555555}),
        ("pinChatMessage", {"chat_id": CHAT, "message_id": 4521, "disable_notification": True}),
        ("setChatMemberTag", {"chat_id": CHAT, "user_id": 5012345678, "tag": "VIP"}),
        (
            "sendPoll",
            {
                "chat_id": CHAT,
                "question": "喜欢这个教程吗？",
                "options": [{"text": "喜欢"}, {"text": "一般"}],
                "allows_multiple_answers": False,
                "is_anonymous": False,
            },
        ),
    ]


def test_a_join_request_the_bot_may_no_longer_answer_is_permanent(
    httpserver: HTTPServer,
) -> None:
    adapter = TelegramAdapter(
        {"token": TOKEN, "base_url": httpserver.url_for("/"), "chats": {str(CHAT): "fans"}},
        clock=CLOCK.time,
    )
    httpserver.expect_request(f"/bot{TOKEN}/approveChatJoinRequest").respond_with_json(
        {"ok": False, "error_code": 400, "description": "Bad Request: HIDE_REQUESTER_MISSING"},
        status=400,
    )
    with pytest.raises(DeliveryError) as info:
        adapter.deliver(act("approve_join", {}))
    assert info.value.permanent and "HIDE_REQUESTER_MISSING" in str(info.value)
