"""Delivery through the Bot API, against a real local HTTP server (pytest-httpserver)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from engage_rules_telegram.client import ApiCall, plan
from engage_rules_telegram.plugin import TelegramAdapter
from hypothesis import HealthCheck, given, settings
from pytest_httpserver import HTTPServer

from engage_rules.adapters import Delivery, DeliveryError
from engage_rules.testing import FrozenClock, action
from engage_rules.testing import strategies as est

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
CHAT = -1001234567890
#: The instant the adapter works at (the recorded payloads arrive just before).
CLOCK = FrozenClock(datetime(2026, 3, 2, 12, 15, tzinfo=UTC))
NOW = CLOCK.time()
SENT = {
    "ok": True,
    "result": {
        "message_id": 4530,
        "date": 1772453700,
        "text": "hi",
        "from": {"id": 7000000001, "is_bot": True, "first_name": "FansHelper"},
        "chat": {"id": CHAT, "title": "Fans 粉丝群", "type": "supergroup"},
    },
}


def act(
    type_: str,
    params: dict[str, Any],
    member: str | None = "5012345678",
    channel: str | None = None,
) -> dict[str, Any]:
    """The kit's action, caused by the recorded message at NOW, in the fans community."""
    return action(
        type_,
        member,
        params=params,
        key=f"k-{type_}",
        rule="r",
        cause="telegram:-1001234567890:4521",
        at="2026-03-02T12:15:00+00:00",
        community="fans",
        channel=channel,
    )


def chat_of(community: str) -> int:
    return {"fans": CHAT}[community]


def adapter(server: HTTPServer) -> TelegramAdapter:
    return TelegramAdapter(
        {"token": TOKEN, "base_url": server.url_for("/").rstrip("/"), "chats": {str(CHAT): "fans"}},
        clock=CLOCK.time,
    )


def path(method: str) -> str:
    return f"/bot{TOKEN}/{method}"


# -- what is sent (pure) ---------------------------------------------------------------------

NO = dict.fromkeys(
    (
        "can_send_messages",
        "can_send_audios",
        "can_send_documents",
        "can_send_photos",
        "can_send_videos",
        "can_send_video_notes",
        "can_send_voice_notes",
        "can_send_polls",
        "can_send_other_messages",
        "can_add_web_page_previews",
        "can_change_info",
        "can_invite_users",
        "can_pin_messages",
        "can_manage_topics",
    ),
    False,
)
YES = dict.fromkeys(NO, True)
USER = {"chat_id": CHAT, "user_id": 5012345678}


@pytest.mark.parametrize(
    ("action", "calls"),
    [
        (
            act("send", {"text": "Welcome!"}),
            [("sendMessage", {"chat_id": 5012345678, "text": "Welcome!"})],
        ),
        (
            act("warn", {"text": "Please keep it civil", "reason": "rude"}),
            [("sendMessage", {"chat_id": 5012345678, "text": "Please keep it civil"})],
        ),
        (
            act("reply", {"text": "Thanks!", "channel": str(CHAT), "reply_to": "4521"}),
            [
                (
                    "sendMessage",
                    {
                        "chat_id": CHAT,
                        "text": "Thanks!",
                        "reply_parameters": {
                            "message_id": 4521,
                            "allow_sending_without_reply": True,
                        },
                    },
                )
            ],
        ),
        (
            act("broadcast", {"text": "Weekly top 10 is out"}, member=None),
            [("sendMessage", {"chat_id": CHAT, "text": "Weekly top 10 is out"})],
        ),
        (
            act("delete_message", {"message_id": "4521", "channel": str(CHAT), "reason": "spam"}),
            [("deleteMessage", {"chat_id": CHAT, "message_id": 4521})],
        ),
        (
            act("delete_message", {"message_id": "4521", "channel": None}, channel=str(CHAT)),
            [("deleteMessage", {"chat_id": CHAT, "message_id": 4521})],
        ),
        (
            act("mute", {"for": "1h", "until": "2026-03-02T21:15:00+08:00", "reason": "flood"}),
            [
                (
                    "restrictChatMember",
                    {
                        **USER,
                        "permissions": NO,
                        "use_independent_chat_permissions": True,
                        "until_date": int(NOW) + 3600,
                    },
                )
            ],
        ),
        (
            act("unmute", {"reason": "expired"}),
            [
                (
                    "restrictChatMember",
                    {**USER, "permissions": YES, "use_independent_chat_permissions": True},
                )
            ],
        ),
        (
            act("kick", {"reason": "spam"}),
            [
                ("banChatMember", {**USER, "revoke_messages": False}),
                ("unbanChatMember", {**USER, "only_if_banned": True}),
            ],
        ),
        (act("ban", {"reason": "scam"}), [("banChatMember", {**USER, "revoke_messages": False})]),
        (
            act("ban", {"reason": "scam", "for": "7d", "until": "2026-03-09T12:15:00+00:00"}),
            [
                (
                    "banChatMember",
                    {**USER, "revoke_messages": False, "until_date": int(NOW) + 7 * 86400},
                )
            ],
        ),
        (
            act("unban", {"reason": "appeal"}),
            [("unbanChatMember", {**USER, "only_if_banned": True})],
        ),
    ],
)
def test_plan(action: dict[str, Any], calls: list[tuple[str, dict[str, Any]]]) -> None:
    assert [(c.method, c.params) for c in plan(action, chat_of, NOW)] == calls


