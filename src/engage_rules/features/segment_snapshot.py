"""The daily segment snapshot: each declared segment's size at the end of every local day,
for reports (docs/reports.md, "Segment sizes"; docs/reference.md §5.10).

A store keeps no history of who was in a segment, and it cannot be rebuilt afterwards:
segments depend on member state and on time.  So every community with segments has one
pending community-level timer (kind ``segment_snapshot``) at its next local midnight.
When it fires, every member of the community (left and banned members apart, as for a
schedule's audience) is evaluated against every segment, read from the store a page at
a time (:func:`members_in_pages`: one query per page, none kept in memory for it), and
the decision
carries report data only — never state, never actions:

- ``report_totals``: ``(community, day, "segment:<name>", size)`` for every segment, the
  day being the local day that just ended (0 included, so a chart shows an empty day);
- ``report_marks``: ``(community, member, "segment:<name>", day)`` for each member in a
  segment; the store keeps the first day of each (``member_marks``), so conversion by
  segment reads like conversion by tag.

Bookkeeping lives in ``CommunityState.data["segment_snapshot"]``: ``{"next": slot}``, a
slot named by its local wall time as for schedules.  The timer id is
``segments:<community>:<slot>``; a timer whose slot is not ``next`` does nothing, so a
snapshot is taken at most once per day (idempotent), and since the decision is committed
atomically with the timer fired, a crash before the commit takes it again on restart.
Replays advance the virtual clock through every midnight: same events, same snapshots.
After real downtime (:func:`resume`) the days the service missed get no snapshot — the
state they ended with is gone — and the next midnight after the restart is armed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .._util.cron import CronSchedule, parse_slot, slot_name
from ..compile.feature import FeatureKey
from ..expr.context import EvalContext
from ..expr.env import SegmentFn
from ..model.decision import Decision, RuleFailure
from ..model.events import internal_event
from ..model.state import CommunityState, MemberState, Timer, ts

if TYPE_CHECKING:
    from ..engine.effects import Effects

TIMER_KIND = "segment_snapshot"
#: The prefix of a segment's rows in the store's day totals and member marks (the same
#: as ``store.records.SEGMENT_PREFIX``; the store sits above this layer).
SEGMENT_PREFIX = "segment:"
#: The type of the context event a segment sees during a snapshot (no rule sees it).
EVENT_TYPE = "segments.snapshot"
#: Where a community keeps its next snapshot slot.
BOOK = "segment_snapshot"
#: The rule a snapshot's timer and errors are named after.
RULE = "segments"
#: Member statuses not counted in a segment's size (they are not in the community).
NOT_COUNTED = frozenset({"left", "banned"})
#: Every local midnight.
MIDNIGHT = "0 0 * * *"
#: Members read from the store per query during a snapshot.
PAGE = 500


@dataclass(frozen=True, slots=True)
class SnapshotPlan:
    """The segments a snapshot measures, in the order written, and the local midnights."""

    names: tuple[str, ...]
    midnight: CronSchedule


#: The compiled plan (``playbook.data(SNAPSHOT)``), set by the segments feature.
SNAPSHOT: FeatureKey[SnapshotPlan] = FeatureKey("segments")


def _plan(engine: Effects) -> SnapshotPlan | None:
    return engine.playbook.data(SNAPSHOT)


def _timer(community: str, plan: SnapshotPlan, slot: datetime) -> Timer:
    name = slot_name(slot)
    return Timer(
        due=ts(plan.midnight.instant(slot)),
        seq=0,
        id=f"segments:{community}:{name}",
        kind=TIMER_KIND,
        community=community,
        member=None,
        rule=RULE,
        payload={"slot": name},
    )


def _arm(
    engine: Effects, d: Decision, community: CommunityState, plan: SnapshotPlan, slot: datetime
) -> None:
    """Make ``slot`` the community's next snapshot and set its timer."""
    community.data[BOOK] = {"next": slot_name(slot)}
    d.touch_community(community.name)
    engine.add_timer(d, _timer(community.name, plan, slot))


def _next(community: CommunityState) -> str | None:
    book = community.data.get(BOOK)
    if not isinstance(book, dict):
        return None
    slot = book.get("next")
    return slot if isinstance(slot, str) else None


def arm_community(engine: Effects, d: Decision, community: CommunityState, at: datetime) -> None:
    """Arm the community's snapshot for the first local midnight after ``at``, unless it
    is armed."""
    plan = _plan(engine)
    if plan is not None and _next(community) is None:
        _arm(engine, d, community, plan, plan.midnight.first_after(at))


