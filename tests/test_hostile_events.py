"""Issue 12, "No input can stop it": poison event lines and values no store can keep.

Each finding of the adversarial campaign, end to end through `engage-rules replay` (in
process) into SQLite where it crashed, plus the bounds at their edges:

* JSON nested ~1,000 levels deep raised RecursionError and stopped the stream;
* an integer beyond 64 bits in `data` made every SQLite commit fail once traces or the
  review queue stored it;
* a time before year 1 in UTC passed the parser, then raised OverflowError;
* one event dated 9999 ran for minutes and over a gigabyte, then crashed;
* a UTF-8 byte-order mark at the start of a file lost the first event;
* values computed by a playbook's expressions (`set:`, `emit:`, amounts, any templated
  parameter) reached the store out of range and failed the commit.
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from engage_rules import Engine
from engage_rules.cli import main
from engage_rules.events import (
    MAX_EVENT_DEPTH,
    MAX_INT,
    MIN_INT,
    REASONS,
    EventError,
    event_from_obj,
    parse_event,
)
from engage_rules.expr.condition_parts import shown
from engage_rules.features.points import MAX_EARNED
from engage_rules.shell.reader import Quarantined, read_events
from engage_rules.testing import event_obj, open_store
from helpers import playbook

ROOT = Path(__file__).resolve().parents[1]
MODERATION = ROOT / "rules" / "moderation" / "community.yaml"
STARTER = ROOT / "rules" / "starter" / "community.yaml"


def obj(id: str = "e1", at: str = "2026-03-02T10:00:00Z", **fields: Any) -> dict[str, Any]:
    """A message's JSON object (the kit's), with raw ``fields`` put over it as they are."""
    out = event_obj("message.posted", "u1", at, id=id, text="hello there")
    out.update(fields)
    return out


def line(id: str = "e1", at: str = "2026-03-02T10:00:00Z", **fields: Any) -> str:
    return json.dumps(obj(id, at, **fields), ensure_ascii=False)


def nested(levels: int) -> str:
    """`data` holding ``levels`` levels of arrays below it."""
    return (
        '{"id":"deep","type":"message.posted","at":"2026-03-02T10:00:00Z",'
        '"member":{"id":"u1"},"data":{"x":' + "[" * levels + "]" * levels + "}}"
    )


def reject(raw: str | bytes) -> EventError:
    with pytest.raises(EventError) as info:
        parse_event(raw)
    assert info.value.reason in REASONS
    return info.value


def replay(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    playbook_path: Path,
    lines: list[str] | bytes,
    *extra: str,
    db: str = "state.db",
) -> tuple[int, str]:
    """`engage-rules replay` in process into SQLite: (exit code, stderr)."""
    events = tmp_path / "events.jsonl"
    events.write_bytes(lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode())
    capsys.readouterr()
    rc = main(
        [
            "replay",
            str(playbook_path),
            str(events),
            "--store",
            f"sqlite:///{tmp_path / db}",
            "--actions-out",
            str(tmp_path / "actions.jsonl"),
            *extra,
        ]
    )
    return rc, capsys.readouterr().err


def summary(err: str) -> tuple[int, int, dict[str, int]]:
    """(events processed, timers fired, quarantined by reason) from a replay summary."""
    processed = int(re.search(r"(\d+) processed", err).group(1))  # type: ignore[union-attr]
    timers = int(re.search(r"timers fired: (\d+)", err).group(1))  # type: ignore[union-attr]
    quarantined = {
        m.group(1): int(m.group(2)) for m in re.finditer(r"quarantined (\w+): (\d+)", err)
    }
    return processed, timers, quarantined


def committed(tmp_path: Path, db: str = "state.db") -> dict[str, Any]:
    """The state SQLite holds, as JSON (which it must encode to)."""
    store = open_store(f"sqlite:///{tmp_path / db}")
    try:
        snapshot = store.open().snapshot()
    finally:
        store.close()
    return dict(orjson.loads(orjson.dumps(snapshot)))


# -- nesting ---------------------------------------------------------------------------------


def test_json_nested_a_thousand_levels_is_quarantined_and_the_stream_goes_on(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    deep = nested(1000)
    assert len(deep) < 2200  # a 2 KB line
    rc, err = replay(capsys, tmp_path, MODERATION, [deep, line("e2")], "--trace")
    assert rc == 0, err
    processed, _, quarantined = summary(err)
    assert (processed, quarantined) == (1, {"too_deep": 1})
    assert "line 1: too_deep" in err
    # A rerun over the same store meets the same line again: the same quarantine.
    rc, err = replay(capsys, tmp_path, MODERATION, [deep, line("e2")], "--trace")
    assert rc == 0, err
    assert summary(err)[2] == {"too_deep": 1}


@pytest.mark.parametrize("levels", [30, 31, 1000, 100_000 // 2 - 100])
def test_nesting_bound_counts_the_event_as_level_one(levels: int) -> None:
    # The event is level 1, `data` level 2: 30 levels below data make 32 in all.
    if levels <= MAX_EVENT_DEPTH - 2:
        assert parse_event(nested(levels)).data["x"] is not None
    elif len(nested(levels)) > 64 * 1024:
        assert reject(nested(levels)).reason == "oversized"
    else:
        assert reject(nested(levels)).reason == "too_deep"


def test_objects_count_as_levels_like_arrays() -> None:
    inner: Any = 1
    for _ in range(MAX_EVENT_DEPTH - 1):  # 31 objects below `data`: levels 3 to 33
        inner = {"k": inner}
    assert parse_event(line(data={"x": inner["k"]})).data
    assert reject(line(data={"x": inner})).reason == "too_deep"


def test_fields_outside_the_envelope_are_ignored_unless_undecodable() -> None:
    assert parse_event(line(extra=[[[[1]]]])).id == "e1"
    raw = line()[:-1] + ',"extra":' + "[" * 20000 + "]" * 20000 + "}"
    assert reject(raw).reason == "too_deep"


# -- integers and floats ---------------------------------------------------------------------


def test_integer_beyond_64_bits_is_quarantined_and_nothing_fails_to_commit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = [
        line("e1", data={"text": "buy cheap pills", "n": 2**70}),
        line("e2", data={"text": "hello", "nested": {"n": [1, -(2**64)]}}),
        line("e3", data={"text": "an honest post"}),
    ]
    rc, err = replay(capsys, tmp_path, MODERATION, lines, "--trace")
    assert rc == 0, err
    processed, _, quarantined = summary(err)
    assert (processed, quarantined) == (1, {"number_out_of_range": 2})
    assert "`data.n` 1180591620717411303424 is outside the signed 64-bit" in err
    assert "`data.nested.n[1]`" in err
    assert committed(tmp_path)["members"]["u1"]["last_active_at"] is not None


@pytest.mark.parametrize("n", [MAX_INT, MIN_INT, 0, -1, 2**53 + 1])
def test_integers_in_64_bits_are_kept_exactly(n: int) -> None:
    assert parse_event(line(data={"n": n, "deep": [{"n": n}]})).data == {"n": n, "deep": [{"n": n}]}


@pytest.mark.parametrize(
    "n", [MAX_INT + 1, MIN_INT - 1, 2**64, 10**400], ids=["max+1", "min-1", "2**64", "10**400"]
)
def test_integers_beyond_64_bits_are_out_of_range(n: int) -> None:
    assert reject(line(data={"n": n})).reason == "number_out_of_range"
    assert reject(line(data={"n": [n]})).reason == "number_out_of_range"


def test_a_float_too_large_for_a_float_is_out_of_range() -> None:
    raw = line(data={"f": 1.5}).replace("1.5", "1e400")
    assert reject(raw).reason == "number_out_of_range"
    assert parse_event(line(data={"f": 1.5e308})).data["f"] == 1.5e308


# -- times -----------------------------------------------------------------------------------


def test_time_before_year_1_utc_is_quarantined_and_the_next_event_is_decided(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = [line("e1", at="0001-01-01T00:00:00+01:00"), line("e2")]
    rc, err = replay(capsys, tmp_path, MODERATION, lines)
    assert rc == 0, err
    processed, _, quarantined = summary(err)
    assert (processed, quarantined) == (1, {"time_out_of_range": 1})
    assert "outside the years 1970 through 2200 (UTC)" in err


@pytest.mark.parametrize(
    "at,ok",
    [
        ("1970-01-01T00:00:00Z", True),
        ("1969-12-31T23:59:59.999999Z", False),
        ("1970-01-01T00:30:00+01:00", False),  # 1969 in UTC
        ("2200-12-31T23:59:59.999999Z", True),
        ("2201-01-01T00:00:00Z", False),
        ("2200-12-31T20:00:00-05:00", False),  # 2201 in UTC
        ("9999-12-31T23:59:59Z", False),
        ("0001-01-01T00:00:00Z", False),
    ],
)
def test_the_time_window_is_1970_through_2200_utc(at: str, ok: bool) -> None:
    created = {"member": {"id": "u1", "created_at": at}}
    if ok:
        assert parse_event(line(at=at)).at == datetime.fromisoformat(at)
        assert parse_event(line(**created)).member is not None
        assert event_from_obj(obj(at=at)).at == datetime.fromisoformat(at)
    else:
        assert reject(line(at=at)).reason == "time_out_of_range"
        assert reject(line(**created)).reason == "time_out_of_range"
        with pytest.raises(EventError, match="1970 through 2200"):
            event_from_obj(obj(at=at))


def test_an_event_dated_9999_is_quarantined_before_any_slot_fires(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = [line("e1"), line("e2", at="9999-12-31T00:00:00Z")]
    rc, err = replay(capsys, tmp_path, STARTER, lines)
    assert rc == 0, err
    processed, timers, quarantined = summary(err)
    assert (processed, timers, quarantined) == (1, 0, {"time_out_of_range": 1})


MONTHLY = """\
engage_rules: 1
name: monthly
community: {name: m, timezone: Asia/Shanghai}
rules:
  - id: monthly
    on: {cron: "0 10 1 * *"}
    do:
      - broadcast: {text: "a new month", channel: general}
