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
    from .api import compile_playbook, load, load_text
    from .compile.playbook import CompiledPlaybook
    from .engine.core import Engine
    from .errors import (
        ActionError,
        EngageRulesError,
        ExpressionError,
        PlaybookError,
        Problem,
        ResourceLimitError,
        StoreError,
    )
    from .model.decision import ActionRecord, Decision, RuleError, RuleFailure
    from .model.events import Event, EventError, MemberRef, parse_event
    from .model.state import LedgerEntry, MemberState, State
    from .plugins.hookspecs import hookimpl

# Public names, imported on first use (keeps `import engage_rules` and the CLI fast).
_EXPORTS = {
    "CompiledPlaybook": "compile.playbook",
    "compile_playbook": "api",
    "load": "api",
    "load_text": "api",
    "ActionRecord": "model.decision",
    "Decision": "model.decision",
    "RuleError": "model.decision",  # the old name of RuleFailure
    "RuleFailure": "model.decision",
    "Engine": "engine.core",
    "ActionError": "errors",
    "EngageRulesError": "errors",
    "ExpressionError": "errors",
    "PlaybookError": "errors",
    "Problem": "errors",
    "ResourceLimitError": "errors",
    "StoreError": "errors",
    "Event": "model.events",
    "EventError": "model.events",
    "MemberRef": "model.events",
    "parse_event": "model.events",
    "hookimpl": "plugins.hookspecs",
    "LedgerEntry": "model.state",
    "MemberState": "model.state",
    "State": "model.state",
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
    "RuleFailure",
    "State",
    "StoreError",
    "__version__",
    "compile_playbook",
    "hookimpl",
    "load",
    "load_text",
    "parse_event",
]
