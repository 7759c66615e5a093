"""Shared helpers for engine tests: playbooks from a body under the standard header, and
what events did.  Events come from the test kit (``engage_rules.testing.event``)."""

from __future__ import annotations

from engage_rules import Engine, Event, testing
from engage_rules.compile.playbook import CompiledPlaybook
from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.plugins import Registry
from engage_rules.testing import HEADER, run_decisions, run_events


def playbook(
    body: str, header: str | None = None, *, registry: Registry | None = None
) -> CompiledPlaybook:
    head = header if header is not None else HEADER
    return testing.playbook(head + body, registry=registry)


def run(engine: Engine, *events: Event) -> list[ActionRecord]:
    """Process events and return every action emitted, in order."""
    return run_events(engine, events)


def decisions(engine: Engine, *events: Event) -> list[Decision]:
    """Process events and return every decision (timers that fired included)."""
    return run_decisions(engine, events)


def types(actions: list[ActionRecord]) -> list[str]:
    return [a.type for a in actions]