"""


def test_an_event_at_the_end_of_the_window_fires_each_slot_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pb = tmp_path / "monthly.yaml"
    pb.write_text(MONTHLY)
    lines = [line("e1", at="2026-03-02T10:00:00Z"), line("e2", at="2200-12-31T12:00:00Z")]
    rc, err = replay(capsys, tmp_path, pb, lines, "--batch-size", "100")
    assert rc == 0, err
    # Every month from April 2026 to December 2200: the work is the slots, no more.
    months = (2200 - 2026) * 12 + (12 - 4) + 1
    assert summary(err)[:2] == (2, months)
    assert f"broadcast: {months}" in err
    book = committed(tmp_path)["community"]["schedules"]["monthly"]
    assert book["last"] == "2200-12-01T10:00"


def test_advance_iter_fires_one_timer_per_decision_asked_for() -> None:
    pb = playbook("""
rules:
  - id: monthly
    on: {cron: "0 10 1 * *"}
    do:
      - broadcast: {text: "a new month"}
""")
    engine = Engine(pb)
    engine.start()
    engine.process(parse_event(line("e1")))
    end = datetime(2030, 1, 1, tzinfo=UTC)
    it = engine.advance_iter(end)
    first = next(it)
    assert first.is_timer and engine.state.clock == datetime(2026, 4, 1, 2, tzinfo=UTC)
    assert len(engine.state.timers) == 1  # the next slot only: nothing piles up ahead
    rest = list(it)
    assert 1 + len(rest) == 45  # April 2026 .. December 2029
    assert engine.state.clock == end


# -- byte-order mark -------------------------------------------------------------------------


def test_a_byte_order_mark_at_the_start_of_a_file_keeps_the_first_event(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = ("\ufeff" + line("e1") + "\n" + line("e2") + "\n").encode()
    rc, err = replay(capsys, tmp_path, MODERATION, data)
    assert rc == 0, err
    assert summary(err) == (2, 0, {})


def test_a_byte_order_mark_on_stdin_keeps_the_first_event(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = b"\xef\xbb\xbf" + line("e1").encode() + b"\r\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    capsys.readouterr()
    rc = main(
        [
            "replay",
            str(MODERATION),
            "-",
            "--store",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--actions-out",
            str(tmp_path / "a.jsonl"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    assert summary(err) == (1, 0, {})


def test_one_byte_order_mark_is_skipped_not_two(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b"\xef\xbb\xbf\xef\xbb\xbf" + line().encode() + b"\n")
    [(_, item)] = list(read_events(path))
    assert isinstance(item, Quarantined) and item.reason == "bad_json"


# -- events built by platform adapters (event_from_obj) --------------------------------------


@pytest.mark.parametrize(
    "data,reason",
    [
        ({"n": 2**64}, "number_out_of_range"),
        ({"f": math.nan}, "number_out_of_range"),
        ({"f": [math.inf]}, "number_out_of_range"),
        ({"s": "a\ud800b"}, "bad_json"),
        ({"s": {1, 2}}, "wrong_type"),
        ({"s": {1: "one"}}, "wrong_type"),
        ({"s": datetime(2026, 1, 1, tzinfo=UTC)}, "wrong_type"),
    ],
)
def test_adapter_built_events_have_the_same_bounds(data: dict[str, Any], reason: str) -> None:
    with pytest.raises(EventError) as info:
        event_from_obj(obj(data=data))
    assert info.value.reason == reason


def test_adapter_built_events_are_bounded_in_depth_and_own_their_data() -> None:
    inner: Any = []
    for _ in range(MAX_EVENT_DEPTH - 2):
        inner = [inner]
    data = {"x": inner[0], "t": ("a", 1)}
    event = event_from_obj(obj(data=data))
    assert event.data["t"] == ["a", 1]  # tuples are read as the arrays they encode to
    assert event.data is not data
    with pytest.raises(EventError) as info:
        event_from_obj(obj(data={"x": inner}))
    assert info.value.reason == "too_deep"
    with pytest.raises(EventError) as info:
        event_from_obj(obj(member={"id": "u1", "name": "\udc00"}))
    assert info.value.reason == "bad_json"


# -- values the playbook computes --------------------------------------------------------------

COPYING = """\
engage_rules: 1
name: copying
community: {name: c, timezone: UTC}
moderation: {}
rules:
  - id: copy-attrs
    on: message.posted
    do:
      - set: {payload: "{{ event.data }}", square: "{{ event.data.n * event.data.n }}"}
  - id: copy-emit
    on: message.posted
    do:
      - emit: {type: custom.copied, data: {payload: "{{ event.data }}",
                                           big: "{{ event.data.n * 1000000000000 }}"}}
  - id: flag-copies
    on: custom.copied
    do:
      - flag_for_review: {reason: "{{ event.data.big }}"}
  - id: award-square
    on: message.posted
    if: "event.data.n * event.data.n > 0"
    do:
      - award: {points: "{{ event.data.n * event.data.n }}"}
  - id: infinite
    on: message.posted
    do:
      - set: {inf: "{{ event.data.f * 1e308 * 10 }}"}
  - id: shadowed
    on: message.posted
    shadow: true
    do:
      - tag: {name: "t{{ event.data.n * event.data.n }}"}
      - set: {shadow_square: "{{ event.data.n * event.data.n }}"}
