"""The report's member figures: growth, activity, retention, silence and conversion.

Pure functions of :class:`~.data.ReportData` (no store, no clock), so each figure can be
checked by hand on a small event log.  Everything is counted in whole local days of the
playbook's time zone; the definitions are the ones docs/reports.md gives operators:

- a member is *active* on a day when they had at least one event of an activity type
  that day (the playbook's ``activity_events``);
- a member is *first seen* on the day they first joined, or of their first event of any
  type if that came earlier (or no join was ever recorded);
- a member *belongs* to the community at the end of the period when they were first seen
  on or before it and had not left by then (a leave is undone by a later join; a leave and
  a join on the same day count as a leave);
- *days since last activity* at the period's end is 0 for a member active that day.

The per-member facts are gathered in one pass over the activity rows, so a report over
hundreds of thousands of events takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .data import ReportData

#: Silence stages by days since last activity at the period's end: (key, lowest day, label).
SILENCE_STAGES = (
    ("active_7d", 0, "active in the last 7 days"),
    ("silent_7_14d", 7, "silent 7–13 days"),
    ("silent_14_30d", 14, "silent 14–29 days"),
    ("silent_30d_plus", 30, "silent 30 days or more"),
)
NEVER_ACTIVE = "never_active"


@dataclass(slots=True, frozen=True)
class Period:
    """An inclusive range of local days."""

    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(slots=True)
class MemberHistory:
    """One member's days, gathered from the activity rows and the state."""

    joined: date | None = None
    first_event: date | None = None
    joins: set[date] = field(default_factory=set)
    leaves: set[date] = field(default_factory=set)
    active: set[date] = field(default_factory=set)
    left_now: bool = False  # the state says they left (when no leave day was recorded)

    @property
    def first_seen(self) -> date | None:
        days = [d for d in (self.joined, self.first_event) if d is not None]
        return min(days) if days else None

    def left_by(self, end: date) -> bool:
        leaves = [d for d in self.leaves if d <= end]
        if not leaves:
            return self.left_now and not self.leaves
        last_leave = max(leaves)
        return not any(last_leave < d <= end for d in self.joins)

    def last_active(self, end: date) -> date | None:
        days = [d for d in self.active if d <= end]
        return max(days) if days else None

    def belongs_at(self, end: date) -> bool:
        seen = self.first_seen
        return (seen is None or seen <= end) and not self.left_by(end)


Key = tuple[str, str]  # (community, member)


def histories(data: ReportData) -> dict[Key, MemberHistory]:
    """Every member's history, from one pass over the activity rows."""
    out: dict[Key, MemberHistory] = {}
    for m in data.members:
        out[(m.community, m.member)] = MemberHistory(joined=m.joined, left_now=m.status == "left")
    is_activity = data.is_activity
    kinds: dict[str, bool] = {}
    for community, member, day, event_type, _ in data.activity:
        key = (community, member)
        h = out.get(key)
        if h is None:
            h = out[key] = MemberHistory()
        if h.first_event is None or day < h.first_event:
            h.first_event = day
        if event_type == "member.joined":
            h.joins.add(day)
            if h.joined is None or day < h.joined:
                h.joined = day
        elif event_type == "member.left":
            h.leaves.add(day)
        active = kinds.get(event_type)
        if active is None:
            active = kinds[event_type] = is_activity(event_type)
        if active:
            h.active.add(day)
    return out


def member_figures(hs: dict[Key, MemberHistory], period: Period, churn_days: int) -> dict[str, Any]:
    """Totals, joins and leaves per day, churn and silence stages at the period's end."""
    end = period.end
    new_per_day = dict.fromkeys(period.days, 0)
    left_per_day = dict.fromkeys(period.days, 0)
    total = new = left = churned = 0
    stages = dict.fromkeys([k for k, _, _ in SILENCE_STAGES] + [NEVER_ACTIVE], 0)
    for h in hs.values():
        seen = h.first_seen
        if seen in period:
            new += 1
            new_per_day[seen] += 1  # type: ignore[index]
        left_days = [d for d in h.leaves if d in period]
        if left_days:
            left += 1
            left_per_day[max(left_days)] += 1
        if not h.belongs_at(end):
            continue
        total += 1
        last = h.last_active(end)
        if last is None:
            stages[NEVER_ACTIVE] += 1
            continue
        idle = (end - last).days
        stage = next(k for k, low, _ in reversed(SILENCE_STAGES) if idle >= low)
        stages[stage] += 1
        if idle >= churn_days:
            churned += 1
    return {
        "total": total,
        "new": new,
        "left": left,
        "churned": churned,
        "new_per_day": {d.isoformat(): n for d, n in new_per_day.items()},
        "left_per_day": {d.isoformat(): n for d, n in left_per_day.items()},
        "silence": stages,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def activity_figures(hs: dict[Key, MemberHistory], period: Period, total: int) -> dict[str, Any]:
    """DAU per day, average DAU, WAU and MAU at the period's end, and activity rates."""
    end = period.end
    dau = dict.fromkeys(period.days, 0)
    wau = mau = active_in_period = members_mau = members_active = 0
    for h in hs.values():
        in_period = False
        for d in h.active:
            if d in period:
                dau[d] += 1
                in_period = True
        last = h.last_active(end)
        belongs = h.belongs_at(end)
        if last is not None:
            idle = (end - last).days
            wau += idle < 7
            mau += idle < 30
            members_mau += idle < 30 and belongs
        active_in_period += in_period
        members_active += in_period and belongs
    days = len(dau)
    return {
        "dau": {d.isoformat(): n for d, n in dau.items()},
        "average_dau": round(sum(dau.values()) / days, 2) if days else 0.0,
        "wau": wau,
        "mau": mau,
        "active_in_period": active_in_period,
        "monthly_active_rate": _ratio(members_mau, total),
        "period_active_rate": _ratio(members_active, total),
    }


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def retention_cohorts(hs: dict[Key, MemberHistory], period: Period) -> list[dict[str, Any]]:
    """Members first seen in the period, by ISO week, and the share active in each week
    since (week 0 is the week they joined), up to the week of the period's end."""
    cohorts: dict[date, list[MemberHistory]] = {}
    for h in hs.values():
        seen = h.first_seen
        if seen in period:
            cohorts.setdefault(_monday(seen), []).append(h)  # type: ignore[arg-type]
    last_week = _monday(period.end)
    out: list[dict[str, Any]] = []
    for week in sorted(cohorts):
        members = cohorts[week]
        weeks = (last_week - week).days // 7 + 1
        active = [0] * weeks
        for h in members:
            seen_weeks = {
                (_monday(d) - week).days // 7 for d in h.active if week <= d <= period.end
            }
            for k in seen_weeks:
                active[k] += 1
        year, number, _ = week.isocalendar()
        out.append(
            {
                "week": f"{year}-W{number:02d}",
                "starts": week.isoformat(),
                "members": len(members),
                "active": active,
                "percent": [round(100 * n / len(members), 1) for n in active],
            }
        )
    return out


def conversion(
    data: ReportData, period: Period, goal: str, hs: dict[Key, MemberHistory]
) -> dict[str, Any]:
    """Goal events in the period, converters, and both per active member."""
    events = 0
    converters: set[Key] = set()
    for community, member, day, event_type, count in data.activity:
        if event_type == goal and day in period:
            events += count
            converters.add((community, member))
    active = sum(1 for h in hs.values() if any(d in period for d in h.active))
    return {
        "goal": goal,
        "events": events,
        "converters": len(converters),
        "active_members": active,
        "rate": _ratio(len(converters), active),
        "events_per_active_member": round(events / active, 2) if active else None,
    }
