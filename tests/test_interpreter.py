"""The interpreter tuning of the CLI (shell/interpreter.py): the collector run between a
runner's batches, and the switch interval."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from engage_rules import compile_playbook
from engage_rules.shell.interpreter import SWITCH_INTERVAL, BatchCollector, tune_interpreter
from engage_rules.shell.runner import Runner
from engage_rules.testing import HEADER, event, event_line, load_playbook_text, open_store, run_cli

PLAYBOOK = (
    HEADER
    + """
currencies: [points]
rules:
  - id: hello
    on: message.posted
    do:
      - award: {points: 1}
"""
)


class Node:
    """An object that can sit in a reference cycle and be watched with a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    """A reference cycle no one refers to: only the cyclic collector frees it."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    enabled, interval = gc.isenabled(), sys.getswitchinterval()
    gc.enable()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    sys.setswitchinterval(interval)


def test_a_started_collector_leaves_cycles_to_its_full_collection() -> None:
    collector = BatchCollector(growth=10_000)
    collector.start()
    assert not gc.isenabled()
    watched = cycle()
    collector.batch_done()  # frozen, not collected
    gc.collect()  # a collection does not look at frozen objects
    assert watched() is not None
    kept = [{} for _ in range(10_000)]  # what is alive grows by 10,000 objects
    collector.batch_done()
    assert watched() is None
    assert len(kept) == 10_000
    collector.stop()
    assert gc.isenabled()


def test_garbage_in_cycles_counts_towards_the_next_full_collection() -> None:
    collector = BatchCollector(growth=1_000)
    collector.start()
    watched = [cycle() for _ in range(1_000)]  # two container objects each, at least
    collector.batch_done()
    assert all(w() is None for w in watched)
    collector.stop()


def test_stop_restores_a_collector_that_was_off() -> None:
    gc.disable()
    collector = BatchCollector()
    collector.start()
    collector.stop()
    assert not gc.isenabled()


def test_objects_frozen_between_batches_are_still_freed_when_unused() -> None:
    collector = BatchCollector(growth=1_000_000)
    collector.start()
    kept = Node()
    watched = weakref.ref(kept)
    collector.batch_done()  # frozen while alive
    del kept  # no cycle: reference counting frees it, frozen or not
    assert watched() is None
    collector.stop()


def test_a_runner_runs_the_collector_between_its_batches_and_stops_it_on_close() -> None:
    playbook = compile_playbook(load_playbook_text(PLAYBOOK, "test.yaml"))
    collector = BatchCollector(growth=1)  # a full collection after each batch
    runner = Runner(playbook, open_store("memory:"), batch_size=10, collector=collector)
    assert not gc.isenabled()
    watched = cycle()
    for i in range(30):
        runner.feed(event("message.posted", f"u{i % 3}", i, id=f"e{i}"))
    assert watched() is None  # freed by the collection after the first batch
    runner.close()
    assert gc.isenabled()
    assert runner.stats.actions["award"] == 30


def test_tune_interpreter_shortens_the_switch_interval() -> None:
    tune_interpreter()
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)


@pytest.mark.parametrize("state_out", [None, "missing-folder/state.json"])
def test_replay_leaves_the_collector_as_it_found_it(tmp_path: Path, state_out: str | None) -> None:
    """In a process that goes on after it (an application calling ``main``, a test), a
    replay, finished or failed after its runner started, leaves the collector on."""
    pb = tmp_path / "p.yaml"
    pb.write_text(PLAYBOOK)
    events = tmp_path / "e.jsonl"
    events.write_text(event_line("message.posted", "u1", 0) + "\n")
    extra = ["--state-out", str(tmp_path / state_out)] if state_out else []
    result = run_cli("replay", pb, events, "--store", f"sqlite:///{tmp_path / 's.db'}", *extra)
    assert (result.returncode == 0) == (state_out is None)
    assert gc.isenabled()
