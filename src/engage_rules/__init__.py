"""engage_rules: declarative engagement and moderation playbooks for online communities.

Quick start (library)::

    from engage_rules import load, Engine, parse_event

    playbook = load("rules/starter.yaml")
    engine = Engine(playbook)
    for decision in engine.process(parse_event(line)):
        for action in decision.actions:
            print(action.to_json())
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compiler import CompiledPlaybook, compile_playbook, load
    from .decision import ActionRecord, Decision, RuleError
    from .engine import Engine
    from .errors import (
        ActionError,
        EngageRulesError,
        ExpressionError,
        PlaybookError,
        Problem,
        ResourceLimitError,
        StoreError,
    )
    from .events import Event, EventError, MemberRef, parse_event
    from .hookspecs import hookimpl
    from .state import LedgerEntry, MemberState, State

# Public names, imported on first use (keeps `import engage_rules` and the CLI fast).
_EXPORTS = {
    "CompiledPlaybook": "compiler", "compile_playbook": "compiler", "load": "compiler",
    "ActionRecord": "decision", "Decision": "decision", "RuleError": "decision",
    "Engine": "engine",
    "ActionError": "errors", "EngageRulesError": "errors", "ExpressionError": "errors",
    "PlaybookError": "errors", "Problem": "errors", "ResourceLimitError": "errors",
    "StoreError": "errors",
    "Event": "events", "EventError": "events", "MemberRef": "events", "parse_event": "events",
    "hookimpl": "hookspecs",
    "LedgerEntry": "state", "MemberState": "state", "State": "state",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engage_rules' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "ActionError",
    "ActionRecord",
    "CompiledPlaybook",
    "Decision",
    "EngageRulesError",
    "Engine",
    "Event",
    "EventError",
    "ExpressionError",
    "LedgerEntry",
    "MemberRef",
    "MemberState",
    "PlaybookError",
    "Problem",
    "ResourceLimitError",
    "RuleError",
    "State",
    "StoreError",
    "__version__",
    "compile_playbook",
    "hookimpl",
    "load",
    "parse_event",
]
