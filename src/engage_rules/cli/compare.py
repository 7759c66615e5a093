"""``engage-rules replay PLAYBOOK EVENTS --compare OTHER``: the backtest of a playbook change.

The events are read once and each one is fed to two in-memory runners, one per playbook,
so both see exactly the same stream (quarantined lines are counted once).  Both clocks
are then advanced to ``--until``, and ``compare`` tells what the other playbook would do
differently.  Differences are the point of the command, not failures: it exits 0 once
both replays complete.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import orjson

from ..compile.playbook import CompiledPlaybook
from ..model.decision import ActionRecord, RuleFailure
from ..plugins.registry import Registry
from ..shell.runner import Runner
from ..store import MemoryStore
from .common import feed_events, first_errors, load_or_report, print_summary

#: Replay options that write one run's output: with two runs they have no single meaning.
_ONE_RUN_OPTIONS = (
    ("store", "--store"),
    ("actions_out", "--actions-out"),
    ("state_out", "--state-out"),
)


def _load_both(paths: Sequence[str], registry: Registry) -> list[CompiledPlaybook] | None:
    """Both playbooks, or None after printing every problem of either."""
    loaded = [load_or_report(path, registry) for path in paths]  # every problem printed
    found = [pb for pb in loaded if pb is not None]
    return found if len(found) == len(paths) else None


class _Run:
    """One playbook's in-memory replay, collecting its actions and rule errors."""

    def __init__(self, playbook: CompiledPlaybook, batch_size: int | None) -> None:
        self.actions: list[ActionRecord] = []
        self.errors: list[RuleFailure] = []
        self.store = MemoryStore(keep_history=True)  # the comparison reads the ledger
        self.runner = Runner(
            playbook,
            self.store,
            on_commit=self.actions.extend,
            on_error=first_errors(self.errors),
            batch_size=batch_size,
        )


def cmd_replay_compare(args: argparse.Namespace) -> int:
    """``engage-rules replay --compare``: replay the events under two playbooks and compare."""
    from ..shell.reader import Quarantined
    from ..tools.compare import compare_runs, comparison_json, run_result
    from ..tools.compare_render import render

    for attribute, option in _ONE_RUN_OPTIONS:
        if getattr(args, attribute):
            print(
                f"error: {option} cannot be used with --compare, which replays both "
                f"playbooks in memory; run `replay` without --compare for {option}",
                file=sys.stderr,
            )
            return 2
    playbooks = _load_both([args.playbook, args.compare], args.registry)
    if playbooks is None:
        return 1
    runs = [_Run(playbook, args.batch_size) for playbook in playbooks]
    quarantined: list[Quarantined] = []
    try:
        feed_events(args.events, [run.runner for run in runs], args.until, quarantined)
    except OSError as err:
        print(f"error: cannot read events: {err}", file=sys.stderr)
        return 2
    results = []
    for label, path, playbook, run in zip(
        "AB", (args.playbook, args.compare), playbooks, runs, strict=True
    ):
        results.append(
            run_result(path, playbook, run.actions, run.runner.state, run.store.ledgers())
        )
        run.runner.close()
        print(f"{label}: {path} ({playbook.name})", file=sys.stderr)
        # The quarantined lines are listed once, under A: B read the same stream.
        print_summary(run.runner, quarantined if label == "A" else [], run.errors)
    comparison = compare_runs(results[0], results[1])
    if args.json:
        sys.stdout.buffer.write(
            orjson.dumps(comparison_json(comparison), option=orjson.OPT_INDENT_2) + b"\n"
        )
        sys.stdout.buffer.flush()
    else:
        sys.stdout.write(render(comparison))
        sys.stdout.flush()
    return 0
