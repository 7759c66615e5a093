"""Schedules: rules with ``on: {cron: ...}`` (docs/reference.md §5.6).

Each schedule of each community is one pending community-level timer, for its next slot
(:mod:`engage_rules._util.cron`).  When it fires, the schedule's rule runs — once for the
community, or once per member of its ``audience`` segment — for an internal event of type
``schedule.fired`` (``data.schedule``: the rule id, ``data.slot``: the slot's instant) that
only that rule sees (its `if:`, `else:`, `once`, `cooldown` and exemptions apply as for
any rule), and the timer for the next slot is set.

Bookkeeping lives in ``CommunityState.data["schedules"][rule id]``:
``{"cron": expr, "next": slot, "last": slot}`` where a slot is named by its local wall
time.  The timer id is the fire key ``schedule:<community>:<rule>:<slot>``; a timer whose
slot is not the schedule's ``next`` (superseded after a resume, or a changed cron) does
nothing, and no slot at or before ``last`` ever fires again.

Arming: a community's schedules are armed when the community is first seen (the first
slot is the first after the clock), and by :func:`start` for communities of a stored
state whose playbook has gained a schedule.  Advancing the clock fires every slot on the
way (replays).  :func:`resume` is for a live runtime coming back after real downtime: it
applies each schedule's ``catch_up`` to the slots missed in between.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._util.cron import CronSchedule, parse_slot, slot_name
from .._util.suggest import did_you_mean
from ..compile.feature import BaseFeature, CompileContext, FeatureKey, FeaturePlan, TimerHandler
from ..expr.context import EvalContext
from ..i18n import _
from ..lang.spec import CronTrigger
from ..model import rule_problems as rp
from ..model.decision import Decision, RuleFailure
from ..model.events import Event, internal_event, member_ref
from ..model.persons import PERSONS
from ..model.state import CommunityState, MemberState, Timer, ts

if TYPE_CHECKING:
    from ..engine.effects import Effects

TIMER_KIND = "schedule"
#: Missed slots counted for the catch-up audit entry before it says "N+".
_COUNT_LIMIT = 10_000
#: The type of the event a schedule's rule sees (only that rule sees it).
EVENT_TYPE = "schedule.fired"
#: Member statuses never in an audience (they are not in the community to address).
_NOT_IN_AUDIENCE = frozenset({"left", "banned"})


@dataclass(frozen=True, slots=True)
class CompiledSchedule:
    """A compiled ``cron`` rule."""

    rule: str
    cron: CronSchedule
    catch_up: str  # one | all | skip
    audience: str | None  # a segment name


def _book(community: CommunityState, rule: str) -> dict[str, Any] | None:
    books = community.data.get("schedules")
    if not isinstance(books, dict):
        return None
    book = books.get(rule)
    return book if isinstance(book, dict) else None


def _timer(community: str, sched: CompiledSchedule, slot: datetime) -> Timer:
    name = slot_name(slot)
    return Timer(
        due=ts(sched.cron.instant(slot)),
        seq=0,
        id=f"schedule:{community}:{sched.rule}:{name}",
        kind=TIMER_KIND,
        community=community,
        member=None,
        rule=sched.rule,
        payload={"slot": name},
    )


def _arm(
    engine: Effects, d: Decision, community: CommunityState, sched: CompiledSchedule, slot: datetime
) -> None:
    """Make ``slot`` the schedule's next slot and set its timer."""
    books = community.data.setdefault("schedules", {})
    book = books.setdefault(sched.rule, {"cron": sched.cron.expr, "last": None})
    book["cron"] = sched.cron.expr
    book["next"] = slot_name(slot)
    d.touch_community(community.name)
    timer = _timer(community.name, sched, slot)
    engine.add_timer(d, timer)


def _schedules(engine: Effects) -> tuple[CompiledSchedule, ...]:
    return engine.playbook.data(SCHEDULES) or ()


