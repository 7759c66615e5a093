"""Member lists in a report (docs/reports.md, "Member lists"): newly silent, churned and
top contributors — the first few of each in the report, a whole list for an export.

The store sorts and cuts each list (:mod:`engage_rules.store.member_lists`); this module
turns its rows into the report's JSON (:func:`read_member_lists`) and says which columns
each list shows and what they are called (:data:`COLUMNS`), for the terminal, the HTML
page and the CSV and XLSX exports alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...i18n import N_, _
from ...store import Store
from ...store.member_lists import (
    LIST_KINDS,
    SILENT_DAYS,
    ListedMember,
    MemberListQuery,
    MemberListSource,
    member_list_source,
)
from .data import ReportData
from .figures import Period

#: The kinds of list, in the order a report shows them.
KINDS = LIST_KINDS
#: How many members of each list a report shows (``--list-size``).
DEFAULT_LIST_SIZE = 10

#: Each list's title and the explanation shown under it.
TITLES = {
    "silent": (
        N_("Newly silent members"),
        N_(
            "Members who were active in the period but not in its last {silent} days (and "
            "not yet churned): the longest silent first. Reach out before they churn."
        ),
    ),
    "churned": (
        N_("Churned members"),
        N_(
            "Members at the end of the period who were active before but not in its last "
            "{churn} days: the most recently active first."
        ),
    ),
    "top": (
        N_("Top contributors"),
        N_(
            "Members with the most activity events in the period (then the most active "
            "days), with the points awarded to them in the period (every currency)."
        ),
    ),
}

#: The columns of each list: (JSON key, heading).
_WHO = (("member", N_("member")), ("name", N_("name")), ("community", N_("community")))
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "silent": (*_WHO, ("last_active", N_("last active")), ("days_silent", N_("days silent"))),
    "churned": (*_WHO, ("last_active", N_("last active")), ("days_silent", N_("days silent"))),
    "top": (
        *_WHO,
        ("events", N_("activity events")),
        ("active_days", N_("active days")),
        ("points", N_("points awarded")),
    ),
}


def list_title(kind: str) -> str:
    """The title of a kind of list."""
    return _(TITLES[kind][0])


def list_explain(kind: str, churn_days: int) -> str:
    """What a list holds, in words."""
    return _(TITLES[kind][1]).format(silent=SILENT_DAYS, churn=churn_days)


def headings(kind: str) -> list[str]:
    """The column headings of a kind of list, in the current language."""
    return [_(label) for _key, label in COLUMNS[kind]]


def row_dict(kind: str, row: ListedMember, period: Period) -> dict[str, Any]:
    """A listed member as the report's JSON has it (the list's columns)."""
    out: dict[str, Any] = {"member": row.member, "name": row.name, "community": row.community}
    if kind == "top":
        out.update(events=row.events, active_days=row.active_days, points=row.points)
    else:
        last = row.last_active
        out["last_active"] = None if last is None else last.isoformat()
        out["days_silent"] = None if last is None else (period.end - last).days
    return out


def cells(kind: str, row: dict[str, Any]) -> list[Any]:
    """A row's values in the order of its list's columns (None for a missing name)."""
    return [row.get(key) for key, _label in COLUMNS[kind]]


def member_rows(
    store: Store | MemberListSource,
    data: ReportData,
    period: Period,
    kind: str,
    churn_days: int,
    limit: int | None,
    goal: str = "purchase",
) -> Iterator[dict[str, Any]]:
    """One list's members as JSON rows, one at a time (``limit``: None for all)."""
    query = MemberListQuery(data.query(period, goal, churn_days), kind, churn_days, limit)
    for row in member_list_source(store).report_member_list(query):
        yield row_dict(kind, row, period)


def read_member_lists(
    store: Store | MemberListSource,
    data: ReportData,
    period: Period,
    churn_days: int,
    limit: int,
    goal: str = "purchase",
) -> dict[str, Any]:
    """The first ``limit`` members of each list, for the report's ``member_lists``."""
    out: dict[str, Any] = {"limit": limit}
    for kind in LIST_KINDS:
        out[kind] = list(member_rows(store, data, period, kind, churn_days, limit, goal))
    return out
