"""``engage-rules telegram map`` and ``engage-rules telegram import`` (registered through
the ``register_commands`` hook by :mod:`.plugin`).

* ``map PAYLOADS.jsonl`` — one Bot API ``Update`` per line → the events the live adapter
  makes of each (the same :class:`.parser.UpdateParser`), one JSON line per event on
  standard output; notes on standard error for updates that make no event and for lines
  that cannot be read.  Exit 0 unless the file cannot be read.
* ``import EXPORT.json`` — a Telegram Desktop chat export → events (JSON Lines) for
  ``engage-rules replay``, ``compare`` and ``report``.
"""

from __future__ import annotations

import argparse

from engage_rules.plugin_api import import_export_file, map_payload_file

from .export import ExportReader
from .i18n import _
from .mapping import MappingConfig
from .parser import UpdateParser


def _chat(value: str) -> tuple[str, str]:
    chat, sep, name = value.partition("=")
    try:
        return str(int(chat)), name if sep and name else str(int(chat))
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{value!r} is not CHAT_ID=COMMUNITY").format(value=value)
        ) from None


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="telegram_command", required=True, metavar="COMMAND")
    m = sub.add_parser(
        "map", help=_("map Bot API updates (JSON Lines) to the events the adapter makes")
    )
    m.add_argument("payloads", metavar="PAYLOADS.jsonl", help=_("one Update object per line"))
    m.add_argument(
        "--chat",
        action="append",
        type=_chat,
        default=[],
        metavar="CHAT_ID=COMMUNITY",
        help=_(
            "the adapter's `chats` setting (repeatable; default: every group, its id "
            "as the community)"
        ),
    )
    m.add_argument(
        "--member-updates",
        choices=("chat_member", "service_messages"),
        default="chat_member",
        help=_("the adapter's `member_updates` setting"),
    )
    i = sub.add_parser("import", help=_("a Telegram Desktop chat export → events (JSON Lines)"))
    i.add_argument("export", metavar="EXPORT.json", help=_("result.json of an exported chat"))
    i.add_argument("--community", help=_("the community name (default: the chat's name)"))
    i.add_argument("-o", "--output", help=_("write the events here (default: standard output)"))


def run(args: argparse.Namespace) -> int:
    if args.telegram_command == "map":
        config = MappingConfig(chats=dict(args.chat), member_updates=args.member_updates)
        parser = UpdateParser(config, author_cache=100_000)
        return map_payload_file(args.payloads, parser.explain)
    return _import(args)


def _import(args: argparse.Namespace) -> int:
    return import_export_file(
        args.export,
        args.output,
        lambda export, note: ExportReader(export, args.community, note),
        _("a Telegram Desktop chat export"),
    )


__all__ = ["configure", "run"]
