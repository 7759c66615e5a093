"""Moderation (docs/reference.md §5.9): the moderation actions, strikes escalating along
a ladder, exemptions, moderators acting through events, and the review queue.

* :mod:`.actions` — what each moderation action does, and the timers ending mutes and
  bans;
* :mod:`.moderator_events` — the built-in rules for ``moderation.strike`` and
  ``moderation.strike_reset`` events sent by moderators;
* :mod:`.review` — the human review queue (``engage-rules review``).

Members matching ``moderation.exempt`` (by default the roles ``admin`` and
``moderator``) are exempt from every rule that takes a moderation action, as if each
such rule had that ``exempt:``, and never receive strikes; `validate` says so, rule by
rule, in a note.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...compile.feature import ActionDef, BaseFeature, CompileContext, FeaturePlan, TimerHandler
from ...compile.playbook import CompiledAction, CompiledRule, Exempt, describe_exempt
from ...i18n import N_, _, translate
from ...lang.action_params import (
    ActionSpec,
    BanParams,
    DeleteParams,
    FlagParams,
    MuteParams,
    ReasonParams,
)
from ...lang.loader import ActionCall
from ...lang.spec import DEFAULT_MODERATOR_ROLES, ExemptSpec
from .actions import (
    LIFT_BAN,
    LIFT_MUTE,
    MODERATION,
    LadderStep,
    ModerationPlan,
    do_ban,
    do_delete_message,
    do_flag_for_review,
    do_kick,
    do_mute,
    do_reset_strikes,
    do_strike,
    do_unban,
    do_unmute,
)
from .moderator_events import MANUAL_RULES, moderator_condition

__all__ = ["MODERATION", "LadderStep", "ModerationFeature", "ModerationPlan"]


def check_on_approve(
    ctx: CompileContext, call: ActionCall, label: str, consts: dict[str, Any]
) -> None:
    """`flag_for_review`'s `on_approve:` actions, compiled with the flag."""
    nested = getattr(call.params, "on_approve", None)
    if nested is not None:
        consts["on_approve"] = ctx.actions(nested, f"{label}.on_approve")


#: Moderation actions that always concern the event's member (its message, its event).
_ON_EVENT = frozenset({"delete_message", "flag_for_review"})
#: Messages that commonly go with a moderation action (not "other actions" of a rule).
_COMPANIONS = frozenset({"send", "reply", "broadcast"})


def _on_event_member(action: CompiledAction) -> bool:
    """A moderation action on the event's member (no `to:` naming another one)."""
    return action.name in _ON_EVENT or getattr(action.params, "to", None) is None


def _other_actions(actions: tuple[CompiledAction, ...]) -> list[str]:
    """The actions of a rule that are neither moderation nor a message going with it."""
    names = (a.name for a in actions if not a.moderation and a.name not in _COMPANIONS)
    return list(dict.fromkeys(names))


