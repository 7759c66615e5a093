"""Typed access to Bot API objects, naming the path of a field that is not what the Bot API
documents (:class:`PayloadError`), and :class:`Skip`: an update understood and ignored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engage_rules.plugin_api import PayloadError, payload_fields

from .i18n import _

# The typed readers every adapter shares (engage_rules.adapters.payload_fields).
kind_of = payload_fields.kind_of
obj = payload_fields.obj
integer = payload_fields.integer
string = payload_fields.string
array = payload_fields.array
boolean = payload_fields.boolean
event = payload_fields.event
add_link = payload_fields.add_link
MAX_LINKS = payload_fields.MAX_LINKS
MAX_URL = payload_fields.MAX_URL


class Skip(Exception):
    """An update that maps to no event, and why (``engage-rules telegram map`` prints it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Migrated(Skip):
    """A group became a supergroup: ``old`` chat id → ``new`` chat id (Bot API
    ``migrate_to_chat_id`` / ``migrate_from_chat_id``)."""

    def __init__(self, old: int, new: int) -> None:
        super().__init__(
            _("the group {old} was migrated to the supergroup {new}").format(old=old, new=new)
        )
        self.old = old
        self.new = new


def unix_time(value: Any, path: str) -> str:
    """A Unix time in seconds as ISO 8601 text (UTC)."""
    seconds = integer(value, path)
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{seconds} is not a valid Unix time", path) from None


@dataclass(frozen=True, slots=True)
class User:
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


def user(value: Any, path: str) -> User:
    u = obj(value, path)
    first = string(u.get("first_name"), f"{path}.first_name")
    last = u.get("last_name")
    name = first if last is None else f"{first} {string(last, f'{path}.last_name')}".strip()
    return User(
        integer(u.get("id"), f"{path}.id"), boolean(u.get("is_bot"), f"{path}.is_bot"), name
    )
