"""Platform actions beyond messages and moderation (docs/reference.md §5.3): roles, pins,
join requests and polls.

The engine carries none of them out itself: each is emitted (with its deterministic key)
for the platform adapter to deliver, with its parameters resolved (§6.2).  Which
platform can do what is each adapter's ``capabilities``; a playbook using an action no
configured adapter declares is refused when the service starts
(:func:`engage_rules.runtime.service.check_capabilities`).

* ``grant_role`` / ``remove_role`` — a role of the member (the event's, or ``to:``),
  by name: the adapter's settings map names to the platform's roles.  ``member.roles``
  is updated at once, so later rules see the change before the platform reports it;
  both are always emitted, the platform being the reference for who holds a role.
* ``pin`` / ``unpin`` — a message: ``message:`` (default the event's
  ``data.message_id``) in ``channel:`` (default the event's channel).
* ``approve_join`` / ``decline_join`` — the member's pending request to join the
  community (a ``member.join_requested`` event).
* ``poll`` — a question with 2 to 10 answers in ``channel:`` (default the event's).
"""

from __future__ import annotations

from typing import Any

from ..compile.feature import ActionDef, BaseFeature
from ..compile.playbook import CompiledAction
from ..engine.scope import ActionScope
from ..errors import ActionError
from ..i18n import N_
from ..lang.action_params import ActionSpec, PinParams, PollParams, ReasonParams, RoleParams
from ..model import rule_problems as rp

#: The platform actions this feature registers.
PLATFORM_EXTRA_ACTIONS = frozenset(
    {"grant_role", "remove_role", "pin", "unpin", "approve_join", "decline_join", "poll"}
)


def _with_reason(run: ActionScope, action: CompiledAction, params: dict[str, Any]) -> None:
    reason = run.text(action, "reason")
    if reason:
        params["reason"] = reason


def do_role(run: ActionScope, action: CompiledAction) -> None:
    """``grant_role`` and ``remove_role``."""
    m = run.require_target(action)
    role = run.text(action, "role").strip()
    if not role:
        raise ActionError(rp.english(rp.ROLE_EMPTY, action=action.name))
    if action.name == "grant_role":
        if role not in m.roles:
            m.roles = (*m.roles, role)
    else:
        m.roles = tuple(r for r in m.roles if r != role)
    run.d.touched.add((m.community, m.id))
    params: dict[str, Any] = {"role": role}
    _with_reason(run, action, params)
    run.emit(action, m.id, params)


def do_pin(run: ActionScope, action: CompiledAction) -> None:
    """``pin`` and ``unpin``: the message named, else the event's."""
    ev = run.event
    message = run.text(action, "message") or ev.data.get("message_id")
    if message in (None, ""):
        raise ActionError(rp.english(rp.NEEDS_A_MESSAGE, action=action.name))
    channel = run.text(action, "channel") or ev.channel
    params: dict[str, Any] = {"message_id": str(message), "channel": channel}
    _with_reason(run, action, params)
    run.emit(action, run.member.id if run.member else None, params)


def do_join(run: ActionScope, action: CompiledAction) -> None:
    """``approve_join`` and ``decline_join``: the member's request to join."""
    m = run.require_target(action)
    params: dict[str, Any] = {}
    _with_reason(run, action, params)
    run.emit(action, m.id, params)


def do_poll(run: ActionScope, action: CompiledAction) -> None:
    """``poll``: a question and its answers, in the channel named or the event's."""
    question = run.text(action, "question").strip()
    options = [str(o).strip() for o in (run.value(action, "options") or [])]
    if not question or len(question) > 300:
        raise ActionError(rp.english(rp.POLL_QUESTION_LENGTH))
    if not all(0 < len(o) <= 55 for o in options) or len(set(options)) != len(options):
        raise ActionError(rp.english(rp.POLL_OPTIONS))
    params: dict[str, Any] = {
        "question": question,
        "options": options,
        "channel": run.text(action, "channel") or run.event.channel,
        "multiple": bool(action.consts.get("multiple", False)),
    }
    anonymous = action.consts.get("anonymous")
    if anonymous is not None:
        params["anonymous"] = bool(anonymous)
    run.emit(action, None, params)


class PlatformFeature(BaseFeature):
    """Roles, pins, join requests and polls: actions for the platform adapters."""

    name = "platform"

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec(
                    "grant_role",
                    RoleParams,
                    "role",
                    N_("give the member a platform role"),
                    title=N_("Grant role"),
                ),
                do_role,
            ),
            ActionDef(
                ActionSpec(
                    "remove_role",
                    RoleParams,
                    "role",
                    N_("take a platform role away"),
                    title=N_("Remove role"),
                ),
                do_role,
            ),
            ActionDef(
                ActionSpec(
                    "pin",
                    PinParams,
                    "message",
                    N_("pin a message (default: the event's)"),
                    title=N_("Pin"),
                ),
                do_pin,
            ),
            ActionDef(
                ActionSpec(
                    "unpin",
                    PinParams,
                    "message",
                    N_("unpin a message (default: the event's)"),
                    title=N_("Unpin"),
                ),
                do_pin,
            ),
            ActionDef(
                ActionSpec(
                    "approve_join",
                    ReasonParams,
                    description=N_("accept the member's join request"),
                    title=N_("Approve join"),
                ),
                do_join,
            ),
            ActionDef(
                ActionSpec(
                    "decline_join",
                    ReasonParams,
                    description=N_("refuse the member's join request"),
                    title=N_("Decline join"),
                ),
                do_join,
            ),
            ActionDef(
                ActionSpec(
                    "poll",
                    PollParams,
                    description=N_("post a poll (question, options)"),
                    title=N_("Poll"),
                ),
                do_poll,
            ),
        ]
