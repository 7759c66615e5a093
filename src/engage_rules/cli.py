"""The ``engage-rules`` command line (DESIGN.md §7)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .cli_common import feed_events, load_or_report
from .cli_explain import add_explain_parser
from .decision import RuleError
from .errors import PlaybookError, StoreError

if TYPE_CHECKING:
    from .reader import Quarantined
    from .runner import Runner
    from .store import Store

MAX_ERRORS_SHOWN = 20


def _parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset (Z or ±HH:MM)")
    from .events import MAX_TIME, MIN_TIME

    try:
        inside = MIN_TIME <= value < MAX_TIME
    except OverflowError:
        inside = False
    if not inside:
        raise argparse.ArgumentTypeError(
            f"{text!r} is outside the times engage_rules handles "
            f"({MIN_TIME.year} to {MAX_TIME.year - 1}, UTC)")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _duration_seconds(text: str) -> float:
    from .durations import parse_duration

    if text.strip() == "0":
        return 0.0
    try:
        return float(parse_duration(text).total_seconds())
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def cmd_validate(args: argparse.Namespace) -> int:
    from .compiler import load

    failed = False
    notes: list[str] = []
    for path in args.paths:
        try:
            compiled = load(path)
        except PlaybookError as err:
            failed = True
            for problem in err.problems:
                print(problem, file=sys.stderr)
        except OSError as err:
            failed = True
            print(f"{path}:0:0: cannot read: {err.strerror or err}", file=sys.stderr)
        except Exception as err:  # a bug: still one problem line, never a traceback
            if os.environ.get(DEBUG_ENV):
                raise
            failed = True
            print(f"{path}:0:0: internal error while checking this playbook: "
                  f"{_internal(err)}", file=sys.stderr)
        else:
            if compiled.loaded is not None:  # warnings do not fail validation
                for warning in compiled.loaded.warnings:
                    print(warning, file=sys.stderr)
            # Notes are not problems: never in the `file:line:col: message` form.
            notes += [f"note: {n.file}, line {n.line}: {n.message.removeprefix('note: ')}"
                      for n in compiled.notes]
    if not failed and not args.quiet:
        for note in notes:
            print(note, file=sys.stderr)
        print(f"ok: {len(args.paths)} playbook(s) valid", file=sys.stderr)
    return 1 if failed else 0


def cmd_test(args: argparse.Namespace) -> int:
    from .playbook_tests import run_tests

    return run_tests(args.paths, update=args.update)


def cmd_schema(args: argparse.Namespace) -> int:
    from .schema import playbook_json_schema

    sys.stdout.write(orjson.dumps(playbook_json_schema(), option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from .cli_common import first_event
    from .reader import read_events
    from .replay_output import ActionOutput, replay_key
    from .runner import REPLAY_BATCH_SECONDS, REPLAY_BATCH_SIZE, Runner, tune_gc
    from .store import open_store

    if args.compare is not None:
        from .cli_compare import cmd_replay_compare

        return cmd_replay_compare(args)
    if args.json:
        print("error: --json is for --compare; a replay writes its actions as JSON Lines",
              file=sys.stderr)
        return 2
    playbook = load_or_report(args.playbook)
    if playbook is None:
        return 1
    try:  # the input's first event names the replay (replay_output.py)
        first_id, items = first_event(read_events(args.events))
    except OSError as err:
        print(f"error: cannot read events: {err.strerror or err}", file=sys.stderr)
        return 2
    store = open_store(args.store or "memory:")
    output = ActionOutput(args.actions_out, sys.stdout.buffer)
    errors: list[RuleError] = []
    tune_gc()
    batch_size = (args.batch_size or getattr(store, "preferred_batch_size", None)
                  or REPLAY_BATCH_SIZE)
    try:
        runner = Runner(playbook, store, on_commit=output.write, on_error=errors.append,
                        batch_size=batch_size, max_batch_seconds=REPLAY_BATCH_SECONDS,
                        trace=args.trace, trace_retention=args.trace_keep or None)
        key = replay_key(playbook.name, first_id)
        output.start(store, key)
        quarantined: list[Quarantined] = []
        try:
            feed_events(items, [runner], args.until, quarantined)
        except OSError as err:
            print(f"error: cannot read events: {err.strerror or err}", file=sys.stderr)
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
    for kind in output.resumed:
        runner.stats.actions[kind] += 1
    _summary(runner, quarantined, errors)
    if output.resumed:
        where = f"already in {args.actions_out}" if args.actions_out else "printed again"
        print(f"resumed: {len(output.resumed)} action(s) committed by an earlier run of "
              f"this replay were {where}", file=sys.stderr)
    if output.rewritten:
        print(f"note: {output.rewritten}", file=sys.stderr)
    return 0


def _summary(runner: Runner, quarantined: list[Quarantined], errors: list[RuleError]) -> None:
    s = runner.stats
    err = sys.stderr
    total_q = sum(s.quarantined.values())
    print(
        f"events: {s.read + total_q} read, {s.processed} processed, "
        f"{s.duplicates} duplicate, {total_q} quarantined",
        file=err,
    )
    for reason, n in sorted(s.quarantined.items()):
        lines = [str(q.line) for q in quarantined if q.reason == reason][:10]
        if lines:  # none for the second run of a comparison: listed under the first
            print(f"  quarantined {reason}: {n} (lines {', '.join(lines)})", file=err)
    for q in quarantined[:MAX_ERRORS_SHOWN]:
        print(f"  line {q.line}: {q.reason}: {q.message}", file=err)
    if s.late:
        print(f"late events (older than the clock): {s.late}", file=err)
    print(f"timers fired: {s.timers_fired}", file=err)
    total_a = sum(s.actions.values())
    by_type = ", ".join(f"{t}: {n}" for t, n in sorted(s.actions.items()))
    print(f"actions: {total_a}" + (f" ({by_type})" if by_type else ""), file=err)
    if s.shadow:  # rules in shadow mode: recorded with "shadow": true, never delivered
        shadow = ", ".join(f"{t}: {n}" for t, n in sorted(s.shadow.items()))
        print(f"shadow actions (not delivered): {sum(s.shadow.values())} ({shadow})",
              file=err)
    if s.messages:  # the messaging policy at work (DESIGN.md §5.8)
        parts = ", ".join(f"{k}: {n}" for k, n in sorted(s.messages.items()))
        print(f"messages: {parts}", file=err)
    print(f"rule errors: {s.rule_errors}", file=err)
    for e in errors[:MAX_ERRORS_SHOWN]:
        print(f"  rule {e.rule} on {e.cause}: {e.message}", file=err)
    if len(errors) > MAX_ERRORS_SHOWN:
        print(f"  ... and {len(errors) - MAX_ERRORS_SHOWN} more", file=err)


def _open_persistent_store(url: str) -> Store:
    from .store import open_store

    if url.strip().lower().startswith("memory"):
        raise StoreError("a memory: store keeps nothing between commands; give the store "
                         "the engine wrote, e.g. --store sqlite:///state.db")
    return open_store(url)


def _review_line(item: dict[str, Any]) -> str:
    text = ""
    data = (item.get("event_json") or {}).get("data") or {}
    if isinstance(data.get("text"), str):
        text = data["text"].replace("\n", " ")
        text = text if len(text) <= 60 else text[:57] + "..."
    return "  ".join([
        item["id"][:12], f"{item.get('status', ''):<9}", str(item.get("at", "")),
        f"rule={item.get('rule')}", f"member={item.get('member')}",
        f"reason={item.get('reason', '')!r}", f"text={text!r}",
    ])


def cmd_review(args: argparse.Namespace) -> int:
    from .review import ReviewError, find_item, review_items

    try:
        store = _open_persistent_store(args.store)
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
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
            print(f"{len(shown)} item(s) {args.status}", file=sys.stderr)
            return 0
        if not args.item:
            print(f"error: `review {args.verb}` needs the item's id", file=sys.stderr)
            return 2
        item = find_item(items, args.item)
        verdict = args.verb
        status = "approved" if verdict == "approve" else "dismissed"
        if item.get("status") == status:
            print(f"review item {item['id'][:12]} is already {status}: nothing to do",
                  file=sys.stderr)
            return 0
        return _apply_verdict(store, item, verdict, args)
    except ReviewError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _apply_verdict(store: Store, item: dict[str, Any], verdict: str,
                   args: argparse.Namespace) -> int:
    from .engine import Engine
    from .review import VERDICTS, ReviewError, decide_review

    done = VERDICTS[verdict]
    if verdict == "approve" and not args.playbook:
        raise ReviewError("`review approve` needs --playbook, the playbook whose rule "
                          "flagged the item (its on_approve actions are applied)")
    if args.playbook:
        loaded = load_or_report(args.playbook)
        if loaded is None:
            return 1
        playbook = loaded
    else:
        from .compiler import compile_playbook
        from .loader import load_playbook_text

        playbook = compile_playbook(load_playbook_text("engage_rules: 1\n", "<review>"))
    state = store.open()
    engine = Engine(playbook, state)
    at = args.at or datetime.now(UTC)
    if state.clock is not None and at < state.clock:
        at = state.clock
    decisions = engine.advance_to(at)
    decision = decide_review(engine, item, verdict, args.actor, at)
    if store.is_processed(decision.cause):
        print(f"review item {item['id'][:12]} was already {done}", file=sys.stderr)
        return 0
    store.commit([*decisions, decision], state)
    out = sys.stdout.buffer
    for d in (*decisions, decision):
        out.write(b"".join(a.to_json_bytes() + b"\n" for a in d.actions))
    out.flush()
    for error in decision.errors:
        print(f"  rule {error.rule}: {error.message}", file=sys.stderr)
    print(f"review item {item['id'][:12]} {done} by {args.actor}: "
          f"{len(decision.actions)} action(s)", file=sys.stderr)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    try:
        store = _open_persistent_store(args.store)
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        entries = [e for e in store.audit_log()
                   if (args.member is None or e.get("member") == args.member)
                   and (args.rule is None or e.get("rule") == args.rule)]
    finally:
        store.close()
    data = b"".join(orjson.dumps(e) + b"\n" for e in entries)
    if args.out:
        Path(args.out).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    print(f"{len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engage-rules",
        description="Run a community's engagement and moderation playbook.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check playbooks; print file:line:col problems")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing when valid")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("replay", help="process a JSONL event file with a virtual clock")
    p.add_argument("playbook", metavar="PLAYBOOK")
    p.add_argument("events", metavar="EVENTS", help="JSON Lines file, or - for stdin")
    p.add_argument("--until", type=_parse_time, metavar="ISO",
                   help="advance the clock to this time at the end, firing due timers")
    p.add_argument("--actions-out", metavar="F", help="write actions here instead of stdout")
    p.add_argument("--state-out", metavar="F", help="write the final state snapshot (JSON)")
    p.add_argument("--store", default=None, metavar="URL",
                   help="memory: (default) or sqlite:///path/state.db")
    p.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                   help="events per durable commit (default: 50000, or up to 2 s of "
                        "events, for SQLite); smaller batches redo less after a crash")
    p.add_argument("--trace", action="store_true",
                   help="record rule traces in the store, for `explain`")
    p.add_argument("--trace-keep", type=_duration_seconds, default=30 * 86400.0,
                   metavar="DURATION",
                   help="keep traces this long in event time (default 30d; 0 = forever)")
    p.add_argument("--compare", metavar="OTHER",
                   help="also replay the events with playbook OTHER and print how its "
                        "actions and final state differ from PLAYBOOK's (a backtest)")
    p.add_argument("--json", action="store_true",
                   help="with --compare: the comparison as one JSON document")
    p.set_defaults(func=cmd_replay)

    add_explain_parser(sub, _parse_time)

    p = sub.add_parser("review", help="list, approve or dismiss items flagged for review")
    p.add_argument("verb", nargs="?", default="list", choices=("list", "approve", "dismiss"))
    p.add_argument("item", nargs="?", metavar="ID", help="the item's id (or its first 6+ "
                   "characters)")
    p.add_argument("--store", required=True, metavar="URL", help="e.g. sqlite:///state.db")
    p.add_argument("--playbook", metavar="P", help="the playbook (needed to approve)")
    p.add_argument("--actor", default="moderator", metavar="NAME",
                   help="who gives the verdict, for the audit log (default: moderator)")
    p.add_argument("--at", type=_parse_time, metavar="ISO",
                   help="when the verdict takes effect (default: now, or the store's "
                        "clock if later)")
    p.add_argument("--status", default="open",
                   choices=("open", "approved", "dismissed", "all"),
                   help="which items `list` shows (default: open)")
    p.add_argument("--json", action="store_true", help="`list` as JSON Lines")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("audit", help="export the moderation audit log as JSON Lines")
    p.add_argument("--store", required=True, metavar="URL", help="e.g. sqlite:///state.db")
    p.add_argument("--out", metavar="F", help="write to this file instead of stdout")
    p.add_argument("--member", metavar="ID", help="only entries about this member")
    p.add_argument("--rule", metavar="ID", help="only entries of this rule")
    p.set_defaults(func=cmd_audit)

    from .report.command import cmd_report
    from .report.command import configure as configure_report

    p = sub.add_parser("report", help="activity, growth, retention and conversion figures, "
                       "as tables or an HTML report with charts")
    configure_report(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("test", help="run playbook test files (*.test.yaml)")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="test files, or folders searched recursively for *.test.yaml")
    p.add_argument("--update", action="store_true",
                   help="also write each file's observed results to "
                        "<name>.observed.test.yaml, for review")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("schema", help="print the JSON Schema of the playbook language")
    p.set_defaults(func=cmd_schema)

    from .cli_plugins import add_plugins_command

    add_plugins_command(sub)

    from .runtime.cli import cmd_run
    from .runtime.cli import configure as configure_run

    p = sub.add_parser("run", help="the live runtime: sources → engine → store → adapters")
    configure_run(p)
    p.set_defaults(func=cmd_run)

    from .cli_plugins import add_plugin_commands

    add_plugin_commands(sub)  # after every built-in command: a plugin cannot shadow one
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .plugins import PluginError

    try:
        parser = build_parser()
    except PluginError as err:
        print(f"engage-rules: {err}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    bundled_time_zones()
    try:
        code: int = args.func(args)
    except StoreError as err:  # opening, writing or reading a store failed
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug: one line (ENGAGE_RULES_DEBUG=1 shows where)
        if os.environ.get(DEBUG_ENV):
            raise
        print(f"engage-rules: internal error: {_internal(err)}", file=sys.stderr)
        return 2
    return code


#: Set to 1 to let unexpected errors show their traceback.
DEBUG_ENV = "ENGAGE_RULES_DEBUG"


def _internal(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return (f"{type(err).__name__}: {text[:300]} (this is a bug in engage_rules or a "
            f"plugin: please report it; set {DEBUG_ENV}=1 to see where it happened)")


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
