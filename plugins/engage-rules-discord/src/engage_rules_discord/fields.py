"""Typed access to Discord payloads, naming the path of a field that is not what the
Discord API documents (:class:`PayloadError`); :class:`Skip`, a payload understood and
ignored; the event ``member`` of a user."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engage_rules.plugin_api import PayloadError, payload_fields

from .i18n import _

# The typed readers every adapter shares (engage_rules.adapters.payload_fields).
kind_of = payload_fields.kind_of
obj = payload_fields.obj
string = payload_fields.string
integer = payload_fields.integer
event = payload_fields.event
add_link = payload_fields.add_link
MAX_LINKS = payload_fields.MAX_LINKS
MAX_URL = payload_fields.MAX_URL

#: Discord's epoch (2015-01-01T00:00:00Z) in milliseconds: snowflakes count from it.
DISCORD_EPOCH_MS = 1420070400000


class Skip(Exception):
    """A payload that maps to no event, and why (``engage-rules discord map`` prints it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Threads(Skip):
    """A dispatch that tells which channel threads belong to: ``parents`` maps a thread
    id to its parent channel id (and ``names`` a thread id to its name)."""

    def __init__(self, parents: dict[str, str], names: dict[str, str]) -> None:
        super().__init__(
            _("{n} thread(s) learned (messages in them get their parent)").format(n=len(parents))
        )
        self.parents = parents
        self.names = names


def snowflake(value: Any, path: str) -> str:
    """A Discord id: a string of decimal digits (64-bit)."""
    text = string(value, path)
    if not (text.isascii() and text.isdigit() and len(text) <= 20 and int(text) < 2**64):
        raise PayloadError(f"{text[:40]!r} is not a snowflake id", path)
    return text


def snowflake_time(snowflake_id: str) -> datetime:
    """When a snowflake was made (a user id: the account's creation time)."""
    ms = (int(snowflake_id) >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


def iso_time(value: Any, path: str) -> datetime:
    text = string(value, path)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"{text[:40]!r} is not an ISO 8601 time", path) from None
    if at.tzinfo is None:
        raise PayloadError(f"{text[:40]!r} has no UTC offset", path)
    return at


@dataclass(frozen=True, slots=True)
class User:
    id: str
    bot: bool
    name: str


def user(value: Any, path: str) -> User:
    u = obj(value, path)
    uid = snowflake(u.get("id"), f"{path}.id")
    username = string(u.get("username"), f"{path}.username")
    global_name = u.get("global_name")
    if global_name is not None:
        username = string(global_name, f"{path}.global_name") or username
    bot = u.get("bot", False)
    if not isinstance(bot, bool):
        raise PayloadError(f"expected true or false, got {kind_of(bot)}", f"{path}.bot")
    return User(uid, bot, username)


def member_ref(u: User, member: Any, path: str, roles: Mapping[str, str]) -> dict[str, Any]:
    """The event's ``member``: name (nickname first), roles, account creation time."""
    out: dict[str, Any] = {"id": u.id}
    name = u.name
    if member is not None:
        m = obj(member, path)
        nick = m.get("nick")
        if nick is not None:
            name = string(nick, f"{path}.nick") or name
        raw = m.get("roles", [])
        if not isinstance(raw, list):
            raise PayloadError(f"expected an array, got {kind_of(raw)}", f"{path}.roles")
        ids = [snowflake(r, f"{path}.roles[{i}]") for i, r in enumerate(raw)]
        if ids:
            out["roles"] = [roles.get(r, r) for r in ids]
    if name:
        out["name"] = name
    out["created_at"] = snowflake_time(u.id).isoformat()
    return out
