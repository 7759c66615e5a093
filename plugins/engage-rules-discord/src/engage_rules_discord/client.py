"""Delivery: one engage_rules action (docs/reference.md §6.1 shape) → Discord REST calls.

:func:`plan` turns an action into the requests that carry it out (pure); the
:class:`DiscordClient` sends them with the standard library and maps the answers to
:class:`~engage_rules.adapters.Delivery` / :class:`~engage_rules.adapters.DeliveryError`,
reading Discord's rate-limit headers.

=================  ===================================================================
Action             REST calls (API v10)
=================  ===================================================================
``send``, ``warn``  ``POST /users/@me/channels`` (the DM channel, cached), then
                    ``POST /channels/{dm}/messages``
``reply``           ``POST /channels/{channel}/messages`` with ``message_reference``
``broadcast``       ``POST /channels/{channel}/messages`` (``params.channel``, else the
                    community's ``broadcast_channels`` entry)
``delete_message``  ``DELETE /channels/{channel}/messages/{message}``
``mute``            ``PATCH /guilds/{guild}/members/{user}`` ``communication_disabled_until``
``unmute``          the same with ``communication_disabled_until: null``
``kick``            ``DELETE /guilds/{guild}/members/{user}``
``ban``             ``PUT /guilds/{guild}/bans/{user}``
``unban``           ``DELETE /guilds/{guild}/bans/{user}``
=================  ===================================================================

Moderation calls carry the action's reason in ``X-Audit-Log-Reason``.  A 429 is retried
after the body's ``retry_after`` (else the ``Retry-After`` header); 5xx answers and
network failures are retried; any other 4xx is permanent.
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from typing import Any
from urllib.parse import quote

from engage_rules.plugin_api import Delivery, DeliveryError

from .ratelimit import RateLimits

DEFAULT_BASE_URL = "https://discord.com/api/v10"
USER_AGENT = "DiscordBot (https://pypi.org/project/engage-rules-discord/, 0.1.0)"
MAX_CONTENT = 2000  # characters in one message
MAX_TIMEOUT = timedelta(days=28)  # the longest timeout Discord accepts
MAX_REASON = 512  # characters of X-Audit-Log-Reason
#: Mentions a message may ping: members, never @everyone or roles.
ALLOWED_MENTIONS: Mapping[str, Any] = {"parse": ["users"]}


def _allowed_mentions(**extra: Any) -> dict[str, Any]:
    return {"parse": list(ALLOWED_MENTIONS["parse"]), **extra}


CAPABILITIES = frozenset(
    {
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
    }
)


@dataclass(frozen=True, slots=True)
class Request:
    """One REST request.  ``route`` is its rate-limit route: the path template with its
    major parameter (channel or guild id) filled in."""

    method: str
    path: str
    route: str
    body: dict[str, Any] | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    #: A direct message to this user: the client fills in their DM channel.
    dm_user: str | None = None


@dataclass(frozen=True, slots=True)
class Targets:
    """Where a community lives on Discord (from the adapter's settings)."""

    guild_of: Callable[[str], str]
    channel_id: Callable[[str], str]
    broadcast_channel: Callable[[str], str]


def _permanent(message: str) -> DeliveryError:
    return DeliveryError(message, permanent=True)


def _id(value: Any, what: str) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 20):
        raise _permanent(f"{what} {value!r} is not a Discord id")
    return text


def _content(params: Mapping[str, Any]) -> str:
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _permanent("the message has no text")
    if len(text) > MAX_CONTENT:
        raise _permanent(f"the message is {len(text)} characters; Discord allows {MAX_CONTENT}")
    return text


class _Expired(Exception):
    """The action's ``until`` has passed: nothing to do on the platform."""


def _until(params: Mapping[str, Any], now: float) -> datetime:
    raw = params.get("until")
    try:
        until = datetime.fromisoformat(str(raw))
    except ValueError:
        raise _permanent(f"`until` {raw!r} is not an ISO 8601 time") from None
    if until.tzinfo is None:
        raise _permanent(f"`until` {raw!r} has no UTC offset")
    if until.timestamp() <= now:
        raise _Expired(raw)
    return until.astimezone(UTC)


