"""The SQLite store's breakdowns (:meth:`~.reports.ReportSource.report_breakdowns`): the
period's rows of the day totals (a few per day: the key begins with the day), summed as
report_breakdowns.py defines."""

from __future__ import annotations

import sqlite3

from .report_breakdowns import BreakdownTally, tally_breakdowns
from .reports import ReportQuery
from .sqlite_reports import _where


def sqlite_breakdowns(db: sqlite3.Connection, q: ReportQuery) -> BreakdownTally:
    """:meth:`ReportSource.report_breakdowns` from the ``activity_totals`` table."""
    where, params = _where(q, "day BETWEEN :start AND :end")
    rows = db.execute(f"SELECT community, day, type, events FROM activity_totals{where}", params)
    return tally_breakdowns(q, rows)
