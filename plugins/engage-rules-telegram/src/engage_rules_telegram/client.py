"""Delivery: one engage_rules action (docs/reference.md §6.1 shape) → Telegram Bot API calls.

Two halves: :func:`plan` turns an action into the API calls that carry it out (pure, so
what is sent is tested without a network), and :class:`TelegramClient` makes the calls
over HTTPS with the standard library and maps the answers to
:class:`~engage_rules.adapters.Delivery` / :class:`~engage_rules.adapters.DeliveryError`.

=================  ===============================================================
Action             Bot API calls
=================  ===============================================================
``send``, ``warn``  ``sendMessage`` to the member's private chat (chat id = user id)
``reply``           ``sendMessage`` to ``params.channel`` with ``reply_parameters``
``broadcast``       ``sendMessage`` to ``params.channel``, else the community's chat
``delete_message``  ``deleteMessage``
``mute``            ``restrictChatMember``, every permission false, ``until_date``
``unmute``          ``restrictChatMember``, every permission true (lifts the restriction)
``kick``            ``banChatMember`` then ``unbanChatMember`` (``only_if_banned``)
``ban``             ``banChatMember`` (``until_date`` when the ban has an ``until``)
``unban``           ``unbanChatMember`` (``only_if_banned``)
``grant_role``      ``setChatMemberTag`` with the role's tag (``roles`` setting, else
                    the role's name): a member has one tag, which granting replaces
``remove_role``     ``setChatMemberTag`` with an empty tag (clears the member's tag)
``pin``             ``pinChatMessage`` (``disable_notification``)
``unpin``           ``unpinChatMessage``
``approve_join``    ``approveChatJoinRequest``
``decline_join``    ``declineChatJoinRequest``
``poll``            ``sendPoll`` (``is_anonymous`` when the action says)
=================  ===============================================================

Errors (:mod:`engage_rules.adapters.api_calls`, shared with the other HTTP adapters): a
429 is retried after ``parameters.retry_after`` (or the ``Retry-After`` header); 408,
425, 5xx answers and network failures are retried; any other error (400 message to
delete not found, 403 bot was blocked by the user...) is permanent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engage_rules.plugin_api import Delivery, api_calls

# The delivery code every HTTP adapter shares (engage_rules.adapters.api_calls).
Answer = api_calls.Answer
failure = api_calls.failure
passed = api_calls.passed
permanent = api_calls.permanent
send = api_calls.send
until = api_calls.until

DEFAULT_BASE_URL = "https://api.telegram.org"
MAX_TEXT = 4096  # characters in one message (Bot API)
#: Telegram treats a restriction shorter than this as "forever".
MIN_RESTRICTION = 30

MAX_TAG = 16  # characters of a member tag (setChatMemberTag)
MAX_QUESTION = 300  # characters of a poll question (sendPoll)

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
        "approve_join",
        "decline_join",
        "poll",
    }
)

_MESSAGE_PERMISSIONS = (
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
)
_ALL_PERMISSIONS = (
    *_MESSAGE_PERMISSIONS,
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One Bot API method call: ``POST {base_url}/bot<token>/{method}`` with a JSON body."""

    method: str
    params: dict[str, Any]
    chat_id: int


def _int_id(value: Any, what: str) -> int:
    return api_calls.whole_id(value, what, "a Telegram id")


def _text(params: Mapping[str, Any]) -> str:
    return api_calls.message_text(params, MAX_TEXT, "Telegram")


def _unix(when: datetime | None, now: float) -> int | None:
    """A mute's or ban's end as Unix time, at least :data:`MIN_RESTRICTION` from now."""
    if when is None:
        return None
    return max(int(when.timestamp()), int(now) + MIN_RESTRICTION)