def test_a_mute_about_to_end_is_not_made_permanent() -> None:
    # Telegram treats until_date < 30 s away as "forever": never send one that close.
    [call] = plan(act("mute", {"for": "1m", "until": "2026-03-02T12:15:10+00:00"}), chat_of, NOW)
    assert call.params["until_date"] == int(NOW) + 30


def test_a_mute_already_over_is_skipped() -> None:
    assert (
        plan(act("mute", {"for": "1m", "until": "2026-03-02T12:00:00+00:00"}), chat_of, NOW) == []
    )


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            act("award", {"currency": "points", "amount": 5}),
            "the telegram adapter cannot deliver `award` actions",
        ),
        (act("send", {"text": "hi"}, member="u42"), "member 'u42' is not a Telegram id"),
        (act("send", {"text": "  "}), "the message has no text"),
        (act("send", {"text": "x" * 4097}), "the message is 4097 characters; Telegram allows 4096"),
        (
            act("delete_message", {"message_id": None, "channel": str(CHAT)}),
            "`delete_message` has no message_id (the event carried none)",
        ),
        (act("mute", {"for": "1h", "until": "soon"}), "`until` 'soon' is not an ISO 8601 time"),
        (act("kick", {}, member=None), "`kick` needs a member"),
    ],
)
def test_undeliverable_actions_are_permanent(action: dict[str, Any], message: str) -> None:
    with pytest.raises(DeliveryError) as info:
        plan(action, chat_of, NOW)
    assert info.value.permanent and str(info.value) == message


def test_a_community_without_a_chat_is_permanent(httpserver: HTTPServer) -> None:
    a = adapter(httpserver)
    with pytest.raises(DeliveryError) as info:
        a.deliver(
            {
                **act("mute", {"for": "1h", "until": "2026-03-02T13:15:00+00:00"}),
                "community": "elsewhere",
            }
        )
    assert info.value.permanent
    assert "community 'elsewhere' has no Telegram chat" in str(info.value)


# -- over HTTP ------------------------------------------------------------------------------


def test_send_posts_json_to_the_method_url(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(
        path("sendMessage"),
        method="POST",
        json={
            "chat_id": CHAT,
            "text": "Thanks!",
            "reply_parameters": {"message_id": 4521, "allow_sending_without_reply": True},
        },
        headers={"Content-Type": "application/json"},
    ).respond_with_json(SENT)
    result = adapter(httpserver).deliver(
        act("reply", {"text": "Thanks!", "channel": str(CHAT), "reply_to": "4521"})
    )
    httpserver.check_assertions()
    assert result == Delivery(platform_id="4530", route=f"telegram:{CHAT}")


def test_kick_bans_then_unbans(httpserver: HTTPServer) -> None:
    for method in ("banChatMember", "unbanChatMember"):
        httpserver.expect_ordered_request(path(method), method="POST").respond_with_json(
            {"ok": True, "result": True}
        )
    result = adapter(httpserver).deliver(act("kick", {"reason": "spam"}))
    httpserver.check_assertions()
    assert [json.loads(r.data) for r, _ in httpserver.log] == [
        {**USER, "revoke_messages": False},
        {**USER, "only_if_banned": True},
    ]
    assert result.platform_id is None


def test_expired_mute_makes_no_call(httpserver: HTTPServer) -> None:
    result = adapter(httpserver).deliver(
        act("mute", {"for": "1m", "until": "2026-03-02T12:00:00+00:00"})
    )
    assert httpserver.log == []
    assert result.details == {"skipped": "the action's `until` has already passed"}


def test_429_retry_after_from_the_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request(path("sendMessage")).respond_with_json(
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 35",
            "parameters": {"retry_after": 35},
        },
        status=429,
    )
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(act("send", {"text": "hi"}))
    err = info.value
    assert (err.permanent, err.retry_after, err.status) == (False, 35.0, 429)
    assert str(err) == "sendMessage: Too Many Requests: retry after 35"


