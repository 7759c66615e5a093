"""OneBot v11 event payloads (github.com/botuniverse/onebot-11, event/) → engage_rules
events (pure: no I/O, no clock).

=========================================  ===============================================
Payload                                    Event
=========================================  ===============================================
``message`` / ``group``                    ``message.posted`` (text, mentions, reply,
                                           images, faces, links: see :mod:`.segments`)
``message`` / ``private``                  ``message.posted`` in ``private_community``
                                           (ignored when that setting is not given)
``notice`` / ``group_recall``              ``message.deleted`` (``data.operator``)
``notice`` / ``group_increase``            ``member.joined`` (``inviter`` for ``invite``)
``notice`` / ``group_decrease``            ``member.left`` (``reason``: left / kicked)
``request`` / ``group`` / ``add``          ``member.join_requested`` (``comment``, ``flag``)
``notice`` / ``notify`` / ``poke``         ``onebot.poke`` (``to_member``)
``notice`` / ``notify`` / ``honor``        ``onebot.honor`` (``honor``)
``notice`` / ``group_upload``              ``onebot.file_uploaded`` (``file``, ``size``)
=========================================  ===============================================

Everything else (heartbeats, the bot's own messages, anonymous messages, system notices,
``kick_me``, friend events, invitations of the bot into a group) is understood and
returns ``[]``.  QQ has no message edits: no ``message.edited`` is ever produced.

Ids are stable, so a payload delivered twice (two connections, a replayed export) gives
the same event ids: a member is the QQ number as text, the channel the group number as
text, the community the group's name from ``groups`` (group number as text when
``groups`` is empty; with a non-empty ``groups``, other groups are ignored).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engage_rules.plugin_api import Event, EventError, PayloadError, event_from_obj

from .i18n import _
from .segments import read_message

PLATFORM = "onebot"

#: Event types this plugin adds (registered through ``register_event_types``).
EVENT_TYPES = {
    "onebot.poke": _.N_("a member poked another in a QQ group (戳一戳); data.to_member"),
    "onebot.honor": _.N_(
        "a QQ group honour changed hands (龙王 talkative, 群聊之火 performer, "
        "快乐源泉 emotion); data.honor"
    ),
    "onebot.file_uploaded": _.N_("a member uploaded a file to a QQ group; data.file, data.size"),
}

_ROLES = {"owner": ("owner", "admin"), "admin": ("admin",)}
_LEFT = {"leave": "left", "kick": "kicked"}


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """How payloads map to events (the adapter builds it from its settings)."""

    #: group number (as text) → community name; when non-empty, other groups are ignored.
    groups: Mapping[str, str] = field(default_factory=dict)
    #: The community private messages belong to; None: private messages are ignored.
    private_community: str | None = None
    platform: str = PLATFORM

    def community(self, group_id: int) -> str | None:
        key = str(group_id)
        if not self.groups:
            return key
        return self.groups.get(key)


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(
            _("expected an integer, got {kind}").format(kind=type(value).__name__), path
        )
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        message = _("expected a string, got {kind}").format(kind=type(value).__name__)
        raise PayloadError(message, path)
    return value


def _time(value: Any) -> str:
    seconds = _int(value, "time")
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        message = _("{seconds} is not a valid Unix time").format(seconds=seconds)
        raise PayloadError(message, "time") from None


def _event(obj: dict[str, Any]) -> Event:
    try:
        return event_from_obj(obj)
    except EventError as err:
        message = _("cannot build a {type} event: {reason}")
        raise PayloadError(message.format(type=obj["type"], reason=err.message)) from None


def delivery_key(payload: Mapping[str, Any]) -> str:
    """The processed-delivery key of one payload: ``onebot:<self_id>:<message_id>`` for a
    message, else ``onebot:<self_id>:<hash of the payload>`` (OneBot gives notices and
    requests no id), so the same payload delivered twice is recorded once."""
    self_id = payload.get("self_id")
    if payload.get("post_type") == "message" and "message_id" in payload:
        return f"onebot:{self_id}:{payload.get('message_type')}:{payload['message_id']}"
    digest = hashlib.sha1(
        json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()
    return f"onebot:{self_id}:{digest}"


def parse_payload(payload: Any, config: MappingConfig) -> list[Event]:
    """One OneBot v11 event payload → events.  Raises :class:`PayloadError`."""
    if not isinstance(payload, Mapping):
        raise PayloadError(_("expected a OneBot event object"))
    post_type = payload.get("post_type")
    if post_type is None and "retcode" in payload and "echo" in payload:
        return []  # an API answer on a WebSocket, not an event
    post_type = _str(post_type, "post_type")
    if post_type in ("meta_event", "message_sent"):
        return []
    at = _time(payload.get("time"))
    self_id = _int(payload.get("self_id"), "self_id")
    if post_type == "message":
        return _message(payload, config, at, self_id)
    if post_type == "notice":
        return _notice(payload, config, at, self_id)
    if post_type == "request":
        return _request(payload, config, at)
    return []


def _member(user_id: int, sender: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(user_id)}
    if isinstance(sender, Mapping):
        name = sender.get("card") or sender.get("nickname")
        if isinstance(name, str) and name:
            out["name"] = name
        role = sender.get("role")
        if isinstance(role, str) and role in _ROLES:
            out["roles"] = list(_ROLES[role])
    return out


def _message(p: Mapping[str, Any], config: MappingConfig, at: str, self_id: int) -> list[Event]:
    message_type = _str(p.get("message_type"), "message_type")
    message_id = _int(p.get("message_id"), "message_id")
    user_id = _int(p.get("user_id"), "user_id")
    content = read_message(p.get("message"))
    if message_type == "group":
        group_id = _int(p.get("group_id"), "group_id")
        community = config.community(group_id)
        channel = str(group_id)
        event_id = f"onebot:{group_id}:{message_id}"
        if p.get("sub_type", "normal") != "normal" or p.get("anonymous") is not None:
            return []  # anonymous messages and system notices have no member
    elif message_type == "private":
        community = config.private_community
        channel = f"private:{user_id}"
        event_id = f"onebot:private:{user_id}:{message_id}"
    else:
        return []
    if community is None or user_id == self_id:
        return []
    data: dict[str, Any] = {
        "text": content.text,
        "message_id": str(message_id),
        "kind": content.kind,
    }
    if content.mentions:
        data["mentions"] = content.mentions
    if content.reply_to is not None:
        data["reply_to"] = content.reply_to
    if content.images:
        data["images"] = content.images
    if content.faces:
        data["faces"] = content.faces
    if content.links:
        data["links"] = content.links
    return [
        _event(
            {
                "id": event_id,
                "type": "message.posted",
                "at": at,
                "community": community,
                "platform": config.platform,
                "channel": channel,
                "member": _member(user_id, p.get("sender")),
                "data": data,
            }
        )
    ]


def _group(p: Mapping[str, Any], config: MappingConfig) -> tuple[int, str | None]:
    group_id = _int(p.get("group_id"), "group_id")
    return group_id, config.community(group_id)


_NOTICES = ("group_recall", "group_increase", "group_decrease", "notify", "group_upload")
#: What a notice becomes: its event type, id and data; None when it carries no event.
_Body = tuple[str, str, dict[str, Any]] | None


def _notice(p: Mapping[str, Any], config: MappingConfig, at: str, self_id: int) -> list[Event]:
    notice_type = _str(p.get("notice_type"), "notice_type")
    if notice_type not in _NOTICES:
        return []
    group_id, community = _group(p, config)
    user_id = _int(p.get("user_id"), "user_id")
    sub_type = p.get("sub_type")
    if sub_type is not None:
        _str(sub_type, "sub_type")
    if community is None or user_id == self_id:
        return []
    if notice_type in ("group_recall", "group_increase", "group_decrease"):
        body = _membership(notice_type, sub_type, p, group_id, user_id)
    else:
        body = _notify(notice_type, sub_type, p, group_id, user_id)
    if body is None:
        return []
    kind, event_id, data = body
    return [
        _event(
            {
                "id": event_id,
                "type": kind,
                "at": at,
                "community": community,
                "platform": config.platform,
                "channel": str(group_id),
                "member": {"id": str(user_id)},
                "data": data,
            }
        )
    ]


def _membership(
    notice_type: str, sub_type: Any, p: Mapping[str, Any], group_id: int, user_id: int
) -> _Body:
    """A recall, a join or a leave."""
    if notice_type == "group_recall":
        message_id = _int(p.get("message_id"), "message_id")
        operator = _int(p.get("operator_id"), "operator_id")
        data: dict[str, Any] = {"message_id": str(message_id), "operator": str(operator)}
        data["by_author"] = operator == user_id
        return "message.deleted", f"onebot:{group_id}:{message_id}:recalled", data
    if notice_type == "group_increase":
        operator = _int(p.get("operator_id", 0), "operator_id")
        data = {"how": sub_type if isinstance(sub_type, str) else "approve"}
        if sub_type == "invite" and operator not in (0, user_id):
            data["inviter"] = str(operator)
        elif operator not in (0, user_id):
            data["approved_by"] = str(operator)
        return "member.joined", f"onebot:{group_id}:joined:{user_id}:{p['time']}", data
    if sub_type not in _LEFT:
        return None  # kick_me: the bot itself was removed
    operator = _int(p.get("operator_id", user_id), "operator_id")
    data = {"reason": _LEFT[str(sub_type)]}
    if sub_type == "kick":
        data["operator"] = str(operator)
    return "member.left", f"onebot:{group_id}:left:{user_id}:{p['time']}", data


def _notify(
    notice_type: str, sub_type: Any, p: Mapping[str, Any], group_id: int, user_id: int
) -> _Body:
    """A file upload, a poke or an honour."""
    if notice_type == "group_upload":
        file = p.get("file")
        if not isinstance(file, Mapping):
            raise PayloadError(_("expected an object"), "file")
        file_id = _str(file.get("id"), "file.id")
        data: dict[str, Any] = {"file": _str(file.get("name"), "file.name"), "file_id": file_id}
        size = file.get("size")
        if isinstance(size, int) and not isinstance(size, bool):
            data["size"] = size
        return "onebot.file_uploaded", f"onebot:{group_id}:file:{file_id}", data
    if sub_type == "poke":
        target = _int(p.get("target_id"), "target_id")
        event_id = f"onebot:{group_id}:poke:{user_id}:{target}:{p['time']}"
        return "onebot.poke", event_id, {"to_member": str(target)}
    if sub_type == "honor":
        honor = _str(p.get("honor_type"), "honor_type")
        event_id = f"onebot:{group_id}:honor:{honor}:{user_id}:{p['time']}"
        return "onebot.honor", event_id, {"honor": honor}
    return None  # lucky_king, title and other notifications


def _request(p: Mapping[str, Any], config: MappingConfig, at: str) -> list[Event]:
    if p.get("request_type") != "group" or p.get("sub_type") != "add":
        return []  # friend requests, invitations of the bot into a group
    group_id, community = _group(p, config)
    user_id = _int(p.get("user_id"), "user_id")
    flag = _str(p.get("flag"), "flag")
    comment = p.get("comment", "")
    if community is None:
        return []
    return [
        _event(
            {
                "id": f"onebot:{group_id}:request:{flag}",
                "type": "member.join_requested",
                "at": at,
                "community": community,
                "platform": config.platform,
                "channel": str(group_id),
                "member": {"id": str(user_id)},
                "data": {"comment": _str(comment, "comment"), "flag": flag},
            }
        )
    ]


__all__ = ["EVENT_TYPES", "PLATFORM", "MappingConfig", "delivery_key", "parse_payload"]
