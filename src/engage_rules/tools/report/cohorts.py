"""Cohort figures: day-1 / day-7 / day-30 retention, monthly retention and the churn
rate (docs/reports.md defines them), as pure functions of the store's member tally
(:class:`~engage_rules.store.reports.MemberTally`).

- *Day-N retention* of the members first seen on day D of the period: the share of them
  active on day D + N.  Only join days with D + N on or before the period's last day are
  measured (a later one has no answer yet: null); *overall* adds up those join days.
- *Monthly retention*: members first seen in the period grouped by calendar month; month
  0 is that month, month 1 the next...; each cell the share active at least once that
  month, up to the period's last day.
- *Churn rate*: of the members at the end of the day before the period, those who were
  not churned then and by the period's end have left or are churned (no activity in the
  last ``--churn-after`` days), divided by the members at the start.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from ...store.reports import DAY_RETENTION, MemberTally, month_start, months_between
from .figures import Period


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def day_retention(t: MemberTally, period: Period) -> dict[str, Any]:
    """Day-N retention per join day of the period and overall."""
    per_day: list[dict[str, Any]] = []
    eligible: Counter[int] = Counter()
    active_total: Counter[int] = Counter()
    for day in sorted(d for d in t.first_seen if d in period):
        members = t.first_seen[day]
        active: dict[str, int | None] = {}
        rate: dict[str, float | None] = {}
        for n in DAY_RETENTION:
            if day + timedelta(days=n) > period.end:
                active[str(n)] = rate[str(n)] = None
                continue
            k = t.day_retention.get((day, n), 0)
            active[str(n)], rate[str(n)] = k, _ratio(k, members)
            eligible[n] += members
            active_total[n] += k
        per_day.append({"day": day.isoformat(), "members": members, "active": active, "rate": rate})
    overall = {
        str(n): {
            "members": eligible[n],
            "active": active_total[n],
            "rate": _ratio(active_total[n], eligible[n]),
        }
        for n in DAY_RETENTION
    }
    return {"days": list(DAY_RETENTION), "overall": overall, "per_day": per_day}


def monthly_retention(t: MemberTally, period: Period) -> list[dict[str, Any]]:
    """Members first seen in the period, by calendar month, and the share active in
    each month since (month 0 is the month they were first seen), up to the period's end."""
    cohorts: Counter[date] = Counter()
    for day, n in t.first_seen.items():
        if day in period:
            cohorts[month_start(day)] += n
    out: list[dict[str, Any]] = []
    for month in sorted(cohorts):
        members = cohorts[month]
        months = months_between(month, period.end) + 1
        active = [t.monthly_retention.get((month, k), 0) for k in range(months)]
        out.append(
            {
                "month": month.isoformat()[:7],
                "starts": month.isoformat(),
                "members": members,
                "active": active,
                "percent": [round(100 * a / members, 1) for a in active],
            }
        )
    return out


def churn_rate(t: MemberTally) -> dict[str, Any]:
    """Members at the period's start, those of them who churned in it, and the rate."""
    return {
        "members_at_start": t.at_start,
        "churned_in_period": t.churned_in_period,
        "rate": _ratio(t.churned_in_period, t.at_start),
    }
