"""``engage-rules replay PLAYBOOK EVENTS``: process a JSON Lines event file with a
virtual clock (and ``--compare OTHER``: the backtest of a playbook change)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from ..i18n import _
from ..model.decision import RuleFailure
from .args import duration_seconds, parse_time, positive_int
from .common import feed_events, first_errors, load_or_report, print_summary

if TYPE_CHECKING:
    from ..shell.reader import Quarantined


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules replay``."""
    p.add_argument("playbook", metavar="PLAYBOOK", help=_("the playbook: a file or a folder"))
    p.add_argument("events", metavar="EVENTS", help=_("JSON Lines file, or - for stdin"))
    p.add_argument(
        "--until",
        type=parse_time,
        metavar="ISO",
        help=_("advance the clock to this time at the end, firing due timers"),
    )
    p.add_argument("--actions-out", metavar="F", help=_("write actions here instead of stdout"))
    p.add_argument("--state-out", metavar="F", help=_("write the final state snapshot (JSON)"))
    p.add_argument(
        "--store",
        default=None,
        metavar="URL",
        help=_("memory: (default) or sqlite:///path/state.db"),
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help=_(
            "events per durable commit (default: 50000, or up to 2 s of "
            "events, for SQLite); smaller batches redo less after a crash"
        ),
    )
    p.add_argument(
        "--trace", action="store_true", help=_("record rule traces in the store, for `explain`")
    )
    p.add_argument(
        "--trace-keep",
        type=duration_seconds,
        default=30 * 86400.0,
        metavar="DURATION",
        help=_("keep traces this long in event time (default 30d; 0 = forever)"),
    )
    p.add_argument(
        "--dedup-window",
        type=duration_seconds,
        default=30 * 86400.0,
        metavar="DURATION",
        help=_(
            "remember processed event ids this long in event time (default 30d; "
            "0 = forever); an event dated before what was forgotten is quarantined "
            "(beyond_dedup_window)"
        ),
    )
    p.add_argument(
        "--compare",
        metavar="OTHER",
        help=_(
            "also replay the events with playbook OTHER and print how its "
            "actions and final state differ from PLAYBOOK's (a backtest)"
        ),
    )
    p.add_argument(
        "--json", action="store_true", help=_("with --compare: the comparison as one JSON document")
    )


def cmd_replay(args: argparse.Namespace) -> int:
    """``engage-rules replay``: run a playbook over an event file and print the actions."""
    from ..shell.interpreter import BatchCollector, tune_interpreter
    from ..shell.reader import read_events
    from ..shell.replay_output import ActionOutput, replay_key
    from ..shell.runner import REPLAY_BATCH_SECONDS, REPLAY_BATCH_SIZE, Runner
    from ..store import open_store
    from .common import first_event

    if args.compare is not None:
        from .compare import cmd_replay_compare

        return cmd_replay_compare(args)
    if args.json:
        print(
            _("error: --json is for --compare; a replay writes its actions as JSON Lines"),
            file=sys.stderr,
        )
        return 2
    playbook = load_or_report(args.playbook, args.registry)
    if playbook is None:
        return 1
    try:  # the input's first event names the replay (replay_output.py)
        first_id, items = first_event(read_events(args.events))
    except OSError as err:
        reason = err.strerror or err
        print(_("error: cannot read events: {reason}").format(reason=reason), file=sys.stderr)
        return 2
    store = open_store(args.store or "memory:", registry=args.registry)
    output = ActionOutput(args.actions_out, sys.stdout.buffer)
    errors: list[RuleFailure] = []
    tune_interpreter()
    # (stopped below whatever happens: the process may go on, as main() in a test does)
    collector = BatchCollector()
    batch_size = (
        args.batch_size or getattr(store, "preferred_batch_size", None) or REPLAY_BATCH_SIZE
    )
    try:
        runner = Runner(
            playbook,
            store,
            on_commit=output.write,
            on_error=first_errors(errors),
            batch_size=batch_size,
            max_batch_seconds=REPLAY_BATCH_SECONDS,
            trace=args.trace,
            trace_retention=args.trace_keep or None,
            dedup_window=args.dedup_window or None,
            collector=collector,
        )
        key = replay_key(playbook.name, first_id)
        output.start(store, key)
        quarantined: list[Quarantined] = []
        try:
            feed_events(items, [runner], args.until, quarantined)
        except BrokenPipeError:  # our output's reader left (`| head`): main() ends quietly
            raise
        except OSError as err:
            reason = err.strerror or err
            print(_("error: cannot read events: {reason}").format(reason=reason), file=sys.stderr)
            return 2
        store.end_replay(key)
        if args.state_out:
            snapshot = runner.state.snapshot()
            Path(args.state_out).write_bytes(
                orjson.dumps(snapshot, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
            )
        runner.close()
    finally:
        output.close()
        store.close()
        collector.stop()
    for kind in output.resumed:
        runner.stats.actions[kind] += 1
    print_summary(runner.stats, quarantined, errors)
    if output.resumed:
        if args.actions_out:
            text = _(
                "resumed: {n} action(s) committed by an earlier run of this replay were "
                "already in {file}"
            )
        else:
            text = _(
                "resumed: {n} action(s) committed by an earlier run of this replay were "
                "printed again"
            )
        print(text.format(n=len(output.resumed), file=args.actions_out), file=sys.stderr)
    if output.rewritten:
        print(_("note: {message}").format(message=output.rewritten), file=sys.stderr)
    return 0
