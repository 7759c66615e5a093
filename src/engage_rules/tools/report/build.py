"""One report: the period it covers and every figure, as JSON-ready data.

:func:`build_report` is what ``engage-rules report`` renders as terminal tables
(:mod:`.text`), JSON, or an HTML page with charts (:mod:`.html`).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ...errors import PeriodError as PeriodError
from ...i18n import _
from ...store.records import zone
from .breakdowns import communities, conversion_by, segment_sizes, volumes
from .cohorts import churn_rate, day_retention, monthly_retention
from .data import PeriodData, ReportData
from .figures import (
    SILENCE_STAGES,
    Period,
    activity_figures,
    conversion,
    experiments,
    member_figures,
    retention_cohorts,
)
from .outcomes import messages, moderation, points, rules_fired, shadow

#: The default period: this many days ending at the newest day with activity.
DEFAULT_DAYS = 30


def choose_period(data: ReportData, start: date | None, end: date | None) -> Period:
    """The inclusive period a report covers.

    Without ``end``, it ends on the newest day the store has activity for (else the day
    of the store's clock); without ``start``, it is the :data:`DEFAULT_DAYS` days up to ``end``.
    """
    implied = False
    if end is None:
        if data.newest_day is None:
            raise PeriodError(
                _(
                    "the store has no activity yet: replay or run events into it "
                    "first, or give --from and --to"
                )
            )
        end, implied = data.newest_day, True
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        after = (
            _("--from {first} is after --to {last} (the newest day with activity)")
            if implied
            else _("--from {first} is after --to {last}")
        )
        raise PeriodError(after.format(first=start.isoformat(), last=end.isoformat()))
    if (end - start).days >= 3660:
        raise PeriodError(_("the period is longer than ten years; choose a shorter one"))
    return Period(start, end)


def partial_last_day(data: ReportData, period: Period) -> dict[str, Any]:
    """``partial_last_day`` when the store's clock is on or before the period's last day:
    the days from the clock's (``partial_from``) are not over, so their figures are
    partial rather than a drop; ``data_until`` is the clock."""
    if data.clock is None:
        return {"partial_last_day": False}
    local = data.clock.astimezone(zone(data.timezone))
    if local.date() > period.end:  # every day of the period is over
        return {"partial_last_day": False}
    return {
        "partial_last_day": True,
        "partial_from": max(local.date(), period.start).isoformat(),
        "data_until": local.isoformat(),
    }


def build_report(data: ReportData, counts: PeriodData, churn_days: int = 30) -> dict[str, Any]:
    """Every figure of the report (docs/reports.md defines them), from the period's
    aggregates (:func:`~.data.read_period`)."""
    period, t = counts.period, counts.members
    members = member_figures(t, period, churn_days)
    return {
        "playbook": data.playbook,
        "community_name": data.community_name,
        "timezone": data.timezone,
        "community": data.community,
        "period": {
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "days": len(period.days),
            **partial_last_day(data, period),
        },
        "churn_after_days": churn_days,
        "activity_events": sorted(data.activity_events),
        "members": members,
        "activity": activity_figures(t, counts.daily_active, period, members["total"]),
        "retention": retention_cohorts(t, period),
        "silence_stages": [{"key": k, "label": label} for k, _low, label in SILENCE_STAGES]
        + [{"key": "never_active", "label": "never active"}],
        "conversion": conversion(t, counts.goal),
        "experiments": experiments(data.experiments, counts.experiments, counts.goal),
        "rules": rules_fired(counts.actions),
        "moderation": moderation(counts.actions),
        "messages": messages(counts.actions, counts.audit),
        "points": points(counts.points),
        "shadow": shadow(counts.actions),
        "volumes": volumes(counts.breakdowns, period),
        "day_retention": day_retention(t, period),
        "monthly_retention": monthly_retention(t, period),
        "churn": churn_rate(t),
        "segment_sizes": segment_sizes(counts.breakdowns, period),
        "conversion_by": conversion_by(t, counts.goal),
        "communities": communities(counts.breakdowns, t),
    }