def start(engine: Effects) -> list[Decision]:
    """Arm the snapshot of communities in a stored state that have none (the playbook
    gained segments since the state was written), from the current clock."""
    clock = engine.state.clock
    if clock is None or _plan(engine) is None:
        return []
    out = []
    for name in sorted(engine.state.communities):
        d = Decision(cause=f"segments:arm:{name}:{clock.isoformat()}", at=clock)
        arm_community(engine, d, engine.state.communities[name], clock)
        if d.timers_added:
            out.append(d)
    return out


def resume(engine: Effects, now: datetime) -> tuple[list[Decision], Callable[[], list[Decision]]]:
    """After real downtime: re-arm each community whose snapshot is overdue for the
    first midnight after ``now`` (the stale timer then fires as a no-op; the days missed
    have no snapshot rather than one taken with a later state)."""
    plan = _plan(engine)
    out: list[Decision] = []
    if plan is not None:
        for name in sorted(engine.state.communities):
            community = engine.state.communities[name]
            slot = _next(community)
            if slot is None or plan.midnight.instant(parse_slot(slot)) > now:
                continue
            d = Decision(cause=f"segments:{name}:resume:{now.isoformat()}", at=now)
            _arm(engine, d, community, plan, plan.midnight.first_after(now))
            out.append(d)
    return out, list


def take_snapshot(
    engine: Effects, d: Decision, timer: Timer, m: MemberState | None, at: datetime
) -> None:
    """A local midnight: record each segment's size for the day that ended, and mark
    the members in it; then arm the next midnight."""
    plan = _plan(engine)
    if plan is None:
        return  # the playbook no longer has segments
    community = engine.state.community(timer.community)
    slot = timer.payload.get("slot")
    if not isinstance(slot, str) or _next(community) != slot:
        return  # taken already, or superseded by a resume
    wall = parse_slot(slot)
    day = (wall - timedelta(days=1)).date().isoformat()
    sizes = measure(engine, d, community, plan.names, day, at, timer.id)
    d.report_totals = [
        (community.name, day, SEGMENT_PREFIX + name, sizes[name]) for name in plan.names
    ]
    _arm(engine, d, community, plan, plan.midnight.next_slot(wall))


def measure(
    engine: Effects,
    d: Decision,
    community: CommunityState,
    names: tuple[str, ...],
    day: str,
    at: datetime,
    cause: str,
) -> dict[str, int]:
    """Each segment's members at ``at``; each member in one gets a mark in ``d``.  A
    segment that fails for a member (an expression error) does not count them, and the
    failure is recorded as the decision's error."""
    pb = engine.playbook
    segments: dict[str, SegmentFn] = {name: pb.env.segments[name] for name in names}
    event = internal_event(
        id=cause, type=EVENT_TYPE, at=at, community=community.name, member=None, data={}, depth=1
    )
    c = EvalContext(
        event,
        None,
        at,
        at.timestamp(),
        engine.community_vars(community.name),
        dict(pb.vars),
        pb.default_currency,
        pb.timezone,
        pb.env,
    )
    sizes = dict.fromkeys(names, 0)
    marks: list[tuple[str, str, str, str]] = []
    for member in members_in_pages(community):
        if member.status_at(at) in NOT_COUNTED:
            continue
        c.m = member
        for name, segment in segments.items():
            try:
                inside = bool(segment(c))
            except Exception as err:
                message = f"segment {name!r} for member {member.id}: {err}"
                d.add_error(RuleFailure(RULE, cause, message, at))
                continue
            if inside:
                sizes[name] += 1
                marks.append((community.name, member.id, SEGMENT_PREFIX + name, day))
    d.report_marks = marks
    return sizes


def members_in_pages(community: CommunityState, page: int = PAGE) -> Iterator[MemberState]:
    """Every member of ``community``, in id order: those in memory as they are, the
    others read from the store a page at a time (one query per page) and not kept."""
    ids = community.member_ids()
    source = community.source
    for start in range(0, len(ids), page):
        chunk = ids[start : start + page]
        stored: dict[str, MemberState] = {}
        if source is not None:
            missing = [m for m in chunk if m not in community.members and m not in community.absent]
            if missing:
                stored = source.load_members(community.name, missing)
        for mid in chunk:
            member = community.members.get(mid) or stored.get(mid)
            if member is not None:
                yield member
