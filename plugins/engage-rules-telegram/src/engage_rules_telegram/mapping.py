"""Telegram Bot API ``Update`` objects → engage_rules events (pure: no I/O, no clock).

What is read (everything else is understood and ignored, returning ``[]``):

=====================================  ==================================================
Update                                 Events
=====================================  ==================================================
``message`` with text / media          ``message.posted`` (``data.text``: text or caption)
``chat_member`` (left/kicked → in)     ``member.joined``  (when ``member_updates`` is
``chat_member`` (in → left/kicked)     ``member.left``     ``"chat_member"``, the default)
``message.new_chat_members``           ``member.joined`` per user (when ``member_updates``
``message.left_chat_member``           ``member.left``     is ``"service_messages"``)
``message_reaction``                   ``reaction.added`` per newly added reaction
=====================================  ==================================================

Ids are stable, so a redelivered update (webhook retry, ``getUpdates`` overlap) produces
the same event ids and the runner processes it once:

* a member is the Telegram user id as a decimal string (``"5012345678"``);
* the community is the chat's name from ``chats`` (chat id → name), or the chat id as a
  string when ``chats`` is empty; with a non-empty ``chats``, other chats are ignored;
* the channel is the chat id as a string.

Only groups and supergroups are read: private chats with the bot and channel posts have no
community member.  Messages from bots (and from anonymous admins, which Telegram sends as
the ``GroupAnonymousBot``) are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from engage_rules.plugin_api import Event, EventError, PayloadError, event_from_obj

PLATFORM = "telegram"

#: Message fields that carry member content (anything else is a service message).
CONTENT_KINDS = (
    "text",
    "photo",
    "video",
    "animation",
    "audio",
    "document",
    "sticker",
    "voice",
    "video_note",
    "poll",
    "location",
    "venue",
    "contact",
    "dice",
    "story",
)

#: ``ChatMember.status`` values, and whether the user is in the chat with that status
#: (``restricted`` members carry their own ``is_member`` flag).
_STATUSES = {
    "creator": True,
    "administrator": True,
    "member": True,
    "restricted": None,
    "left": False,
    "kicked": False,
}
_STATUS_ROLES = {"creator": ("owner", "admin"), "administrator": ("admin",)}

#: ``(channel, message_id) → author member id``, for ``reaction.added``'s ``to_member``
#: (a ``message_reaction`` update does not say who wrote the message).
AuthorLookup = Callable[[str, str], str | None]


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """How updates map to events (the adapter builds it from its settings)."""

    #: chat id (as a string) → community name; when non-empty, other chats are ignored.
    chats: Mapping[str, str] = field(default_factory=dict)
    #: Where joins and leaves come from: ``chat_member`` updates (needs the bot to be an
    #: admin and ``allowed_updates`` to include ``chat_member``) or the service messages
    #: ``new_chat_members`` / ``left_chat_member``.  Exactly one source is read so that a
    #: join is never counted twice.
    member_updates: Literal["chat_member", "service_messages"] = "chat_member"
    platform: str = PLATFORM

    def community(self, chat_id: int) -> str | None:
        key = str(chat_id)
        if not self.chats:
            return key
        return self.chats.get(key)


# -- typed access with the path of the offending field ----------------------------------------


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"expected an object, got {_kind(value)}", path)
    return value


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"expected an integer, got {_kind(value)}", path)
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"expected a string, got {_kind(value)}", path)
    return value


def _list(value: Any, path: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise PayloadError(f"expected an array, got {_kind(value)}", path)
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise PayloadError(f"expected true or false, got {_kind(value)}", path)
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _time(value: Any, path: str) -> str:
    seconds = _int(value, path)
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{seconds} is not a valid Unix time", path) from None


@dataclass(frozen=True, slots=True)
class _User:
    id: int
    is_bot: bool
    name: str

    def ref(self, roles: tuple[str, ...] = ()) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(self.id)}
        if self.name:
            out["name"] = self.name
        if roles:
            out["roles"] = list(roles)
        return out


def _user(value: Any, path: str) -> _User:
    u = _obj(value, path)
    first = _str(u.get("first_name"), f"{path}.first_name")
    last = u.get("last_name")
    name = first if last is None else f"{first} {_str(last, f'{path}.last_name')}".strip()
    return _User(_int(u.get("id"), f"{path}.id"), _bool(u.get("is_bot"), f"{path}.is_bot"), name)


def _chat(value: Any, path: str, config: MappingConfig) -> tuple[int, str | None]:
    """The chat id and its community (None: a chat this adapter does not read)."""
    chat = _obj(value, path)
    chat_id = _int(chat.get("id"), f"{path}.id")
    chat_type = _str(chat.get("type"), f"{path}.type")
    if chat_type not in ("group", "supergroup"):
        return chat_id, None
    return chat_id, config.community(chat_id)


def _event(obj: dict[str, Any]) -> Event:
    try:
        return event_from_obj(obj)
    except EventError as err:
        raise PayloadError(f"cannot build a {obj['type']} event: {err.message}") from None


# -- updates ---------------------------------------------------------------------------------


def parse_update(
    update: Any, config: MappingConfig, author_of: AuthorLookup | None = None
) -> list[Event]:
    """One Telegram ``Update`` object → events.  Raises :class:`PayloadError`."""
    u = _obj(update, "update")
    _int(u.get("update_id"), "update_id")
    if "message" in u:
        return _message(_obj(u["message"], "message"), config)
    if "chat_member" in u:
        return _chat_member(_obj(u["chat_member"], "chat_member"), config)
    if "message_reaction" in u:
        return _reaction(_obj(u["message_reaction"], "message_reaction"), config, author_of)
    return []


def _message(m: Mapping[str, Any], config: MappingConfig) -> list[Event]:
    chat_id, community = _chat(m.get("chat"), "message.chat", config)
    message_id = _int(m.get("message_id"), "message.message_id")
    at = _time(m.get("date"), "message.date")
    if community is None:
        return []
    base = {"at": at, "community": community, "platform": config.platform, "channel": str(chat_id)}
    actor = _user(m["from"], "message.from") if "from" in m else None
    if "new_chat_members" in m:
        if config.member_updates != "service_messages":
            return []
        events = []
        for i, raw in enumerate(_list(m["new_chat_members"], "message.new_chat_members")):
            user = _user(raw, f"message.new_chat_members[{i}]")
            if user.is_bot:
                continue
            inviter = {"inviter": str(actor.id)} if actor and actor.id != user.id else {}
            events.append(
                _event(
                    {
                        **base,
                        "id": f"telegram:{chat_id}:{message_id}:joined:{user.id}",
                        "type": "member.joined",
                        "member": user.ref(),
                        "data": inviter,
                    }
                )
            )
        return events
    if "left_chat_member" in m:
        if config.member_updates != "service_messages":
            return []
        user = _user(m["left_chat_member"], "message.left_chat_member")
        if user.is_bot:
            return []
        removed = actor is not None and actor.id != user.id
        return [
            _event(
                {
                    **base,
                    "id": f"telegram:{chat_id}:{message_id}:left:{user.id}",
                    "type": "member.left",
                    "member": user.ref(),
                    "data": {"reason": "kicked" if removed else "left"},
                }
            )
        ]
    kind = next((k for k in CONTENT_KINDS if k in m), None)
    if kind is None or actor is None or actor.is_bot or "sender_chat" in m:
        return []  # a service message, a channel post or a bot's message
    text = m.get("text", m.get("caption", ""))
    data: dict[str, Any] = {
        "text": _str(text, "message.text" if "text" in m else "message.caption"),
        "message_id": str(message_id),
        "kind": kind,
    }
    if "reply_to_message" in m:
        reply = _obj(m["reply_to_message"], "message.reply_to_message")
        data["reply_to"] = str(_int(reply.get("message_id"), "message.reply_to_message.message_id"))
        if "from" in reply:
            author = _user(reply["from"], "message.reply_to_message.from")
            if not author.is_bot:
                data["reply_to_member"] = str(author.id)
    if m.get("is_topic_message") is True:
        data["thread_id"] = str(_int(m.get("message_thread_id"), "message.message_thread_id"))
    return [
        _event(
            {
                **base,
                "id": f"telegram:{chat_id}:{message_id}",
                "type": "message.posted",
                "member": actor.ref(),
                "data": data,
            }
        )
    ]


def _status(value: Any, path: str) -> tuple[str, bool]:
    cm = _obj(value, path)
    status = _str(cm.get("status"), f"{path}.status")
    if status not in _STATUSES:
        raise PayloadError(f"unknown chat member status {status!r}", f"{path}.status")
    inside = _STATUSES[status]
    if inside is None:
        inside = _bool(cm.get("is_member"), f"{path}.is_member")
    return status, inside


def _chat_member(cmu: Mapping[str, Any], config: MappingConfig) -> list[Event]:
    chat_id, community = _chat(cmu.get("chat"), "chat_member.chat", config)
    at = _time(cmu.get("date"), "chat_member.date")
    actor = _user(cmu.get("from"), "chat_member.from")
    _, was_in = _status(cmu.get("old_chat_member"), "chat_member.old_chat_member")
    status, now_in = _status(cmu.get("new_chat_member"), "chat_member.new_chat_member")
    new = _obj(cmu["new_chat_member"], "chat_member.new_chat_member")
    user = _user(new.get("user"), "chat_member.new_chat_member.user")
    if community is None or config.member_updates != "chat_member" or user.is_bot:
        return []
    if was_in == now_in:
        return []  # a promotion, a restriction...: not a join or a leave
    kind = "joined" if now_in else "left"
    data: dict[str, Any] = {}
    if now_in and actor.id != user.id:
        data["inviter"] = str(actor.id)
    if not now_in:
        data["reason"] = "kicked" if status == "kicked" or actor.id != user.id else "left"
    return [
        _event(
            {
                "id": f"telegram:{chat_id}:{kind}:{user.id}:{cmu['date']}",
                "type": f"member.{kind}",
                "at": at,
                "community": community,
                "platform": config.platform,
                "channel": str(chat_id),
                "member": user.ref(_STATUS_ROLES.get(status, ())),
                "data": data,
            }
        )
    ]


def reaction_key(value: Any, path: str) -> str:
    """A ``ReactionType`` as one string: the emoji itself, ``custom:<custom_emoji_id>`` or
    ``paid``."""
    r = _obj(value, path)
    kind = _str(r.get("type"), f"{path}.type")
    if kind == "emoji":
        return _str(r.get("emoji"), f"{path}.emoji")
    if kind == "custom_emoji":
        return "custom:" + _str(r.get("custom_emoji_id"), f"{path}.custom_emoji_id")
    return kind


def _reaction(
    mr: Mapping[str, Any], config: MappingConfig, author_of: AuthorLookup | None
) -> list[Event]:
    chat_id, community = _chat(mr.get("chat"), "message_reaction.chat", config)
    message_id = _int(mr.get("message_id"), "message_reaction.message_id")
    at = _time(mr.get("date"), "message_reaction.date")
    old = [
        reaction_key(r, f"message_reaction.old_reaction[{i}]")
        for i, r in enumerate(_list(mr.get("old_reaction"), "message_reaction.old_reaction"))
    ]
    new = [
        reaction_key(r, f"message_reaction.new_reaction[{i}]")
        for i, r in enumerate(_list(mr.get("new_reaction"), "message_reaction.new_reaction"))
    ]
    if "user" not in mr:
        return []  # an anonymous reaction, on behalf of a chat (actor_chat)
    user = _user(mr["user"], "message_reaction.user")
    if community is None or user.is_bot:
        return []
    channel = str(chat_id)
    author = author_of(channel, str(message_id)) if author_of is not None else None
    events = []
    for key in dict.fromkeys(new):
        if key in old:
            continue
        data = {"message_id": str(message_id), "emoji": key}
        if author is not None:
            data["to_member"] = author
        events.append(
            _event(
                {
                    "id": f"telegram:{chat_id}:{message_id}:reaction:{user.id}:{key}",
                    "type": "reaction.added",
                    "at": at,
                    "community": community,
                    "platform": config.platform,
                    "channel": channel,
                    "member": user.ref(),
                    "data": data,
                }
            )
        )
    return events


__all__ = [
    "CONTENT_KINDS",
    "PLATFORM",
    "AuthorLookup",
    "MappingConfig",
    "parse_update",
    "reaction_key",
]
