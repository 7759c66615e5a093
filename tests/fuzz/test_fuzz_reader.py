"""Fuzzing the event reader (issue 12, part 8): no line can stop a stream.

The target is :func:`engage_rules.testing.reader_fuzz.check_reader`, which the atheris
harness (``fuzz/atheris_reader.py``) drives too: ``read_lines`` yields exactly one Event
or Quarantined per non-blank line, never raises, and every event it yields is storable
(orjson encodes it, its data is within the bounds) and dated within the time window.

Inputs: arbitrary bytes, and valid event lines mutated the ways the adversarial campaign
found hurtful — bit flips, truncations, duplicated fields, deep nesting, huge numbers,
odd times, byte-order marks, invalid UTF-8.  The crash seeds of every finding are kept in
``seeds/events/`` (see its README) and replayed end to end.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.cli import main
from engage_rules.events import REASONS
from engage_rules.shell.reader import Quarantined
from engage_rules.testing import open_store
from engage_rules.testing import strategies as est
from engage_rules.testing.reader_fuzz import check_event_obj, check_reader

ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path(__file__).resolve().parent / "seeds" / "events"
PLAYBOOKS = {
    "moderation-traced": (ROOT / "rules" / "moderation" / "community.yaml", ["--trace"]),
    "starter": (ROOT / "rules" / "starter" / "community.yaml", []),
}

# -- valid events, and their mutations -------------------------------------------------------

_text = est.valid_text(10)
#: What events hold: 64-bit integers, finite floats, valid text, nested three wide.
_json = est.json_values(
    est.json_scalars(
        integers=est.int64s(),
        floats=st.floats(allow_nan=False, allow_infinity=False),
        text=_text,
    ),
    keys=_text,
    max_size=3,
    max_leaves=8,
)
_times = est.iso_times()


def _event() -> st.SearchStrategy[dict[str, Any]]:
    return est.event_objs(
        types=st.sampled_from(["message.posted", "reaction.added", "custom.thing"]),
        times=_times,
        texts=_text,
        data=_json,
    )


_HUGE = st.one_of(
    st.integers(min_value=19, max_value=400).map(lambda n: "9" * n),
    st.integers(min_value=19, max_value=400).map(lambda n: "-1" + "0" * n),
    st.sampled_from(
        [
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
            "1e400",
            "-1E+999",
            "1" + "0" * 400 + ".5",
            "0.1e-999",
            "-0",
        ]
    ),
)
_ODD_TIMES = st.sampled_from(
    [
        "0001-01-01T00:00:00+01:00",
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00+00:01",
        "2200-12-31T23:59:59-00:01",
        "2201-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-23:59",
        "2026-03-02T24:00:00Z",
        "2026-12-31T23:59:60Z",
        "2026-03-02T10:00:00.123456789Z",
        "2026-03-02t10:00:00z",
        "2026-03-02 10:00:00+08:00",
        "2026-03-02T10:00:00+23:59",
        "2026-03-02T10:00:00",
        "2026-02-30T10:00:00Z",
        "+2026-03-02T10:00:00Z",
        "",
    ]
)
_BAD_UTF8 = st.sampled_from(
    [
        b"\xff",
        b"\xc0\x80",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xe4\xbd",
        b"\x80",
        b"\xef\xbb\xbf",
        b"\x00",
    ]
)
_FIELDS = [
    "id",
    "type",
    "at",
    "community",
    "member",
    "data",
    "channel",
    "platform",
    "internal",
    "depth",
    "ts",
]


def _insert(raw: bytes, at: int, piece: bytes) -> bytes:
    return raw[:at] + piece + raw[at:]


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    raw = json.dumps(draw(_event()), ensure_ascii=draw(st.booleans())).encode()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        kind = draw(
            st.sampled_from(
                [
                    "flip",
                    "truncate",
                    "duplicate",
                    "deep",
                    "huge",
                    "time",
                    "bom",
                    "utf8",
                    "surrogate",
                ]
            )
        )
        if kind == "flip" and raw:
            i = draw(st.integers(min_value=0, max_value=len(raw) - 1))
            raw = raw[:i] + bytes([raw[i] ^ (1 << draw(st.integers(0, 7)))]) + raw[i + 1 :]
        elif kind == "truncate":
            raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
        elif kind == "duplicate":
            field = draw(st.sampled_from(_FIELDS))
            value = json.dumps(draw(_json | _times)).encode()
            raw = _insert(raw, 1, b'"' + field.encode() + b'":' + value + b",")
        elif kind == "deep":
            levels = draw(st.sampled_from([29, 30, 31, 32, 40, 999, 1000, 5000]))
            opening, closing = draw(st.sampled_from([(b"[", b"]"), (b'{"k":', b"}")]))
            field = draw(st.sampled_from([b"data", b"extra", b"member"]))
            nested = opening * levels + b"1" + closing * levels
            raw = _insert(raw, 1, b'"' + field + b'":{"x":' + nested + b"},")
        elif kind == "huge":
            number = draw(_HUGE).encode()
            where = draw(
                st.sampled_from(
                    [b'"data":{"n":%s},', b'"data":{"n":[%s]},', b'"depth":%s,', b'"extra":%s,']
                )
            )
            raw = _insert(raw, 1, where % number)
        elif kind == "time":
            field = draw(st.sampled_from([b"at", b"member"]))
            at = json.dumps(draw(_ODD_TIMES)).encode()
            piece = (
                b'"at":' + at if field == b"at" else b'"member":{"id":"m","created_at":' + at + b"}"
            )
            raw = _insert(raw, 1, piece + b",")
        elif kind == "bom":
            where = draw(st.sampled_from([0, 0, 1, len(raw)]))
            raw = _insert(raw, where, b"\xef\xbb\xbf" * draw(st.integers(1, 2)))
        elif kind == "utf8":
            i = draw(st.integers(min_value=0, max_value=len(raw)))
            raw = _insert(raw, i, draw(_BAD_UTF8))
        elif kind == "surrogate":
            raw = _insert(raw, 1, b'"data":{"s":"\\ud800x"},')
    return raw


@st.composite
def _file(draw: st.DrawFn) -> bytes:
    lines = draw(
        st.lists(
            st.one_of(_mutated(), st.builds(lambda e: json.dumps(e).encode(), _event())),
            min_size=1,
            max_size=5,
        )
    )
    seps = draw(
        st.lists(
            st.sampled_from([b"\n", b"\r\n", b"\n\n", b"\n \t\n"]),
            min_size=len(lines),
            max_size=len(lines),
        )
    )
    data = b"".join(line + sep for line, sep in zip(lines, seps, strict=True))
    if draw(st.booleans()):
        data = data.rstrip(b"\r\n")  # no newline at the end of the file
    return data


_FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.binary(max_size=1024))
def test_arbitrary_bytes(data: bytes) -> None:
    check_reader(data)


@pytest.mark.slow
@_FUZZ
@given(_file())
def test_mutated_event_files(data: bytes) -> None:
    check_reader(data)


def test_a_valid_line_survives_the_reader() -> None:
    line = b'{"id":"e1","type":"message.posted","at":"2026-03-02T10:00:00Z","data":{"n":1}}'
    [event] = check_reader(line)
    assert not isinstance(event, Quarantined) and event.data == {"n": 1}


# -- events built by adapters ----------------------------------------------------------------

_any_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(st.characters(codec=None), max_size=6),  # lone surrogates too
    st.binary(max_size=4),
    st.datetimes(),
    st.just(math.inf),
)
_any = st.recursive(
    _any_scalar,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner)
        | st.frozensets(st.integers(), max_size=2)
        | st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def _event_obj(draw: st.DrawFn) -> Any:
    event = draw(_event())
    for field in draw(st.lists(st.sampled_from(_FIELDS), max_size=2)):
        event[field] = draw(_any | _ODD_TIMES)
    if draw(st.booleans()):
        inner: Any = draw(_any)
        for _ in range(draw(st.sampled_from([29, 30, 31, 400]))):
            inner = [inner]
        event["data"] = {"deep": inner}
    return event


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.one_of(_event_obj(), _any))
def test_events_built_from_any_python_value(value: Any) -> None:
    check_event_obj(value)


# -- the crash seeds of issue 12 -------------------------------------------------------------


def _seeds() -> list[Path]:
    return sorted(SEEDS.glob("*.jsonl"))


def test_every_seed_is_listed_in_the_readme() -> None:
    readme = (SEEDS / "README.md").read_text()
    assert _seeds()
    for seed in _seeds():
        assert f"`{seed.name}`" in readme
        reason = seed.name.split("--")[0]
        assert reason == "none" or reason in REASONS


@pytest.mark.parametrize("seed", _seeds(), ids=lambda p: p.stem)
@pytest.mark.parametrize("setup", sorted(PLAYBOOKS))
def test_crash_seed_replays_into_sqlite(
    seed: Path, setup: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = seed.name.split("--")[0]
    lines = [x for x in seed.read_bytes().split(b"\n") if x.strip()]
    items = check_reader(seed.read_bytes())
    assert [q.reason for q in items if isinstance(q, Quarantined)] == (
        [] if reason == "none" else [reason]
    )
    playbook, extra = PLAYBOOKS[setup]
    db = tmp_path / "state.db"
    capsys.readouterr()
    rc = main(
        [
            "replay",
            str(playbook),
            str(seed),
            "--store",
            f"sqlite:///{db}",
            "--actions-out",
            str(tmp_path / "actions.jsonl"),
            *extra,
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    quarantined = dict(re.findall(r"quarantined (\w+): (\d+)", err))
    assert quarantined == ({} if reason == "none" else {reason: "1"})
    processed = int(re.search(r"(\d+) processed", err).group(1))  # type: ignore[union-attr]
    assert processed == len(lines) - len(quarantined)
    store = open_store(f"sqlite:///{db}")
    try:
        state = store.open()
        assert state.clock is not None and state.clock < datetime(
            2027, 1, 1, tzinfo=UTC
        ) + timedelta(days=1)
        orjson.dumps(state.snapshot())
    finally:
        store.close()
