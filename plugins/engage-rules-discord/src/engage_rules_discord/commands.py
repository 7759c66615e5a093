"""``engage-rules discord map`` and ``engage-rules discord import`` (registered through
the ``register_commands`` hook by :mod:`.plugin`).

* ``map PAYLOADS.jsonl`` — one gateway dispatch (``{"op": 0, "t": ..., "d": ...}``)
  per line → the events the live adapter makes of each (the same
  :class:`.parser.DispatchParser`), one JSON line per event on standard output; notes
  on standard error for payloads that make no event and for lines that cannot be read.
  Exit 0 unless the file cannot be read.
* ``import EXPORT.json`` — a DiscordChatExporter JSON export → events (JSON Lines) for
  ``engage-rules replay``, ``compare`` and ``report``.
"""

from __future__ import annotations

import argparse

from engage_rules.plugin_api import import_export_file, map_payload_file

from .export import ExportReader
from .i18n import _
from .mapping import MappingConfig
from .parser import DispatchParser


def _pair(value: str) -> tuple[str, str]:
    key, sep, name = value.partition("=")
    if not (key.isascii() and key.isdigit() and sep and name):
        raise argparse.ArgumentTypeError(_("{value!r} is not ID=NAME").format(value=value))
    return key, name


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="discord_command", required=True, metavar="COMMAND")
    m = sub.add_parser(
        "map", help=_("map gateway dispatches (JSON Lines) to the events the adapter makes")
    )
    m.add_argument(
        "payloads",
        metavar="PAYLOADS.jsonl",
        help=_('one gateway payload per line ({"op": 0, "t": ..., "d": ...}; op may be left out)'),
    )
    for flag, setting in (("--guild", "guilds"), ("--channel", "channels"), ("--role", "roles")):
        m.add_argument(
            flag,
            action="append",
            type=_pair,
            default=[],
            metavar="ID=NAME",
            help=_("the adapter's `{setting}` setting (repeatable)").format(setting=setting),
        )
    i = sub.add_parser("import", help=_("a DiscordChatExporter JSON export → events (JSON Lines)"))
    i.add_argument("export", metavar="EXPORT.json", help=_("a channel exported as JSON"))
    i.add_argument("--community", help=_("the community name (default: the server's name)"))
    i.add_argument("-o", "--output", help=_("write the events here (default: standard output)"))


def run(args: argparse.Namespace) -> int:
    if args.discord_command == "map":
        config = MappingConfig(
            guilds=dict(args.guild), channels=dict(args.channel), roles=dict(args.role)
        )
        return map_payload_file(args.payloads, DispatchParser(config).explain)
    return _import(args)


def _import(args: argparse.Namespace) -> int:
    return import_export_file(
        args.export,
        args.output,
        lambda export, note: ExportReader(export, args.community, note),
        _("a DiscordChatExporter JSON export"),
    )


__all__ = ["configure", "run"]
