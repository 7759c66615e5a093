"""A replay holds no history of what it reports: quarantined lines and rule errors are
counted in full, and only the ones its summary shows are kept."""

from __future__ import annotations

from pathlib import Path

from engage_rules import Event, parse_event
from engage_rules.cli.common import LINES_SHOWN, MAX_ERRORS_SHOWN, feed_events
from engage_rules.shell.reader import Quarantined
from engage_rules.shell.runner import Runner
from engage_rules.store import MemoryStore
from engage_rules.testing import HEADER, after, event_line, open_store, playbook, run_cli

POSTS = """
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 1, reason: post}}]
"""


def _lines(n: int) -> list[str]:
    """Every third line not JSON, every third missing fields, the rest good events."""
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append("{not json")
        elif i % 3 == 1:
            out.append('{"id": "x", "type": "message.posted"}')
        else:
            out.append(event_line("message.posted", "u1", after(seconds=i), id=f"e{i}"))
    return out


def test_feed_events_keeps_only_the_quarantined_lines_a_summary_shows(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(_lines(3000)) + "\n")
    runner = Runner(playbook(POSTS), open_store("memory:"))
    kept: list[Quarantined] = []
    feed_events(str(path), [runner], None, kept)
    assert sum(runner.stats.quarantined.values()) == 2000
    assert len(kept) <= MAX_ERRORS_SHOWN + LINES_SHOWN * len(runner.stats.quarantined)
    assert {q.reason for q in kept} == set(runner.stats.quarantined)
    assert runner.stats.processed == 1000


def test_the_summary_counts_every_rule_error_and_shows_the_first(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    lines = [
        event_line("message.posted", "u1", after(seconds=i), id=f"e{i}", data={"n": "many"})
        for i in range(100)
    ]
    events.write_text("\n".join(lines) + "\n")
    pb = tmp_path / "p.yaml"
    pb.write_text(
        HEADER
        + "rules:\n  - id: broken\n    on: message.posted\n"
        + '    do: [{award: {points: "{{ event.data.n | int + event.data.n }}", reason: x}}]\n'
    )
    result = run_cli("replay", pb, events)
    assert result.returncode == 0, result.stderr
    assert "rule errors: 100" in result.stderr
    assert result.stderr.count("  rule broken on ") == MAX_ERRORS_SHOWN
    assert f"... and {100 - MAX_ERRORS_SHOWN} more" in result.stderr


# -- a memory store without history keeps a bounded backlog and bounded logs ------------

FAILING = """
rules:
  - id: post
    on: message.posted
    do:
      - send: {text: "hi"}
  - id: broken
    on: message.posted
    do: [{award: {points: "{{ event.data.n }}", reason: bad}}]
"""


class _SmallMemoryStore(MemoryStore):
    max_pending_actions = 40
    max_log_entries = 25


def _post(i: int) -> Event:
    return parse_event(event_line("message.posted", f"u{i % 7}", after(seconds=i), id=f"p{i}"))


def test_a_runner_nobody_dispatches_for_keeps_only_the_latest_actions() -> None:
    store = _SmallMemoryStore()
    runner = Runner(playbook(FAILING), store, batch_size=10)
    committed: list[str] = []
    runner.on_commit = lambda actions: committed.extend(a.cause for a in actions)
    for i in range(300):
        runner.feed(_post(i))
    runner.flush()
    assert len(committed) == 300  # the runner reported every action
    pending = store.outbox(status="pending")
    assert len(pending) <= _SmallMemoryStore.max_pending_actions
    assert [i.action.cause for i in pending] == committed[-len(pending) :]
    assert store.dropped_actions == 300 - len(pending)
    # Rule errors (an amount that is no number): the latest are kept, the rest counted.
    errors = store.rule_errors()
    assert len(errors) == _SmallMemoryStore.max_log_entries
    assert [e.cause for e in errors] == [f"p{i}" for i in range(275, 300)]
    assert store.dropped_log_entries == 275


def test_a_memory_store_with_history_keeps_everything() -> None:
    class Keeping(_SmallMemoryStore):
        pass

    store = Keeping(keep_history=True)
    runner = Runner(playbook(FAILING), store, batch_size=10)
    for i in range(120):
        runner.feed(_post(i))
    runner.flush()
    assert len(store.outbox()) == 120 and len(store.rule_errors()) == 120
    assert store.dropped_actions == store.dropped_log_entries == 0
