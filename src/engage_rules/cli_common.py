"""What the commands share: loading a playbook and reporting its problems."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from .errors import PlaybookError

if TYPE_CHECKING:
    from .compiler import CompiledPlaybook


def load_or_report(path: str) -> CompiledPlaybook | None:
    """Load and compile a playbook; on failure print every problem as
    ``file:line:col: message`` on stderr and return None (the command exits 1)."""
    from .compiler import load

    try:
        return load(path)
    except PlaybookError as err:
        for problem in err.problems:
            print(problem, file=sys.stderr)
    except OSError as err:
        print(f"{path}:0:0: cannot read: {err.strerror or err}", file=sys.stderr)
    return None
