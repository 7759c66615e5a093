"""``engage-rules review``: list, approve or dismiss items flagged for review."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import StoreError
from ..i18n import N_, _
from ..model.rule_problems import in_words
from .args import parse_time
from .common import load_or_report, open_persistent_store

if TYPE_CHECKING:
    from ..store import Store


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules review``."""
    p.add_argument(
        "verb",
        nargs="?",
        default="list",
        choices=("list", "approve", "dismiss"),
        help=_("list the items (the default), or approve or dismiss one"),
    )
    p.add_argument(
        "item", nargs="?", metavar="ID", help=_("the item's id (or its first 6+ characters)")
    )
    p.add_argument("--store", required=True, metavar="URL", help=_("e.g. sqlite:///state.db"))
    p.add_argument("--playbook", metavar="P", help=_("the playbook (needed to approve)"))
    p.add_argument(
        "--actor",
        default="moderator",
        metavar="NAME",
        help=_("who gives the verdict, for the audit log (default: moderator)"),
    )
    p.add_argument(
        "--at",
        type=parse_time,
        metavar="ISO",
        help=_("when the verdict takes effect (default: now, or the store's clock if later)"),
    )
    p.add_argument(
        "--status",
        default="open",
        choices=("open", "approved", "dismissed", "all"),
        help=_("which items `list` shows (default: open)"),
    )
    p.add_argument("--json", action="store_true", help=_("`list` as JSON Lines"))


#: The statuses of review items (and `--status all`), as the messages name them.
_STATUS_WORDS = {
    "open": N_("open"),
    "approved": N_("approved"),
    "dismissed": N_("dismissed"),
    "all": N_("all"),
}


def status_word(status: str) -> str:
    """A review status as the messages say it, in the current language (the listing
    and the JSON keep the status itself)."""
    return _(_STATUS_WORDS[status]) if status in _STATUS_WORDS else status


def _review_line(item: dict[str, Any]) -> str:
    text = ""
    data = (item.get("event_json") or {}).get("data") or {}
    if isinstance(data.get("text"), str):
        text = data["text"].replace("\n", " ")
        text = text if len(text) <= 60 else text[:57] + "..."
    return "  ".join(
        [
            item["id"][:12],
            f"{item.get('status', ''):<9}",
            str(item.get("at", "")),
            f"rule={item.get('rule')}",
            f"member={item.get('member')}",
            f"reason={item.get('reason', '')!r}",
            f"text={text!r}",
        ]
    )


def cmd_review(args: argparse.Namespace) -> int:
    """``engage-rules review``: list, approve or dismiss items of the review queue."""
    from ..features.moderation.review import ReviewError, find_item, review_items

    try:
        store = open_persistent_store(args.store, args.registry)
    except StoreError as err:
        print(_("error: {message}").format(message=err), file=sys.stderr)
        return 2
    try:
        items = review_items(store.review_queue())
        if args.verb == "list":
            shown = [i for i in items if args.status == "all" or i.get("status") == args.status]
            for item in shown:
                if args.json:
                    sys.stdout.write(orjson.dumps(item).decode() + "\n")
                else:
                    print(_review_line(item))
            print(
                _("{n} item(s) {status}").format(n=len(shown), status=status_word(args.status)),
                file=sys.stderr,
            )
            return 0
        if not args.item:
            print(
                _("error: `review {verb}` needs the item's id").format(verb=args.verb),
                file=sys.stderr,
            )
            return 2
        item = find_item(items, args.item)
        verdict = args.verb
        status = "approved" if verdict == "approve" else "dismissed"
        if item.get("status") == status:
            print(
                _("review item {id} is already {status}: nothing to do").format(
                    id=item["id"][:12], status=status_word(status)
                ),
                file=sys.stderr,
            )
            return 0
        return _apply_verdict(store, item, verdict, args)
    except ReviewError as err:
        print(_("error: {message}").format(message=err), file=sys.stderr)
        return 1
    finally:
        store.close()


def _apply_verdict(
    store: Store, item: dict[str, Any], verdict: str, args: argparse.Namespace
) -> int:
    from ..engine.core import Engine
    from ..features.moderation.review import VERDICTS, ReviewError, decide_review

    done = VERDICTS[verdict]
    if verdict == "approve" and not args.playbook:
        raise ReviewError(
            _(
                "`review approve` needs --playbook, the playbook whose rule "
                "flagged the item (its on_approve actions are applied)"
            )
        )
    if args.playbook:
        loaded = load_or_report(args.playbook, args.registry)
        if loaded is None:
            return 1
        playbook = loaded
    else:
        from ..compile.compiler import compile_playbook
        from ..lang.loader import load_playbook_text

        registry = args.registry
        playbook = compile_playbook(
            load_playbook_text("engage_rules: 1\n", "<review>", registry=registry),
            registry=registry,
        )
    state = store.open()
    engine = Engine(playbook, state)
    at = args.at or datetime.now(UTC)
    if state.clock is not None and at < state.clock:
        at = state.clock
    decisions = engine.advance_to(at)
    decision = decide_review(engine, item, verdict, args.actor, at)
    if store.is_processed(decision.cause):
        print(
            _("review item {id} was already {verdict}").format(
                id=item["id"][:12], verdict=status_word(done)
            ),
            file=sys.stderr,
        )
        return 0
    store.commit([*decisions, decision], state)
    out = sys.stdout.buffer
    for d in (*decisions, decision):
        out.write(b"".join(a.to_json_bytes() + b"\n" for a in d.actions))
    out.flush()
    for error in decision.errors:
        text = _("rule {rule}: {message}").format(rule=error.rule, message=in_words(error.message))
        print(f"  {text}", file=sys.stderr)
    print(
        _("review item {id} {verdict} by {actor}: {n} action(s)").format(
            id=item["id"][:12], verdict=status_word(done), actor=args.actor, n=len(decision.actions)
        ),
        file=sys.stderr,
    )
    return 0
