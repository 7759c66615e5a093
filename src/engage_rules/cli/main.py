"""The ``engage-rules`` command line (docs/reference.md §7): the edge of the program.

:func:`main` builds the plugin registry (the installed plugins, or the one it is given),
makes one subcommand per registered command — the built-in ones are registered by
:mod:`.commands` through the ``register_commands`` hook, exactly as a plugin's are —
and runs the chosen one with the registry on its arguments (``args.registry``).
Whatever goes wrong ends in one line on stderr and a documented exit code: 2 for a
store, plugin or usage problem, 130 for Ctrl-C; never a traceback (unless
``ENGAGE_RULES_DEBUG=1``).  When the reader of the output goes away (``... | head``),
the command stops quietly with exit code 0: nobody is left to read more.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .. import i18n
from ..errors import StoreError
from ..i18n import _
from .errors import DEBUG_ENV, internal
from .help_format import lay_out_like, parser_options

if TYPE_CHECKING:
    from ..plugins.registry import Registry


def build_parser(registry: Registry) -> argparse.ArgumentParser:
    """The parser: one subcommand per command of ``registry``, in registration order."""
    parser = argparse.ArgumentParser(
        prog="engage-rules",
        description=_("Run a community's engagement and moderation playbook."),
        **parser_options(),
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"engage-rules {version()}",
        help=_("show program's version number and exit"),
    )
    parser.add_argument(
        "--lang",
        metavar="LANG",
        help=_(
            "the language of every message: en or zh_CN (default: from LC_ALL, LC_MESSAGES or LANG)"
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, entry in registry.commands.items():
        builtin = entry.plugin.startswith("builtin")
        summary = entry.help_text()
        p = sub.add_parser(
            name,
            help=summary
            if builtin
            else _("{help} [plugin {plugin}]").format(help=summary, plugin=entry.plugin),
            **parser_options(),
        )
        entry.configure(p)
        lay_out_like(p, parser)
        p.set_defaults(func=entry.run)
    return parser


def main(argv: Sequence[str] | None = None, *, registry: Registry | None = None) -> int:
    """Run the command line; ``registry`` defaults to the installed plugins'."""
    from ..plugins.manager import PluginError, default_registry

    args_list = list(sys.argv[1:] if argv is None else argv)
    if (problem := choose_language(args_list, os.environ)) is not None:
        print(f"engage-rules: {problem}", file=sys.stderr)
        return 2
    try:
        reg = registry if registry is not None else default_registry()
        parser = build_parser(reg)
    except PluginError as err:
        print(f"engage-rules: {err}", file=sys.stderr)
        return 2
    args = parser.parse_args(args_list)
    args.registry = reg
    bundled_time_zones()
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    except StoreError as err:  # opening, writing or reading a store failed
        print(_("error: {message}").format(message=err), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(_("interrupted"), file=sys.stderr)
        return 130
    except Exception as err:  # a bug: one line (ENGAGE_RULES_DEBUG=1 shows where)
        if os.environ.get(DEBUG_ENV):
            raise
        message = _("internal error: {message}").format(message=internal(err))
        print(f"engage-rules: {message}", file=sys.stderr)
        return 2
    return code


def choose_language(argv: Sequence[str], environ: Mapping[str, str]) -> str | None:
    """Speak the language ``--lang`` names, else the locale's (before the parser is
    built: its help texts are made in that language), and hand argparse's own messages
    the same catalog.  Returns the problem with an unknown ``--lang``, or None."""
    value: str | None = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            value = argv[i + 1]
            break
        if arg.startswith("--lang="):
            value = arg.split("=", 1)[1]
            break
    if value is None:
        i18n.set_language(i18n.language_from_env(environ))
    elif i18n.normalise_language(value) is None:
        i18n.set_language(i18n.language_from_env(environ))
        return _("unknown language {value!r}: use en or zh_CN").format(value=value)
    else:
        i18n.set_language(value)
    argparse._ = i18n._  # type: ignore[attr-defined]
    argparse.ngettext = i18n.ngettext  # type: ignore[attr-defined]
    return None


def version() -> str:
    """The installed engage-rules' version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("engage-rules")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "(not installed)"


def _reader_gone() -> int:
    """The output's reader closed the pipe: point stdout at /dev/null (so the flush at
    exit cannot fail again) and end quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    return 0


def bundled_time_zones() -> None:
    """Read time zones from the bundled ``tzdata`` package only, never from the
    machine's own tz database, whose version varies: the same playbook and events give
    the same times on every machine (docs/language.md, "Time zones").  Called by the
    command line, the edge of the process; an embedding application decides for
    itself (``PYTHONTZPATH=`` does the same)."""
    import zoneinfo

    zoneinfo.reset_tzpath(to=())
    zoneinfo.ZoneInfo.clear_cache()


if __name__ == "__main__":
    sys.exit(main())
