"""Typed access to platform payloads, for adapters' ``parse``: each reader returns the
value when it has the type the platform documents, and otherwise raises
:class:`~engage_rules.adapters.base.PayloadError` naming the field's path and what was
there ("expected an integer, got a string").  Also the two steps every adapter's mapping
ends with: building the event (:func:`event`) and collecting a message's URLs into
``data.links`` (:func:`add_link`, within the limits an event can hold).

Plugins reach it as ``engage_rules.plugin_api.payload_fields``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..model.events import Event, EventError, event_from_obj
from .base import PayloadError

#: At most this many URLs in ``data.links`` (an event must stay under 64 KiB).
MAX_LINKS = 32
#: Longer URLs are left out of ``data.links`` (no browser or shortener makes them).
MAX_URL = 2048

_KINDS = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def kind_of(value: Any) -> str:
    """What ``value`` is, in the words of a JSON document."""
    if value is None:
        return "null"
    return _KINDS.get(type(value), type(value).__name__)


def obj(value: Any, path: str) -> Mapping[str, Any]:
    """A JSON object."""
    if not isinstance(value, Mapping):
        raise PayloadError(f"expected an object, got {kind_of(value)}", path)
    return value


def integer(value: Any, path: str) -> int:
    """A whole number (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(f"expected an integer, got {kind_of(value)}", path)
    return value


def string(value: Any, path: str) -> str:
    """A string."""
    if not isinstance(value, str):
        raise PayloadError(f"expected a string, got {kind_of(value)}", path)
    return value


def array(value: Any, path: str) -> Sequence[Any]:
    """A JSON array."""
    if not isinstance(value, list):
        raise PayloadError(f"expected an array, got {kind_of(value)}", path)
    return value


def boolean(value: Any, path: str) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise PayloadError(f"expected true or false, got {kind_of(value)}", path)
    return value


def event(fields: dict[str, Any]) -> Event:
    """The event of ``fields`` (the events-file shape), or a PayloadError saying why the
    payload could not make one."""
    try:
        return event_from_obj(fields)
    except EventError as err:
        raise PayloadError(f"cannot build a {fields['type']} event: {err.message}") from None


def add_link(links: list[str], url: Any, path: str) -> None:
    """Add one URL to ``links`` (kept in order, once each, within the limits above)."""
    text = string(url, path).strip()
    if text and len(text) <= MAX_URL and text not in links and len(links) < MAX_LINKS:
        links.append(text)
