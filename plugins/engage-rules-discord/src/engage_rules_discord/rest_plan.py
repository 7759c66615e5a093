"""What one engage_rules action (docs/reference.md §6.1 shape) is on Discord: the REST
requests that carry it out (pure: :func:`plan`; :mod:`.client` sends them).

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
``grant_role``      ``PUT /guilds/{guild}/members/{user}/roles/{role}`` (the role's id:
                    the ``roles`` setting maps ids to names)
``remove_role``     ``DELETE /guilds/{guild}/members/{user}/roles/{role}``
``pin``             ``PUT /channels/{channel}/messages/pins/{message}``
``unpin``           ``DELETE /channels/{channel}/messages/pins/{message}``
``poll``            ``POST /channels/{channel}/messages`` with a ``poll`` object (24 h;
                    ``params.channel``, else the cause's, else ``broadcast_channels``)
=================  ===================================================================

Moderation, role and pin calls carry the action's reason in ``X-Audit-Log-Reason``.
Join requests (``approve_join``, ``decline_join``) are not capabilities: Discord's
public API has no endpoint to answer one (membership screening is answered by the
member, and the gateway's join-request events are undocumented).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engage_rules.plugin_api import api_calls

passed = api_calls.passed
permanent = api_calls.permanent
until = api_calls.until

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
        "grant_role",
        "remove_role",
        "pin",
        "unpin",
        "poll",
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
    role_id: Callable[[str], str] = field(default=lambda role: _id(role, "role"))


def _id(value: Any, what: str) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 20):
        raise permanent(f"{what} {value!r} is not a Discord id")
    return text


def _content(params: Mapping[str, Any]) -> str:
    return api_calls.message_text(params, MAX_CONTENT, "Discord")


def plan(action: Mapping[str, Any], targets: Targets, now: float) -> list[Request]:
    """The requests that carry out ``action``, except a ``send``'s DM channel lookup (the
    client adds it).  Raises a permanent :class:`DeliveryError` for an action that cannot
    be delivered; returns ``[]`` for a mute whose ``until`` has passed."""
    kind = action.get("type")
    params = action.get("params") or {}
    if not isinstance(params, Mapping):
        raise permanent("action params must be an object")
    community = str(action.get("community") or "default")
    member = action.get("member")
    raw_reason = params.get("reason")
    reason = str(raw_reason)[:MAX_REASON] if raw_reason else None

    def user() -> str:
        if member is None:
            raise permanent(f"`{kind}` needs a member")
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
            raise permanent("`reply` has no channel (the event carried none)")
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
            raise permanent("`delete_message` has no channel (the event carried none)")
        if not params.get("message_id"):
            raise permanent("`delete_message` has no message_id (the event carried none)")
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
    if kind in ("grant_role", "remove_role", "pin", "unpin", "poll"):
        return _platform_requests(str(kind), params, action, targets, user, reason)
    raise permanent(f"the discord adapter cannot deliver `{kind}` actions")


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
    ends = until(params)
    if ends is None:
        raise permanent("`mute` has no `until`")
    if passed(ends, now):
        return []
    latest = datetime.fromtimestamp(now, UTC) + MAX_TIMEOUT
    details = {}
    if ends > latest:  # Discord refuses longer timeouts; the engine unmutes later
        ends = latest
        details["clamped_to"] = ends.isoformat()
    return [
        Request(
            "PATCH",
            member_path,
            f"PATCH /guilds/{guild}/members/:id",
            {"communication_disabled_until": ends.isoformat()},
            reason,
            details,
        )
    ]


#: The most answers a Discord poll takes, and the longest question and answer.
MAX_ANSWERS, MAX_QUESTION, MAX_ANSWER = 10, 300, 55
POLL_HOURS = 24  # how long a poll stays open


def _platform_requests(
    kind: str,
    params: Mapping[str, Any],
    action: Mapping[str, Any],
    targets: Targets,
    user: Callable[[], str],
    reason: str | None,
) -> list[Request]:
    """The request for a role, pin or poll action."""
    community = str(action.get("community") or "default")
    channel = params.get("channel") or action.get("channel")
    if kind in ("grant_role", "remove_role"):
        role = params.get("role")
        if not isinstance(role, str) or not role:
            raise permanent(f"`{kind}` has no role")
        guild, uid, rid = targets.guild_of(community), user(), targets.role_id(role)
        method = "PUT" if kind == "grant_role" else "DELETE"
        return [
            Request(
                method,
                f"/guilds/{guild}/members/{uid}/roles/{rid}",
                f"{method} /guilds/{guild}/members/:id/roles/:id",
                reason=reason,
            )
        ]
    if kind in ("pin", "unpin"):
        if not channel:
            raise permanent(f"`{kind}` has no channel (the event carried none)")
        if not params.get("message_id"):
            raise permanent(f"`{kind}` has no message_id")
        cid, mid = targets.channel_id(str(channel)), _id(params["message_id"], "message_id")
        method = "PUT" if kind == "pin" else "DELETE"
        return [
            Request(
                method,
                f"/channels/{cid}/messages/pins/{mid}",
                f"{method} /channels/{cid}/messages/pins/:id",
                reason=reason,
            )
        ]
    cid = targets.channel_id(str(channel)) if channel else targets.broadcast_channel(community)
    return [
        Request(
            "POST",
            f"/channels/{cid}/messages",
            f"POST /channels/{cid}/messages",
            {"poll": _poll(params), "allowed_mentions": _allowed_mentions()},
        )
    ]


def _poll(params: Mapping[str, Any]) -> dict[str, Any]:
    """A poll request object from a ``poll`` action."""
    if params.get("anonymous") is True:
        raise permanent(
            "Discord polls always show who voted: `anonymous: true` cannot be delivered"
        )
    question, options = params.get("question"), params.get("options")
    if not isinstance(question, str) or not 0 < len(question) <= MAX_QUESTION:
        raise permanent(f"the poll's question must have 1 to {MAX_QUESTION} characters")
    if (
        not isinstance(options, list)
        or not 1 <= len(options) <= MAX_ANSWERS
        or not all(isinstance(o, str) and 0 < len(o) <= MAX_ANSWER for o in options)
    ):
        raise permanent(
            f"the poll needs 1 to {MAX_ANSWERS} answers of 1 to {MAX_ANSWER} characters"
        )
    return {
        "question": {"text": question},
        "answers": [{"poll_media": {"text": o}} for o in options],
        "duration": POLL_HOURS,
        "allow_multiselect": params.get("multiple") is True,
        "layout_type": 1,
    }
