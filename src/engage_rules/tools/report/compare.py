"""Campaign evaluation (docs/reports.md, "Campaign evaluation"): a period's figures next to
those of the same number of days just before it, with the change.

``report --campaign FROM..TO`` (or ``--from``/``--to`` with ``--compare-before``) reads
both periods from the store and builds both reports; :func:`comparison` puts the figures
that say whether a campaign worked side by side, as the report's ``comparison``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ...i18n import N_, _
from .figures import Period
from .glossary import percent

#: The figures compared: (figure: section.key of the report's JSON, its label).
FIGURES: tuple[tuple[str, str], ...] = (
    ("members.total", N_("members at period end")),
    ("members.new", N_("new members")),
    ("members.left", N_("members who left")),
    ("members.churned", N_("churned members")),
    ("activity.average_dau", N_("average DAU")),
    ("activity.wau", N_("WAU (last 7 days)")),
    ("activity.mau", N_("MAU (last 30 days)")),
    ("activity.active_in_period", N_("active in the period")),
    ("activity.period_active_rate", N_("period activity rate")),
    ("conversion.events", N_("goal events")),
    ("conversion.converters", N_("members who converted")),
    ("conversion.rate", N_("conversion rate")),
    ("messages.sent_total", N_("messages sent")),
    ("moderation.total", N_("moderation actions")),
    ("points.issued", N_("points issued")),
)
#: The figures that are shares (fractions): their change is in percentage points.
RATES = frozenset({"activity.period_active_rate", "conversion.rate"})


def before(period: Period) -> Period:
    """The same number of days just before ``period``."""
    days = (period.end - period.start).days + 1
    return Period(period.start - timedelta(days=days), period.start - timedelta(days=1))


def parse_campaign(text: str) -> tuple[date, date]:
    """``FROM..TO`` as two dates; ValueError (in the current language) when it is not."""
    first, sep, last = text.strip().partition("..")
    try:
        if not sep:
            raise ValueError(text)
        return date.fromisoformat(first.strip()), date.fromisoformat(last.strip())
    except ValueError:
        raise ValueError(
            _("--campaign {value!r} is not a period; write it as YYYY-MM-DD..YYYY-MM-DD").format(
                value=text
            )
        ) from None


def value(report: dict[str, Any], figure: str) -> float | None:
    """One compared figure of a report."""
    if figure == "moderation.total":
        return int(sum(report["moderation"].values()))
    if figure == "points.issued":
        return int(sum(row.get("issued", 0) for row in report["points"].values()))
    section, key = figure.split(".")
    found = report[section][key]
    return found if isinstance(found, int | float) else None


def comparison(report: dict[str, Any], earlier: dict[str, Any]) -> dict[str, Any]:
    """The report's ``comparison``: each of :data:`FIGURES` in the period and before,
    the change (absolute) and the change relative to before (a fraction; None when
    there was nothing before)."""
    rows = []
    for figure, _label in FIGURES:
        now, then = value(report, figure), value(earlier, figure)
        change = None if now is None or then is None else round(now - then, 4)
        relative = None if change is None or not then else round(change / then, 4)
        rows.append(
            {
                "figure": figure,
                "period": now,
                "before": then,
                "change": change,
                "change_percent": relative,
            }
        )
    return {
        "before": {k: earlier["period"][k] for k in ("from", "to", "days")},
        "figures": rows,
    }


def _number(figure: str, v: float | None) -> str:
    if v is None:
        return "–"
    return percent(v) if figure in RATES else f"{v:g}"


def _signed(figure: str, v: float | None) -> str:
    if v is None:
        return "–"
    if figure in RATES:
        return _("{change:+.1f} pts").format(change=100 * v)
    return f"{v:+g}"


def display_rows(c: dict[str, Any]) -> list[list[str]]:
    """The comparison as rows of text: figure, period, before, change, change in %."""
    labels = dict(FIGURES)
    return [
        [
            _(labels[row["figure"]]),
            _number(row["figure"], row["period"]),
            _number(row["figure"], row["before"]),
            _signed(row["figure"], row["change"]),
            "–" if row["change_percent"] is None else f"{100 * row['change_percent']:+.1f}%",
        ]
        for row in c["figures"]
    ]


def headings() -> list[str]:
    """The comparison table's column headings."""
    return [_("figure"), _("this period"), _("the days before"), _("change"), _("change in %")]


def caption(report: dict[str, Any]) -> str:
    """What the comparison compares, in words."""
    p, b = report["period"], report["comparison"]["before"]
    return _(
        "{first} to {last} compared with the {days} days before ({before_first} to "
        "{before_last}). A rate's change is in percentage points (pts)."
    ).format(
        first=p["from"],
        last=p["to"],
        days=b["days"],
        before_first=b["from"],
        before_last=b["to"],
    )