"""


def test_out_of_range_computed_values_fail_their_rule_never_the_commit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pb = tmp_path / "copying.yaml"
    pb.write_text(COPYING)
    lines = [line("e1", data={"n": MAX_INT, "f": 1.5}), line("e2", data={"n": 3, "f": 0.0})]
    rc, err = replay(capsys, tmp_path, pb, lines, "--trace")
    assert rc == 0, err
    errors = err.split("rule errors:")[1]
    assert "rule copy-attrs on e1: set: `square`: 8507059173023461584739690778423250124" in errors
    assert "rule copy-emit on e1: emit: `data.big`: 922337203685477580700" in errors
    assert "rule award-square on e1: award: `points`: 85070591730234615847" in errors
    assert "rule infinite on e1: set: `inf`: inf is not a finite number" in errors
    assert "rule shadowed on e1: set: `shadow_square`:" in errors
    state = committed(tmp_path)
    [member] = state["members"].values()
    # e1's rule errors left no trace in the state; e2's values were stored.
    assert member["attrs"]["square"] == 9
    assert member["attrs"]["payload"] == {"n": 3, "f": 0.0}
    assert member["balances"]["points"] == 9


def test_a_structure_deeper_than_the_bound_is_not_stored() -> None:
    pb = playbook("""
rules:
  - id: nest
    on: message.posted
    do:
      - set: {deep: "{{ [[event.data.x]] }}"}
      - set: {deeper: "{{ [[[event.data.x]]] }}"}
