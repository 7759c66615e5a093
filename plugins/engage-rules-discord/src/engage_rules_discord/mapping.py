"""Discord gateway dispatch payloads → engage_rules events (pure: no I/O, no clock).

A gateway payload is ``{"op": 0, "t": "<EVENT NAME>", "s": <seq>, "d": {...}}``.  What is
read (everything else — other opcodes, other dispatch names — returns ``[]``):

========================  ==================================================================
Dispatch (``t``)          Event
========================  ==================================================================
``MESSAGE_CREATE``        ``message.posted`` (default and reply messages in a guild)
``GUILD_MEMBER_ADD``      ``member.joined``  (``at`` = ``joined_at``)
``GUILD_MEMBER_REMOVE``   ``member.left``    (``at`` = the receive time)
``MESSAGE_REACTION_ADD``  ``reaction.added`` (``at`` = the receive time;
                          ``data.to_member`` = ``message_author_id``)
========================  ==================================================================

``GUILD_MEMBER_REMOVE`` and ``MESSAGE_REACTION_ADD`` carry no time, so the caller passes
the instant the payload was received (:func:`parse_dispatch`'s ``received_at``).

Ids: a member is the Discord user id (a snowflake string); the community is the guild's
name from ``guilds`` (guild id → name), else the guild id; the channel is the channel's
name from ``channels`` (channel id → name), else the channel id.  Event ids are stable
(``discord:<message id>`` for a message), so a payload received twice is processed once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engage_rules.plugin_api import Event, EventError, PayloadError, event_from_obj

PLATFORM = "discord"
#: Discord's epoch (2015-01-01T00:00:00Z) in milliseconds: snowflakes count from it.
DISCORD_EPOCH_MS = 1420070400000
#: Message types members write: DEFAULT and REPLY (others are system messages).
MEMBER_MESSAGE_TYPES = (0, 19)


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


# -- typed access with the path of the offending field ------------------------------------------


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


def _obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"expected an object, got {_kind(value)}", path)
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"expected a string, got {_kind(value)}", path)
    return value


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"expected an integer, got {_kind(value)}", path)
    return value


def snowflake(value: Any, path: str) -> str:
    """A Discord id: a string of decimal digits (64-bit)."""
    text = _str(value, path)
    if not (text.isascii() and text.isdigit() and len(text) <= 20 and int(text) < 2**64):
        raise PayloadError(f"{text[:40]!r} is not a snowflake id", path)
    return text


def snowflake_time(snowflake_id: str) -> datetime:
    """When a snowflake was made (a user id: the account's creation time)."""
    ms = (int(snowflake_id) >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


def _time(value: Any, path: str) -> datetime:
    text = _str(value, path)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"{text[:40]!r} is not an ISO 8601 time", path) from None
    if at.tzinfo is None:
        raise PayloadError(f"{text[:40]!r} has no UTC offset", path)
    return at


@dataclass(frozen=True, slots=True)
class _User:
    id: str
    bot: bool
    name: str


def _user(value: Any, path: str) -> _User:
    u = _obj(value, path)
    uid = snowflake(u.get("id"), f"{path}.id")
    username = _str(u.get("username"), f"{path}.username")
    global_name = u.get("global_name")
    if global_name is not None:
        username = _str(global_name, f"{path}.global_name") or username
    bot = u.get("bot", False)
    if not isinstance(bot, bool):
        raise PayloadError(f"expected true or false, got {_kind(bot)}", f"{path}.bot")
    return _User(uid, bot, username)


def _member(user: _User, member: Any, path: str, config: MappingConfig) -> dict[str, Any]:
    """The event's ``member``: name (nickname first), roles, account creation time."""
    out: dict[str, Any] = {"id": user.id}
    name = user.name
    if member is not None:
        m = _obj(member, path)
        nick = m.get("nick")
        if nick is not None:
            name = _str(nick, f"{path}.nick") or name
        roles = m.get("roles", [])
        if not isinstance(roles, list):
            raise PayloadError(f"expected an array, got {_kind(roles)}", f"{path}.roles")
        ids = [snowflake(r, f"{path}.roles[{i}]") for i, r in enumerate(roles)]
        if ids:
            out["roles"] = [config.roles.get(r, r) for r in ids]
    if name:
        out["name"] = name
    out["created_at"] = snowflake_time(user.id).isoformat()
    return out


def _event(obj: dict[str, Any]) -> Event:
    try:
        return event_from_obj(obj)
    except EventError as err:
        raise PayloadError(f"cannot build a {obj['type']} event: {err.message}") from None


# -- dispatches --------------------------------------------------------------------------------


def parse_dispatch(payload: Any, config: MappingConfig, received_at: datetime) -> list[Event]:
    """One gateway payload → events.  ``received_at`` (aware) dates the dispatches that
    carry no time of their own.  Raises :class:`PayloadError`."""
    p = _obj(payload, "payload")
    if _int(p.get("op"), "op") != 0:
        return []  # heartbeats, hello, resume...: not dispatches
    name = _str(p.get("t"), "t")
    handler = _HANDLERS.get(name)
    if handler is None:
        return []
    return handler(_obj(p.get("d"), "d"), config, received_at)


def _message_create(
    d: Mapping[str, Any], config: MappingConfig, received_at: datetime
) -> list[Event]:
    message_id = snowflake(d.get("id"), "d.id")
    channel_id = snowflake(d.get("channel_id"), "d.channel_id")
    at = _time(d.get("timestamp"), "d.timestamp")
    kind = _int(d.get("type"), "d.type")
    author = _user(d.get("author"), "d.author")
    content = _str(d.get("content"), "d.content")
    if "guild_id" not in d:
        return []  # a direct message to the bot
    community = config.community(snowflake(d["guild_id"], "d.guild_id"))
    if (
        community is None
        or author.bot
        or d.get("webhook_id") is not None
        or kind not in MEMBER_MESSAGE_TYPES
    ):
        return []
    data: dict[str, Any] = {"text": content, "message_id": message_id}
    attachments = d.get("attachments", [])
    if not isinstance(attachments, list):
        raise PayloadError(f"expected an array, got {_kind(attachments)}", "d.attachments")
    if attachments:
        data["attachments"] = len(attachments)
    reference = d.get("message_reference")
    if kind == 19 and reference is not None:
        ref = _obj(reference, "d.message_reference")
        if ref.get("message_id") is not None:
            data["reply_to"] = snowflake(ref["message_id"], "d.message_reference.message_id")
        replied = d.get("referenced_message")
        if replied is not None:
            replied_author = _user(
                _obj(replied, "d.referenced_message").get("author"), "d.referenced_message.author"
            )
            if not replied_author.bot:
                data["reply_to_member"] = replied_author.id
    return [
        _event(
            {
                "id": f"discord:{message_id}",
                "type": "message.posted",
                "at": at.isoformat(),
                "community": community,
                "platform": config.platform,
                "channel": config.channel(channel_id),
                "member": _member(author, d.get("member"), "d.member", config),
                "data": data,
            }
        )
    ]


def _member_add(d: Mapping[str, Any], config: MappingConfig, received_at: datetime) -> list[Event]:
    guild_id = snowflake(d.get("guild_id"), "d.guild_id")
    user = _user(d.get("user"), "d.user")
    at = _time(d.get("joined_at"), "d.joined_at")
    community = config.community(guild_id)
    if community is None or user.bot:
        return []
    data: dict[str, Any] = {}
    if d.get("pending") is True:
        data["pending"] = True  # has not passed membership screening yet
    ms = int(at.timestamp() * 1000)
    return [
        _event(
            {
                "id": f"discord:{guild_id}:joined:{user.id}:{ms}",
                "type": "member.joined",
                "at": at.isoformat(),
                "community": community,
                "platform": config.platform,
                "member": _member(user, d, "d", config),
                "data": data,
            }
        )
    ]


def _member_remove(
    d: Mapping[str, Any], config: MappingConfig, received_at: datetime
) -> list[Event]:
    guild_id = snowflake(d.get("guild_id"), "d.guild_id")
    user = _user(d.get("user"), "d.user")
    community = config.community(guild_id)
    if community is None or user.bot:
        return []
    ms = int(received_at.timestamp() * 1000)
    return [
        _event(
            {
                "id": f"discord:{guild_id}:left:{user.id}:{ms}",
                "type": "member.left",
                "at": received_at.isoformat(),
                "community": community,
                "platform": config.platform,
                "member": _member(user, None, "d", config),
            }
        )
    ]


def emoji_key(value: Any, path: str) -> str:
    """An emoji as one string: the character for a Unicode emoji, ``name:id`` for a custom
    one (the form the REST API takes in reaction URLs)."""
    e = _obj(value, path)
    emoji_id = e.get("id")
    name = e.get("name")
    if emoji_id is None:
        return _str(name, f"{path}.name")
    emoji_id = snowflake(emoji_id, f"{path}.id")
    return f"{_str(name, f'{path}.name') if name is not None else 'emoji'}:{emoji_id}"


def _reaction_add(
    d: Mapping[str, Any], config: MappingConfig, received_at: datetime
) -> list[Event]:
    user_id = snowflake(d.get("user_id"), "d.user_id")
    channel_id = snowflake(d.get("channel_id"), "d.channel_id")
    message_id = snowflake(d.get("message_id"), "d.message_id")
    emoji = emoji_key(d.get("emoji"), "d.emoji")
    if "guild_id" not in d:
        return []  # a reaction in a direct message
    community = config.community(snowflake(d["guild_id"], "d.guild_id"))
    if community is None:
        return []
    member: dict[str, Any] = {"id": user_id, "created_at": snowflake_time(user_id).isoformat()}
    if d.get("member") is not None:
        m = _obj(d["member"], "d.member")
        user = _user(m.get("user"), "d.member.user")
        if user.id != user_id:
            raise PayloadError(f"is {user.id}, not the reacting user {user_id}", "d.member.user.id")
        if user.bot:
            return []
        member = _member(user, m, "d.member", config)
    data: dict[str, Any] = {"message_id": message_id, "emoji": emoji}
    if d.get("message_author_id") is not None:
        data["to_member"] = snowflake(d["message_author_id"], "d.message_author_id")
    if d.get("burst") is True:
        data["burst"] = True  # a super reaction
    return [
        _event(
            {
                "id": f"discord:{message_id}:reaction:{user_id}:{emoji}",
                "type": "reaction.added",
                "at": received_at.isoformat(),
                "community": community,
                "platform": config.platform,
                "channel": config.channel(channel_id),
                "member": member,
                "data": data,
            }
        )
    ]


_HANDLERS = {
    "MESSAGE_CREATE": _message_create,
    "GUILD_MEMBER_ADD": _member_add,
    "GUILD_MEMBER_REMOVE": _member_remove,
    "MESSAGE_REACTION_ADD": _reaction_add,
}

__all__ = [
    "DISCORD_EPOCH_MS",
    "PLATFORM",
    "MappingConfig",
    "emoji_key",
    "parse_dispatch",
    "snowflake",
    "snowflake_time",
]
