"""Discord gateway dispatch payloads → engage_rules events (pure: no I/O, no clock).

A gateway payload is ``{"op": 0, "t": "<EVENT NAME>", "s": <seq>, "d": {...}}``.  What is
read (everything else — other opcodes, other dispatch names — maps to no event):

=========================  =================================================================
Dispatch (``t``)           Event
=========================  =================================================================
``MESSAGE_CREATE``         ``message.posted`` (default and reply messages, forwards, in a
                           guild; a forward's text is the forwarded message's)
``MESSAGE_UPDATE``         ``message.edited`` (the new text; ``at`` = ``edited_timestamp``;
                           an update without ``edited_timestamp`` — a link preview
                           resolved — is no edit)
``GUILD_MEMBER_ADD``       ``member.joined``  (``at`` = ``joined_at``)
``GUILD_MEMBER_REMOVE``    ``member.left``    (``at`` = the receive time)
``MESSAGE_REACTION_ADD``   ``reaction.added`` (``at`` = the receive time;
                           ``data.to_member`` = ``message_author_id``)
``THREAD_CREATE``,         no event: they tell which channel a thread belongs to, so that
``THREAD_UPDATE``,         messages in the thread carry the parent channel as ``channel``
``THREAD_LIST_SYNC``,      and the thread as ``data.thread``
``GUILD_CREATE``
=========================  =================================================================

``GUILD_MEMBER_REMOVE`` and ``MESSAGE_REACTION_ADD`` carry no time, so the caller passes
the instant the payload was received (:func:`parse_dispatch`'s ``received_at``).
``GUILD_MEMBER_ADD`` does not say which invite was used (Discord does not send it).

Ids: a member is the Discord user id (a snowflake string); the community is the guild's
name from ``guilds`` (guild id → name), else the guild id; the channel is the channel's
name from ``channels`` (channel id → name), else the channel id.  Event ids are stable
(``discord:<message id>`` for a message), so a payload received twice is processed once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engage_rules.plugin_api import Event, PayloadError

from .fields import (
    DISCORD_EPOCH_MS,
    Skip,
    Threads,
    event,
    integer,
    iso_time,
    member_ref,
    obj,
    snowflake,
    snowflake_time,
    string,
    user,
)
from .i18n import _
from .messages import message_data

PLATFORM = "discord"
#: Message types members write: DEFAULT and REPLY (others are system messages).
MEMBER_MESSAGE_TYPES = (0, 19)
#: Channel types of threads (announcement, public and private threads).
THREAD_TYPES = (10, 11, 12)

#: thread id → (parent channel id, thread name or None), for threads seen so far.
ThreadLookup = Callable[[str], "tuple[str, str | None] | None"]


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """How payloads map to events (the adapter builds it from its settings)."""

    #: guild id → community name; when non-empty, other guilds are ignored.
    guilds: Mapping[str, str] = field(default_factory=dict)
    #: channel id → channel name (events carry the name; unnamed channels their id).
    channels: Mapping[str, str] = field(default_factory=dict)
    #: role id → role name (``member.roles``; unnamed roles appear as their id).
    roles: Mapping[str, str] = field(default_factory=dict)
    platform: str = PLATFORM

    def community(self, guild_id: str) -> str | None:
        if not self.guilds:
            return guild_id
        return self.guilds.get(guild_id)

    def channel(self, channel_id: str) -> str:
        return self.channels.get(channel_id, channel_id)


def parse_dispatch(
    payload: Any,
    config: MappingConfig,
    received_at: datetime,
    thread_of: ThreadLookup | None = None,
) -> list[Event]:
    """One gateway payload → events.  ``received_at`` (aware) dates the dispatches that
    carry no time of their own; ``thread_of`` knows the threads seen so far (the adapter's
    memory, :class:`.parser.DispatchParser`).  Raises :class:`PayloadError`."""
    try:
        return map_dispatch(payload, config, received_at, thread_of)
    except Skip:
        return []


def map_dispatch(
    payload: Any,
    config: MappingConfig,
    received_at: datetime,
    thread_of: ThreadLookup | None = None,
) -> list[Event]:
    """:func:`parse_dispatch`, raising :class:`Skip` (or :class:`Threads`) with the reason
    when the payload maps to no event."""
    p = obj(payload, "payload")
    # A dispatch stored without its opcode (``{"t": ..., "d": ...}``, as relays and
    # recorders often keep them) is read as the dispatch it is.
    op = integer(p.get("op", 0 if "t" in p else None), "op")
    if op != 0:
        raise Skip(_("opcode {op}: not a dispatch").format(op=op))
    name = string(p.get("t"), "t")
    d = obj(p.get("d"), "d")
    if name in ("THREAD_CREATE", "THREAD_UPDATE"):
        raise _threads([d], "d")
    if name in ("THREAD_LIST_SYNC", "GUILD_CREATE"):
        threads = d.get("threads", [])
        if not isinstance(threads, list):
            raise PayloadError("expected an array", "d.threads")
        raise _threads(threads, "d.threads")
    handler = _HANDLERS.get(name)
    if handler is None:
        raise Skip(_("a {name} dispatch: not read by this adapter").format(name=name))
    return handler(d, config, received_at, thread_of or _no_threads)


def _no_threads(thread_id: str) -> tuple[str, str | None] | None:
    return None


def _threads(items: Any, path: str) -> Threads:
    parents: dict[str, str] = {}
    names: dict[str, str] = {}
    for i, raw in enumerate(items):
        where = path if path == "d" else f"{path}[{i}]"
        t = obj(raw, where)
        if t.get("type") not in THREAD_TYPES or t.get("parent_id") is None:
            continue
        tid = snowflake(t.get("id"), f"{where}.id")
        parents[tid] = snowflake(t["parent_id"], f"{where}.parent_id")
        if t.get("name") is not None:
            names[tid] = string(t["name"], f"{where}.name")
    return Threads(parents, names)


def _where(
    channel_id: str, config: MappingConfig, thread_of: ThreadLookup
) -> tuple[str, dict[str, Any]]:
    """The event's channel (a thread's parent), and ``thread`` / ``thread_name`` data."""
    found = thread_of(channel_id)
    if found is None:
        return config.channel(channel_id), {}
    parent, name = found
    extra: dict[str, Any] = {"thread": channel_id}
    if name:
        extra["thread_name"] = name
    return config.channel(parent), extra


def _message(
    d: Mapping[str, Any],
    config: MappingConfig,
    thread_of: ThreadLookup,
    *,
    edit: bool,
) -> list[Event]:
    message_id = snowflake(d.get("id"), "d.id")
    channel_id = snowflake(d.get("channel_id"), "d.channel_id")
    if edit and any(d.get(k) is None for k in ("author", "content", "type", "timestamp")):
        raise Skip(_("a partial MESSAGE_UPDATE without the message's author and text"))
    at = iso_time(d.get("timestamp"), "d.timestamp")
    kind = integer(d.get("type"), "d.type")
    author = user(d.get("author"), "d.author")
    string(d.get("content"), "d.content")
    if "guild_id" not in d:
        raise Skip(_("a direct message to the bot"))
    guild_id = snowflake(d["guild_id"], "d.guild_id")
    community = config.community(guild_id)
    if community is None:
        raise Skip(
            _("guild {guild_id} is not read by this adapter (see `guilds`)").format(
                guild_id=guild_id
            )
        )
    if author.bot or d.get("webhook_id") is not None:
        raise Skip(_("a message from a bot or a webhook"))
    if kind not in MEMBER_MESSAGE_TYPES:
        raise Skip(_("a system message (type {kind})").format(kind=kind))
    data = message_data(d, "d", kind)
    channel, extra = _where(channel_id, config, thread_of)
    data.update(extra)
    fields: dict[str, Any] = {"id": f"discord:{message_id}", "type": "message.posted"}
    if edit:
        if d.get("edited_timestamp") is None:
            raise Skip(_("an update that is no edit (a link preview resolved, a pin...)"))
        edited = iso_time(d["edited_timestamp"], "d.edited_timestamp")
        at = edited
        ms = int(edited.timestamp() * 1000)
        fields = {"id": f"discord:{message_id}:edited:{ms}", "type": "message.edited"}
    return [
        event(
            {
                **fields,
                "at": at.isoformat(),
                "community": community,
                "platform": config.platform,
                "channel": channel,
                "member": member_ref(author, d.get("member"), "d.member", config.roles),
                "data": data,
            }
        )
    ]


def _message_create(
    d: Mapping[str, Any], config: MappingConfig, received_at: datetime, threads: ThreadLookup
) -> list[Event]:
    return _message(d, config, threads, edit=False)


def _message_update(
    d: Mapping[str, Any], config: MappingConfig, received_at: datetime, threads: ThreadLookup
) -> list[Event]:
    return _message(d, config, threads, edit=True)


def _member_add(
    d: Mapping[str, Any], config: MappingConfig, received_at: datetime, threads: ThreadLookup
) -> list[Event]:
    guild_id = snowflake(d.get("guild_id"), "d.guild_id")
    joined = user(d.get("user"), "d.user")
    at = iso_time(d.get("joined_at"), "d.joined_at")
    community = config.community(guild_id)
    if community is None:
        raise Skip(
            _("guild {guild_id} is not read by this adapter (see `guilds`)").format(
                guild_id=guild_id
            )
        )
    if joined.bot:
        raise Skip(_("a bot joined"))
    data: dict[str, Any] = {}
    if d.get("pending") is True:
        data["pending"] = True  # has not passed membership screening yet
    ms = int(at.timestamp() * 1000)
    return [
        event(
            {
                "id": f"discord:{guild_id}:joined:{joined.id}:{ms}",
                "type": "member.joined",
                "at": at.isoformat(),
                "community": community,
                "platform": config.platform,
                "member": member_ref(joined, d, "d", config.roles),
                "data": data,
            }
        )
    ]


def _member_remove(
    d: Mapping[str, Any], config: MappingConfig, received_at: datetime, threads: ThreadLookup
) -> list[Event]:
    guild_id = snowflake(d.get("guild_id"), "d.guild_id")
    gone = user(d.get("user"), "d.user")
    community = config.community(guild_id)
    if community is None:
        raise Skip(
            _("guild {guild_id} is not read by this adapter (see `guilds`)").format(
                guild_id=guild_id
            )
        )
    if gone.bot:
        raise Skip(_("a bot left"))
    ms = int(received_at.timestamp() * 1000)
    return [
        event(
            {
                "id": f"discord:{guild_id}:left:{gone.id}:{ms}",
                "type": "member.left",
                "at": received_at.isoformat(),
                "community": community,
                "platform": config.platform,
                "member": member_ref(gone, None, "d", config.roles),
            }
        )
    ]


def emoji_key(value: Any, path: str) -> str:
    """An emoji as one string: the character for a Unicode emoji, ``name:id`` for a custom
    one (the form the REST API takes in reaction URLs)."""
    e = obj(value, path)
    emoji_id = e.get("id")
    name = e.get("name")
    if emoji_id is None:
        return string(name, f"{path}.name")
    emoji_id = snowflake(emoji_id, f"{path}.id")
    return f"{string(name, f'{path}.name') if name is not None else 'emoji'}:{emoji_id}"


def _reaction_add(
    d: Mapping[str, Any], config: MappingConfig, received_at: datetime, threads: ThreadLookup
) -> list[Event]:
    user_id = snowflake(d.get("user_id"), "d.user_id")
    channel_id = snowflake(d.get("channel_id"), "d.channel_id")
    message_id = snowflake(d.get("message_id"), "d.message_id")
    emoji = emoji_key(d.get("emoji"), "d.emoji")
    if "guild_id" not in d:
        raise Skip(_("a reaction in a direct message"))
    guild_id = snowflake(d["guild_id"], "d.guild_id")
    community = config.community(guild_id)
    if community is None:
        raise Skip(
            _("guild {guild_id} is not read by this adapter (see `guilds`)").format(
                guild_id=guild_id
            )
        )
    member: dict[str, Any] = {"id": user_id, "created_at": snowflake_time(user_id).isoformat()}
    if d.get("member") is not None:
        m = obj(d["member"], "d.member")
        reactor = user(m.get("user"), "d.member.user")
        if reactor.id != user_id:
            raise PayloadError(
                f"is {reactor.id}, not the reacting user {user_id}", "d.member.user.id"
            )
        if reactor.bot:
            raise Skip(_("a bot's reaction"))
        member = member_ref(reactor, m, "d.member", config.roles)
    data: dict[str, Any] = {"message_id": message_id, "emoji": emoji}
    if d.get("message_author_id") is not None:
        data["to_member"] = snowflake(d["message_author_id"], "d.message_author_id")
    if d.get("burst") is True:
        data["burst"] = True  # a super reaction
    channel, extra = _where(channel_id, config, threads)
    data.update(extra)
    return [
        event(
            {
                "id": f"discord:{message_id}:reaction:{user_id}:{emoji}",
                "type": "reaction.added",
                "at": received_at.isoformat(),
                "community": community,
                "platform": config.platform,
                "channel": channel,
                "member": member,
                "data": data,
            }
        )
    ]


_HANDLERS = {
    "MESSAGE_CREATE": _message_create,
    "MESSAGE_UPDATE": _message_update,
    "GUILD_MEMBER_ADD": _member_add,
    "GUILD_MEMBER_REMOVE": _member_remove,
    "MESSAGE_REACTION_ADD": _reaction_add,
}

__all__ = [
    "DISCORD_EPOCH_MS",
    "PLATFORM",
    "MappingConfig",
    "Skip",
    "ThreadLookup",
    "Threads",
    "emoji_key",
    "map_dispatch",
    "parse_dispatch",
    "snowflake",
    "snowflake_time",
]
