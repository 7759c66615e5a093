"""Delivery: one engage_rules action (docs/reference.md §6.1 shape) → OneBot v11 API calls
(github.com/botuniverse/onebot-11, api/public.md).

:func:`plan` is pure (what is sent is tested without a network); :func:`outcome` reads an
API answer ``{"status", "retcode", "data"}``; :class:`HttpCaller` makes a call over the
HTTP API (the WebSocket caller is in :mod:`.connection`).

=====================  ============================================================
Action                 OneBot API calls
=====================  ============================================================
``send``, ``warn``     ``send_private_msg`` to the member
``reply``              ``send_group_msg`` to the channel: a ``reply`` segment (when the
                       event had a message id), an ``at`` of the member, the text
``broadcast``          ``send_group_msg`` to ``params.channel``, else the community's group
``delete_message``     ``delete_msg`` (recall)
``mute``, ``unmute``   ``set_group_ban`` (``duration``: seconds until ``until``, at least
                       60, at most QQ's 30 days; an unmute is duration 0)
``kick``               ``set_group_kick``
``ban``                ``set_group_kick`` with ``reject_add_request`` (QQ has no timed ban)
``grant_role``         ``set_group_admin`` for the ``admin_role``; any other role:
``remove_role``        ``set_group_special_title`` (专属头衔; removing sets it empty)
``pin``, ``unpin``     ``set_essence_msg`` / ``delete_essence_msg`` (精华消息)
``approve_join``,      ``set_group_add_request`` with the request's ``flag`` (read from
``decline_join``       the id of the ``member.join_requested`` event that caused it)
``onebot.set_card``    ``set_group_card`` (群名片; an empty card: back to the nickname)
``grant_badge``,       with ``badge_titles`` set: ``set_group_special_title`` to the
``revoke_badge``       badge's title (专属头衔: the playbook's honour titles, shown on
                       QQ); revoking sets it empty; other badges: nothing to send
=====================  ============================================================

Answers: ``retcode`` 0 (``ok``) and 1 (``async``) are delivered; 1400, 1401, 1403, 1404,
100 and 102 (bad or missing parameters, no permission, not found) are permanent; 103, 201
and any other code (the implementation failed or timed out) are retried.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from engage_rules.plugin_api import Delivery, DeliveryError, api_calls

from .i18n import _

permanent = api_calls.permanent
until = api_calls.until
passed = api_calls.passed

#: What the adapter can deliver (docs/reference.md §6).
CAPABILITIES = frozenset(
    {
        "send",
        "reply",
        "broadcast",
        "warn",
        "delete_message",
        "mute",
        "unmute",
        "kick",
        "ban",
        "grant_role",
        "remove_role",
        "pin",
        "unpin",
        "approve_join",
        "decline_join",
        "onebot.set_card",
    }
)
MIN_MUTE = 60  # QQ's shortest mute, in seconds
MAX_MUTE = 30 * 24 * 3600  # QQ's longest mute: 30 days
MAX_TEXT = 4500  # characters in one QQ message
PERMANENT_RETCODES = frozenset({100, 102, 1400, 1401, 1403, 1404})


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One OneBot action: its name (``send_group_msg``), its params, and the group it
    concerns (the dispatcher paces calls per group)."""

    action: str
    params: dict[str, Any]
    route: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Targets:
    """What plan needs from the adapter's settings."""

    #: community → group number (raises a permanent DeliveryError when it has none).
    group_of: Callable[[str], int]
    #: role → special title (专属头衔); default: the role's own name.
    titles: Mapping[str, str] = field(default_factory=dict)
    #: The role granted by making the member a group admin.
    admin_role: str = "admin"
    #: (community, member) → the flag of their pending join request, if one was seen.
    flag_of: Callable[[str, str], str | None] = lambda community, member: None
    #: badge id → the special title (专属头衔) that shows it on QQ.
    badge_titles: Mapping[str, str] = field(default_factory=dict)