def arm_community(engine: Effects, d: Decision, community: CommunityState, at: datetime) -> None:
    """Arm every schedule of ``community`` that is not armed (or whose cron changed),
    for its first slot after ``at``."""
    for sched in _schedules(engine):
        book = _book(community, sched.rule)
        if book is None or book.get("cron") != sched.cron.expr or "next" not in book:
            _arm(engine, d, community, sched, sched.cron.first_after(at))


def fire_slot(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """A cron slot is due: run the rule for its community (or audience)."""
    sched = next((s for s in _schedules(engine) if s.rule == timer.rule), None)
    if sched is None:
        return  # the rule is gone from the playbook
    community = engine.state.community(timer.community)
    book = _book(community, sched.rule)
    slot = timer.payload.get("slot")
    if book is None or not isinstance(slot, str):
        return
    last = book.get("last")
    if last is not None and slot <= last:
        return  # fired already: a slot fires at most once
    catching_up = bool(timer.payload.get("catch_up"))
    if not catching_up:
        if book.get("cron") != sched.cron.expr:  # the playbook changed the schedule
            _arm(engine, d, community, sched, sched.cron.first_after(at))
            return
        if book.get("next") != slot:
            return  # superseded (a resume re-armed the schedule)
    book["last"] = slot
    d.touch_community(community.name)
    run_slot(engine, d, timer, sched, community, at)
    if not catching_up:
        _arm(engine, d, community, sched, sched.cron.next_slot(parse_slot(slot)))


def run_slot(
    engine: Effects,
    d: Decision,
    timer: Timer,
    sched: CompiledSchedule,
    community: CommunityState,
    at: datetime,
) -> None:
    """Run the schedule's rule: once for the community, or once per audience member.
    ``at`` is now (later than the slot for a catch-up); ``data.slot`` is the slot."""
    slot = sched.cron.instant(parse_slot(timer.payload["slot"]))
    data = {"schedule": sched.rule, "slot": slot.astimezone(engine.playbook.timezone).isoformat()}

    def event(m: MemberState | None) -> Event:
        ref = member_ref(m)
        return internal_event(
            id=timer.id if m is None else f"{timer.id}/{m.id}",
            type=EVENT_TYPE,
            at=at,
            community=community.name,
            member=ref,
            data=dict(data),
            depth=1,
        )

    if sched.audience is None:
        engine.run_rule(d, sched.rule, event(None))
        return
    pb = engine.playbook
    segment = pb.env.segments[sched.audience]
    c = EvalContext(
        event(None),
        None,
        at,
        at.timestamp(),
        engine.community_vars(community.name),
        dict(pb.vars),
        pb.default_currency,
        pb.timezone,
        pb.env,
    )
    # Every member, stored ones included, read without keeping them all in memory; those
    # in the audience are taken into memory for the rule to act on.
    for mid in community.member_ids():
        m = community.peek(mid)
        if m is None or m.status_at(at) in _NOT_IN_AUDIENCE:
            continue
        c.m = m
        try:
            member_in = bool(segment(c))
        except Exception as err:
            d.add_error(
                RuleFailure(
                    sched.rule,
                    timer.id,
                    rp.english(
                        rp.AUDIENCE_FAILED,
                        audience=repr(sched.audience),
                        member=mid,
                        error=err,
                    ),
                    at,
                )
            )
            continue
        if member_in:
            engine.run_rule(d, sched.rule, event(community.members.setdefault(mid, m)))


def start(engine: Effects) -> list[Decision]:
    """Arm the schedules of communities already in a stored state that have none (the
    playbook gained a schedule since the state was written), from the current clock."""
    clock = engine.state.clock
    if clock is None or not _schedules(engine):
        return []
    out = []
    for name in sorted(engine.state.communities):
        if name == PERSONS:  # persons are not a group: no schedule runs for them
            continue
        d = Decision(cause=f"schedules:arm:{name}:{clock.isoformat()}", at=clock)
        arm_community(engine, d, engine.state.communities[name], clock)
        if d.timers_added:
            out.append(d)
    return out


def resume(engine: Effects, now: datetime) -> tuple[list[Decision], Callable[[], list[Decision]]]:
    """Bring a stored engine to ``now`` after real downtime, applying each schedule's
    ``catch_up`` to the slots it missed: ``one`` fires the latest missed slot once,
    ``all`` every missed slot in order, ``skip`` none.  Every other due timer fires as
    usual.  Catch-up slots fire at ``now``; what was skipped is recorded in the audit
    log (``schedule_catch_up``), so no slot is silently missed.

    Returns the re-arming decisions, and what to run once the engine has advanced its
    clock to ``now`` (the catch-up fires)."""
    out: list[Decision] = []
    plans: list[tuple[CommunityState, CompiledSchedule, list[datetime]]] = []
    for name in sorted(engine.state.communities):
        if name == PERSONS:
            continue
        community = engine.state.communities[name]
        for sched in _schedules(engine):
            book = _book(community, sched.rule)
            if book is None or "next" not in book:
                continue
            pending = parse_slot(book["next"])
            if sched.cron.instant(pending) > now:
                continue  # nothing missed
            if sched.catch_up == "all":
                missed = sched.cron.slots_between(pending, now)
                fire, count = missed, len(missed)
            else:
                latest = sched.cron.latest_at_or_before(now)
                count = _count_upto(sched, pending, latest)
                fire = [latest] if sched.catch_up == "one" else []
            # Re-arm first: the stale timer of the missed slot then fires as a no-op.
            d = Decision(cause=f"schedule:{name}:{sched.rule}:resume:{now.isoformat()}", at=now)
            _arm(engine, d, community, sched, sched.cron.first_after(now))
            d.add_audit(
                {
                    "at": now.isoformat(),
                    "rule": sched.rule,
                    "event": d.cause,
                    "member": None,
                    "community": name,
                    "action": "schedule_catch_up",
                    "actor": "engine",
                    "reason": f"catch_up {sched.catch_up}: {_many(count)} missed slot(s) from "
                    f"{book['next']}, {len(fire)} fired",
                }
            )
            out.append(d)
            plans.append((community, sched, fire))

    def catch_up() -> list[Decision]:
        fired = []
        for community, sched, fire in plans:
            for slot in fire:
                timer = _timer(community.name, sched, slot)
                timer.due = ts(now)
                timer.payload["catch_up"] = True
                fired.append(engine.fire(timer))
        return fired

    return out, catch_up


def _many(count: int) -> str:
    return f"{count}+" if count >= _COUNT_LIMIT else str(count)


def _count_upto(
    sched: CompiledSchedule, first: datetime, last: datetime, limit: int = _COUNT_LIMIT
) -> int:
    """How many slots from ``first`` to ``last`` (counting stops at ``limit``)."""
    n, slot = 0, first
    while slot <= last and n < limit:
        n += 1
        slot = sched.cron.next_slot(slot)
    return n


SCHEDULES: FeatureKey[tuple[CompiledSchedule, ...]] = FeatureKey("schedules")


class SchedulesFeature(BaseFeature):
    """Trigger rules ``on: {cron: ...}``: weekly topics, monthly events."""

    name = "schedules"

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {TIMER_KIND: fire_slot}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        schedules = []
        segments = ctx.spec.segments
        for rule in ctx.rules:
            trigger = rule.trigger
            if not isinstance(trigger, CronTrigger):
                continue
            if trigger.audience is not None and trigger.audience not in segments:
                ctx.problem(
                    (*rule.source, "on", "audience"),
                    _("unknown segment {audience!r}").format(audience=trigger.audience)
                    + (
                        did_you_mean(trigger.audience, segments)
                        or _(" (define it under `segments:`)")
                    ),
                )
            schedules.append(
                CompiledSchedule(
                    rule.id,
                    CronSchedule(trigger.cron, ctx.timezone),
                    trigger.catch_up,
                    trigger.audience,
                )
            )
        if not schedules:
            return None
        return FeaturePlan(
            data=tuple(schedules), on_start=start, on_resume=resume, on_new_community=arm_community
        )
