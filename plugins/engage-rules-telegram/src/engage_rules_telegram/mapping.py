"""Telegram Bot API ``Update`` objects → engage_rules events (pure: no I/O, no clock).

What is read (everything else is understood and ignored, returning ``[]``):

=====================================  ==================================================
Update                                 Events
=====================================  ==================================================
``message`` with text / media          ``message.posted`` (``data.text``: text or caption)
``edited_message``                     ``message.edited`` (the new text; ``at``: the edit)
later items of an album with a caption ``message.edited`` (the album is one post)
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

A group migrated to a supergroup stays one community: the new chat id maps to the old
one's community once the migration message is seen (:class:`MappingConfig` ``migrated``).

Only groups and supergroups are read: private chats with the bot and channel posts have no
community member.  Messages from bots (and from anonymous admins, which Telegram sends as
the ``GroupAnonymousBot``) are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from engage_rules.plugin_api import Event, PayloadError

from .fields import Migrated, Skip, array, boolean, integer, obj, string, unix_time, user
from .fields import event as _event
from .i18n import _
from .messages import CONTENT_KINDS, content_kind, message_data

PLATFORM = "telegram"

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
#: ``(chat id, media_group_id, message_id) → the album's first message id``: remembers the
#: first message id it is given for an album and returns it ever after.
AlbumLookup = Callable[[int, str, int], int]


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
    #: new chat id → the chat id it was migrated from (a group that became a supergroup):
    #: the new chat belongs to the old one's community.
    migrated: Mapping[str, str] = field(default_factory=dict)

    def community(self, chat_id: int) -> str | None:
        key = str(chat_id)
        old = self.migrated.get(key)
        if not self.chats:
            return old if old is not None else key
        name = self.chats.get(key)
        if name is None and old is not None:
            name = self.chats.get(old)
        return name


def _chat(value: Any, path: str, config: MappingConfig) -> tuple[int, str | None]:
    """The chat id and its community (None: a group not listed in ``chats``); a chat that
    is not a group raises :class:`Skip`."""
    chat = obj(value, path)
    chat_id = integer(chat.get("id"), f"{path}.id")
    chat_type = string(chat.get("type"), f"{path}.type")
    if chat_type not in ("group", "supergroup"):
        raise Skip(
            _("a {chat_type} chat: only groups and supergroups are read").format(
                chat_type=chat_type
            )
        )
    return chat_id, config.community(chat_id)


# -- updates ---------------------------------------------------------------------------------


def parse_update(
    update: Any,
    config: MappingConfig,
    author_of: AuthorLookup | None = None,
    album_first: AlbumLookup | None = None,
) -> list[Event]:
    """One Telegram ``Update`` object → events.  Raises :class:`PayloadError`.

    Without ``album_first``, every item of an album is a post of its own; the adapter
    passes its bounded memory of recent albums (:class:`.parser.UpdateParser`)."""
    try:
        return map_update(update, config, author_of, album_first)
    except Skip:
        return []


def map_update(
    update: Any,
    config: MappingConfig,
    author_of: AuthorLookup | None = None,
    album_first: AlbumLookup | None = None,
) -> list[Event]:
    """:func:`parse_update`, raising :class:`Skip` (or :class:`Migrated`) with the reason
    when the update maps to no event."""
    u = obj(update, "update")
    integer(u.get("update_id"), "update_id")
    if "message" in u:
        return _message(obj(u["message"], "message"), "message", config, album_first)
    if "edited_message" in u:
        return _message(obj(u["edited_message"], "edited_message"), "edited_message", config)
    if "chat_member" in u:
        return _chat_member(obj(u["chat_member"], "chat_member"), config)
    if "message_reaction" in u:
        return _reaction(obj(u["message_reaction"], "message_reaction"), config, author_of)
    kinds = sorted(k for k in u if k != "update_id")
    raise Skip(
        _("an update of kind {kinds}: not read by this adapter").format(
            kinds=", ".join(kinds) or "none"
        )
    )


def _message(
    m: Mapping[str, Any], path: str, config: MappingConfig, album_first: AlbumLookup | None = None
) -> list[Event]:
    chat_id, community = _chat(m.get("chat"), f"{path}.chat", config)
    message_id = integer(m.get("message_id"), f"{path}.message_id")
    at = unix_time(m.get("date"), f"{path}.date")
    if "migrate_to_chat_id" in m:
        raise Migrated(chat_id, integer(m["migrate_to_chat_id"], f"{path}.migrate_to_chat_id"))
    if "migrate_from_chat_id" in m:
        raise Migrated(integer(m["migrate_from_chat_id"], f"{path}.migrate_from_chat_id"), chat_id)
    if community is None:
        raise Skip(
            _("chat {chat_id} is not a group read by this adapter (see `chats`)").format(
                chat_id=chat_id
            )
        )
    base = {"at": at, "community": community, "platform": config.platform, "channel": str(chat_id)}
    actor = user(m["from"], f"{path}.from") if "from" in m else None
    if path == "message" and "new_chat_members" in m:
        return _joined(m, config, base, actor, chat_id, message_id)
    if path == "message" and "left_chat_member" in m:
        return _left(m, config, base, actor, chat_id, message_id)
    kind = content_kind(m)
    if kind is None:
        raise Skip(_("a service message"))
    if actor is None or actor.is_bot or "sender_chat" in m:
        raise Skip(_("a message from a bot, a channel or an anonymous admin"))
    data = message_data(m, path, kind)
    if path == "edited_message":
        edited = integer(m.get("edit_date"), f"{path}.edit_date")
        fields = {
            "id": f"telegram:{chat_id}:{message_id}:edited:{edited}",
            "type": "message.edited",
            "at": unix_time(edited, f"{path}.edit_date"),
        }
    else:
        fields = {"id": f"telegram:{chat_id}:{message_id}", "type": "message.posted"}
        group = data.get("media_group_id")
        if group is not None and album_first is not None:
            first = album_first(chat_id, group, message_id)
            if first != message_id:
                if not data["text"] and "links" not in data:
                    raise Skip(
                        _("a later item of the album {group} (not a post of its own)").format(
                            group=group
                        )
                    )
                data["album_first"] = str(first)
                fields = {"id": f"telegram:{chat_id}:{message_id}:album", "type": "message.edited"}
    return [_event({**base, **fields, "member": actor.ref(), "data": data})]


def _joined(
    m: Mapping[str, Any],
    config: MappingConfig,
    base: dict[str, Any],
    actor: Any,
    chat_id: int,
    message_id: int,
) -> list[Event]:
    if config.member_updates != "service_messages":
        raise Skip(_("a join service message (joins are read from chat_member updates)"))
    events = []
    for i, raw in enumerate(array(m["new_chat_members"], "message.new_chat_members")):
        joined = user(raw, f"message.new_chat_members[{i}]")
        if joined.is_bot:
            continue
        inviter = {"inviter": str(actor.id)} if actor and actor.id != joined.id else {}
        events.append(
            _event(
                {
                    **base,
                    "id": f"telegram:{chat_id}:{message_id}:joined:{joined.id}",
                    "type": "member.joined",
                    "member": joined.ref(),
                    "data": inviter,
                }
            )
        )
    if not events:
        raise Skip(_("only bots joined"))
    return events


def _left(
    m: Mapping[str, Any],
    config: MappingConfig,
    base: dict[str, Any],
    actor: Any,
    chat_id: int,
    message_id: int,
) -> list[Event]:
    if config.member_updates != "service_messages":
        raise Skip(_("a leave service message (leaves are read from chat_member updates)"))
    gone = user(m["left_chat_member"], "message.left_chat_member")
    if gone.is_bot:
        raise Skip(_("a bot left"))
    removed = actor is not None and actor.id != gone.id
    return [
        _event(
            {
                **base,
                "id": f"telegram:{chat_id}:{message_id}:left:{gone.id}",
                "type": "member.left",
                "member": gone.ref(),
                "data": {"reason": "kicked" if removed else "left"},
            }
        )
    ]


def _status(value: Any, path: str) -> tuple[str, bool]:
    cm = obj(value, path)
    status = string(cm.get("status"), f"{path}.status")
    if status not in _STATUSES:
        raise PayloadError(f"unknown chat member status {status!r}", f"{path}.status")
    inside = _STATUSES[status]
    if inside is None:
        inside = boolean(cm.get("is_member"), f"{path}.is_member")
    return status, inside


def _chat_member(cmu: Mapping[str, Any], config: MappingConfig) -> list[Event]:
    chat_id, community = _chat(cmu.get("chat"), "chat_member.chat", config)
    at = unix_time(cmu.get("date"), "chat_member.date")
    actor = user(cmu.get("from"), "chat_member.from")
    _was, was_in = _status(cmu.get("old_chat_member"), "chat_member.old_chat_member")
    status, now_in = _status(cmu.get("new_chat_member"), "chat_member.new_chat_member")
    new = obj(cmu["new_chat_member"], "chat_member.new_chat_member")
    member = user(new.get("user"), "chat_member.new_chat_member.user")
    if community is None:
        raise Skip(
            _("chat {chat_id} is not a group read by this adapter (see `chats`)").format(
                chat_id=chat_id
            )
        )
    if config.member_updates != "chat_member":
        raise Skip(_("a chat_member update (joins are read from service messages)"))
    if member.is_bot:
        raise Skip(_("a bot's membership changed"))
    if was_in == now_in:
        raise Skip(
            _("a change of status to {status!r}: not a join or a leave").format(status=status)
        )
    kind = "joined" if now_in else "left"
    data: dict[str, Any] = {}
    if now_in and actor.id != member.id:
        data["inviter"] = str(actor.id)
    if now_in:
        data.update(_invite(cmu))
    if not now_in:
        data["reason"] = "kicked" if status == "kicked" or actor.id != member.id else "left"
    return [
        _event(
            {
                "id": f"telegram:{chat_id}:{kind}:{member.id}:{cmu['date']}",
                "type": f"member.{kind}",
                "at": at,
                "community": community,
                "platform": config.platform,
                "channel": str(chat_id),
                "member": member.ref(_STATUS_ROLES.get(status, ())),
                "data": data,
            }
        )
    ]


def _invite(cmu: Mapping[str, Any]) -> dict[str, Any]:
    """How the member joined: ``invite_link`` (the link, as Telegram shows it to the bot:
    links created by other admins have their end replaced by "…"), its ``invite_name``
    and ``invite_creator``; ``via_join_request`` when an admin approved a request."""
    out: dict[str, Any] = {}
    if cmu.get("invite_link") is not None:
        link = obj(cmu["invite_link"], "chat_member.invite_link")
        out["invite_link"] = string(link.get("invite_link"), "chat_member.invite_link.invite_link")
        if link.get("name") is not None:
            out["invite_name"] = string(link["name"], "chat_member.invite_link.name")
        if link.get("creator") is not None:
            creator = user(link["creator"], "chat_member.invite_link.creator")
            out["invite_creator"] = str(creator.id)
    if cmu.get("via_join_request") is True:
        out["via_join_request"] = True
    if cmu.get("via_chat_folder_invite_link") is True:
        out["via_chat_folder_invite_link"] = True
    return out


def reaction_key(value: Any, path: str) -> str:
    """A ``ReactionType`` as one string: the emoji itself, ``custom:<custom_emoji_id>`` or
    ``paid``."""
    r = obj(value, path)
    kind = string(r.get("type"), f"{path}.type")
    if kind == "emoji":
        return string(r.get("emoji"), f"{path}.emoji")
    if kind == "custom_emoji":
        return "custom:" + string(r.get("custom_emoji_id"), f"{path}.custom_emoji_id")
    return kind


def _reaction(
    mr: Mapping[str, Any], config: MappingConfig, author_of: AuthorLookup | None
) -> list[Event]:
    chat_id, community = _chat(mr.get("chat"), "message_reaction.chat", config)
    message_id = integer(mr.get("message_id"), "message_reaction.message_id")
    at = unix_time(mr.get("date"), "message_reaction.date")
    old = [
        reaction_key(r, f"message_reaction.old_reaction[{i}]")
        for i, r in enumerate(array(mr.get("old_reaction"), "message_reaction.old_reaction"))
    ]
    new = [
        reaction_key(r, f"message_reaction.new_reaction[{i}]")
        for i, r in enumerate(array(mr.get("new_reaction"), "message_reaction.new_reaction"))
    ]
    if "user" not in mr:
        raise Skip(_("an anonymous reaction, on behalf of a chat (actor_chat)"))
    reactor = user(mr["user"], "message_reaction.user")
    if community is None:
        raise Skip(
            _("chat {chat_id} is not a group read by this adapter (see `chats`)").format(
                chat_id=chat_id
            )
        )
    if reactor.is_bot:
        raise Skip(_("a bot's reaction"))
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
                    "id": f"telegram:{chat_id}:{message_id}:reaction:{reactor.id}:{key}",
                    "type": "reaction.added",
                    "at": at,
                    "community": community,
                    "platform": config.platform,
                    "channel": channel,
                    "member": reactor.ref(),
                    "data": data,
                }
            )
        )
    if not events:
        raise Skip(_("no reaction was added (only removed or kept)"))
    return events


__all__ = [
    "CONTENT_KINDS",
    "PLATFORM",
    "AlbumLookup",
    "AuthorLookup",
    "MappingConfig",
    "Migrated",
    "Skip",
    "map_update",
    "parse_update",
    "reaction_key",
]
