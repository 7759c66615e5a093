"""Rules whose `on:` is a trigger map (DESIGN.md §5.6): where each kind is compiled.

A trigger rule is not indexed by event type.  It gets a private *route* (``@<rule id>``,
which no event type can spell) in the generated dispatch code, and the feature that owns
the trigger — silence deadlines, delays, schedules — runs it with
:meth:`Engine.run_trigger` when its timer fires, with the rule's usual `if`, `once`,
`cooldown` and `exempt`.  :data:`TRIGGER_COMPILERS` maps each trigger model of
:mod:`engage_rules.spec` to the function that sets it up on the compiled playbook
(observers of the events it needs, timer kinds); a feature adds its trigger there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .schedules import compile_cron
from .silence import compile_after, compile_silence, finish_silence
from .spec import AfterTrigger, CronTrigger, SilentForTrigger

if TYPE_CHECKING:
    from .compiler import CompiledPlaybook, CompiledRule

TriggerCompiler = Callable[["CompiledPlaybook", "CompiledRule", Any], None]

#: Trigger model -> what sets it up on the compiled playbook.
TRIGGER_COMPILERS: dict[type, TriggerCompiler] = {
    SilentForTrigger: compile_silence,
    AfterTrigger: compile_after,
    CronTrigger: compile_cron,
}

#: Run once every trigger rule is compiled (e.g. one observer for all silence rules).
TRIGGER_FINISHERS: list[Callable[[CompiledPlaybook], None]] = [finish_silence]


def route(rule_id: str) -> str:
    """The dispatch key of a trigger rule (never an event type: those cannot hold ``@``)."""
    return f"@{rule_id}"


def compile_triggers(pb: CompiledPlaybook) -> None:
    """Set up every trigger rule of ``pb`` (rules whose ``trigger`` is set)."""
    for rule in pb.rules:
        if rule.trigger is not None:
            pb.routes[route(rule.id)] = (rule,)
            setup = TRIGGER_COMPILERS.get(type(rule.trigger))
            if setup is not None:  # e.g. schedules are set up by the compiler itself
                setup(pb, rule, rule.trigger)
    for finish in TRIGGER_FINISHERS:
        finish(pb)