def plan(action: Mapping[str, Any], targets: Targets, now: float) -> list[Request]:
    """The requests that carry out ``action``, except a ``send``'s DM channel lookup (the
    client adds it).  Raises a permanent :class:`DeliveryError` for an action that cannot
    be delivered; returns ``[]`` for a mute whose ``until`` has passed."""
    kind = action.get("type")
    params = action.get("params") or {}
    if not isinstance(params, Mapping):
        raise _permanent("action params must be an object")
    community = str(action.get("community") or "default")
    member = action.get("member")
    raw_reason = params.get("reason")
    reason = str(raw_reason)[:MAX_REASON] if raw_reason else None

    def user() -> str:
        if member is None:
            raise _permanent(f"`{kind}` needs a member")
        return _id(member, "member")

    def message(channel: str, body: dict[str, Any]) -> Request:
        return Request(
            "POST", f"/channels/{channel}/messages", f"POST /channels/{channel}/messages", body
        )

    if kind in ("send", "warn"):
        uid = user()  # the client opens (or reuses) the member's DM channel
        return [
            Request(
                "POST",
                "/channels/{dm}/messages",
                "POST /channels/{dm}/messages",
                {"content": _content(params), "allowed_mentions": _allowed_mentions()},
                dm_user=uid,
            )
        ]
    if kind == "reply":
        channel = params.get("channel") or action.get("channel")
        if not channel:
            raise _permanent("`reply` has no channel (the event carried none)")
        body = _reply_body(params)
        return [message(targets.channel_id(str(channel)), body)]
    if kind == "broadcast":
        channel = params.get("channel")
        cid = targets.channel_id(str(channel)) if channel else targets.broadcast_channel(community)
        return [
            message(cid, {"content": _content(params), "allowed_mentions": _allowed_mentions()})
        ]
    if kind == "delete_message":
        channel = params.get("channel") or action.get("channel")
        if not channel:
            raise _permanent("`delete_message` has no channel (the event carried none)")
        if not params.get("message_id"):
            raise _permanent("`delete_message` has no message_id (the event carried none)")
        cid = targets.channel_id(str(channel))
        mid = _id(params["message_id"], "message_id")
        return [
            Request(
                "DELETE",
                f"/channels/{cid}/messages/{mid}",
                f"DELETE /channels/{cid}/messages/:id",
                reason=reason,
            )
        ]
    if kind in ("mute", "unmute", "kick", "ban", "unban"):
        guild, uid = targets.guild_of(community), user()
        return _member_requests(kind, guild, uid, params, reason, now)
    raise _permanent(f"the discord adapter cannot deliver `{kind}` actions")


def _reply_body(params: Mapping[str, Any]) -> dict[str, Any]:
    """A reply's message: it mentions the member replied to, and quotes ``reply_to``."""
    body: dict[str, Any] = {
        "content": _content(params),
        "allowed_mentions": _allowed_mentions(replied_user=True),
    }
    if params.get("reply_to"):
        body["message_reference"] = {
            "message_id": _id(params["reply_to"], "reply_to"),
            "fail_if_not_exists": False,
        }
    return body


def _member_requests(
    kind: str,
    guild: str,
    uid: str,
    params: Mapping[str, Any],
    reason: str | None,
    now: float,
) -> list[Request]:
    """The request that mutes, unmutes, kicks, bans or unbans member ``uid``."""
    member_path = f"/guilds/{guild}/members/{uid}"
    if kind == "mute":
        return _mute_requests(guild, member_path, params, reason, now)
    if kind == "unmute":
        return [
            Request(
                "PATCH",
                member_path,
                f"PATCH /guilds/{guild}/members/:id",
                {"communication_disabled_until": None},
                reason,
            )
        ]
    if kind == "kick":
        return [
            Request("DELETE", member_path, f"DELETE /guilds/{guild}/members/:id", reason=reason)
        ]
    ban_path = f"/guilds/{guild}/bans/{uid}"
    if kind == "ban":
        return [
            Request(
                "PUT",
                ban_path,
                f"PUT /guilds/{guild}/bans/:id",
                {"delete_message_seconds": 0},
                reason,
            )
        ]
    return [Request("DELETE", ban_path, f"DELETE /guilds/{guild}/bans/:id", reason=reason)]


