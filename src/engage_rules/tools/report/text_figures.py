"""The handbook figures as terminal tables: volumes, day-N and monthly retention, churn
rate, segment sizes, conversion by source, tag and segment, communities and channels
(text.py prints the other sections and calls :func:`print_figures`)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ...i18n import _
from .breakdowns import OTHERS
from .figure_glossary import (
    DIMENSION_LABELS,
    bounds,
    figure_explain,
    figure_title,
    share,
    volume_label,
)
from .glossary import partial_days


def _table(*columns: str, numeric_from: int = 1) -> Table:
    t = Table(show_header=True, header_style="bold", show_edge=True, pad_edge=True)
    for i, name in enumerate(columns):
        t.add_column(name, justify="right" if i >= numeric_from else "left", no_wrap=i == 0)
    return t


def _print(console: Console, table: Table) -> None:
    """Print ``table``; off a terminal, at its own width when wider than the page, so no
    cell is cut (as text.print_table, which imports this module)."""
    if console.is_terminal:
        console.print(table)
        return
    width = console.width
    natural = Measurement.get(console, console.options.update_width(10**5), table).maximum
    console.width = max(width, natural)
    try:
        console.print(table)
    finally:
        console.width = width


def _section(console: Console, report: dict[str, Any], key: str) -> None:
    console.print()
    console.print(Text(figure_title(key), style="bold underline"))
    console.print(Text(figure_explain(key, report), style="dim"))


def print_figures(console: Console, report: dict[str, Any]) -> None:
    """Print every handbook-figure section of ``report``."""
    _volumes(console, report)
    _day_retention(console, report)
    _monthly_retention(console, report)
    _churn(console, report)
    _segment_sizes(console, report)
    _conversion_by(console, report)
    _communities(console, report)


def _volumes(console: Console, report: dict[str, Any]) -> None:
    _section(console, report, "volumes")
    v = report["volumes"]
    if not v["types"]:
        console.print(_("No events in the period."))
        return
    t = _table(_("day"), *(volume_label(k) for k in v["types"]))
    partial = partial_days(report["period"])  # the days not over are marked *
    for day, counts in v["per_day"].items():
        shown = f"{day} *" if partial is not None and day >= partial else day
        t.add_row(shown, *(str(counts[k]) for k in v["types"]))
    t.add_row(_("total"), *(str(v["total"][k]) for k in v["types"]), style="bold")
    _print(console, t)


def _day_retention(console: Console, report: dict[str, Any]) -> None:
    _section(console, report, "day_retention")
    r = report["day_retention"]
    if not r["per_day"]:
        console.print(_("No members were first seen in the period."))
        return
    days = [str(n) for n in r["days"]]
    t = _table(_("first seen on"), _("members"), *(_("day {n}").format(n=n) for n in days))
    for row in r["per_day"]:
        t.add_row(row["day"], str(row["members"]), *(share(row["rate"][n]) for n in days))
    t.add_row(
        _("overall"),
        "",
        *(share(r["overall"][n]["rate"]) for n in days),
        style="bold",
    )
    _print(console, t)


def _monthly_retention(console: Console, report: dict[str, Any]) -> None:
    _section(console, report, "monthly_retention")
    cohorts = report["monthly_retention"]
    if not cohorts:
        console.print(_("No members were first seen in the period."))
        return
    months = max(len(c["percent"]) for c in cohorts)
    t = _table(
        _("first seen in"), _("members"), *(_("month {k}").format(k=k) for k in range(months))
    )
    for c in cohorts:
        cells = [f"{p:.0f}%" for p in c["percent"]] + [""] * (months - len(c["percent"]))
        t.add_row(c["month"], str(c["members"]), *cells)
    _print(console, t)


def _churn(console: Console, report: dict[str, Any]) -> None:
    _section(console, report, "churn")
    c = report["churn"]
    t = _table(_("figure"), _("value"))
    t.add_row(_("members at the start"), str(c["members_at_start"]))
    t.add_row(_("churned in the period"), str(c["churned_in_period"]))
    t.add_row(_("churn rate"), share(c["rate"]))
    _print(console, t)


def count_or_dash(n: int | None) -> str:
    """A count, or a dash for a day with none."""
    return "–" if n is None else str(n)


def _segment_sizes(console: Console, report: dict[str, Any]) -> None:
    _section(console, report, "segment_sizes")
    s = report["segment_sizes"]
    if not s["segments"]:
        console.print(_("No segment was counted in the period."))
        return
    t = _table(_("day"), *s["segments"])
    partial = partial_days(report["period"])  # the days not over are marked *
    for day, counts in s["per_day"].items():
        shown = f"{day} *" if partial is not None and day >= partial else day
        t.add_row(shown, *(count_or_dash(counts[name]) for name in s["segments"]))
    _print(console, t)


def value_label(value: str) -> str:
    """A dimension value as shown: the values beyond the top ones are one row."""
    return _(OTHERS) if value == OTHERS else value


def _conversion_by(console: Console, report: dict[str, Any]) -> None:
    _section(console, report, "conversion_by")
    by = report["conversion_by"]
    for dimension, label in DIMENSION_LABELS.items():
        rows = by[dimension]
        if not rows:
            console.print(_("No member has a {dimension}.").format(dimension=_(label)))
            continue
        t = _table(_(label), _("members"), _("converted"), _("rate"), _("95% interval"))
        for r in rows:
            t.add_row(
                value_label(r["value"]),
                str(r["members"]),
                str(r["converted"]),
                share(r["rate"]),
                bounds(r["ci95"]),
            )
        _print(console, t)


def _communities(console: Console, report: dict[str, Any]) -> None:
    _section(console, report, "communities")
    rows = report["communities"]
    if not rows:
        console.print(_("No activity in the period."))
        return
    t = _table(_("community"), _("events"), _("active members"))
    for r in rows:
        t.add_row(r["community"], str(r["events"]), str(r["active_members"]))
    _print(console, t)
    channels = [(r["community"], ch) for r in rows for ch in r["channels"]]
    if not channels:
        console.print(_("No event named a channel in the period."))
        return
    t = _table(_("community"), _("channel"), _("events"), numeric_from=2)
    for community, ch in channels:
        t.add_row(community, ch["channel"], str(ch["events"]))
    _print(console, t)