""")
    inner: Any = 1
    for _ in range(MAX_EVENT_DEPTH - 2):
        inner = [inner]
    engine = Engine(pb)
    [d] = engine.process(parse_event(line(data={"x": inner})))
    m = engine.state.communities["default"].members["u1"]
    assert m.attrs["deep"] == [[inner]]  # 32 levels of lists: kept
    [error] = d.errors
    assert "nests lists and mappings more than 32 levels deep" in error.message


def test_an_award_past_the_lifetime_limit_fails_its_rule() -> None:
    pb = playbook("""
rules:
  - id: fixed
    on: message.posted
    do:
      - award: {points: 5}
  - id: templated
    on: message.posted
    do:
      - award: {points: "{{ 5 }}"}
""")
    engine = Engine(pb)
    m = engine.state.community("default").member("u1")
    m.earned["points"] = m.balances["points"] = MAX_EARNED - 4
    [d] = engine.process(parse_event(line()))
    assert [e.rule for e in d.errors] == ["fixed", "templated"]
    assert "would pass the limit of 1000000000000000000" in d.errors[0].message
    assert m.balances["points"] == MAX_EARNED - 4 and not m.ledger_seq and not d.ledger
    assert not d.actions


def test_a_leaderboard_measure_out_of_range_is_not_scored() -> None:
    pb = playbook("""
