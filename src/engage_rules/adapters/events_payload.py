"""Parsing docs/reference.md §3.1 event JSON as an adapter payload (console, jsonl, webhook)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model.events import Event, EventError, event_from_obj
from .base import PayloadError


def parse_engage_event(payload: Mapping[str, Any], platform: str | None = None) -> list[Event]:
    """One §3 event object → ``[event]``; ``{"events": [...]}`` → those events.

    ``platform``, when given, fills in an event's missing ``platform``.  A malformed
    event raises :class:`PayloadError` whose message starts with the quarantine reason
    code (``missing_field: ...``).
    """
    if not isinstance(payload, Mapping):
        raise PayloadError("not_object: an event must be a JSON object")
    batch = "events" in payload and "type" not in payload
    items: Any = payload["events"] if batch else [payload]
    if not isinstance(items, list):
        raise PayloadError("wrong_type: `events` must be a list of events", "events")
    out: list[Event] = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping) and platform is not None and item.get("platform") is None:
            item = {**item, "platform": platform}
        try:
            out.append(event_from_obj(dict(item) if isinstance(item, Mapping) else item))
        except EventError as err:
            raise PayloadError(
                f"{err.reason}: {err.message}", f"events.{i}" if batch else None
            ) from None
        except (TypeError, ValueError) as err:
            raise PayloadError(f"wrong_type: {err}", f"events.{i}" if batch else None) from None
    return out
