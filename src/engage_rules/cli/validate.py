"""``engage-rules validate PATH...``: check playbooks, one ``file:line:col`` per problem."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import PlaybookError
from ..i18n import _
from .common import cannot_read
from .errors import DEBUG_ENV, internal


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules validate``."""
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help=_("playbook files or folders (a folder of playbook folders checks each)"),
    )
    p.add_argument(
        "--config",
        metavar="FILE",
        help=_(
            "a runtime config (engage-rules run --config): check its playbook for the "
            "adapters it configures, as --platform does for each (no secret needs to be "
            "in the environment)"
        ),
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


def _configured(path: str) -> tuple[str, list[str]] | str:
    """The playbook (resolved against the file's folder) and the adapter types the runtime
    config at ``path`` names; or the problem line that says why it cannot tell.  Only the
    file's structure is read: its ``NAME_env`` settings are not resolved."""
    from ..lang.yaml_source import read_yaml_file

    doc = read_yaml_file(path)
    if doc.problems:
        return str(doc.problems[0])
    data = doc.data
    playbook = data.get("playbook") if isinstance(data, dict) else None
    if not isinstance(playbook, str) or not playbook:
        return f"{path}:1:1: " + _("a runtime config names its playbook (`playbook: FILE`)")
    adapters = data.get("adapters")
    types = []
    for name, entry in adapters.items() if isinstance(adapters, dict) else ():
        kind = entry.get("type") if isinstance(entry, dict) else None
        types.append(kind if isinstance(kind, str) and kind else str(name))
    return str(Path(path).resolve().parent / playbook), types


def _platforms(names: list[str], registry: Any) -> dict[str, Any] | None:
    """The factory of each adapter named (what it never fills or produces: adapters.fields);
    None (after saying so) for an unknown one."""
    platforms = {}
    for name in names:
        entry = registry.adapters.get(name)
        if entry is None:
            known = ", ".join(sorted(registry.adapters)) or _("none")
            print(
                _("error: unknown adapter {name!r} (installed: {known})").format(
                    name=name, known=known
                ),
                file=sys.stderr,
            )
            return None
        platforms[name] = entry.factory
    return platforms


def _targets(args: argparse.Namespace) -> tuple[list[str], list[str]] | int:
    """The playbooks to check and the adapters to check them for (PATHs and
    ``--platform``, plus the runtime config's playbook and adapters); or the exit status
    (after saying why) when there is nothing to check."""
    given = list(args.paths)
    wanted = list(args.platform)
    if args.config is not None:
        configured = _configured(args.config)
        if isinstance(configured, str):
            print(configured, file=sys.stderr)
            return 1
        given.append(configured[0])
        wanted += [t for t in configured[1] if t not in wanted]
    if not given:
        print(_("error: name a playbook (PATH) or a runtime config (--config)"), file=sys.stderr)
        return 2
    return given, wanted


def cmd_validate(args: argparse.Namespace) -> int:
    """``engage-rules validate``: load and compile playbooks, printing every problem."""
    from ..adapters.fields import platform_warnings
    from ..compile.compiler import load

    registry = args.registry
    targets = _targets(args)
    if isinstance(targets, int):
        return targets
    given, wanted = targets
    platforms = _platforms(wanted, registry)
    if platforms is None:
        return 2
    failed = False
    notes: list[str] = []
    paths = [p for path in given for p in playbooks_in(path)]
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
