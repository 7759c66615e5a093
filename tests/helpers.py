"""Shared helpers for engine tests: build playbooks from text and events from shorthand."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from engage_rules import Engine, Event, compile_playbook, parse_event
from engage_rules.compiler import CompiledPlaybook
from engage_rules.decision import ActionRecord, Decision
from engage_rules.loader import load_playbook_text

T0 = datetime.fromisoformat("2026-03-02T10:00:00+08:00")
_ids = itertools.count(1)


def playbook(body: str, header: str | None = None) -> CompiledPlaybook:
    head = header if header is not None else (
        "engage_rules: 1\nname: test\ncommunity: {name: 测试社群, timezone: Asia/Shanghai}\n"
    )
    return compile_playbook(load_playbook_text(head + body, "test.yaml"))


def ev(type_: str, member: str | None = "u1", at: datetime | int = 0, *,
       id: str | None = None, roles: list[str] | None = None, channel: str | None = "general",
       created_at: str | None = None, **data: Any) -> Event:
    """An event; ``at`` may be seconds after T0."""
    when = T0 + timedelta(seconds=at) if isinstance(at, int) else at
    obj: dict[str, Any] = {"id": id or f"e{next(_ids)}", "type": type_, "at": when.isoformat()}
    if member is not None:
        mem: dict[str, Any] = {"id": member}
        if roles is not None:
            mem["roles"] = roles
        if created_at is not None:
            mem["created_at"] = created_at
        obj["member"] = mem
    if channel is not None:
        obj["channel"] = channel
    if data:
        obj["data"] = data
    import orjson

    return parse_event(orjson.dumps(obj))


def run(engine: Engine, *events: Event) -> list[ActionRecord]:
    """Process events and return every action emitted, in order."""
    out: list[ActionRecord] = []
    for e in events:
        for d in engine.process(e):
            out.extend(d.actions)
    return out


def decisions(engine: Engine, *events: Event) -> list[Decision]:
    out: list[Decision] = []
    for e in events:
        out.extend(engine.process(e))
    return out


def types(actions: list[ActionRecord]) -> list[str]:
    return [a.type for a in actions]
