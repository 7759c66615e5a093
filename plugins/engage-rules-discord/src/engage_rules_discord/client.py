"""Delivery: the REST requests :func:`~.rest_plan.plan` makes of an action, sent with the
standard library; the answers become :class:`~engage_rules.adapters.Delivery` /
:class:`~engage_rules.adapters.DeliveryError`, reading Discord's rate-limit headers.

Errors (:mod:`engage_rules.adapters.api_calls`, shared with the other HTTP adapters): a
429 is retried after the body's ``retry_after`` (else the ``Retry-After`` header); 408,
425, 5xx answers and network failures are retried; any other 4xx is permanent.
Deliveries report their route by Discord's rate-limit bucket once an answer named it
(:class:`~engage_rules.adapters.api_calls.Buckets`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from engage_rules.plugin_api import Delivery, DeliveryError, api_calls

from .ratelimit import RateLimits
from .rest_plan import ALLOWED_MENTIONS, CAPABILITIES, MAX_CONTENT, Request, Targets, plan

# The delivery code every HTTP adapter shares (engage_rules.adapters.api_calls).
Answer = api_calls.Answer
Buckets = api_calls.Buckets
count = api_calls.count
failure = api_calls.failure
seconds = api_calls.seconds
send = api_calls.send

DEFAULT_BASE_URL = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (https://pypi.org/project/engage-rules-discord/, 0.1.0)"


class DiscordClient:
    """Sends REST requests; thread-safe (one HTTPS request per call; the DM channel cache
    and the learnt rate-limit buckets are locked)."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bot {token}", "User-Agent": USER_AGENT}
        self._timeout = timeout
        self.clock = clock
        self._dm_channels: dict[str, str] = {}
        self._lock = threading.Lock()
        self.buckets = Buckets("discord")
        self.limits = RateLimits()  # per-route buckets and the global limit (ratelimit.py)

    def deliver(self, action: Mapping[str, Any], targets: Targets) -> Delivery:
        requests = plan(action, targets, self.clock())
        if not requests:
            return Delivery(details={"skipped": "the action's `until` has already passed"})
        answer: Answer | None = None
        last = requests[-1]
        for request in requests:
            last = request if request.dm_user is None else self._to_dm(request, request.dm_user)
            answer = self.call(last)
        assert answer is not None
        data = answer.data
        created = data.get("id") if isinstance(data, dict) else None
        return Delivery(
            platform_id=str(created) if created is not None and last.method == "POST" else None,
            route=self._route(last.route),
            remaining=count(answer.headers.get("x-ratelimit-remaining")),
            reset_after=seconds(answer.headers.get("x-ratelimit-reset-after")),
            details=dict(last.details),
        )

    def _route(self, route: str) -> str:
        """``discord:<bucket>:<major>`` once Discord named the route's bucket (routes
        sharing a bucket share a limit per major parameter), else ``discord:<route>``."""
        return self.buckets.key(route, route.split("/")[2] if route.count("/") >= 2 else "")

    def _to_dm(self, request: Request, uid: str) -> Request:
        """Point a message at the member's DM channel, opening it once per member."""
        with self._lock:
            channel = self._dm_channels.get(uid)
        if channel is None:
            answer = self.call(
                Request(
                    "POST", "/users/@me/channels", "POST /users/@me/channels", {"recipient_id": uid}
                )
            )
            data = answer.data
            raw = data.get("id") if isinstance(data, dict) else None
            if not isinstance(raw, str | int) or isinstance(raw, bool):
                raise DeliveryError(
                    "POST /users/@me/channels: the answer has no channel id",
                    status=answer.status,
                    route="POST /users/@me/channels",
                )
            channel = str(raw)
            with self._lock:
                self._dm_channels[uid] = channel
        return replace(
            request,
            path=f"/channels/{channel}/messages",
            route=f"POST /channels/{channel}/messages",
            dm_user=None,
        )

    def call(self, request: Request) -> Answer:
        """Send one request; the answer on 2xx, else raise :class:`DeliveryError`."""
        self.limits.before(request.route)
        headers = dict(self._headers)
        if request.reason:
            headers["X-Audit-Log-Reason"] = quote(request.reason, safe="")
        what = request.route
        answer = send(
            self._base + request.path,
            method=request.method,
            body=request.body,
            headers=headers,
            timeout=self._timeout,
            what=what,
            platform="Discord",
            route=self._route(request.route),
        )
        self.buckets.learn(request.route, answer.headers.get("x-ratelimit-bucket"))
        self.limits.after(request.route, answer.status, answer.headers, answer.data)
        if 200 <= answer.status < 300:
            return answer
        raise self._error(what, answer, request.route)

    def _error(self, what: str, answer: Answer, route: str) -> DeliveryError:
        data = answer.data
        info = data if isinstance(data, dict) else {}
        message = str(info.get("message") or f"HTTP {answer.status}")
        if isinstance(info.get("code"), int) and info["code"]:
            message = f"{message} (code {info['code']})"
        if answer.status == 429:
            scope = (
                "global" if info.get("global") is True else answer.headers.get("x-ratelimit-scope")
            )
            if scope:
                message = f"{message} [{scope} rate limit]"
        return failure(
            what,
            answer.status,
            message,
            retry_after=info.get("retry_after"),
            headers=answer.headers,
            route=self._route(route),
        )


__all__ = [
    "ALLOWED_MENTIONS",
    "CAPABILITIES",
    "DEFAULT_BASE_URL",
    "MAX_CONTENT",
    "DiscordClient",
    "Request",
    "Targets",
    "plan",
]
