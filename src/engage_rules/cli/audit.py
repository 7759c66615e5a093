"""``engage-rules audit --store URL``: export the moderation audit log as JSON Lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from ..errors import StoreError
from ..i18n import _, ngettext
from .common import open_persistent_store


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules audit``."""
    p.add_argument("--store", required=True, metavar="URL", help=_("e.g. sqlite:///state.db"))
    p.add_argument("--out", metavar="F", help=_("write to this file instead of stdout"))
    p.add_argument("--member", metavar="ID", help=_("only entries about this member"))
    p.add_argument("--rule", metavar="ID", help=_("only entries of this rule"))


def cmd_audit(args: argparse.Namespace) -> int:
    """``engage-rules audit``: export the audit log of a store."""
    try:
        store = open_persistent_store(args.store, args.registry)
    except StoreError as err:
        print(_("error: {message}").format(message=err), file=sys.stderr)
        return 2
    try:
        entries = [
            e
            for e in store.audit_log()
            if (args.member is None or e.get("member") == args.member)
            and (args.rule is None or e.get("rule") == args.rule)
        ]
    finally:
        store.close()
    data = b"".join(orjson.dumps(e) + b"\n" for e in entries)
    if args.out:
        Path(args.out).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    count = len(entries)
    print(ngettext("{n} audit entry", "{n} audit entries", count).format(n=count), file=sys.stderr)
    return 0
