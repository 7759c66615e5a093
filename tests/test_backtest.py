"""``engage-rules backtest``: a replay or comparison split by community on Dask prints
what ``replay`` and ``replay --compare`` print for the same events.

The parts run on one LocalCluster per module (2 worker processes, a thread each), or, for
the property tests, in this process (:class:`LocalPart`: the same actor class, called
directly), which checks the split itself without Dask's cost per example.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import socket
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import distributed
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.cli import backtest
from engage_rules.cli.backtest_worker import PartActor, portable
from engage_rules.cli.compare import load_all
from engage_rules.cli.main import build_parser
from engage_rules.plugins.manager import default_registry
from engage_rules.testing import T0, run_cli
from engage_rules.testing import strategies as est

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "rules" / "starter" / "community.yaml"
MODERATION = ROOT / "rules" / "moderation" / "community.yaml"
POINTS = ROOT / "rules" / "points-community" / "community.yaml"

#: Each example playbook, its sample events, an edit for B (old, new) and --until.
EXAMPLES = {
    "starter": (
        STARTER,
        ROOT / "examples" / "starter-events.jsonl",
        [
            ("award: {points: 5, reason: 优质发言", "award: {points: 8, reason: 优质发言"),
            ("{template: weekly_topic, channel: general}", "{template: weekly_topic, channel: t}"),
        ],
        "2026-05-01T12:00:00+08:00",
    ),
    "moderation": (
        MODERATION,
        ROOT / "examples" / "moderation-events.jsonl",
        [
            ("mute: {for: 1h, reason: 第二次违规}", "mute: {for: 2h, reason: 第二次违规}"),
            ("mute: {for: 10m, reason: 刷屏}", "mute: {for: 20m, reason: 刷屏}"),
        ],
        None,
    ),
    "points-community": (
        POINTS,
        ROOT / "examples" / "rewards-events.jsonl",
        [
            ("award: {points: 5, reason: 每日打卡", "award: {points: 6, reason: 每日打卡"),
            ("{award: {points: 30, reason: 本周前五}}", "{award: {points: 40, reason: 本周前五}}"),
        ],
        "2026-06-01T00:00:00+08:00",
    ),
}


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """The address of a local cluster the module's tests share."""
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster.scheduler_address


def edited(playbook: Path, edits: Sequence[tuple[str, str]], folder: Path) -> Path:
    """A copy of ``playbook``'s folder (its word lists are relative) with ``edits``."""
    copy = folder / "other"
    shutil.copytree(playbook.parent, copy)
    text = playbook.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    out = copy / playbook.name
    out.write_text(text, encoding="utf-8")
    return out


