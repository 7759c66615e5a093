"""The report's member figures: growth, activity, retention, silence and conversion.

Pure functions of the store's aggregates (:mod:`engage_rules.store.reports`: no store, no
clock), so each figure can be checked by hand on small counts.  Everything is counted in
whole local days of the playbook's time zone; the definitions are the ones docs/reports.md
gives operators:

- a member is *active* on a day when they had at least one event of an activity type
  that day (the playbook's ``activity_events``);
- a member is *first seen* on the day they first joined, or of their first event of any
  type if that came earlier (or no join was ever recorded);
- a member *belongs* to the community at the end of the period when they were first seen
  on or before it and had not left by then (a leave is undone by a later join; a leave and
  a join on the same day count as a leave);
- *days since last activity* at the period's end is 0 for a member active that day.

The store counts members by what these need (:class:`~engage_rules.store.reports.MemberTally`):
by first-seen day, by leave day, by (last active day, belongs at the end, active in the
period), and cohort members by the weeks they were active in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ...store.reports import MemberTally, monday

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


def _per_day(counts: dict[date, int], period: Period) -> dict[date, int]:
    out = dict.fromkeys(period.days, 0)
    for day, n in counts.items():
        if day in period:
            out[day] += n
    return out


def member_figures(t: MemberTally, period: Period, churn_days: int) -> dict[str, Any]:
    """Totals, joins and leaves per day, churn and silence stages at the period's end."""
    end = period.end
    new_per_day = _per_day(t.first_seen, period)
    left_per_day = _per_day(t.left, period)
    total = churned = 0
    stages = dict.fromkeys([k for k, _, _ in SILENCE_STAGES] + [NEVER_ACTIVE], 0)
    for (last, belongs, _), n in t.by_last_active.items():
        if not belongs:
            continue
        total += n
        if last is None:
            stages[NEVER_ACTIVE] += n
            continue
        idle = (end - last).days
        stage = next(k for k, low, _ in reversed(SILENCE_STAGES) if idle >= low)
        stages[stage] += n
        if idle >= churn_days:
            churned += n
    return {
        "total": total,
        "new": sum(new_per_day.values()),
        "left": sum(left_per_day.values()),
        "churned": churned,
        "new_per_day": {d.isoformat(): n for d, n in new_per_day.items()},
        "left_per_day": {d.isoformat(): n for d, n in left_per_day.items()},
        "silence": stages,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def activity_figures(
    t: MemberTally, daily_active: dict[date, int], period: Period, total: int
) -> dict[str, Any]:
    """DAU per day, average DAU, WAU and MAU at the period's end, and activity rates."""
    end = period.end
    dau = _per_day(daily_active, period)
    wau = mau = active_in_period = members_mau = members_active = 0
    for (last, belongs, in_period), n in t.by_last_active.items():
        if last is not None:
            idle = (end - last).days
            wau += n if idle < 7 else 0
            mau += n if idle < 30 else 0
            members_mau += n if idle < 30 and belongs else 0
        active_in_period += n if in_period else 0
        members_active += n if in_period and belongs else 0
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


def retention_cohorts(t: MemberTally, period: Period) -> list[dict[str, Any]]:
    """Members first seen in the period, by ISO week, and the share active in each week
    since (week 0 is the week they joined), up to the week of the period's end."""
    cohorts: Counter[date] = Counter()
    for day, n in t.first_seen.items():
        if day in period:
            cohorts[monday(day)] += n
    last_week = monday(period.end)
    out: list[dict[str, Any]] = []
    for week in sorted(cohorts):
        members = cohorts[week]
        weeks = (last_week - week).days // 7 + 1
        active = [t.retention.get((week, k), 0) for k in range(weeks)]
        year, number, _ = week.isocalendar()
        out.append(
            {
                "week": f"{year}-W{number:02d}",
                "starts": week.isoformat(),
                "members": members,
                "active": active,
                "percent": [round(100 * n / members, 1) for n in active],
            }
        )
    return out


def conversion(t: MemberTally, goal: str) -> dict[str, Any]:
    """Goal events in the period, converters, and both per active member."""
    events, converters = t.goal_events, t.converters
    active = sum(n for (_, _, in_period), n in t.by_last_active.items() if in_period)
    return {
        "goal": goal,
        "events": events,
        "converters": converters,
        "active_members": active,
        "rate": _ratio(converters, active),
        "events_per_active_member": round(events / active, 2) if active else None,
    }


#: The normal quantile of a 95% confidence interval.
Z95 = 1.959964


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95% by default), None for n = 0."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / denominator
    return max(0.0, round(centre - half, 4)), min(1.0, round(centre + half, 4))


def experiments(
    declared: tuple[tuple[str, tuple[str, ...]], ...],
    tally: dict[tuple[str, str], tuple[int, int]],
    goal: str,
) -> list[dict[str, Any]]:
    """Per experiment (those the playbook declares, then any other the store holds), the
    goal's conversion among the members exposed to each variant, with a 95% Wilson
    confidence interval."""
    names = [name for name, _ in declared]
    variants = {name: list(vs) for name, vs in declared}
    for name, variant in sorted(tally):
        if name not in variants:
            names.append(name)
            variants[name] = []
        if variant not in variants[name]:
            variants[name].append(variant)
    out = []
    for name in names:
        rows = []
        for variant in variants[name]:
            exposed, converted = tally.get((name, variant), (0, 0))
            interval = wilson(converted, exposed)
            rows.append(
                {
                    "variant": variant,
                    "exposed": exposed,
                    "converted": converted,
                    "rate": _ratio(converted, exposed),
                    "ci95": list(interval) if interval is not None else None,
                }
            )
        out.append({"experiment": name, "goal": goal, "variants": rows})
    return out
