"""Community reports (docs/reference.md §7 ``report``): activity, growth, retention, conversion
and what the playbook did, from what a store keeps.

:mod:`.data` asks a store for the period's aggregates (computed where the data is:
``engage_rules.store.reports``), :mod:`.figures` and :mod:`.outcomes` compute the figures
from them (pure functions) — :mod:`.cohorts` and :mod:`.breakdowns` the handbook figures
(day-N and monthly retention, churn rate, volumes, conversion by source and tag,
communities and channels) —, :mod:`.build` assembles them, and :mod:`.text` and
:mod:`.html` render them for people (:mod:`.text_figures`, :mod:`.html_figures` and
:mod:`.figure_glossary` for the handbook figures); ``engage_rules.cli.report`` is the CLI
subcommand.
"""

from .build import build_report, choose_period
from .data import PeriodData, ReportData, read_period, read_store
from .figures import Period

__all__ = [
    "Period",
    "PeriodData",
    "ReportData",
    "build_report",
    "choose_period",
    "read_period",
    "read_store",
]