def multi_community(source: Path, out: Path, seed: int = 1) -> Path:
    """The sample log played by three communities, a few minutes or hours apart, merged
    by time — a few neighbours swapped (late events), a few lines sent again later in
    the same community (duplicates), the sample's malformed lines kept once."""
    rng = random.Random(seed)
    good: list[tuple[datetime, str]] = []
    bad: list[str] = []
    lines = [x for x in source.read_text(encoding="utf-8").splitlines() if x.strip()]
    for k, (community, shift) in enumerate((("alpha", 0), ("beta", 37), ("gamma", 18011))):
        for line in lines:
            try:
                event = json.loads(line)
                at = datetime.fromisoformat(event["at"]) + timedelta(seconds=shift)
                assert at.tzinfo is not None
            except (ValueError, TypeError, KeyError, AssertionError):
                if k == 0:
                    bad.append(line)
                continue
            event.update(at=at.isoformat(), community=community, id=f"{community}-{event['id']}")
            good.append((at, json.dumps(event, ensure_ascii=False)))
    good.sort(key=lambda x: x[0])
    for _ in range(len(good) // 50):
        i = rng.randrange(len(good) - 1)
        good[i], good[i + 1] = good[i + 1], good[i]
    text = [line for _, line in good]
    for _ in range(5):
        i = rng.randrange(len(text) // 2)
        text.insert(min(len(text), i + rng.randrange(20, 60)), text[i])
    for line in bad:
        text.insert(rng.randrange(len(text)), line)
    out.write_text("\n".join(text) + "\n", encoding="utf-8")
    return out


def both(
    scheduler: str, playbook: Path, events: Sequence[Path], *options: str, parts: int = 3
) -> tuple[Any, Any]:
    """``replay`` (on the events joined) and ``backtest`` (on the files) of the same."""
    joined = events[0]
    if len(events) > 1:
        joined = events[0].parent / "joined.jsonl"
        joined.write_bytes(b"".join(e.read_bytes() for e in events))
    single = run_cli("replay", playbook, joined, *options)
    split = run_cli(
        "backtest", playbook, *events, *options, "--scheduler", scheduler, "--partitions", parts
    )
    return single, split


@pytest.mark.parametrize(
    "example",
    # The starter's log is the longest (8,000 lines split): seconds.
    [pytest.param(e, marks=[pytest.mark.slow] if e == "starter" else []) for e in EXAMPLES],
)
@pytest.mark.parametrize("json_out", [False, True])
def test_the_same_comparison_as_replay_compare(
    example: str, json_out: bool, scheduler: str, tmp_path: Path
) -> None:
    playbook, sample, edits, until = EXAMPLES[example]
    other = edited(playbook, edits, tmp_path)
    events = multi_community(sample, tmp_path / "events.jsonl")
    options = ["--compare", str(other), *(["--until", until] if until else [])]
    options += ["--json"] if json_out else []
    single, split = both(scheduler, playbook, [events], *options)
    assert single.returncode == split.returncode == 0, split.stderr
    assert split.stdout == single.stdout
    assert split.stderr == single.stderr
    # What is compared holds what the split must get right: late events, duplicates,
    # quarantined lines, timers, and differences with examples from several communities.
    assert "late events (older than the clock): " in single.stderr
    assert " 0 duplicate" not in single.stderr and "quarantined" in single.stderr
    if json_out:
        doc = json.loads(split.stdout)
        assert doc["actions_differing"] > 0
        shown = {e["b"]["community"] for r in doc["rules"] for e in r["examples"] if e["b"]}
        # The starter's weekly topic, changed in B, is broadcast in every community at
        # once: its examples are the three communities', in name order.
        assert shown if example != "starter" else shown == {"alpha", "beta", "gamma"}


@pytest.mark.slow
def test_without_compare_the_summary_of_replay_and_each_rules_totals(
    scheduler: str, tmp_path: Path
) -> None:
    events = multi_community(EXAMPLES["starter"][1], tmp_path / "events.jsonl")
    out = tmp_path / "actions.jsonl"
    until = EXAMPLES["starter"][3]
    single = run_cli("replay", STARTER, events, "--until", until, "--actions-out", out)
    split = run_cli("backtest", STARTER, events, "--until", until, "--scheduler", scheduler)
    assert single.returncode == split.returncode == 0
    assert split.stderr == single.stderr
    actions = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    as_json = run_cli(
        "backtest", STARTER, events, "--until", until, "--json", "--scheduler", scheduler
    )
    doc = json.loads(as_json.stdout)
    assert doc["actions"] == len(actions) and doc["communities"] == 3
    for r in doc["rules"]:
        mine = [a for a in actions if a["rule"] == r["rule"]]
        assert r["actions"] == dict(Counter(a["type"] for a in mine if not a.get("shadow")))
    points = sum(
        a["params"]["amount"] * (1 if a["type"] == "award" else -1)
        for a in actions
        if a["rule"] == "quality-post" and a["type"] in ("award", "spend")
    )
    quality = next(r for r in doc["rules"] if r["rule"] == "quality-post")
    assert quality["ledger"] == {"points": points}
    assert "quality-post\n  award" in split.stdout
    assert f"points from this rule (net): {points:,}" in split.stdout


@pytest.mark.slow
def test_several_event_files_are_one_stream(scheduler: str, tmp_path: Path) -> None:
    playbook, sample, edits, until = EXAMPLES["starter"]
    lines = multi_community(sample, tmp_path / "all.jsonl").read_text().splitlines(True)
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    first.write_text("".join(lines[:3000]))
    second.write_text("".join(lines[3000:]))
    other = edited(playbook, edits, tmp_path)
    single, split = both(
        scheduler, playbook, [first, second], "--compare", str(other), "--until", str(until)
    )
    assert split.returncode == 0 and split.stdout == single.stdout
    assert split.stderr == single.stderr


# -- where a split stream differs from one replay, by design -------------------------------

ECHO = """
rules:
  - id: echo
    on: message.posted
    do: [{award: {points: 1, reason: echo}}]
"""


def _line(eid: str, community: str, seconds: int) -> str:
    at = (T0 + timedelta(seconds=seconds)).isoformat()
    event = {"id": eid, "type": "message.posted", "at": at, "community": community}
    return json.dumps({**event, "member": {"id": "u1"}, "data": {"text": "hi"}})


@pytest.mark.parametrize("other", ["b", "g"])
def test_an_id_reused_in_another_community_is_checked_within_a_part(
    other: str, scheduler: str, tmp_path: Path
) -> None:
    from engage_rules.testing import HEADER

    playbook = tmp_path / "echo.yaml"
    playbook.write_text(HEADER + ECHO, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    lines = [_line("same", "a", 0), _line("same", other, 10), _line("same", "a", 20)]
    events.write_text("\n".join(lines) + "\n")
    single = run_cli("replay", playbook, events)
    split = run_cli(
        "backtest", playbook, events, "--json", "--scheduler", scheduler, "--partitions", "2"
    )
    # One replay knows ids across communities: the second "same" is a duplicate.
    assert "3 read, 1 processed, 2 duplicate" in single.stderr
    # Split, a part knows the ids of its own communities: when the second community
    # is in another part, its "same" is its first event there.
    apart = backtest.part_of("a", 2) != backtest.part_of(other, 2)
    assert apart is (other == "g")
    processed = 2 if apart else 1
    assert f"3 read, {processed} processed, {3 - processed} duplicate" in split.stderr
    assert json.loads(split.stdout)["rules"][0]["ledger"] == {"points": processed}


def test_late_events_across_communities_are_late_as_in_one_replay(
    scheduler: str, tmp_path: Path
) -> None:
    from engage_rules.testing import HEADER

    playbook = tmp_path / "p.yaml"
    playbook.write_text(
        HEADER
        + """
rules:
  - id: later
    on: {after: message.posted, delay: 30s}
    do: [{award: {points: 1, reason: later}}]
""",
        encoding="utf-8",
    )
    events = tmp_path / "events.jsonl"
    # a's timer is due at 30 s: b's event at 40 s fires it, before a's late event
    # (dated 35 s, read after the clock reached 40 s) — in one replay and split alike.
    lines = [_line("a1", "a", 0), _line("b1", "g", 40), _line("a2", "a", 35)]
    events.write_text("\n".join(lines) + "\n")
    other = tmp_path / "other.yaml"
    other.write_text(playbook.read_text().replace("delay: 30s", "delay: 36s"), encoding="utf-8")
    single, split = both(scheduler, playbook, [events], "--compare", str(other), parts=2)
    assert "late events (older than the clock): 1" in single.stderr
    assert split.stderr == single.stderr and split.stdout == single.stdout
    assert backtest.part_of("a", 2) != backtest.part_of("g", 2)


def test_a_duplicate_dated_ahead_of_the_clock_moves_the_other_parts_clocks(
    scheduler: str, tmp_path: Path
) -> None:
    from engage_rules.testing import HEADER

    playbook = tmp_path / "echo.yaml"
    playbook.write_text(HEADER + ECHO, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    # g1 is sent again, dated 50 s: a duplicate, skipped.  One replay's clock stays at
    # 10 s, so a2 (20 s) is on time; split, the command cannot know g1's second line is
    # a duplicate: its time moves a's part's clock to 50 s, and a2 is late there.
    lines = [_line("a1", "a", 0), _line("g1", "g", 10), _line("g1", "g", 50)]
    events.write_text("\n".join([*lines, _line("a2", "a", 20)]) + "\n")
    single = run_cli("replay", playbook, events)
    split = run_cli("backtest", playbook, events, "--scheduler", scheduler, "--partitions", "2")
    assert backtest.part_of("a", 2) != backtest.part_of("g", 2)
    assert "1 duplicate" in single.stderr and "1 duplicate" in split.stderr
    assert "late events" not in single.stderr
    assert "late events (older than the clock): 1" in split.stderr


def test_events_from_standard_input(scheduler: str, tmp_path: Path) -> None:
    from engage_rules.testing import HEADER

    playbook = tmp_path / "echo.yaml"
    playbook.write_text(HEADER + ECHO, encoding="utf-8")
    text = "\n".join([_line("a1", "a", 0), "{broken", _line("g1", "g", 10)]) + "\n"
    single = run_cli("replay", playbook, "-", stdin=text)
    split = run_cli("backtest", playbook, "-", "--scheduler", scheduler, stdin=text)
    assert split.returncode == 0 and split.stderr == single.stderr
    assert "  line 2: bad_json" in split.stderr


def test_a_playbook_built_in_code_cannot_be_sent() -> None:
    from dataclasses import replace

    from engage_rules.testing import HEADER, playbook

    pb = playbook(HEADER + ECHO)
    assert portable(pb).spec == pb.loaded.spec  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="not loaded from files"):
        portable(replace(pb, loaded=None))


# -- bad input and a missing extra ------------------------------------------------------


def test_an_unreachable_scheduler_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backtest, "CONNECT_TIMEOUT", "1s")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    events = tmp_path / "e.jsonl"
    events.write_text(_line("e1", "a", 0) + "\n")
    result = run_cli("backtest", STARTER, events, "--scheduler", f"tcp://127.0.0.1:{port}")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(
        f"error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port}"
    )
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_without_dask_a_one_line_error_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    events = tmp_path / "e.jsonl"
    events.write_text(_line("e1", "a", 0) + "\n")
    result = run_cli("backtest", STARTER, events)
    assert result.returncode == 2
    assert result.stderr == "error: backtest needs Dask: pip install 'engage-rules[dask]'\n"


def test_an_unreadable_events_file_is_exit_2(scheduler: str, tmp_path: Path) -> None:
    result = run_cli("backtest", STARTER, tmp_path / "missing.jsonl", "--scheduler", scheduler)
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot read events:")
    assert len(result.stderr.splitlines()) == 1


def test_an_invalid_playbook_is_exit_1_before_any_cluster(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [{id: x, on: message.posted, do: [{award: {points: many}}]}]\n")
    events = tmp_path / "e.jsonl"
    events.write_text(_line("e1", "a", 0) + "\n")
    result = run_cli("backtest", STARTER, events, "--compare", bad, "--scheduler", "tcp://0:1")
    assert result.returncode == 1 and result.stderr.startswith(f"{bad}:")


@pytest.mark.subprocess
def test_dask_is_imported_only_by_backtest(tmp_path: Path) -> None:
    import subprocess

    events = tmp_path / "e.jsonl"
    events.write_text(_line("e1", "a", 0) + "\n")
    code = (
        "import sys\n"
        "from engage_rules.cli import main\n"
        f"assert main(['replay', {str(STARTER)!r}, {str(events)!r}]) == 0\n"
        "assert main(['validate', '-q', " + repr(str(STARTER)) + "]) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_workers_start_a_local_cluster(tmp_path: Path) -> None:
    events = multi_community(EXAMPLES["moderation"][1], tmp_path / "events.jsonl")
    single = run_cli("replay", MODERATION, events)
    split = run_cli("backtest", MODERATION, events, "--workers", "1", "--partitions", "2")
    assert split.returncode == 0 and split.stderr == single.stderr


# -- the split itself, in this process ------------------------------------------------------


class LocalPart:
    """A part run here: the actor class itself, its calls' results as futures."""

    def __init__(self, *args: Any) -> None:
        self.actor = PartActor(*args)

    def feed_lines(self, *args: Any) -> Future[Any]:
        return _done(self.actor.feed_lines(*args))

    def finish(self, *args: Any) -> Future[Any]:
        return _done(self.actor.finish(*args))


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def split_locally(argv: list[str], parts: int) -> tuple[int, str, str]:
    """``backtest ARGV`` with ``parts`` parts run in this process."""
    import contextlib
    import io

    args = build_parser(default_registry()).parse_args(["backtest", *argv])
    args.registry = default_registry()
    paths = [args.playbook] if args.compare is None else [args.playbook, args.compare]
    playbooks = load_all(paths, args.registry)
    assert playbooks is not None
    loaded = [portable(pb) for pb in playbooks]
    local = [LocalPart(loaded, args.batch_size, args.dedup_window) for _ in range(parts)]
    raw = io.BytesIO()
    out, err = io.TextIOWrapper(raw, encoding="utf-8", write_through=True), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = backtest.run_parts(args, paths, playbooks, local)
    return code, raw.getvalue().decode(), err.getvalue()


class LostPart(LocalPart):
    """A part whose worker is gone by its second chunk."""

    calls = 0

    def feed_lines(self, *args: Any) -> Future[Any]:
        LostPart.calls += 1
        if LostPart.calls > 2:
            future: Future[Any] = Future()
            future.set_exception(ConnectionResetError("connection to tcp://w:1 closed"))
            return future
        return super().feed_lines(*args)


def test_a_lost_worker_is_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(backtest, "CHUNK_LINES", 100)
    events = multi_community(EXAMPLES["moderation"][1], tmp_path / "events.jsonl")
    args = build_parser(default_registry()).parse_args(["backtest", str(MODERATION), str(events)])
    playbooks = load_all([str(MODERATION)], default_registry())
    assert playbooks is not None
    parts = [LostPart([portable(playbooks[0])], None, None) for _ in range(2)]
    assert backtest.run_parts(args, [str(MODERATION)], playbooks, parts) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: the Dask cluster failed: connection to tcp://w:1 closed\n"


TIMERS = """
engage_rules: 1
community: {name: 测试, timezone: Asia/Shanghai}
name: split
rules:
  - id: hello
    on: message.posted
    do:
      - award: {points: 1, reason: hi}
      - tag: {name: chatty, expires: 90s}
  - id: later
    on: {after: message.posted, delay: 45s}
    do: [{award: {points: 2, reason: later}}]
  - id: quiet
    on: {silent_for: 2m}
    do: [{send: {text: "still there?"}}]
  - id: tick
    on: {cron: "*/5 * * * *"}
    do: [{broadcast: {text: tick, channel: general}}]
"""


@st.composite
def logs(draw: st.DrawFn) -> list[str]:
    """A log of a few communities and members, mostly in time order, some events late,
    now and then a malformed line."""
    times = draw(est.arrival_times([0, 5, 30, 70, 200], late=[0, 0, 0, 40, 150], max_size=30))
    out = []
    for i, t in enumerate(times):
        community = draw(st.sampled_from(["a", "b", "c", "d"]))
        member = draw(st.sampled_from(["u1", "u2"]))
        if draw(st.integers(0, 19)) == 0:
            out.append('{"id": "broken"')
            continue
        kind = draw(st.sampled_from(["message.posted", "message.posted", "member.joined"]))
        at = (T0 + timedelta(seconds=t)).isoformat()
        event = {"id": f"e{i}", "type": kind, "at": at, "community": community}
        out.append(json.dumps({**event, "member": {"id": member}, "data": {"text": "hi"}}))
    return out


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(log=logs(), parts=st.integers(2, 4), json_out=st.booleans())
def test_any_split_prints_what_one_replay_prints(
    tmp_path_factory: pytest.TempPathFactory, log: list[str], parts: int, json_out: bool
) -> None:
    folder = tmp_path_factory.mktemp("split")
    a, b = folder / "a.yaml", folder / "b.yaml"
    a.write_text(TIMERS, encoding="utf-8")
    b.write_text(TIMERS.replace("delay: 45s", "delay: 100s").replace("2m}", "3m}"))
    events = folder / "events.jsonl"
    events.write_text("\n".join(log) + "\n")
    until = (T0 + timedelta(minutes=30)).isoformat()
    options = [str(events), "--compare", str(b), "--until", until]
    options += ["--json"] if json_out else []
    single = run_cli("replay", a, *options)
    code, out, err = split_locally([str(a), *options], parts)
    assert code == single.returncode == 0
    assert out == single.stdout
    assert err == single.stderr
