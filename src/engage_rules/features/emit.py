"""`emit`: a rule raises an internal event of its own (docs/reference.md §5.3).

``emit: {type: custom.type, data: {...}}`` raises an internal event after the current
one, which rules can react to like any event (a chain of emits is bounded by the
engine's depth limit).  The event's data is stored JSON data.
"""

from __future__ import annotations

from ..compile.feature import ActionDef, BaseFeature
from ..compile.playbook import CompiledAction
from ..engine.scope import ActionScope
from ..errors import ActionError
from ..i18n import N_
from ..lang.action_params import ActionSpec, EmitParams
from ..model import rule_problems as rp
from ..model.storable import json_value


def do_emit(run: ActionScope, action: CompiledAction) -> None:
    """The ``emit`` action: record the action and raise its event."""
    type_ = action.params.type  # type: ignore[attr-defined]
    data = run.value(action, "data", {}) or {}
    if not isinstance(data, dict):
        raise ActionError(rp.english(rp.EMIT_DATA_NOT_MAPPING))
    data = json_value(data, "data")
    run.emit(action, run.member.id if run.member else None, {"type": type_, "data": data})
    run.raise_event(type_, run.member, dict(data), f"{run.rule}:{action.path}")


class EmitFeature(BaseFeature):
    """Rules raising internal events (`emit`)."""

    name = "emit"

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec(
                    "emit",
                    EmitParams,
                    description=N_("raise an internal event"),
                    title=N_("Emit event"),
                ),
                do_emit,
                literal=frozenset({"type"}),
            )
        ]
