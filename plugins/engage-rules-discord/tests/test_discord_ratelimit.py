"""REST rate limits honoured before a call: per-route buckets by major parameter, shared
bucket hashes, the global limit (a global 429 and 50 requests a second)."""

from __future__ import annotations

from typing import Any

import pytest
from engage_rules_discord.plugin import DiscordAdapter
from engage_rules_discord.ratelimit import RateLimits, split_route
from pytest_httpserver import HTTPServer

from engage_rules.adapters import DeliveryError

GUILD = "81384788765712384"
GENERAL = "1301000000000000001"
OTHER = "1301000000000000003"
USER = "1067468743521075230"
BUCKET = "80c17d2f203122d936070c88c8d10f33"
SPENT = {
    "x-ratelimit-bucket": BUCKET,
    "x-ratelimit-remaining": "0",
    "x-ratelimit-reset-after": "1.5",
}
POST = f"POST /channels/{GENERAL}/messages"


class Time:
    """A monotonic clock that sleeping moves."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def limits(t: Time, **kw: Any) -> RateLimits:
    return RateLimits(clock=t.clock, sleep=t.sleep, **kw)


def test_routes_split_into_template_and_major_parameter() -> None:
    assert split_route(POST) == ("POST /channels/{id}/messages", GENERAL)
    assert split_route(f"DELETE /guilds/{GUILD}/members/:id") == (
        "DELETE /guilds/{id}/members/:id",
        GUILD,
    )
    assert split_route("POST /users/@me/channels") == ("POST /users/@me/channels", "")


def test_a_spent_bucket_is_waited_out_before_the_next_call() -> None:
    t = Time()
    rl = limits(t)
    rl.before(POST)
    rl.after(POST, 200, SPENT, None)
    rl.before(POST)
    assert t.slept == [1.5]
    rl.before(POST)  # the window passed: unknown until the next answer, no wait
    assert t.slept == [1.5]


def test_buckets_count_per_major_parameter() -> None:
    t = Time()
    rl = limits(t)
    rl.after(POST, 200, SPENT, None)
    rl.before(f"POST /channels/{OTHER}/messages")  # another channel: its own count
    assert t.slept == []


def test_routes_with_the_same_bucket_hash_share_it() -> None:
    t = Time()
    rl = limits(t)
    delete = f"DELETE /channels/{GENERAL}/messages/:id"
    rl.after(delete, 204, {"x-ratelimit-bucket": BUCKET}, None)  # learns the hash
    rl.after(POST, 200, SPENT, None)
    rl.before(delete)
    assert t.slept == [1.5]


def test_remaining_calls_are_counted_down_before_answers_arrive() -> None:
    t = Time()
    rl = limits(t)
    rl.after(POST, 200, {**SPENT, "x-ratelimit-remaining": "2"}, None)
    rl.before(POST)
    rl.before(POST)
    assert t.slept == []
    rl.before(POST)  # two calls in flight took what was left
    assert t.slept == [1.5]


def test_a_long_wait_is_handed_back_to_the_dispatcher_without_a_call() -> None:
    t = Time()
    rl = limits(t, max_wait=1.0)
    rl.after(POST, 200, SPENT, None)
    with pytest.raises(DeliveryError) as info:
        rl.before(POST)
    assert (info.value.permanent, info.value.retry_after) == (False, 1.5)
    assert "route rate limit" in str(info.value)
    assert t.slept == []


def test_a_global_429_stops_every_route() -> None:
    t = Time()
    rl = limits(t)
    body = {"message": "You are being rate limited.", "retry_after": 0.75, "global": True}
    rl.after(POST, 429, {}, body)
    rl.before(f"PUT /guilds/{GUILD}/bans/:id")
    assert t.slept == [0.75]


def test_a_route_429_stops_that_route_only() -> None:
    t = Time()
    rl = limits(t)
    rl.after(POST, 429, {"retry-after": "1", "x-ratelimit-scope": "user"}, {})
    rl.before(f"POST /channels/{OTHER}/messages")
    assert t.slept == []
    rl.before(POST)
    assert t.slept == [1.0]


def test_fifty_requests_a_second_in_all() -> None:
    t = Time()
    rl = limits(t)
    for n in range(50):
        rl.before(f"POST /channels/{n}/messages")
    assert t.slept == []
    rl.before("POST /channels/51/messages")
    assert t.slept == [1.0]


def test_garbage_headers_are_ignored() -> None:
    t = Time()
    rl = limits(t)
    rl.after(POST, 200, {"x-ratelimit-remaining": "many", "x-ratelimit-reset-after": "-1"}, None)
    rl.after(POST, 429, {"retry-after": "nan"}, "not an object")
    rl.before(f"POST /channels/{OTHER}/messages")
    assert t.slept == []


@pytest.mark.e2e
def test_the_client_waits_for_a_spent_bucket_before_calling(httpserver: HTTPServer) -> None:
    headers = {
        "X-RateLimit-Bucket": BUCKET,
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": "0.5",
    }
    httpserver.expect_request(f"/api/v10/channels/{GENERAL}/messages").respond_with_json(
        {"id": "1478003500000000000"}, headers=headers
    )
    adapter = DiscordAdapter(
        {"token": "t", "base_url": httpserver.url_for("/api/v10"), "guilds": {GUILD: "fans"}}
    )
    t = Time()
    adapter._client.limits = limits(t)
    action = {
        "type": "reply",
        "member": USER,
        "community": "fans",
        "channel": GENERAL,
        "params": {"text": "hi"},
    }
    adapter.deliver(action)
    assert t.slept == []
    adapter.deliver(action)
    assert t.slept == [0.5]  # waited before the second call, no 429 needed
    assert len(httpserver.log) == 2
