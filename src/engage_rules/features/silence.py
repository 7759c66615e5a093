"""Silence tracking and delayed triggers (docs/reference.md §5.6).

**Silence** — a rule ``on: {silent_for: 14d}`` keeps, per member, one pending deadline
timer: ``last activity + 14d`` (from the join time while the member has never been
active).  Timers are never cancelled, so activity does not touch the timer: when the
deadline comes, the handler looks at ``last_active_at`` and, if the member was active
since, sets the next deadline from the latest activity instead of firing.  So a busy
member costs one timer per silence period, not one per post, and advancing the clock
costs only the timers that are due.  A deadline that finds the member silent fires the
rule once (with ``event`` a ``member.silent`` event) and raises ``member.silent`` for
other rules; the next activity arms a new deadline.  Members who left or are banned are
not tracked until they come back.

``{silent_for: {factor: 3, min: 3d, max: 30d}}`` scales the threshold to the member's own
rhythm: ``factor × member.typical_gap`` clamped to [min, max] (``max`` while the typical
gap is unknown).  ``typical_gap`` (``MemberState.typical_gap``) is the median of the
member's recent gaps between activities (activities less than an hour apart are one
visit); it is unknown (None) until three gaps are known.

**Delays** — ``on: {after: member.joined, delay: 3d}`` sets, for each event of that type,
a timer ``delay`` later.  When it fires the rule runs with ``event`` a copy of the
original event (same type, data, channel and platform) whose ``id`` is the timer id
``after:<community>:<rule>:<original id>`` and whose ``at`` is the firing time.  Only that
rule sees it: other rules, flows and activity tracking do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..compile.compiler import DEFAULT_ACTIVITY_EVENTS
from ..compile.feature import (
    BaseFeature,
    CompileContext,
    FeatureKey,
    FeaturePlan,
    Observer,
    TimerHandler,
)
from ..lang.spec import AfterTrigger, SilentForTrigger
from ..model.events import Event, internal_event, member_ref
from ..model.state import MemberState, Timer

if TYPE_CHECKING:
    from collections import deque

    from ..engine.effects import Effects
    from ..model.decision import Decision

#: Statuses for which silence is not tracked.
_GONE = ("left", "banned")


@dataclass(slots=True)
class SilenceRule:
    """A compiled ``{silent_for: ...}`` trigger."""

    rule: str
    seconds: float | None  # a fixed threshold, or None for a factor
    factor: float = 0.0
    min: float = 0.0
    max: float = 0.0

    def threshold(self, m: MemberState) -> float:
        if self.seconds is not None:
            return self.seconds
        gap = m.typical_gap()
        if gap is None:
            return self.max
        return min(max(self.factor * gap.total_seconds(), self.min), self.max)


def _base(m: MemberState) -> datetime | None:
    """Where silence is measured from: the last activity, else the join time."""
    return m.last_active_at or m.joined_at


def _arm(
    engine: Effects,
    d: Decision,
    m: MemberState,
    s: SilenceRule,
    rule: str,
    since: datetime | None = None,
) -> None:
    """Set the member's next deadline for ``s``: from the last activity (or ``since``,
    when later: a rejoin starts a new silence period).  ``m.silence[rule]`` holds the
    pending deadline, or minus the deadline that fired last, so that a silence period
    fires once: no deadline is set that is not later than the one that fired."""
    base = _base(m)
    if since is not None and (base is None or since > base):
        base = since
    if base is None or m.status in _GONE:
        return
    due = base.timestamp() + s.threshold(m)
    last = m.silence.get(s.rule)
    if last is not None and last < 0 and due <= -last:
        return  # still the silence period that fired
    m.silence[s.rule] = due
    d.touched.add((m.community, m.id))
    engine.add_timer(
        d,
        Timer(
            due,
            0,
            f"silence:{m.community}:{m.id}:{s.rule}:{due:.3f}",
            "silence",
            m.community,
            m.id,
            rule,
            {"rule": s.rule},
        ),
    )


def make_silence_observer(rules: list[SilenceRule]) -> Any:
    """The observer that arms deadlines on activity (and on joining) — only for members
    without a pending one: re-arming is the deadline handler's job."""

    def observe(
        engine: Effects, ev: Event, m: MemberState | None, d: Decision, queue: deque[Event]
    ) -> None:
        if m is None or ev.internal:
            return
        pending = m.silence
        since = ev.at if ev.type == "member.joined" else None
        for s in rules:
            due = pending.get(s.rule)
            if due is None or due < 0 or since is not None:
                _arm(engine, d, m, s, s.rule, since)  # (re)joining starts a new period
            elif s.seconds is None:
                # A per-member threshold may shrink as the typical gap is learnt: bring
                # the deadline forward (the later one becomes stale).
                base = _base(m)
                if base is not None and base.timestamp() + s.threshold(m) < due - 1:
                    _arm(engine, d, m, s, s.rule)

    return observe