class ModerationFeature(BaseFeature):
    """The moderation actions, the strike ladder, exemptions and moderators' events."""

    name = "moderation"

    def actions(self) -> list[ActionDef]:
        def moderation(spec: ActionSpec, execute: Any, **kw: Any) -> ActionDef:
            return ActionDef(spec, execute, moderation=True, **kw)

        return [
            moderation(
                ActionSpec(
                    "delete_message",
                    DeleteParams,
                    description=N_("remove the event's message"),
                    title=N_("Delete message"),
                ),
                do_delete_message,
            ),
            moderation(
                ActionSpec(
                    "mute",
                    MuteParams,
                    description=N_("mute, with automatic expiry"),
                    title=N_("Mute"),
                ),
                do_mute,
            ),
            ActionDef(
                ActionSpec(
                    "unmute", ReasonParams, description=N_("lift a mute"), title=N_("Unmute")
                ),
                do_unmute,
            ),
            moderation(
                ActionSpec(
                    "kick", ReasonParams, description=N_("remove the member"), title=N_("Kick")
                ),
                do_kick,
            ),
            moderation(
                ActionSpec(
                    "ban", BanParams, description=N_("ban, optionally for a time"), title=N_("Ban")
                ),
                do_ban,
            ),
            ActionDef(
                ActionSpec("unban", ReasonParams, description=N_("lift a ban"), title=N_("Unban")),
                do_unban,
            ),
            moderation(
                ActionSpec(
                    "strike",
                    ReasonParams,
                    description=N_("add a strike and apply the ladder"),
                    title=N_("Strike"),
                ),
                do_strike,
            ),
            ActionDef(
                ActionSpec(
                    "reset_strikes",
                    ReasonParams,
                    description=N_("clear the member's active strikes (the ladder starts again)"),
                    title=N_("Reset strikes"),
                ),
                do_reset_strikes,
            ),
            moderation(
                ActionSpec(
                    "flag_for_review",
                    FlagParams,
                    description=N_("queue the event for human review"),
                    title=N_("Flag for review"),
                ),
                do_flag_for_review,
                literal=frozenset({"on_approve"}),
                check=check_on_approve,
            ),
        ]

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {"unmute": LIFT_MUTE, "unban": LIFT_BAN}

    def compile(self, ctx: CompileContext) -> FeaturePlan:
        spec = ctx.spec.moderation
        exempt_spec = (
            spec.exempt
            if spec is not None and spec.exempt is not None
            else ExemptSpec(roles=list(DEFAULT_MODERATOR_ROLES))
        )
        exempt = Exempt.of(exempt_spec)
        self._exempt_rules(ctx, exempt_spec, exempt)
        ladder: list[LadderStep] = []
        expiry = None
        if spec is not None:
            if spec.strikes is not None:
                ladder, expiry = self._ladder(ctx)
            self._moderator_rules(ctx, exempt_spec)
        return FeaturePlan(data=ModerationPlan(tuple(ladder), expiry, exempt))

    @staticmethod
    def _exempt_rules(ctx: CompileContext, exempt_spec: ExemptSpec, exempt: Exempt | None) -> None:
        """Rules taking a moderation action on the event's member are exempt for
        ``moderation.exempt``; a rule whose moderation actions all name another member
        (``to:``, an admin's command) is not.  A rule that mixes a moderation action on
        the event's member with other actions gets a warning: for exempt members none
        of them run."""
        who = describe_exempt(exempt_spec)
        rules = ctx.rules
        for i, rule in enumerate(rules):
            actions = (*rule.do, *rule.else_, *rule.refused)
            on_poster = [a.name for a in actions if a.moderation and _on_event_member(a)]
            if not on_poster:
                if any(a.moderation for a in actions):
                    ctx.note(
                        rule.source,
                        _(
                            "rule {id!r} takes moderation actions only on the members its `to:` "
                            "names: moderation.exempt does not apply to it (it concerns who posted "
                            "the event)"
                        ).format(id=rule.id),
                    )
                continue
            ctx.note(
                rule.source,
                _("rule {id!r} takes moderation actions: ").format(id=rule.id)
                + (
                    _("{who} are exempt from it (moderation.exempt)").format(who=who)
                    if who != "nobody"
                    else _("nobody is exempt from it (moderation.exempt is empty)")
                ),
            )
            others = _other_actions(actions)
            if others and who != "nobody":
                ctx.warn(
                    rule.source,
                    _(
                        "rule {id!r} mixes moderation actions ({names}) with other actions "
                        "({names2}): {who} are exempt from the whole rule, so for them none of "
                        "its actions run; move the moderation actions into a rule of their own"
                    ).format(
                        id=rule.id, names=", ".join(on_poster), names2=", ".join(others), who=who
                    ),
                )
            rules[i] = replace(rule, exempt=Exempt.of(rule.exempt, exempt))

    @staticmethod
    def _ladder(ctx: CompileContext) -> tuple[list[LadderStep], float | None]:
        spec = ctx.spec.moderation
        assert spec is not None and spec.strikes is not None
        strikes = spec.strikes
        expiry = strikes.expire_after.total_seconds() if strikes.expire_after is not None else None
        seen: set[int] = set()
        ladder: list[LadderStep] = []
        for i, step in enumerate(strikes.ladder):
            if step.at in seen:
                ctx.problem(
                    ("moderation", "strikes", "ladder", i, "at"),
                    _("the strike ladder has two steps at {at}").format(at=step.at),
                )
            seen.add(step.at)
            step_actions = ctx.actions(step.do, f"ladder.{i}")
            for j, a in enumerate(step_actions):
                if a.consts.get("on_approve"):
                    ctx.problem(
                        ("moderation", "strikes", "ladder", i, "do", j),
                        _(
                            "`on_approve` is for flags in rules; a ladder step's "
                            "flag_for_review can only be approved or dismissed"
                        ),
                    )
            ladder.append(LadderStep(step.at, tuple(step_actions)))
        ladder.sort(key=lambda s: s.at)
        return ladder, expiry

    @staticmethod
    def _moderator_rules(ctx: CompileContext, exempt_spec: ExemptSpec) -> None:
        """The built-in rules for moderators' events: `moderation.strike` gives the
        member `data.member` a strike (with the ladder), `moderation.strike_reset`
        clears their strikes; both only from moderators (`moderation.moderators`)."""
        spec = ctx.spec.moderation
        assert spec is not None
        who = spec.moderators
        source = who if who is not None else exempt_spec
        moderators = Exempt(frozenset(source.roles), frozenset(source.members), frozenset())
        for i, r in enumerate(ctx.spec.rules):
            if r.id in MANUAL_RULES:
                ctx.problem(
                    ("rules", i, "id"),
                    _("the rule id {id!r} is reserved for moderators' events").format(id=r.id),
                )
        first_index = len(ctx.rules)
        language = ctx.spec.community.language
        for k, (type_, action_name, default_reason) in enumerate(MANUAL_RULES.values()):
            # The moderator's reason, else a default in the community's language.
            said = translate(default_reason, language).replace("\\", "").replace("'", "\\'")
            params = ReasonParams(
                to="{{ event.data.member }}",
                reason=f"{{{{ event.data.reason or '{said}' }}}}",
            )
            actions = ctx.actions([ActionCall(action_name, params, ("moderation",))], "manual")
            ctx.add_rule(
                CompiledRule(
                    id=type_,
                    index=first_index + k,
                    priority=0,
                    types=(type_,),
                    cond=moderator_condition(moderators),
                    cond_source=f"<{type_} from a moderator>",
                    cooldown=None,
                    once=False,
                    threshold=None,
                    stop=False,
                    exempt=None,
                    do=tuple(actions),
                    else_=(),
                    source=("moderation",),
                    line=ctx.where(("moderation",))[1],
                )
            )
