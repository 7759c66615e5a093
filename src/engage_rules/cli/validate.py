"""``engage-rules validate PATH...``: check playbooks, one ``file:line:col`` per problem."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import PlaybookError
from ..i18n import _
from .common import cannot_read
from .errors import DEBUG_ENV, internal


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules validate``."""
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help=_("playbook files or folders (a folder of playbook folders checks each)"),
    )
    p.add_argument("-q", "--quiet", action="store_true", help=_("print nothing when valid"))
    p.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="ADAPTER",
        help=_(
            "the playbook runs on this adapter (repeatable): warn about rules reading "
            "fields it never fills (Telegram: member.account_age)"
        ),
    )


#: The suffixes of playbook files.
_YAML = (".yaml", ".yml")


def _yaml_files(folder: Path) -> list[Path]:
    return [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix in _YAML and not p.name.endswith(".test.yaml")
    ]


def playbooks_in(path: str) -> list[str]:
    """The playbooks ``path`` names: itself, or — for a folder that holds no playbook file
    of its own and whose subfolders each hold a complete playbook (a file with
    ``engage_rules:``), like ``rules/`` — each of those subfolders."""
    folder = Path(path)
    if not folder.is_dir() or _yaml_files(folder):
        return [path]
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    playbooks = [p for p in subfolders if _declares_version(p)]
    return [str(p) for p in playbooks] if playbooks else [path]


def _declares_version(folder: Path) -> bool:
    """Whether a file directly in ``folder`` starts a playbook (``engage_rules:`` at the
    top level)."""
    for f in _yaml_files(folder):
        try:
            with f.open(encoding="utf-8", errors="replace") as text:
                if any(line.startswith("engage_rules:") for line in text):
                    return True
        except OSError:
            continue
    return False


def cmd_validate(args: argparse.Namespace) -> int:
    """``engage-rules validate``: load and compile playbooks, printing every problem."""
    from ..adapters.fields import platform_warnings
    from ..compile.compiler import load

    registry = args.registry
    platforms: dict[str, object] = {}
    for name in args.platform:
        entry = registry.adapters.get(name)
        if entry is None:
            known = ", ".join(sorted(registry.adapters)) or _("none")
            print(
                _("error: unknown adapter {name!r} (installed: {known})").format(
                    name=name, known=known
                ),
                file=sys.stderr,
            )
            return 2
        platforms[name] = entry.factory
    failed = False
    notes: list[str] = []
    paths = [p for given in args.paths for p in playbooks_in(given)]
    for path in paths:
        try:
            compiled = load(path, registry=registry)
        except PlaybookError as err:
            failed = True
            for problem in err.problems:
                print(problem, file=sys.stderr)
        except OSError as err:
            failed = True
            print(cannot_read(path, err), file=sys.stderr)
        except Exception as err:  # a bug: still one problem line, never a traceback
            if os.environ.get(DEBUG_ENV):
                raise
            failed = True
            message = _("internal error while checking this playbook: {error}").format(
                error=internal(err)
            )
            print(f"{path}:0:0: {message}", file=sys.stderr)
        else:
            if compiled.loaded is not None:  # warnings do not fail validation
                for warning in compiled.loaded.warnings:
                    print(warning, file=sys.stderr)
            for warning in platform_warnings(compiled, platforms):
                print(warning, file=sys.stderr)
            # Notes are not problems: never in the `file:line:col: message` form.
            notes += [
                _("note: {file}, line {line}: {message}").format(
                    file=n.file, line=n.line, message=n.message.removeprefix("note: ")
                )
                for n in compiled.notes
            ]
    if not failed and not args.quiet:
        for note in notes:
            print(note, file=sys.stderr)
        print(_("ok: {n} playbook(s) valid").format(n=len(paths)), file=sys.stderr)
    return 1 if failed else 0
