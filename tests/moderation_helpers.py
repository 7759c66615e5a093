"""Shared helpers for the moderation tests: events with any data, and the example playbook."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from engage_rules import Engine, Event, parse_event
from engage_rules.decision import ActionRecord, Decision

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "rules" / "moderation"
EXAMPLE_EVENTS = ROOT / "examples" / "moderation-events.jsonl"
T0 = datetime.fromisoformat("2026-03-02T10:00:00+08:00")
#: Actions that act against a member or their content.
PUNITIVE = frozenset({"delete_message", "strike", "flag_for_review", "mute", "ban", "kick"})
_ids = itertools.count(1)


def event(type_: str, actor: str | None, at: float = 0, *, roles: list[str] | None = None,
          created_at: str | None = None, channel: str | None = "general",
          id: str | None = None, **data: Any) -> Event:
    """An event whose ``data`` may use any key (``member`` included); ``at`` in seconds
    after T0."""
    obj: dict[str, Any] = {"id": id or f"m{next(_ids)}", "type": type_,
                           "at": (T0 + timedelta(seconds=at)).isoformat()}
    if actor is not None:
        mem: dict[str, Any] = {"id": actor}
        if roles is not None:
            mem["roles"] = roles
        if created_at is not None:
            mem["created_at"] = created_at
        obj["member"] = mem
    if channel is not None:
        obj["channel"] = channel
    obj["data"] = data
    return parse_event(orjson.dumps(obj))


def post(actor: str, text: str, at: float = 0, **kw: Any) -> Event:
    kw.setdefault("message_id", f"msg-{next(_ids)}")
    return event("message.posted", actor, at, text=text, **kw)


def decide(engine: Engine, *events: Event) -> list[Decision]:
    out: list[Decision] = []
    for e in events:
        out.extend(engine.process(e))
    return out


def acts(engine: Engine, *events: Event) -> list[ActionRecord]:
    return [a for d in decide(engine, *events) for a in d.actions]


def kinds(actions: list[ActionRecord]) -> list[str]:
    return [a.type for a in actions]
