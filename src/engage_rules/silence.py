"""Silence tracking and delayed triggers (DESIGN.md §5.6).

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
gap is unknown).  ``typical_gap`` is the median of the member's last
:data:`GAPS_KEPT` gaps between activities, counting only gaps of at least
:data:`MIN_GAP` (activities closer together are one visit); it is unknown (None) until
:data:`MIN_GAPS` gaps are known.

**Delays** — ``on: {after: member.joined, delay: 3d}`` sets, for each event of that type,
a timer ``delay`` later.  When it fires the rule runs with ``event`` a copy of the
original event (same type, data, channel and platform) whose ``id`` is the timer id
``after:<community>:<rule>:<original id>`` and whose ``at`` is the firing time.  Only that
rule sees it: other rules, flows and activity tracking do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any

from .events import Event, internal_event, member_ref
from .state import MemberState, Timer
from .timers import register_timer_kind

if TYPE_CHECKING:
    from collections import deque

    from .compiler import CompiledPlaybook, CompiledRule
    from .decision import Decision
    from .engine import Engine
    from .spec import AfterTrigger, SilentForTrigger

#: How many recent gaps ``typical_gap`` looks at, the shortest gap that counts (shorter
#: ones are the same visit), and how many gaps are needed before it is known.
GAPS_KEPT = 15
MIN_GAP = 3600.0
MIN_GAPS = 3

#: Statuses for which silence is not tracked.
_GONE = ("left", "banned")


def note_activity(m: MemberState, gap: float) -> None:
    """Record a gap of ``gap`` seconds before an activity (for ``typical_gap``)."""
    if gap >= MIN_GAP:
        gaps = m.gaps
        gaps.append(gap)
        if len(gaps) > GAPS_KEPT:
            del gaps[0]


def typical_gap(m: MemberState) -> timedelta | None:
    """The member's usual gap between activities, or None while fewer than MIN_GAPS."""
    if len(m.gaps) < MIN_GAPS:
        return None
    return timedelta(seconds=median(m.gaps))


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
        gap = typical_gap(m)
        if gap is None:
            return self.max
        return min(max(self.factor * gap.total_seconds(), self.min), self.max)


def _base(m: MemberState) -> datetime | None:
    """Where silence is measured from: the last activity, else the join time."""
    return m.last_active_at or m.joined_at


def _arm(engine: Engine, d: Decision, m: MemberState, s: SilenceRule, rule: str,
         since: datetime | None = None) -> None:
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
    engine.add_timer(d, Timer(
        due, 0, f"silence:{m.community}:{m.id}:{s.rule}:{due:.3f}", "silence", m.community,
        m.id, rule, {"rule": s.rule},
    ))


def make_silence_observer(rules: list[SilenceRule]) -> Any:
    """The observer that arms deadlines on activity (and on joining) — only for members
    without a pending one: re-arming is the deadline handler's job."""

    def observe(engine: Engine, ev: Event, m: MemberState | None, d: Decision,
                queue: deque[Event]) -> None:
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


def _silence_due(engine: Engine, d: Decision, timer: Timer, m: MemberState | None,
                 at: datetime) -> None:
    rid = timer.payload.get("rule", "")
    silence = engine.playbook.silence.get(rid)
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
        id=timer.id, type="member.silent", at=at, community=m.community,
        member=member_ref(m), data=data, depth=1,
    )
    engine.run_trigger(d, rid, ev)
    engine.current_queue().append(ev)  # and every rule `on: member.silent` sees it


def compile_silence(pb: CompiledPlaybook, rule: CompiledRule, trigger: SilentForTrigger
                    ) -> None:
    from .durations import parse_duration

    spec = trigger.silent_for
    if isinstance(spec, str):
        s = SilenceRule(rule.id, parse_duration(spec).total_seconds())
    else:
        s = SilenceRule(rule.id, None, spec.factor, parse_duration(spec.min).total_seconds(),
                        parse_duration(spec.max).total_seconds())
        pb.track_gaps = True
    pb.silence[rule.id] = s


def finish_silence(pb: CompiledPlaybook) -> None:
    """Once every rule is compiled: one observer for activity and joins."""
    if not pb.silence:
        return
    observer = make_silence_observer(list(pb.silence.values()))
    for type_ in (*sorted(pb.activity_events), "member.joined"):
        pb.observers.setdefault(type_, []).append(observer)


# -- {after: T, delay: D} ---------------------------------------------------------------
def compile_after(pb: CompiledPlaybook, rule: CompiledRule, trigger: AfterTrigger) -> None:
    from .durations import parse_duration

    delay = parse_duration(trigger.delay).total_seconds()
    rid = rule.id

    def observe(engine: Engine, ev: Event, m: MemberState | None, d: Decision,
                queue: deque[Event]) -> None:
        payload: dict[str, Any] = {"type": ev.type, "data": ev.data}
        if ev.channel is not None:
            payload["channel"] = ev.channel
        if ev.platform is not None:
            payload["platform"] = ev.platform
        timer = Timer(ev.ts + delay, 0, f"after:{ev.community}:{rid}:{ev.id}", "after",
                      ev.community, m.id if m is not None else None, rid, payload)
        engine.add_timer(d, timer)

    pb.observers.setdefault(trigger.after, []).append(observe)


def _after_due(engine: Engine, d: Decision, timer: Timer, m: MemberState | None,
               at: datetime) -> None:
    if timer.rule not in engine.playbook.rule_by_id:
        return  # the rule is gone from the playbook
    p = timer.payload
    ref = member_ref(m)
    ev = internal_event(
        id=timer.id, type=p.get("type", "after"), at=at, community=timer.community,
        member=ref, data=dict(p.get("data", {})), depth=1, channel=p.get("channel"),
        platform=p.get("platform"),
    )
    engine.run_trigger(d, timer.rule, ev)


register_timer_kind("silence", _silence_due)
register_timer_kind("after", _after_due)
