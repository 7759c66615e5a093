"""``engage-rules test PATH... [--update]``: run playbook test files (``*.test.yaml``)."""

from __future__ import annotations

import argparse

from ..i18n import _


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules test``."""
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=_("test files, or folders searched recursively for *.test.yaml"),
    )
    p.add_argument(
        "--update",
        action="store_true",
        help=_("also write each file's observed results to <name>.observed.test.yaml, for review"),
    )


def cmd_test(args: argparse.Namespace) -> int:
    """``engage-rules test``: run playbook test files."""
    from ..tools.playbook_tests import run_tests

    return run_tests(args.paths, registry=args.registry, update=args.update)
