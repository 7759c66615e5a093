"""Badges and honour titles (docs/reference.md §5.5).

A badge in a member's state is ``MemberState.badges[id] = {"granted_at": ISO, "count": N}``
(plus ``"tier"`` and ``"tier_name"`` for tiered badges); a badge defined with
``title: true`` is also listed in ``MemberState.titles`` while the member holds it.

* One-off badges are granted by the `grant_badge` action, once: granting a badge the
  member holds does nothing — except for a badge with ``revoke_after``, where it renews
  the grant (the grant time moves to now, ``count`` grows, and the revocation moves to
  ``revoke_after`` from now).
* Tiered badges are granted and upgraded by the engine: a member check evaluates the
  badge's ``counts`` measure (see :mod:`engage_rules.compile.measures`) and grants the highest
  tier reached, emitting a `grant_badge` action with rule ``badges.<id>``.  Tiers only
  go up.
* ``revoke_after`` sets a timer at each grant; when it fires and the grant it was set for
  is still the latest, the badge (and title) is revoked, with a `revoke_badge` action
  (rule ``badges.<id>``) and a ``badge.revoked`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._util.suggest import did_you_mean
from ..compile.feature import (
    ActionDef,
    BaseFeature,
    CompileContext,
    FeatureKey,
    FeaturePlan,
    MemberCheck,
    TimerHandler,
)
from ..compile.measures import Measure, compile_measure
from ..compile.playbook import CompiledAction
from ..engine.scope import ActionScope
from ..i18n import N_, _
from ..lang.action_params import ActionSpec, BadgeParams
from ..lang.loader import ActionCall
from ..model.decision import Decision
from ..model.state import MemberState, Timer

if TYPE_CHECKING:
    from ..engine.effects import Effects

#: The timer kind that revokes a badge granted with ``revoke_after``.
REVOKE_TIMER = "badge_revoke"


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier of a tiered badge: reached when the measure gets to ``at``."""

    number: int  # 1-based, in the order written
    at: float
    name: str


@dataclass(frozen=True, slots=True)
class BadgeDef:
    """A compiled badge of the `badges:` section."""

    id: str
    name: str
    description: str | None
    title: bool
    revoke_after: timedelta | None
    tiers: tuple[Tier, ...] = ()
    counts: Measure | None = None

    @property
    def rule(self) -> str:
        """What the engine's own badge actions name as their rule."""
        return f"badges.{self.id}"

    def tier_for(self, value: float) -> Tier | None:
        reached = None
        for tier in self.tiers:
            if value >= tier.at:
                reached = tier
        return reached


def compile_badges(compiler: CompileContext) -> dict[str, BadgeDef]:
    """The playbook's badge definitions (problems go to ``compiler.problem``)."""
    out: dict[str, BadgeDef] = {}
    for bid, spec in compiler.spec.badges.items():
        counts = None
        if spec.counts is not None:
            counts = compile_measure(compiler, spec.counts, ("badges", bid, "counts"))
        tiers = tuple(Tier(i + 1, t.at, t.name) for i, t in enumerate(spec.tiers or ()))
        out[bid] = BadgeDef(
            bid, spec.name, spec.description, spec.title, spec.revoke_after, tiers, counts
        )
    return out


def check_badge_action(
    ctx: CompileContext, call: ActionCall, label: str, consts: dict[str, Any]
) -> None:
    """The badge a `grant_badge` / `revoke_badge` names.

    Without a `badges:` section any badge id may be granted (a plain one-off badge).
    With one, the id must be defined, and a tiered badge cannot be granted by hand.
    """
    badges = ctx.spec.badges
    badge = getattr(call.params, "badge", None)
    if not badges or not isinstance(badge, str):
        return
    where = (*call.path, call.name, "badge")
    spec = badges.get(badge)
    if spec is None:
        hint = did_you_mean(badge, badges) or _(" (defined badges: {names})").format(
            names=", ".join(sorted(badges))
        )
        ctx.problem(where, _("unknown badge {badge!r}{hint}").format(badge=badge, hint=hint))
    elif spec.tiers and call.name == "grant_badge":
        ctx.problem(
            where,
            _(
                "badge {badge!r} is tiered: the engine grants and upgrades it from its "
                "`counts`; it cannot be granted by an action"
            ).format(badge=badge),
        )


# -- granting and revoking ---------------------------------------------------------------


def _title(m: MemberState, badge: BadgeDef | None) -> None:
    if badge is not None and badge.title and badge.id not in m.titles:
        m.titles.append(badge.id)


def _holder(run: ActionScope, m: MemberState, badge_id: str) -> MemberState:
    """Who holds ``badge_id`` for ``m``: its person for a person-wide badge (docs/
    reference.md §4.3), else ``m``."""
    if badge_id in run.env.person_badges:
        return run.badge_holder(m)
    return m


