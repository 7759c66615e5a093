"""The `explain` command: answers from a store's traces, or from a traced replay."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from .._util.suggest import did_you_mean
from ..errors import StoreError
from ..i18n import _
from ..store import Store
from ..tools.explain import explain_event, explain_member
from .args import parse_time
from .common import feed_events, load_or_report, open_persistent_store


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules explain``."""
    p.description = _(
        "Explain, from rule traces, what every rule made of an event, or of "
        "a member's events.  Give --store (a store written with tracing on), "
        "or a playbook and an event file to replay here with tracing on."
    )
    p.add_argument(
        "playbook",
        nargs="?",
        metavar="PLAYBOOK",
        help=_("the playbook to replay: a file or a folder"),
    )
    p.add_argument("events", nargs="?", metavar="EVENTS", help=_("JSON Lines file, or -"))
    p.add_argument("--store", metavar="URL", help=_("read traces from this store instead"))
    p.add_argument(
        "--until",
        type=parse_time,
        metavar="ISO",
        help=_("with a replay: advance the clock to this time at the end"),
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--event", metavar="ID", help=_("explain one event (and what it raised)"))
    what.add_argument("--member", metavar="ID", help=_("explain a member's events"))
    p.add_argument("--rule", metavar="ID", help=_("only this rule"))
    p.add_argument("--community", metavar="NAME", help=_("the member's community"))
    p.add_argument("--json", action="store_true", help=_("print the traces as JSON"))


def cmd_explain(args: argparse.Namespace) -> int:
    """``engage-rules explain``: what every rule made of an event, or of a member's events."""
    if args.store is not None and (args.playbook or args.events):
        print(_("error: give either --store or a playbook and events, not both"), file=sys.stderr)
        return 2
    if args.store is None and not (args.playbook and args.events):
        print(
            _("error: give a playbook and an event file to replay, or --store URL"),
            file=sys.stderr,
        )
        return 2
    known: list[str] = []
    try:
        if args.store is not None:
            store = open_persistent_store(args.store, args.registry)
        else:
            replayed = _replay(args)
            if isinstance(replayed, int):
                return replayed
            store, known = replayed
        traces = _find(store, args)
    except StoreError as err:
        print(_("error: {message}").format(message=err), file=sys.stderr)
        return 2
    if args.rule is not None:
        named = set(known) | {r["rule"] for t in traces for r in t["rules"]}
        if args.rule not in named and (known or traces):
            print(
                _("error: no rule is named {rule!r}{hint}").format(
                    rule=args.rule, hint=did_you_mean(args.rule, sorted(named))
                ),
                file=sys.stderr,
            )
            return 1
    if args.rule is not None and args.event is not None:  # --member filters in the view
        for t in traces:
            t["rules"] = [r for r in t["rules"] if r["rule"] == args.rule]
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(traces, option=orjson.OPT_INDENT_2) + b"\n")
        return 0 if traces else 1
    if args.event is not None:
        print(explain_event(traces, args.event))
    else:
        print(explain_member(traces, args.member, args.rule, known))
    return 0 if traces else 1


def _find(store: Store, args: argparse.Namespace) -> list[dict[str, Any]]:
    try:
        if args.event is not None:
            return store.traces(cause=args.event) or store.traces(event=args.event)
        return store.traces(member=args.member, community=args.community)
    finally:
        store.close()


def _replay(args: argparse.Namespace) -> tuple[Store, list[str]] | int:
    """Replay the events in memory with tracing on; the store holds every trace."""
    from ..shell.runner import Runner
    from ..store import MemoryStore

    playbook = load_or_report(args.playbook, args.registry)
    if playbook is None:
        return 1
    store = MemoryStore()
    runner = Runner(playbook, store, trace=True, trace_retention=None)
    try:
        feed_events(args.events, [runner], args.until, [])
    except BrokenPipeError:  # our output's reader left (`| head`): main() ends quietly
        raise
    except OSError as err:
        print(_("error: cannot read events: {reason}").format(reason=err), file=sys.stderr)
        return 2
    return store, [r.id for r in playbook.rules]
