"""Community reports (docs/reference.md §7 ``report``): activity, growth, retention, conversion
and what the playbook did, from what a store keeps.

:mod:`.data` reads a store into plain data, :mod:`.figures` and :mod:`.outcomes` compute
the figures from it (pure functions), :mod:`.build` assembles them, and :mod:`.text` and
:mod:`.html` render them for people; :mod:`.command` is the CLI subcommand.
"""

from .build import build_report, choose_period
from .data import ReportData, read_store
from .figures import Period

__all__ = ["Period", "ReportData", "build_report", "choose_period", "read_store"]