def plan(
    action: Mapping[str, Any],
    chat_of: Callable[[str], int],
    now: float,
    tags: Mapping[str, str] | None = None,
) -> list[ApiCall]:
    """The API calls that carry out ``action``.  ``chat_of(community)`` is the community's
    chat id; ``now`` (Unix time) turns ``until`` into ``until_date``; ``tags`` maps role
    names to member tags (``grant_role``; default: the role's name).  Raises a permanent
    :class:`DeliveryError` for an action that cannot be delivered, and returns ``[]`` for
    one that no longer needs to be (a mute or ban whose ``until`` has passed)."""
    kind = action.get("type")
    params = action.get("params") or {}
    if not isinstance(params, Mapping):
        raise permanent("action params must be an object")
    community = str(action.get("community") or "default")
    member = action.get("member")

    def user() -> int:
        if member is None:
            raise permanent(f"`{kind}` needs a member")
        return _int_id(member, "member")

    def channel() -> int:  # a reply or a deletion falls back on the cause's channel
        raw = params.get("channel") or (action.get("channel") if kind != "broadcast" else None)
        return chat_of(community) if raw in (None, "") else _int_id(raw, "channel")

    if kind in ("send", "warn"):
        uid = user()
        return [ApiCall("sendMessage", {"chat_id": uid, "text": _text(params)}, uid)]
    if kind in ("reply", "broadcast"):
        chat = channel()
        body: dict[str, Any] = {"chat_id": chat, "text": _text(params)}
        if kind == "reply" and params.get("reply_to") not in (None, ""):
            body["reply_parameters"] = {
                "message_id": _int_id(params["reply_to"], "reply_to"),
                "allow_sending_without_reply": True,
            }
        return [ApiCall("sendMessage", body, chat)]
    if kind == "delete_message":
        chat = channel()
        if params.get("message_id") in (None, ""):
            raise permanent("`delete_message` has no message_id (the event carried none)")
        return [
            ApiCall(
                "deleteMessage",
                {"chat_id": chat, "message_id": _int_id(params["message_id"], "message_id")},
                chat,
            )
        ]
    if kind in ("mute", "unmute", "kick", "ban", "unban"):
        chat, uid = chat_of(community), user()
        ends = until(params) if kind in ("mute", "ban") else None
        if passed(ends, now):
            return []
        return _member_calls(kind, chat, uid, _unix(ends, now))
    if kind in _PLATFORM_ACTIONS:
        return _platform_calls(
            str(kind), params, tags or {}, lambda: chat_of(community), channel, user
        )
    raise permanent(f"the telegram adapter cannot deliver `{kind}` actions")


#: Roles, pins, join requests and polls (engage_rules.features.platform).
_PLATFORM_ACTIONS = frozenset(
    {"grant_role", "remove_role", "pin", "unpin", "approve_join", "decline_join", "poll"}
)


def _platform_calls(
    kind: str,
    params: Mapping[str, Any],
    tags: Mapping[str, str],
    community_chat: Callable[[], int],
    channel: Callable[[], int],
    user: Callable[[], int],
) -> list[ApiCall]:
    """The calls for a role, pin, join request or poll action: ``community_chat()`` is
    the community's chat, ``channel()`` the action's (else the cause's, else the
    community's), ``user()`` the member's id."""
    if kind in ("grant_role", "remove_role"):
        chat, uid = community_chat(), user()
        tag = _tag(params, tags or {}) if kind == "grant_role" else ""
        return [ApiCall("setChatMemberTag", {"chat_id": chat, "user_id": uid, "tag": tag}, chat)]
    if kind in ("pin", "unpin"):
        chat = channel()
        if params.get("message_id") in (None, ""):
            raise permanent(f"`{kind}` has no message_id")
        body = {"chat_id": chat, "message_id": _int_id(params["message_id"], "message_id")}
        if kind == "pin":
            return [ApiCall("pinChatMessage", {**body, "disable_notification": True}, chat)]
        return [ApiCall("unpinChatMessage", body, chat)]
    if kind in ("approve_join", "decline_join"):
        chat, uid = community_chat(), user()
        method = "approveChatJoinRequest" if kind == "approve_join" else "declineChatJoinRequest"
        return [ApiCall(method, {"chat_id": chat, "user_id": uid}, chat)]
    if kind == "poll":
        chat = channel()
        return [ApiCall("sendPoll", {"chat_id": chat, **_poll(params)}, chat)]
    raise permanent(f"the telegram adapter cannot deliver `{kind}` actions")


def _tag(params: Mapping[str, Any], tags: Mapping[str, str]) -> str:
    """The member tag standing for ``params.role``: ``tags[role]``, else the role's name."""
    role = params.get("role")
    if not isinstance(role, str) or not role.strip():
        raise permanent("`grant_role` has no role")
    tag = tags.get(role, role)
    if len(tag) > MAX_TAG:
        raise permanent(
            f"role {role!r}: the Telegram member tag {tag!r} is longer than {MAX_TAG} "
            "characters; map the role to a shorter tag in `roles`"
        )
    return tag


