"""``engage-rules onebot map`` and ``engage-rules onebot import``: OneBot payloads read
offline into engine events, one JSON object a line (docs/reference.md §1).

* ``map PAYLOADS.jsonl`` — one OneBot event payload a line.  A payload that maps to no
  event prints nothing and a note on stderr; a line that cannot be read is reported on
  stderr with its line number, and the rest is read.
* ``import EXPORT.json`` — a ``get_group_msg_history`` answer
  (``{"data": {"messages": [...]}}``), its ``data`` alone, or a list of such answers or
  of message events: every group message becomes a ``message.posted`` event.

Both exit 0 unless the file cannot be read (2).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from engage_rules.plugin_api import Event, PayloadError

from .i18n import _
from .mapping import MappingConfig, parse_payload


def event_json(event: Event) -> dict[str, Any]:
    """An event as the JSON object ``engage-rules replay`` reads."""
    out: dict[str, Any] = {"id": event.id, "type": event.type, "at": event.at.isoformat()}
    out["community"] = event.community
    for name in ("platform", "channel"):
        value = getattr(event, name)
        if value is not None:
            out[name] = value
    if event.member is not None:
        member: dict[str, Any] = {"id": event.member.id}
        if event.member.name is not None:
            member["name"] = event.member.name
        if event.member.roles:
            member["roles"] = list(event.member.roles)
        out["member"] = member
    out["data"] = dict(event.data)
    return out


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="onebot_command", required=True, metavar="COMMAND")
    for name, what, help_text in (
        ("map", "PAYLOADS", _("OneBot event payloads (JSON Lines) → engine events")),
        ("import", "EXPORT", _("a get_group_msg_history answer (JSON) → engine events")),
    ):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("file", metavar=what, help=_("the file to read ('-': standard input)"))
        p.add_argument(
            "--group",
            action="append",
            default=[],
            metavar="NUMBER=COMMUNITY",
            help=_("name a group's community (repeat; when given, other groups are skipped)"),
        )
        p.add_argument(
            "--private-community",
            metavar="NAME",
            help=_("the community private messages count in (default: they are skipped)"),
        )
        p.add_argument("--platform", default="onebot", help=_("the platform events carry"))


def _config(args: argparse.Namespace) -> MappingConfig:
    groups = {}
    for item in args.group:
        number, sep, name = str(item).partition("=")
        if not sep or not number.isdigit() or not name:
            raise ValueError(_("--group {item!r}: expected NUMBER=COMMUNITY").format(item=item))
        groups[number] = name
    return MappingConfig(groups, args.private_community, args.platform)


def run(args: argparse.Namespace) -> int:
    try:
        config = _config(args)
    except ValueError as err:
        print(f"engage-rules onebot: {err}", file=sys.stderr)
        return 2
    try:
        if args.file == "-":
            text = sys.stdin.read()
        else:
            with open(args.file, encoding="utf-8") as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as err:
        message = _("cannot read {file}: {reason}").format(file=args.file, reason=err)
        print(f"engage-rules onebot: {message}", file=sys.stderr)
        return 2
    if args.onebot_command == "map":
        map_lines(text, config, sys.stdout, sys.stderr, args.file)
        return 0
    try:
        messages = list(history_messages(json.loads(text)))
    except (ValueError, PayloadError) as err:
        message = _("not a message history: {reason}").format(reason=err)
        print(f"engage-rules onebot: {args.file}: {message}", file=sys.stderr)
        return 2
    for i, message in enumerate(messages):
        where = _("{file}: message {n}").format(file=args.file, n=i + 1)
        _emit(message, config, sys.stdout, sys.stderr, where)
    return 0


def map_lines(text: str, config: MappingConfig, out: TextIO, err: TextIO, name: str) -> None:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            payload = json.loads(line)
        except ValueError as error:
            print(f"{where}: " + _("not JSON: {reason}").format(reason=error), file=err)
            continue
        _emit(payload, config, out, err, where)


def _emit(payload: Any, config: MappingConfig, out: TextIO, err: TextIO, where: str) -> None:
    try:
        events = parse_payload(payload, config)
    except PayloadError as error:
        print(f"{where}: {error}", file=err)
        return
    if not events:
        kind = payload.get("post_type") if isinstance(payload, Mapping) else None
        text = _("maps to no event ({kind} payload)").format(kind=kind or "unknown")
        print(f"{where}: {text}", file=err)
    for event in events:
        out.write(json.dumps(event_json(event), ensure_ascii=False) + "\n")


def history_messages(value: Any) -> Iterator[Any]:
    """The message events of a ``get_group_msg_history`` answer (or several)."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping) and "post_type" in item:
                yield item
            else:
                yield from history_messages(item)
        return
    if not isinstance(value, Mapping):
        raise PayloadError(_("expected an object or an array"))
    data = value.get("data", value)
    if not isinstance(data, Mapping) or not isinstance(data.get("messages"), list):
        raise PayloadError(_("expected `data.messages`: an array of message events"))
    yield from data["messages"]


__all__ = ["configure", "event_json", "history_messages", "map_lines", "run"]
