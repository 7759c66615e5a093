"""Typed access to Bot API objects, naming the path of a field that is not what the Bot API
documents (:class:`PayloadError`), and :class:`Skip`: an update understood and ignored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from engage_rules.plugin_api import Event, EventError, PayloadError, event_from_obj

#: At most this many URLs in ``data.links`` (an event must stay under 64 KiB).
MAX_LINKS = 32
#: Longer URLs are left out of ``data.links`` (no browser or shortener makes them).
MAX_URL = 2048


class Skip(Exception):
    """An update that maps to no event, and why (``engage-rules telegram map`` prints it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Migrated(Skip):
    """A group became a supergroup: ``old`` chat id → ``new`` chat id (Bot API
    ``migrate_to_chat_id`` / ``migrate_from_chat_id``)."""

    def __init__(self, old: int, new: int) -> None:
        super().__init__(f"the group {old} was migrated to the supergroup {new}")
        self.old = old
        self.new = new


def kind_of(value: Any) -> str:
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


def obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(f"expected an object, got {kind_of(value)}", path)
    return value


def integer(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"expected an integer, got {kind_of(value)}", path)
    return value


def string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"expected a string, got {kind_of(value)}", path)
    return value


def array(value: Any, path: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise PayloadError(f"expected an array, got {kind_of(value)}", path)
    return value


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise PayloadError(f"expected true or false, got {kind_of(value)}", path)
    return value


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


def event(fields: dict[str, Any]) -> Event:
    try:
        return event_from_obj(fields)
    except EventError as err:
        raise PayloadError(f"cannot build a {fields['type']} event: {err.message}") from None


def add_link(links: list[str], url: Any, path: str) -> None:
    """Add one URL to ``links`` (kept in order, once each, within the limits above)."""
    text = string(url, path).strip()
    if text and len(text) <= MAX_URL and text not in links and len(links) < MAX_LINKS:
        links.append(text)
