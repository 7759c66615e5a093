"""engage_rules.adapters.api_calls: one API call against a local HTTP server, and what
its answer means for delivery (retryable or permanent, when to retry, which route)."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from engage_rules.adapters.api_calls import (
    Buckets,
    count,
    failure,
    message_text,
    passed,
    permanent,
    seconds,
    send,
    until,
    whole_id,
)
from engage_rules.adapters.base import DeliveryError

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC).timestamp()


def test_send_posts_json_and_returns_any_answer(httpserver: HTTPServer) -> None:
    seen: list[tuple[str, str, object, str | None]] = []

    def handler(request: Request) -> Response:
        seen.append(
            (request.method, request.path, request.get_json(), request.headers.get("X-Test"))
        )
        return Response(
            json.dumps({"ok": False}), status=403, headers={"X-Thing": "1"}, mimetype="text/json"
        )

    httpserver.expect_request("/api/call").respond_with_handler(handler)
    answer = send(
        httpserver.url_for("/api/call"),
        body={"text": "你好"},
        headers={"X-Test": "yes"},
        timeout=5,
        what="call",
        platform="Test",
    )
    assert seen == [("POST", "/api/call", {"text": "你好"}, "yes")]
    assert (answer.status, answer.data, answer.headers["x-thing"]) == (403, {"ok": False}, "1")


def test_send_without_a_body_and_an_answer_that_is_not_json(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/pins/1", method="PUT").respond_with_data("", status=204)
    httpserver.expect_request("/text").respond_with_data("<html>oops</html>", status=502)
    answer = send(
        httpserver.url_for("/pins/1"), method="PUT", timeout=5, what="pin", platform="Test"
    )
    assert (answer.status, answer.body, answer.data) == (204, b"", None)
    answer = send(httpserver.url_for("/text"), timeout=5, what="x", platform="Test")
    assert (answer.status, answer.data) == (502, None)


def test_an_unreachable_server_is_a_retryable_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nobody listens there
    with pytest.raises(DeliveryError) as info:
        send(
            f"http://127.0.0.1:{port}/x",
            body={},
            timeout=2,
            what="sendMessage",
            platform="Test",
            route="test:1",
        )
    err = info.value
    assert not err.permanent and err.route == "test:1"
    assert str(err).startswith("sendMessage: could not reach Test: ")


def test_429_takes_the_bodys_retry_after_first_then_the_header() -> None:
    headers = {"retry-after": "9"}
    err = failure("m", 429, "Too Many Requests", retry_after=3, headers=headers, route="r")
    assert (err.permanent, err.retry_after, err.status, err.route) == (False, 3.0, 429, "r")
    assert failure("m", 429, "slow down", headers=headers).retry_after == 9.0
    later = format_datetime(datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=60), usegmt=True)
    from_date = failure("m", 429, "x", headers={"retry-after": later}).retry_after
    assert from_date is not None and from_date >= 0
    assert failure("m", 429, "x", retry_after="soon", headers={}).retry_after is None
    assert str(err) == "m: Too Many Requests"


@pytest.mark.parametrize(
    ("status", "is_permanent"),
    [
        (400, True),
        (401, True),
        (403, True),
        (404, True),
        (408, False),
        (425, False),
        (500, False),
        (502, False),
        (503, False),
    ],
)
def test_which_errors_are_permanent(status: int, is_permanent: bool) -> None:
    err = failure("call", status, "no")
    assert (err.permanent, err.status, err.retry_after) == (is_permanent, status, None)


@given(st.one_of(st.none(), st.booleans(), st.text(max_size=8), st.floats(), st.integers()))
def test_seconds_reads_only_finite_non_negative_numbers(value: object) -> None:
    out = seconds(value)
    if out is not None:
        assert out >= 0 and out == out and out != float("inf")
        assert not isinstance(value, bool)


def test_seconds_and_count_examples() -> None:
    assert [seconds(v) for v in ("1.5", 2, -1, "nan", "inf", True, None)] == [
        1.5,
        2.0,
        None,
        None,
        None,
        None,
        None,
    ]
    assert [count(v) for v in ("4", 4, "x", None, True)] == [4, 4, None, None, None]


def test_until_reads_an_aware_time_and_passed_says_when_it_is_over() -> None:
    later = datetime.fromtimestamp(NOW + 3600, UTC)
    assert until({"until": later.isoformat()}) == later
    assert until({"until": "2026-03-02T21:00:00+08:00"}) == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    assert until({}) is None
    assert not passed(later, NOW) and not passed(None, NOW)
    assert passed(datetime.fromtimestamp(NOW, UTC), NOW)
    for bad, message in (("tomorrow", "is not an ISO 8601 time"), ("2026-03-03T00:00", "offset")):
        with pytest.raises(DeliveryError, match=message) as info:
            until({"until": bad})
        assert info.value.permanent


def test_permanent() -> None:
    err = permanent("cannot")
    assert err.permanent and str(err) == "cannot"


def test_buckets_name_a_route_by_its_bucket_once_learnt() -> None:
    buckets = Buckets("discord", limit=2)
    route = "POST /channels/1/messages"
    assert buckets.key(route, "1") == "discord:POST /channels/1/messages"
    buckets.learn(route, None)  # an answer without a bucket teaches nothing
    assert buckets.key(route, "1") == "discord:POST /channels/1/messages"
    buckets.learn(route, "abcd")
    assert buckets.key(route, "1") == "discord:abcd:1"
    buckets.learn("PATCH /guilds/9/members/:id", "ef")
    buckets.learn("DELETE /guilds/9/members/:id", "gh")  # over the limit: the oldest goes
    assert buckets.key(route, "1") == "discord:POST /channels/1/messages"
    assert buckets.key("DELETE /guilds/9/members/:id", "9") == "discord:gh:9"


def test_message_text_and_whole_id_refuse_what_no_platform_can_take() -> None:
    assert message_text({"text": "你好"}, 10, "QQ") == "你好"
    for params in ({}, {"text": "  "}, {"text": 5}):
        with pytest.raises(DeliveryError, match="the message has no text") as info:
            message_text(params, 10, "QQ")
        assert info.value.permanent
    with pytest.raises(DeliveryError, match="the message is 11 characters; QQ allows 10"):
        message_text({"text": "x" * 11}, 10, "QQ")
    assert whole_id(-5, "chat", "a Telegram id") == -5
    assert whole_id("-100123", "chat", "a Telegram id") == -100123
    for bad in (True, "12a", None, 1.5):
        with pytest.raises(DeliveryError, match="is not a Telegram id") as info:
            whole_id(bad, "chat", "a Telegram id")
        assert info.value.permanent