def do_grant_badge(run: ActionScope, action: CompiledAction) -> None:
    """The `grant_badge` action (to the member's person, for a person-wide badge)."""
    acct = run.require_target(action)
    badge_id = str(action.params.badge)  # type: ignore[attr-defined]
    badge = (run.playbook.data(BADGES) or {}).get(badge_id)
    m = _holder(run, acct, badge_id)
    now = run.at
    now_iso = now.isoformat()
    held = m.badges.get(badge_id)
    renewed = held is not None
    if held is not None:
        # A held badge is granted again only to renew one that is revoked after a time.
        if badge is None or badge.revoke_after is None:
            return
        if now <= datetime.fromisoformat(held["granted_at"]):
            return
        held["granted_at"] = now_iso
        held["count"] = held.get("count", 1) + 1
    else:
        m.badges[badge_id] = {"granted_at": now_iso, "count": 1}
    _title(m, badge)
    run.d.touched.add((m.community, m.id))
    params: dict[str, Any] = {"badge": badge_id}
    data: dict[str, Any] = {"badge": badge_id}
    if badge is not None:
        params["name"] = badge.name
        if badge.title:
            params["title"] = True
        if badge.revoke_after is not None:
            until = now + badge.revoke_after
            params["expires"] = until.isoformat()
            run.add_timer(REVOKE_TIMER, until, m.id, {"name": badge_id, "granted_at": now_iso})
    if renewed:
        params["renewed"] = data["renewed"] = True
    run.emit(action, acct.id, params)
    run.raise_event("badge.granted", acct, data, f"badge.granted:{badge_id}:{acct.id}")


def _take(m: MemberState, badge_id: str) -> bool:
    if m.badges.pop(badge_id, None) is None:
        return False
    if badge_id in m.titles:
        m.titles.remove(badge_id)
    return True


def do_revoke_badge(run: ActionScope, action: CompiledAction) -> None:
    """The `revoke_badge` action (from the member's person, for a person-wide badge)."""
    acct = run.require_target(action)
    badge_id = str(action.params.badge)  # type: ignore[attr-defined]
    m = _holder(run, acct, badge_id)
    if not _take(m, badge_id):
        return
    run.d.touched.add((m.community, m.id))
    run.emit(action, acct.id, {"badge": badge_id})
    tag = f"badge.revoked:{badge_id}:{acct.id}"
    run.raise_event("badge.revoked", acct, {"badge": badge_id}, tag)


def revoke_expired(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """Revoke a badge ``revoke_after`` its grant, unless it was renewed (or revoked and
    granted again) since this timer was set."""
    badge_id = timer.payload.get("name", "")
    held = m.badges.get(badge_id) if m is not None else None
    if m is None or held is None or held.get("granted_at") != timer.payload.get("granted_at"):
        return
    _take(m, badge_id)
    d.touched.add((m.community, m.id))
    params = {"badge": badge_id, "reason": engine.playbook.say(N_("expired"))}
    engine.engine_action(
        d, "revoke_badge", m.community, m.id, f"badges.{badge_id}", params, f"{m.id}/revoke", at=at
    )
    engine.raise_event(
        d, "badge.revoked", m, dict(params), f"badge.revoked:{badge_id}", community=timer.community
    )


# -- tiered badges -------------------------------------------------------------------------


def tier_check(badges: dict[str, BadgeDef]) -> MemberCheck | None:
    """The member check granting and upgrading the playbook's tiered badges (None when
    it has none)."""
    tiered = [b for b in badges.values() if b.tiers and b.counts is not None]
    if not tiered:
        return None

    def check(engine: Effects, d: Decision, m: MemberState, at: datetime) -> None:
        for badge in tiered:
            measure = badge.counts
            assert measure is not None
            if measure.due(d, m):
                _upgrade(engine, d, m, at, badge, measure)

    return check


def _upgrade(
    engine: Effects, d: Decision, m: MemberState, at: datetime, badge: BadgeDef, measure: Measure
) -> None:
    value = measure.value(engine, d, m, at, badge.rule)
    if value is None:
        return
    tier = badge.tier_for(value)
    held = m.badges.get(badge.id)
    if tier is None or (held is not None and held.get("tier", 0) >= tier.number):
        return
    count = held.get("count", 0) + 1 if held is not None else 1
    m.badges[badge.id] = {
        "granted_at": at.isoformat(),
        "count": count,
        "tier": tier.number,
        "tier_name": tier.name,
    }
    _title(m, badge)
    d.touched.add((m.community, m.id))
    params: dict[str, Any] = {
        "badge": badge.id,
        "name": badge.name,
        "tier": tier.number,
        "tier_name": tier.name,
    }
    if badge.title:
        params["title"] = True
    engine.engine_action(
        d, "grant_badge", m.community, m.id, badge.rule, params, f"{m.id}/tier.{tier.number}"
    )
    engine.raise_event(
        d,
        "badge.granted",
        m,
        {"badge": badge.id, "tier": tier.number, "tier_name": tier.name},
        f"badge.granted:{badge.id}:{m.id}:{tier.number}",
    )


BADGES: FeatureKey[dict[str, BadgeDef]] = FeatureKey("badges")


class BadgesFeature(BaseFeature):
    """Badges, tiered badges and honour titles: `grant_badge` and `revoke_badge`."""

    name = "badges"

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec(
                    "grant_badge",
                    BadgeParams,
                    "badge",
                    N_("grant a badge"),
                    title=N_("Grant badge"),
                ),
                do_grant_badge,
                check=check_badge_action,
            ),
            ActionDef(
                ActionSpec(
                    "revoke_badge",
                    BadgeParams,
                    "badge",
                    N_("revoke a badge"),
                    title=N_("Revoke badge"),
                ),
                do_revoke_badge,
                check=check_badge_action,
            ),
        ]

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {REVOKE_TIMER: revoke_expired}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        badges = compile_badges(ctx)
        if not badges:
            return None
        check = tier_check(badges)
        return FeaturePlan(data=badges, member_checks=(check,) if check is not None else ())
