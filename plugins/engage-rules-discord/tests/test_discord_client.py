"""Delivery through the Discord REST API, against a real local HTTP server."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from engage_rules_discord.client import USER_AGENT, Targets, plan
from engage_rules_discord.client import Request as PlannedRequest
from engage_rules_discord.plugin import DiscordAdapter
from hypothesis import HealthCheck, given, settings
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from engage_rules.adapters import Delivery, DeliveryError
from engage_rules.testing import FrozenClock, action
from engage_rules.testing import strategies as est

TOKEN = "MTA2NzQ2ODc0MzUyMTA3NTIzMA.GhYx1a.fake-token-for-tests"
GUILD = "81384788765712384"
GENERAL = "1301000000000000001"
ANNOUNCE = "1301000000000000003"
DM = "1300000000000000555"
USER = "1067468743521075230"
#: The instant the adapter works at (the recorded payloads arrive just before).
CLOCK = FrozenClock(datetime(2026, 3, 2, 12, 15, tzinfo=UTC))
NOW = CLOCK.time()
AUTH = {"Authorization": f"Bot {TOKEN}", "User-Agent": USER_AGENT}
LIMITS = {
    "X-RateLimit-Limit": "5",
    "X-RateLimit-Remaining": "4",
    "X-RateLimit-Reset": "1772453701.5",
    "X-RateLimit-Reset-After": "1.5",
    "X-RateLimit-Bucket": "80c17d2f203122d936070c88c8d10f33",
}
MESSAGE = {"id": "1478003500000000000", "channel_id": GENERAL, "content": "hi", "type": 0}


def act(
    type_: str, params: dict[str, Any], member: str | None = USER, channel: str | None = None
) -> dict[str, Any]:
    """The kit's action, caused by the recorded message at NOW, in the fans community."""
    return action(
        type_,
        member,
        params=params,
        key=f"k-{type_}",
        rule="r",
        cause="discord:1478002685239230471",
        at="2026-03-02T12:15:00+00:00",
        community="fans",
        channel=channel,
    )


def adapter(server: HTTPServer, **settings: Any) -> DiscordAdapter:
    return DiscordAdapter(
        {
            "token": TOKEN,
            "base_url": server.url_for("/api/v10").rstrip("/"),
            "guilds": {GUILD: "fans"},
            "channels": {GENERAL: "general", ANNOUNCE: "announcements"},
            "broadcast_channels": {"fans": "announcements"},
            **settings,
        },
        clock=CLOCK.time,
    )


def body(request: Request) -> Any:
    return json.loads(request.data) if request.data else None


