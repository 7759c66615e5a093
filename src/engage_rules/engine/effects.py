"""What a feature may ask of the engine while a decision is being made.

Features (timer handlers, member checks, observers, start and resume hooks) receive the
engine as an :class:`Effects`: the state and the compiled playbook to read, and a few
ways to act — schedule a timer with the decision, raise an internal event, record an
action the engine takes on its own, run one trigger rule, or run compiled actions in a
scope.  Nothing else of the engine is reachable, so a feature cannot depend on how the
engine is built.  :class:`engage_rules.engine.core.Engine` implements it.

It is defined in :mod:`.scope`, next to :class:`~.scope.ActionScope`: each refers to the
other (the scope acts through the effects; the effects open scopes).
"""

from __future__ import annotations

from .scope import Effects as Effects