leaderboards:
  big:
    measure: "member.attrs.score * member.attrs.score"
    period: week
rules:
  - id: score
    on: message.posted
    do:
      - set: {score: "{{ event.data.n }}"}
""")
    engine = Engine(pb)
    [d] = engine.process(parse_event(line(data={"n": MAX_INT})))
    assert any("outside the range a score may take" in e.message for e in d.errors)
    orjson.dumps(engine.state.snapshot())


@pytest.mark.parametrize(
    "value,expected",
    [
        (2**70, "1180591620717411303424"),
        (math.nan, "nan"),
        (-math.inf, "-inf"),
        (MAX_INT, MAX_INT),
        (2**40000, "(an integer of 40001 bits)"),
    ],
    ids=["2**70", "nan", "-inf", "max", "2**40000"],
)
def test_traces_show_numbers_json_cannot_hold_as_text(value: Any, expected: Any) -> None:
    assert shown(value) == expected
    orjson.dumps(shown({"v": [value]}))


def test_traces_show_deep_structures_shortened() -> None:
    inner: Any = 1
    for _ in range(300):
        inner = [inner]
    orjson.dumps(shown(inner))  # orjson refuses more than 255 levels


def test_the_events_documentation_lists_every_reason_code() -> None:
    text = (ROOT / "docs" / "language.md").read_text()
    section = text.split("## Events")[1].split("\n## ")[0]
    for reason in REASONS:
        assert f"`{reason}`" in section, reason


# -- an event far ahead of the clock holds a bounded batch ----------------------------------


@pytest.mark.slow
def test_an_event_far_ahead_fires_every_slot_in_bounded_batches() -> None:
    """A year of hourly slots before one event: every slot fires, and no batch handed to
    the store is larger than the runner's batch size (nothing piles up per slot)."""
    from engage_rules.events import parse_event
    from engage_rules.model.state import State
    from engage_rules.shell.runner import Runner
    from engage_rules.store import MemoryStore

    class Recording(MemoryStore):
        sizes: list[int]

        def commit(self, decisions: Any, state: State) -> None:
            self.sizes.append(len(decisions))
            super().commit(decisions, state)

    pb = playbook("""
rules:
  - id: hourly
    on: {cron: "0 * * * *"}
    do: [{broadcast: {text: tick}}]
""")
    store = Recording()
    store.sizes = []
    runner = Runner(pb, store, batch_size=100)
    runner.feed(
        parse_event(line("e1", "2026-01-01T00:30:00Z", type="checkin", member={"id": "u1"}))
    )
    runner.feed(
        parse_event(line("e2", "2027-01-01T00:30:00Z", type="checkin", member={"id": "u1"}))
    )
    runner.advance_to(datetime(2027, 1, 1, 2, tzinfo=UTC))
    runner.close()
    assert runner.stats.timers_fired == 365 * 24 + 2
    assert runner.stats.actions["broadcast"] == 365 * 24 + 2
    assert max(store.sizes) <= 100


@pytest.mark.parametrize(
    "until", ["9999-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "2201-01-01T00:00:00Z"]
)
def test_until_outside_the_time_window_is_a_usage_error(
    until: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = Path(__file__).resolve().parents[1]
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "replay",
                str(root / "rules" / "starter" / "community.yaml"),
                str(root / "examples" / "starter-events.jsonl"),
                "--until",
                until,
            ]
        )
    assert exit_.value.code == 2
    assert "outside the times engage_rules handles (1970 to 2200, UTC)" in capsys.readouterr().err