def test_429_retry_after_from_the_header(httpserver: HTTPServer) -> None:
    httpserver.expect_request(path("sendMessage")).respond_with_json(
        {"ok": False, "error_code": 429, "description": "Too Many Requests"},
        status=429,
        headers={"Retry-After": "12"},
    )
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(act("send", {"text": "hi"}))
    assert (info.value.permanent, info.value.retry_after) == (False, 12.0)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request(path("deleteMessage")).respond_with_json(
        {"ok": False, "error_code": status, "description": "Internal Server Error"}, status=status
    )
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(
            act("delete_message", {"message_id": "1", "channel": str(CHAT)})
        )
    assert (info.value.permanent, info.value.status, info.value.retry_after) == (
        False,
        status,
        None,
    )


def test_a_proxy_error_page_is_retryable(httpserver: HTTPServer) -> None:
    httpserver.expect_request(path("sendMessage")).respond_with_data(
        "<html>502 Bad Gateway</html>", status=502, content_type="text/html"
    )
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(act("send", {"text": "hi"}))
    assert not info.value.permanent and info.value.status == 502


@pytest.mark.parametrize(
    ("status", "description"),
    [
        (400, "Bad Request: message to delete not found"),
        (403, "Forbidden: bot was blocked by the user"),
        (404, "Not Found"),
        (401, "Unauthorized"),
    ],
)
def test_client_errors_are_permanent(httpserver: HTTPServer, status: int, description: str) -> None:
    httpserver.expect_request(path("sendMessage")).respond_with_json(
        {"ok": False, "error_code": status, "description": description}, status=status
    )
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(act("send", {"text": "hi"}))
    err = info.value
    assert err.permanent and err.status == status
    assert str(err) == f"sendMessage: {description}"
    assert TOKEN not in str(err)


def test_group_migrated_to_supergroup_says_so(httpserver: HTTPServer) -> None:
    httpserver.expect_request(path("sendMessage")).respond_with_json(
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": CHAT},
        },
        status=400,
    )
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(act("broadcast", {"text": "hi"}, member=None))
    assert info.value.permanent
    assert f"the group is now the supergroup {CHAT}: update `chats`" in str(info.value)


def test_unreachable_server_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    a = TelegramAdapter({"token": TOKEN, "base_url": f"http://127.0.0.1:{port}"})
    with pytest.raises(DeliveryError) as info:
        a.deliver(act("send", {"text": "hi"}))
    assert not info.value.permanent and info.value.status is None
    assert TOKEN not in str(info.value)


def test_closed_adapter_refuses(httpserver: HTTPServer) -> None:
    a = adapter(httpserver)
    a.close()
    with pytest.raises(DeliveryError):
        a.deliver(act("send", {"text": "hi"}))


def test_api_call_is_a_value() -> None:
    assert ApiCall("sendMessage", {"chat_id": 1}, 1) == ApiCall("sendMessage", {"chat_id": 1}, 1)


#: The action types the adapter is asked to plan (platform actions and bookkeeping).
KINDS = [
    "send",
    "warn",
    "reply",
    "broadcast",
    "delete_message",
    "mute",
    "unmute",
    "kick",
    "ban",
    "unban",
    "award",
    "level_changed",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    action=est.damaged_actions(
        types=KINDS,
        communities=["fans", "elsewhere", "-100777"],
        samples=[
            "4521",
            "-1001234567890",
            "2026-03-02T13:00:00+00:00",
            "2026-03-02T12:00:00",
            "fans",
        ],
    )
)
def test_any_action_is_planned_or_refused_permanently(action: dict[str, Any]) -> None:

    def chat_or_refuse(name: str) -> int:
        if name == "elsewhere":
            raise DeliveryError("no chat", permanent=True)
        return CHAT if name == "fans" else int(name)

    try:
        calls = plan(action, chat_or_refuse, NOW)
    except DeliveryError as err:
        assert err.permanent and str(err)
    else:
        assert all(isinstance(c, ApiCall) for c in calls)
