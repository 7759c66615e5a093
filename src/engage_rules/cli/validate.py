"""``engage-rules validate PATH...``: check playbooks, one ``file:line:col`` per problem."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import PlaybookError
from .errors import DEBUG_ENV, internal


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules validate``."""
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing when valid")
    p.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="ADAPTER",
        help="the playbook runs on this adapter (repeatable): warn about rules reading "
        "fields it never fills (Telegram: member.account_age)",
    )


def cmd_validate(args: argparse.Namespace) -> int:
    """``engage-rules validate``: load and compile playbooks, printing every problem."""
    from ..adapters.fields import missing_field_warnings, missing_fields
    from ..compile.compiler import load

    registry = args.registry
    platforms = {}
    for name in args.platform:
        entry = registry.adapters.get(name)
        if entry is None:
            known = ", ".join(sorted(registry.adapters)) or "none"
            print(f"error: unknown adapter {name!r} (installed: {known})", file=sys.stderr)
            return 2
        platforms[name] = missing_fields(entry.factory)
    failed = False
    notes: list[str] = []
    for path in args.paths:
        try:
            compiled = load(path, registry=registry)
        except PlaybookError as err:
            failed = True
            for problem in err.problems:
                print(problem, file=sys.stderr)
        except OSError as err:
            failed = True
            print(f"{path}:0:0: cannot read: {err.strerror or err}", file=sys.stderr)
        except Exception as err:  # a bug: still one problem line, never a traceback
            if os.environ.get(DEBUG_ENV):
                raise
            failed = True
            print(
                f"{path}:0:0: internal error while checking this playbook: {internal(err)}",
                file=sys.stderr,
            )
        else:
            if compiled.loaded is not None:  # warnings do not fail validation
                for warning in compiled.loaded.warnings:
                    print(warning, file=sys.stderr)
            for warning in missing_field_warnings(compiled, platforms):
                print(warning, file=sys.stderr)
            # Notes are not problems: never in the `file:line:col: message` form.
            notes += [
                f"note: {n.file}, line {n.line}: {n.message.removeprefix('note: ')}"
                for n in compiled.notes
            ]
    if not failed and not args.quiet:
        for note in notes:
            print(note, file=sys.stderr)
        print(f"ok: {len(args.paths)} playbook(s) valid", file=sys.stderr)
    return 1 if failed else 0
