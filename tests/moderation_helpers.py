"""Shared helpers for the moderation tests: the example playbook, and what events did."""

from __future__ import annotations

from pathlib import Path

from engage_rules import Engine, Event
from engage_rules.model.decision import ActionRecord, Decision

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "rules" / "moderation"
EXAMPLE_EVENTS = ROOT / "examples" / "moderation-events.jsonl"
#: Actions that act against a member or their content.
PUNITIVE = frozenset({"delete_message", "strike", "flag_for_review", "mute", "ban", "kick"})


def decide(engine: Engine, *events: Event) -> list[Decision]:
    out: list[Decision] = []
    for e in events:
        out.extend(engine.process(e))
    return out


def acts(engine: Engine, *events: Event) -> list[ActionRecord]:
    return [a for d in decide(engine, *events) for a in d.actions]


def kinds(actions: list[ActionRecord]) -> list[str]:
    return [a.type for a in actions]