def silence_due(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """A ``silent_for`` deadline is due: the member has been silent."""
    rid = timer.payload.get("rule", "")
    silence = (engine.playbook.data(SILENCE) or {}).get(rid)
    if m is None or silence is None or m.silence.get(rid) != timer.due:
        return  # a stale deadline (the rule changed, or a newer deadline is pending)
    d.touched.add((m.community, m.id))
    if m.status in _GONE:
        del m.silence[rid]  # not tracked while gone; a rejoin or activity arms a deadline
        return
    base = _base(m)
    threshold = silence.threshold(m)
    if base is not None and base.timestamp() + threshold > timer.due + 0.0005:
        _arm(engine, d, m, silence, timer.rule)  # active meanwhile: the silence restarts
        return
    m.silence[rid] = -timer.due  # fired: the next activity arms a new deadline
    data = {
        "rule": rid,
        "silent_for": (at - base).total_seconds() if base is not None else 0.0,
        "threshold": threshold,
        "last_active_at": base.isoformat() if base is not None else None,
    }
    ev = internal_event(
        id=timer.id,
        type="member.silent",
        at=at,
        community=m.community,
        member=member_ref(m),
        data=data,
        depth=1,
    )
    engine.run_rule(d, rid, ev)
    # ...and every rule `on: member.silent` sees the same event after this one.
    engine.raise_event(d, "member.silent", m, data)


# -- {after: T, delay: D} ---------------------------------------------------------------
def after_observer(rid: str, delay: float) -> Observer:
    """For ``{after: T, delay: D}``: each event of type T sets a timer D later."""

    def observe(
        engine: Effects, ev: Event, m: MemberState | None, d: Decision, queue: deque[Event]
    ) -> None:
        payload: dict[str, Any] = {"type": ev.type, "data": ev.data}
        if ev.channel is not None:
            payload["channel"] = ev.channel
        if ev.platform is not None:
            payload["platform"] = ev.platform
        timer = Timer(
            ev.ts + delay,
            0,
            f"after:{ev.community}:{rid}:{ev.id}",
            "after",
            ev.community,
            m.id if m is not None else None,
            rid,
            payload,
        )
        engine.add_timer(d, timer)

    return observe


def after_due(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """An ``after`` delay is over: run the rule."""
    if timer.rule not in engine.playbook.rule_by_id:
        return  # the rule is gone from the playbook
    p = timer.payload
    ref = member_ref(m)
    ev = internal_event(
        id=timer.id,
        type=p.get("type", "after"),
        at=at,
        community=timer.community,
        member=ref,
        data=dict(p.get("data", {})),
        depth=1,
        channel=p.get("channel"),
        platform=p.get("platform"),
    )
    engine.run_rule(d, timer.rule, ev)


SILENCE: FeatureKey[dict[str, SilenceRule]] = FeatureKey("silence")


class SilenceFeature(BaseFeature):
    """Trigger rules ``on: {silent_for: ...}`` and ``on: {after: T, delay: D}``."""

    name = "silence"

    def timer_kinds(self) -> dict[str, TimerHandler]:
        return {"silence": silence_due, "after": after_due}

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        silence: dict[str, SilenceRule] = {}
        observers: dict[str, list[Observer]] = {}
        track_gaps = False
        for rule in ctx.rules:
            trigger = rule.trigger
            if isinstance(trigger, SilentForTrigger):
                spec = trigger.silent_for
                if isinstance(spec, timedelta):
                    silence[rule.id] = SilenceRule(rule.id, spec.total_seconds())
                else:
                    silence[rule.id] = SilenceRule(
                        rule.id,
                        None,
                        spec.factor,
                        spec.min.total_seconds(),
                        spec.max.total_seconds(),
                    )
                    track_gaps = True
            elif isinstance(trigger, AfterTrigger):
                delay = trigger.delay.total_seconds()
                observers.setdefault(trigger.after, []).append(after_observer(rule.id, delay))
        if silence:
            observer = make_silence_observer(list(silence.values()))
            activity = ctx.spec.activity_events or DEFAULT_ACTIVITY_EVENTS
            for type_ in (*sorted(activity), "member.joined"):
                observers.setdefault(type_, []).append(observer)
        if not silence and not observers:
            return None
        return FeaturePlan(data=silence or None, observers=observers, track_gaps=track_gaps)