def test_send_opens_the_dm_channel_once(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request(
        "/api/v10/users/@me/channels", method="POST", json={"recipient_id": USER}, headers=AUTH
    ).respond_with_json({"id": DM, "type": 1, "recipients": []})
    for _ in range(2):
        httpserver.expect_ordered_request(
            f"/api/v10/channels/{DM}/messages",
            method="POST",
            headers=AUTH,
            json={"content": "Welcome!", "allowed_mentions": {"parse": ["users"]}},
        ).respond_with_json(MESSAGE, headers=LIMITS)
    a = adapter(httpserver)
    first = a.deliver(act("send", {"text": "Welcome!"}))
    second = a.deliver(act("warn", {"text": "Welcome!", "reason": "x"}))
    httpserver.check_assertions()
    assert (
        first
        == second
        == Delivery(
            platform_id="1478003500000000000",
            remaining=4,
            reset_after=1.5,
            route=f"discord:80c17d2f203122d936070c88c8d10f33:{DM}",
        )
    )


def test_reply_references_the_message(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(
        f"/api/v10/channels/{GENERAL}/messages",
        method="POST",
        headers=AUTH,
        json={
            "content": "Thanks!",
            "allowed_mentions": {"parse": ["users"], "replied_user": True},
            "message_reference": {"message_id": "1478002685239230471", "fail_if_not_exists": False},
        },
    ).respond_with_json(MESSAGE)
    result = adapter(httpserver).deliver(
        act("reply", {"text": "Thanks!", "channel": "general", "reply_to": "1478002685239230471"})
    )
    httpserver.check_assertions()
    assert result.platform_id == "1478003500000000000"
    assert result.route == f"discord:POST /channels/{GENERAL}/messages"


def test_broadcast_goes_to_the_community_channel(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(
        f"/api/v10/channels/{ANNOUNCE}/messages",
        method="POST",
        json={"content": "Top 10!", "allowed_mentions": {"parse": ["users"]}},
    ).respond_with_json(MESSAGE)
    adapter(httpserver).deliver(act("broadcast", {"text": "Top 10!"}, member=None))
    httpserver.check_assertions()


@pytest.mark.parametrize(
    ("action", "method", "path", "json_body", "reason"),
    [
        (
            act(
                "delete_message",
                {"message_id": "1478002685239230471", "channel": "general", "reason": "spam link"},
            ),
            "DELETE",
            f"/channels/{GENERAL}/messages/1478002685239230471",
            None,
            "spam%20link",
        ),
        (
            act("mute", {"for": "1h", "until": "2026-03-02T21:15:00+08:00", "reason": "flood"}),
            "PATCH",
            f"/guilds/{GUILD}/members/{USER}",
            {"communication_disabled_until": "2026-03-02T13:15:00+00:00"},
            "flood",
        ),
        (
            act("unmute", {"reason": "expired"}),
            "PATCH",
            f"/guilds/{GUILD}/members/{USER}",
            {"communication_disabled_until": None},
            "expired",
        ),
        (
            act("kick", {"reason": "刷屏"}),
            "DELETE",
            f"/guilds/{GUILD}/members/{USER}",
            None,
            "%E5%88%B7%E5%B1%8F",
        ),
        (
            act("ban", {"reason": "scam", "for": "7d", "until": "2026-03-09T12:15:00+00:00"}),
            "PUT",
            f"/guilds/{GUILD}/bans/{USER}",
            {"delete_message_seconds": 0},
            "scam",
        ),
        (act("unban", {"reason": ""}), "DELETE", f"/guilds/{GUILD}/bans/{USER}", None, None),
    ],
)
def test_moderation_calls(
    httpserver: HTTPServer,
    action: dict[str, Any],
    method: str,
    path: str,
    json_body: Any,
    reason: str | None,
) -> None:
    httpserver.expect_oneshot_request(
        f"/api/v10{path}", method=method, headers=AUTH
    ).respond_with_response(Response(status=204))
    result = adapter(httpserver).deliver(action)
    httpserver.check_assertions()
    [(request, _)] = httpserver.log
    assert body(request) == json_body
    assert request.headers.get("X-Audit-Log-Reason") == reason
    assert result.platform_id is None


def test_a_timeout_is_at_most_28_days(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        f"/api/v10/guilds/{GUILD}/members/{USER}", method="PATCH"
    ).respond_with_json({"user": {"id": USER}})
    result = adapter(httpserver).deliver(
        act("mute", {"for": "90d", "until": "2026-05-31T12:15:00+00:00", "reason": "x"})
    )
    [(request, _)] = httpserver.log
    assert body(request) == {"communication_disabled_until": "2026-03-30T12:15:00+00:00"}
    assert result.details == {"clamped_to": "2026-03-30T12:15:00+00:00"}


def test_a_mute_already_over_makes_no_call(httpserver: HTTPServer) -> None:
    result = adapter(httpserver).deliver(
        act("mute", {"for": "1m", "until": "2026-03-02T12:00:00+00:00", "reason": "x"})
    )
    assert httpserver.log == []
    assert result.details == {"skipped": "the action's `until` has already passed"}


def test_429_retry_after_from_the_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request(f"/api/v10/channels/{GENERAL}/messages").respond_with_json(
        {"message": "You are being rate limited.", "retry_after": 1.5, "global": False},
        status=429,
        headers={
            "Retry-After": "2",
            "X-RateLimit-Scope": "user",
            "X-RateLimit-Bucket": "80c17d2f203122d936070c88c8d10f33",
        },
    )
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(act("reply", {"text": "hi", "channel": GENERAL}))
    err = info.value
    assert (err.permanent, err.retry_after, err.status) == (False, 1.5, 429)
    assert err.route == f"discord:80c17d2f203122d936070c88c8d10f33:{GENERAL}"
    assert str(err) == (
        f"POST /channels/{GENERAL}/messages: You are being rate limited. [user rate limit]"
    )


def test_429_retry_after_from_the_header(httpserver: HTTPServer) -> None:
    httpserver.expect_request(f"/api/v10/guilds/{GUILD}/bans/{USER}").respond_with_data(
        "rate limited", status=429, headers={"Retry-After": "3"}
    )
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(act("ban", {"reason": "x"}))
    assert (info.value.permanent, info.value.retry_after) == (False, 3.0)


def test_global_rate_limit_is_named(httpserver: HTTPServer) -> None:
    httpserver.expect_request(f"/api/v10/guilds/{GUILD}/bans/{USER}").respond_with_json(
        {"message": "You are being rate limited.", "retry_after": 0.25, "global": True},
        status=429,
        headers={"Retry-After": "1", "X-RateLimit-Global": "true"},
    )
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(act("ban", {"reason": "x"}))
    assert info.value.retry_after == 0.25 and "[global rate limit]" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retryable(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request(f"/api/v10/guilds/{GUILD}/members/{USER}").respond_with_data(
        "upstream error", status=status
    )
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(act("kick", {"reason": "x"}))
    assert (info.value.permanent, info.value.status) == (False, status)


@pytest.mark.parametrize(
    ("status", "answer", "message"),
    [
        (
            403,
            {"message": "Missing Permissions", "code": 50013},
            "Missing Permissions (code 50013)",
        ),
        (404, {"message": "Unknown Message", "code": 10008}, "Unknown Message (code 10008)"),
        (
            400,
            {
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": {"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}},
            },
            "Invalid Form Body (code 50035)",
        ),
        (401, {"message": "401: Unauthorized", "code": 0}, "401: Unauthorized"),
    ],
)
def test_client_errors_are_permanent(
    httpserver: HTTPServer, status: int, answer: dict[str, Any], message: str
) -> None:
    httpserver.expect_request(
        f"/api/v10/channels/{GENERAL}/messages/1478002685239230471"
    ).respond_with_json(answer, status=status)
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(
            act("delete_message", {"message_id": "1478002685239230471", "channel": "general"})
        )
    err = info.value
    assert err.permanent and err.status == status
    assert str(err) == f"DELETE /channels/{GENERAL}/messages/:id: {message}"
    assert TOKEN not in str(err)


def test_a_member_who_blocks_dms_is_permanent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v10/users/@me/channels").respond_with_json({"id": DM})
    httpserver.expect_request(f"/api/v10/channels/{DM}/messages").respond_with_json(
        {"message": "Cannot send messages to this user", "code": 50007}, status=403
    )
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(act("send", {"text": "hi"}))
    assert info.value.permanent and "code 50007" in str(info.value)


def test_failed_dm_channel_lookup_is_reported(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v10/users/@me/channels").respond_with_data("", status=503)
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(act("send", {"text": "hi"}))
    assert not info.value.permanent
    assert str(info.value) == "POST /users/@me/channels: HTTP 503"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (
            act("award", {"currency": "points", "amount": 5}),
            "the discord adapter cannot deliver `award` actions",
        ),
        (act("send", {"text": "x" * 2001}), "the message is 2001 characters; Discord allows 2000"),
        (act("send", {"text": ""}), "the message has no text"),
        (act("send", {"text": "hi"}, member="u42"), "member 'u42' is not a Discord id"),
        (
            act("reply", {"text": "hi", "channel": None}),
            "`reply` has no channel (the event carried none)",
        ),
        (
            act("reply", {"text": "hi", "channel": "random"}),
            "channel 'random' is not a Discord channel id: map its id to it in `channels`",
        ),
        (
            act("delete_message", {"message_id": None, "channel": "general"}),
            "`delete_message` has no message_id (the event carried none)",
        ),
        (
            {**act("kick", {"reason": "x"}), "community": "elsewhere"},
            "community 'elsewhere' has no Discord guild: map its guild id to it in `guilds`",
        ),
        (
            {**act("broadcast", {"text": "hi"}, member=None), "community": GUILD},
            f"community '{GUILD}' has no broadcast channel: set one in `broadcast_channels`",
        ),
        (act("mute", {"for": "1h", "until": "later"}), "`until` 'later' is not an ISO 8601 time"),
    ],
)
def test_undeliverable_actions_fail_permanently_without_a_call(
    httpserver: HTTPServer, action: dict[str, Any], message: str
) -> None:
    with pytest.raises(DeliveryError) as info:
        adapter(httpserver).deliver(action)
    assert info.value.permanent and str(info.value) == message
    assert httpserver.log == []


def test_reply_falls_back_on_the_cause_channel(httpserver: HTTPServer) -> None:
    httpserver.expect_request(f"/api/v10/channels/{GENERAL}/messages").respond_with_json(MESSAGE)
    adapter(httpserver).deliver(act("reply", {"text": "hi", "channel": None}, channel="general"))
    assert len(httpserver.log) == 1


def test_unreachable_server_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    a = DiscordAdapter(
        {"token": TOKEN, "base_url": f"http://127.0.0.1:{port}", "guilds": {GUILD: "fans"}}
    )
    with pytest.raises(DeliveryError) as info:
        a.deliver(act("kick", {"reason": "x"}))
    assert not info.value.permanent and info.value.status is None
    assert TOKEN not in str(info.value)


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
        communities=["fans", "elsewhere", GUILD],
        samples=[
            "1478002685239230471",
            "general",
            GENERAL,
            "2026-03-02T13:00:00+00:00",
            "2026-03-02T12:00:00",
        ],
    )
)
def test_any_action_is_planned_or_refused_permanently(action: dict[str, Any]) -> None:
    a = DiscordAdapter(
        {
            "token": TOKEN,
            "guilds": {GUILD: "fans"},
            "channels": {GENERAL: "general"},
            "broadcast_channels": {"fans": "general"},
        }
    )
    try:
        requests = plan(action, Targets(a.guild_of, a.channel_id, a.broadcast_channel), NOW)
    except DeliveryError as err:
        assert err.permanent and str(err)
    else:
        assert all(isinstance(r, PlannedRequest) for r in requests)
