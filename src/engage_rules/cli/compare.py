"""``engage-rules replay PLAYBOOK EVENTS --compare OTHER``: the backtest of a playbook change.

The events are read once and each one is fed to two in-memory runners, one per playbook,
so both see exactly the same stream (quarantined lines are counted once).  Both clocks
are then advanced to ``--until``, and ``compare`` tells what the other playbook would do
differently.  Differences are the point of the command, not failures: it exits 0 once
both replays complete.

The replay is the one part of :mod:`~engage_rules.tools.partition` that holds every
community; ``backtest`` runs many parts on Dask and reports them with
:func:`report_parts`, as this command does its one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson

from ..compile.playbook import CompiledPlaybook
from ..i18n import _
from ..plugins.registry import Registry
from .common import FEED_CHUNK, Progress, load_or_report, print_summary

if TYPE_CHECKING:
    from ..shell.reader import Quarantined
    from ..tools.partition import PartResult, Refused

#: Replay options that write one run's output: with two runs they have no single meaning.
_ONE_RUN_OPTIONS = (
    ("store", "--store"),
    ("actions_out", "--actions-out"),
    ("state_out", "--state-out"),
)


def load_all(paths: Sequence[str], registry: Registry) -> list[CompiledPlaybook] | None:
    """Every playbook, or None after printing every problem of each."""
    loaded = [load_or_report(path, registry) for path in paths]  # every problem printed
    found = [pb for pb in loaded if pb is not None]
    return found if len(found) == len(paths) else None


def cmd_replay_compare(args: argparse.Namespace) -> int:
    """``engage-rules replay --compare``: replay the events under two playbooks and compare."""
    from ..model.events import Event
    from ..shell.reader import read_events
    from ..tools.partition import PartitionRun, Refused

    for attribute, option in _ONE_RUN_OPTIONS:
        if getattr(args, attribute):
            print(
                _(
                    "error: {option} cannot be used with --compare, which replays both "
                    "playbooks in memory; run `replay` without --compare for {option}"
                ).format(option=option),
                file=sys.stderr,
            )
            return 2
    paths = [args.playbook, args.compare]
    playbooks = load_all(paths, args.registry)
    if playbooks is None:
        return 1
    part = PartitionRun(playbooks, batch_size=args.batch_size, dedup_window=args.dedup_window)
    progress = Progress(sys.stderr)
    try:
        chunk: list[tuple[int, Event]] = []
        refused: list[Quarantined] = []
        for line, item in read_events(args.events):
            if isinstance(item, Event):
                chunk.append((line, item))
            else:
                refused.append(item)
            if len(chunk) + len(refused) == FEED_CHUNK:
                part.feed(chunk, refused=refused)
                chunk, refused = [], []
                progress.update(part.sides[0].runner.stats.read)
        part.feed(chunk, refused=refused)
    except BrokenPipeError:  # our output's reader left (`| head`): main() ends quietly
        raise
    except OSError as err:
        reason = err.strerror or err
        print(_("error: cannot read events: {reason}").format(reason=reason), file=sys.stderr)
        return 2
    finally:
        progress.done()
    result = part.finish(args.until, paths)
    report_parts(args, paths, playbooks, [result], Refused())
    return 0


def report_parts(
    args: argparse.Namespace,
    paths: Sequence[str],
    playbooks: Sequence[CompiledPlaybook],
    parts: Sequence[PartResult],
    refused: Refused,
) -> None:
    """Print what the parts of a stream replayed: each run's summary on stderr (labelled
    ``A:``/``B:`` when comparing; ``refused``: the lines quarantined before any part saw
    them), then the comparison — or, with one playbook, its totals — on stdout, as text
    or (``args.json``) JSON."""
    from ..shell.reader import keep_for_summary
    from ..shell.runner import RunStats
    from ..tools.compare import RunSide, comparison_json, merge_parts
    from ..tools.compare_render import render
    from ..tools.totals import RunTotals, render_totals, totals_json

    kept: list[Quarantined] = []
    for q in sorted([*refused.kept, *(q for p in parts for q in p.quarantined)], key=_line):
        keep_for_summary(kept, q)
    sides = [
        RunSide(path, pb.name, tuple(r.id for r in pb.rules))
        for path, pb in zip(paths, playbooks, strict=True)
    ]
    for i, side in enumerate(sides):
        stats = RunStats()
        stats.quarantined.update(refused.counts)
        for p in parts:
            stats.add(p.sides[i].stats)
        errors = sorted((e for p in parts for e in p.sides[i].errors), key=lambda e: e[0])
        if len(sides) > 1:
            print(f"{'AB'[i]}: {side.label} ({side.name})", file=sys.stderr)
        # The quarantined lines are listed once, under A: B read the same stream.
        print_summary(stats, kept if i == 0 else [], [e for _line, e in errors])
    if len(sides) == 2:
        comparison = merge_parts(sides[0], sides[1], (p.comparison for p in parts if p.comparison))
        doc = comparison_json(comparison) if args.json else None
        text = None if args.json else render(comparison)
    else:
        totals = RunTotals()
        for p in parts:
            if p.totals is not None:
                totals.add(p.totals)
        doc = totals_json(sides[0], totals) if args.json else None
        text = None if args.json else render_totals(sides[0], totals)
    if doc is not None:
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(text or "")
        sys.stdout.flush()


def _line(q: Quarantined) -> int:
    return q.line