def _poll(params: Mapping[str, Any]) -> dict[str, Any]:
    """``sendPoll``'s question, options and settings from a ``poll`` action."""
    question, options = params.get("question"), params.get("options")
    if not isinstance(question, str) or not 0 < len(question) <= MAX_QUESTION:
        raise permanent(f"the poll's question must have 1 to {MAX_QUESTION} characters")
    if (
        not isinstance(options, list)
        or not 2 <= len(options) <= 10
        or not all(isinstance(o, str) and 0 < len(o) <= 100 for o in options)
    ):
        raise permanent("the poll needs 2 to 10 options of 1 to 100 characters")
    body: dict[str, Any] = {
        "question": question,
        "options": [{"text": o} for o in options],
        "allows_multiple_answers": params.get("multiple") is True,
    }
    if isinstance(params.get("anonymous"), bool):
        body["is_anonymous"] = params["anonymous"]
    return body


def _member_calls(kind: str, chat: int, uid: int, until: int | None) -> list[ApiCall]:
    """The calls that mute, unmute, kick, ban or unban member ``uid`` of ``chat``
    (``until``: when a mute or ban ends, as Unix time; None for never)."""
    target = {"chat_id": chat, "user_id": uid}
    if kind in ("mute", "unmute"):
        allowed = kind == "unmute"
        body = {
            **target,
            "permissions": {p: allowed for p in _ALL_PERMISSIONS},
            "use_independent_chat_permissions": True,
        }
        if until is not None:
            body["until_date"] = until
        return [ApiCall("restrictChatMember", body, chat)]
    unban = ApiCall("unbanChatMember", {**target, "only_if_banned": True}, chat)
    if kind == "unban":
        return [unban]
    ban = ApiCall("banChatMember", {**target, "revoke_messages": False}, chat)
    if kind == "kick":
        return [ban, unban]
    if until is not None:
        ban.params["until_date"] = until
    return [ban]


class TelegramClient:
    """Makes Bot API calls; thread-safe (one HTTPS request per call, no shared state)."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._endpoint = f"{base_url.rstrip('/')}/bot{token}/"
        self._timeout = timeout
        self.clock = clock

    def deliver(
        self,
        action: Mapping[str, Any],
        chat_of: Callable[[str], int],
        tags: Mapping[str, str] | None = None,
    ) -> Delivery:
        calls = plan(action, chat_of, self.clock(), tags)
        if not calls:
            return Delivery(details={"skipped": "the action's `until` has already passed"})
        result: Any = None
        for call in calls:
            result = self.call(call)
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return Delivery(
            platform_id=None if message_id is None else str(message_id),
            route=f"telegram:{calls[-1].chat_id}",
        )

    def call(self, call: ApiCall) -> Any:
        """Make one call; its ``result`` on success, else raise :class:`DeliveryError`."""
        route = f"telegram:{call.chat_id}"
        answer = send(
            self._endpoint + call.method,
            body=call.params,
            timeout=self._timeout,
            what=call.method,
            platform="Telegram",
            route=route,
        )
        return _result(call.method, answer, route)


def _result(method: str, answer: Answer, route: str) -> Any:
    """A Bot API answer's ``result``, or the DeliveryError it stands for."""
    status, body = answer.status, answer.data
    if not isinstance(body, dict):
        raise failure(
            method, status, f"HTTP {status} with a body that is not a Bot API answer", route=route
        )
    if status < 300 and body.get("ok") is True:
        return body.get("result")
    code = body.get("error_code", status)
    code = code if isinstance(code, int) and not isinstance(code, bool) else status
    description = str(body.get("description") or f"HTTP {status}")
    parameters = body.get("parameters")
    parameters = parameters if isinstance(parameters, dict) else {}
    if code == 429 or status == 429:
        retry_after = parameters.get("retry_after")
        raise failure(
            method, 429, description, retry_after=retry_after, headers=answer.headers, route=route
        )
    if "migrate_to_chat_id" in parameters:
        description += (
            f" (the group is now the supergroup {parameters['migrate_to_chat_id']}: update `chats`)"
        )
    raise failure(method, code, description, route=route)


__all__ = ["CAPABILITIES", "DEFAULT_BASE_URL", "MAX_TEXT", "ApiCall", "TelegramClient", "plan"]
