"""Moderators acting on members through events (docs/reference.md §5.9).

When a playbook has a ``moderation:`` section, two event types are handled by built-in
rules, so moderators can act from any platform or tool that can send an event:

* ``moderation.strike`` — ``{"member": {"id": "<moderator>"}, "data": {"member": "u42",
  "reason": "..."}}`` gives ``u42`` a strike, with the strike ladder, exactly like a
  rule's ``strike`` action (emitted with rule ``moderation.strike``);
* ``moderation.strike_reset`` — clears ``u42``'s active strikes (``reset_strikes``), for
  example after a successful appeal.

Only moderators may send them (``moderation.moderators``, by default the roles and
members of ``moderation.exempt``); an event from anyone else, or without
``data.member``, fails with a recorded rule error and changes nothing.  The audit log
names the moderator as the actor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ...errors import ExpressionError
from ...i18n import N_
from ...model import rule_problems as rp

if TYPE_CHECKING:
    from ...compile.playbook import Exempt

#: Built-in rule id -> (event type, action, default reason).
MANUAL_RULES: dict[str, tuple[str, str, str]] = {
    "moderation.strike": ("moderation.strike", "strike", N_("manual strike")),
    "moderation.strike_reset": ("moderation.strike_reset", "reset_strikes", N_("strikes reset")),
}


def moderator_condition(moderators: Exempt) -> Callable[[Any], bool]:
    """The condition of a built-in moderator rule: the sender is a moderator and the
    event names the member to act on."""

    def from_moderator(c: Any) -> bool:
        ev = c.event
        actor = ev.member
        roles = c.m.roles if c.m is not None else ()
        if actor is None or not moderators.applies(actor.id, roles, None):
            if actor is None:
                raise ExpressionError(rp.english(rp.NO_MEMBER_NOT_A_MODERATOR, type=ev.type))
            raise ExpressionError(rp.english(rp.NOT_A_MODERATOR, type=ev.type, who=actor.id))
        target = ev.data.get("member")
        if not isinstance(target, str) or not target:
            raise ExpressionError(rp.english(rp.NEEDS_TARGET_MEMBER, type=ev.type))
        return True

    return from_moderator