def qq(value: Any, what: str) -> int:
    """A QQ or group number (an int or its text)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) > 0:
        return int(value)
    raise permanent(_("{what} {value!r} is not a QQ number").format(what=what, value=value))


def message_id(value: Any, what: str = "message_id") -> int:
    """A OneBot message id (int32, may be negative)."""
    return api_calls.whole_id(value, what, "a OneBot message id")


def _text(params: Mapping[str, Any]) -> str:
    return api_calls.message_text(params, MAX_TEXT, "QQ")


def mute_seconds(params: Mapping[str, Any], now: float) -> int | None:
    """A mute's ``duration``: seconds from ``now`` to ``until``, within QQ's bounds;
    None when it has already passed."""
    ends = until(params)
    if ends is None:
        return MAX_MUTE
    if passed(ends, now):
        return None
    return max(MIN_MUTE, min(MAX_MUTE, int(ends.timestamp() - now + 0.999)))


def plan(action: Mapping[str, Any], targets: Targets, now: float) -> list[ApiCall]:
    """The API calls that carry out ``action``.  Raises a permanent DeliveryError for
    an action that cannot be delivered; ``[]`` for one with nothing to do (a mute whose
    ``until`` has passed, a badge that is not in ``badge_titles``)."""
    kind = action.get("type")
    params = action.get("params") or {}
    if not isinstance(params, Mapping):
        raise permanent(_("action params must be an object"))
    community = str(action.get("community") or "default")
    member = action.get("member")

    def user() -> int:
        if member is None:
            raise permanent(_("`{kind}` needs a member").format(kind=kind))
        return qq(member, "member")

    def group() -> int:
        return targets.group_of(community)

    def channel() -> str | None:
        raw = params.get("channel") or (action.get("channel") if kind != "broadcast" else None)
        return None if raw in (None, "") else str(raw)

    if kind in ("send", "warn"):
        uid = user()
        body = {"user_id": uid, "message": [_seg("text", text=_text(params))]}
        return [ApiCall("send_private_msg", body, f"onebot:private:{uid}")]
    if kind in ("reply", "broadcast"):
        return [_message(str(kind), params, channel(), group, user if member is not None else None)]
    if kind in ("delete_message", "pin", "unpin"):
        if params.get("message_id") in (None, ""):
            raise permanent(
                _("`{kind}` has no message_id (the event carried none)").format(kind=kind)
            )
        name = {"delete_message": "delete_msg", "pin": "set_essence_msg"}.get(
            str(kind), "delete_essence_msg"
        )
        target = channel()
        route = f"onebot:{target}" if target is not None else f"onebot:{community}"
        return [ApiCall(name, {"message_id": message_id(params["message_id"])}, route)]
    if kind in ("mute", "unmute"):
        gid, uid = group(), user()
        duration = mute_seconds(params, now) if kind == "mute" else 0
        if duration is None:
            return []
        body = {"group_id": gid, "user_id": uid, "duration": duration}
        return [ApiCall("set_group_ban", body, _route(gid))]
    if kind in ("kick", "ban"):
        gid, uid = group(), user()
        body = {"group_id": gid, "user_id": uid, "reject_add_request": kind == "ban"}
        return [ApiCall("set_group_kick", body, _route(gid))]
    if kind in ("approve_join", "decline_join"):
        return [_join_answer(str(kind), action, params, targets, community, user())]
    if kind in ("grant_role", "remove_role", "grant_badge", "revoke_badge", "onebot.set_card"):
        return _shown_name(str(kind), params, targets, group, user)
    raise permanent(_("the onebot adapter cannot deliver `{kind}` actions").format(kind=kind))


def _message(
    kind: str,
    params: Mapping[str, Any],
    target: str | None,
    group: Callable[[], int],
    user: Callable[[], int] | None,
) -> ApiCall:
    """A reply or broadcast: to ``target`` (a group number or ``private:<qq>``), else the
    community's group; a reply quotes the event's message and mentions the member."""
    segments: list[dict[str, Any]] = []
    if kind == "reply" and params.get("reply_to") not in (None, ""):
        segments.append(_seg("reply", id=str(message_id(params["reply_to"], "reply_to"))))
    if target is not None and target.startswith("private:"):
        uid = qq(target.removeprefix("private:"), "channel")
        segments.append(_seg("text", text=_text(params)))
        body = {"user_id": uid, "message": segments}
        return ApiCall("send_private_msg", body, f"onebot:private:{uid}")
    gid = group() if target is None else qq(target, "channel")
    if kind == "reply" and user is not None:
        segments += [_seg("at", qq=str(user())), _seg("text", text=" ")]
    segments.append(_seg("text", text=_text(params)))
    return ApiCall("send_group_msg", {"group_id": gid, "message": segments}, _route(gid))


def _seg(kind: str, **data: Any) -> dict[str, Any]:
    return {"type": kind, "data": data}


def _route(group_id: int) -> str:
    return f"onebot:{group_id}"


def _role(kind: str, params: Mapping[str, Any], targets: Targets, gid: int, uid: int) -> ApiCall:
    role = params.get("role")
    if not isinstance(role, str) or not role.strip():
        raise permanent(_("`{kind}` has no role").format(kind=kind))
    target = {"group_id": gid, "user_id": uid}
    if role == targets.admin_role:
        return ApiCall("set_group_admin", {**target, "enable": kind == "grant_role"}, _route(gid))
    title = targets.titles.get(role, role) if kind == "grant_role" else ""
    body = {**target, "special_title": title, "duration": -1}
    return ApiCall("set_group_special_title", body, _route(gid))


def _shown_name(
    kind: str,
    params: Mapping[str, Any],
    targets: Targets,
    group: Callable[[], int],
    user: Callable[[], int],
) -> list[ApiCall]:
    """A member's standing in the group: a role (admin, or a special title), the group
    card (``onebot.set_card``), or the special title of a badge listed in
    ``badge_titles`` (``[]`` for other badges)."""
    if kind in ("grant_role", "remove_role"):
        return [_role(kind, params, targets, group(), user())]
    if kind == "onebot.set_card":
        card = params.get("card")
        if not isinstance(card, str):
            raise permanent(_("`onebot.set_card` has no card"))
        gid, uid = group(), user()
        body: dict[str, Any] = {"group_id": gid, "user_id": uid, "card": card}
        return [ApiCall("set_group_card", body, _route(gid))]
    title = targets.badge_titles.get(str(params.get("badge")))
    if title is None:
        return []  # a badge that is no QQ title
    gid, uid = group(), user()
    shown = title if kind == "grant_badge" else ""
    body = {"group_id": gid, "user_id": uid, "special_title": shown, "duration": -1}
    return [ApiCall("set_group_special_title", body, _route(gid))]


def _join_answer(
    kind: str,
    action: Mapping[str, Any],
    params: Mapping[str, Any],
    targets: Targets,
    community: str,
    uid: int,
) -> ApiCall:
    flag = _flag(action, targets, community, str(uid))
    body: dict[str, Any] = {"flag": flag, "sub_type": "add", "approve": kind == "approve_join"}
    if kind == "decline_join" and isinstance(params.get("reason"), str):
        body["reason"] = params["reason"]
    return ApiCall("set_group_add_request", body, f"onebot:{community}")


def _flag(action: Mapping[str, Any], targets: Targets, community: str, member: str) -> str:
    """The join request's flag: from the causing event's id
    (``onebot:<group>:request:<flag>``), else the last request seen from the member."""
    cause = action.get("cause")
    if isinstance(cause, str) and cause.startswith("onebot:") and ":request:" in cause:
        return cause.split(":request:", 1)[1]
    flag = targets.flag_of(community, member)
    if flag is None:
        raise permanent(
            _(
                "no pending QQ join request of this member is known (set_group_add_request "
                "needs the request's flag: the action must be caused by its "
                "member.join_requested event)"
            )
        )
    return flag


def outcome(call: ApiCall, answer: Any) -> Delivery:
    """An API answer → a Delivery, or raise DeliveryError (retcode not 0 or 1)."""
    what = call.action
    if not isinstance(answer, Mapping) or not isinstance(answer.get("retcode"), int):
        message = _("{action}: the answer has no retcode: {answer}").format(
            action=what, answer=f"{answer!r:.200}"
        )
        raise DeliveryError(message, route=call.route)
    retcode = answer["retcode"]
    if retcode not in (0, 1):
        text = answer.get("wording") or answer.get("message") or answer.get("msg") or ""
        message = _("{action}: failed with retcode {retcode}").format(
            action=what, retcode=retcode
        ) + (f" ({text})" if text else "")
        raise DeliveryError(message, permanent=retcode in PERMANENT_RETCODES, route=call.route)
    data = answer.get("data")
    created = data.get("message_id") if isinstance(data, Mapping) else None
    details = dict(call.details)
    if retcode == 1:
        details["async"] = True
    return Delivery(
        platform_id=None if created is None else str(created), route=call.route, details=details
    )


class Caller(Protocol):
    """Makes one OneBot API call and returns the decoded answer (raises DeliveryError when
    the implementation cannot be reached)."""

    def __call__(self, call: ApiCall) -> Any: ...


class HttpCaller:
    """OneBot's HTTP API: ``POST {base_url}/{action}`` with the params as JSON and
    ``Authorization: Bearer <access_token>`` (communication/http.md)."""

    def __init__(self, base_url: str, access_token: str | None, timeout: float) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        self._timeout = timeout

    def __call__(self, call: ApiCall) -> Any:
        answer = api_calls.send(
            f"{self._base}/{call.action}",
            body=call.params,
            headers=self._headers,
            timeout=self._timeout,
            what=call.action,
            platform="the OneBot implementation",
            route=call.route,
        )
        if answer.status != 200:
            raise api_calls.failure(
                call.action,
                answer.status,
                f"HTTP {answer.status}",
                headers=answer.headers,
                route=call.route,
            )
        return answer.data


def deliver(action: Mapping[str, Any], targets: Targets, caller: Caller, now: float) -> Delivery:
    """Plan ``action`` and make its calls in order; the last call's Delivery."""
    calls = plan(action, targets, now)
    if not calls:
        if action.get("type") in ("grant_badge", "revoke_badge"):
            return Delivery(details={"skipped": "the badge has no QQ title in `badge_titles`"})
        return Delivery(details={"skipped": "the action's `until` has already passed"})
    result = Delivery()
    for call in calls:
        result = outcome(call, caller(call))
    return result


__all__ = [
    "CAPABILITIES",
    "ApiCall",
    "Caller",
    "HttpCaller",
    "Targets",
    "deliver",
    "outcome",
    "plan",
]