def _mute_requests(
    guild: str,
    member_path: str,
    params: Mapping[str, Any],
    reason: str | None,
    now: float,
) -> list[Request]:
    """A timeout until ``params.until`` (at most Discord's longest); none once it passed."""
    try:
        until = _until(params, now)
    except _Expired:
        return []
    latest = datetime.fromtimestamp(now, UTC) + MAX_TIMEOUT
    details = {}
    if until > latest:  # Discord refuses longer timeouts; the engine unmutes later
        until = latest
        details["clamped_to"] = until.isoformat()
    return [
        Request(
            "PATCH",
            member_path,
            f"PATCH /guilds/{guild}/members/:id",
            {"communication_disabled_until": until.isoformat()},
            reason,
            details,
        )
    ]


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: Any


class DiscordClient:
    """Sends REST requests; thread-safe (one HTTPS request per call; the DM channel cache
    is locked)."""

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
        self.limits = RateLimits()  # per-route buckets and the global limit (ratelimit.py)

    def deliver(self, action: Mapping[str, Any], targets: Targets) -> Delivery:
        requests = plan(action, targets, self.clock())
        if not requests:
            return Delivery(details={"skipped": "the action's `until` has already passed"})
        answer: _Answer | None = None
        last = requests[-1]
        for request in requests:
            last = request if request.dm_user is None else self._to_dm(request, request.dm_user)
            answer = self.call(last)
        assert answer is not None
        created = answer.body.get("id") if isinstance(answer.body, dict) else None
        return Delivery(
            platform_id=str(created) if created is not None and last.method == "POST" else None,
            route=_bucket_route(answer.headers, last.route),
            remaining=_count(answer.headers.get("x-ratelimit-remaining")),
            reset_after=_seconds(answer.headers.get("x-ratelimit-reset-after")),
            details=dict(last.details),
        )

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
            raw = answer.body.get("id") if isinstance(answer.body, dict) else None
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

    def call(self, request: Request) -> _Answer:
        """Send one request; the answer on 2xx, else raise :class:`DeliveryError`."""
        self.limits.before(request.route)
        headers = dict(self._headers)
        data = None
        if request.body is not None:
            data = json.dumps(request.body).encode()
            headers["Content-Type"] = "application/json"
        if request.reason:
            headers["X-Audit-Log-Reason"] = quote(request.reason, safe="")
        http_request = urllib.request.Request(
            self._base + request.path, data=data, headers=headers, method=request.method
        )
        what = request.route
        try:
            with urllib.request.urlopen(http_request, timeout=self._timeout) as response:
                status, raw = response.status, response.read()
                response_headers = {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
            response_headers = {k.lower(): v for k, v in err.headers.items()}
        except (urllib.error.URLError, HTTPException, OSError) as err:
            reason = getattr(err, "reason", err)
            raise DeliveryError(
                f"{what}: could not reach Discord: {reason}", route=request.route
            ) from None
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.limits.after(request.route, status, response_headers, body)
        if 200 <= status < 300:
            return _Answer(status, response_headers, body)
        raise _error(what, status, response_headers, body, request.route)


def _error(
    what: str, status: int, headers: Mapping[str, str], body: Any, route: str
) -> DeliveryError:
    info = body if isinstance(body, dict) else {}
    message = str(info.get("message") or f"HTTP {status}")
    if isinstance(info.get("code"), int) and info["code"]:
        message = f"{message} (code {info['code']})"
    if status == 429:
        retry_after = _seconds(info.get("retry_after"))
        if retry_after is None:
            retry_after = _seconds(headers.get("retry-after"))
        scope = "global" if info.get("global") is True else headers.get("x-ratelimit-scope")
        if scope:
            message = f"{message} [{scope} rate limit]"
        return DeliveryError(
            f"{what}: {message}",
            retry_after=retry_after,
            status=429,
            route=_bucket_route(headers, route),
        )
    return DeliveryError(
        f"{what}: {message}",
        permanent=400 <= status < 500,
        status=status,
        route=_bucket_route(headers, route),
    )


def _bucket_route(headers: Mapping[str, str], route: str) -> str:
    """``discord:<route>`` — Discord's bucket hash, when it sent one, in place of the
    path template (routes sharing a bucket share a limit per major parameter)."""
    bucket = headers.get("x-ratelimit-bucket")
    if not bucket:
        return f"discord:{route}"
    major = route.split("/")[2] if route.count("/") >= 2 else ""
    return f"discord:{bucket}:{major}"


def _seconds(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _count(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


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
