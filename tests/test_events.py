"""The event envelope (docs/reference.md §3): parsing, validation and JSON Lines reading."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules.events import (
    MAX_EVENT_BYTES,
    REASONS,
    Event,
    EventError,
    event_to_json,
    parse_event,
)
from engage_rules.shell.reader import Quarantined, read_events, read_lines
from engage_rules.testing import event_obj
from engage_rules.testing import strategies as est

ROOT = Path(__file__).resolve().parents[1]

BASE: dict[str, Any] = event_obj("message.posted", "u42", "2026-03-02T20:15:00+08:00", id="evt-1")

_DROP = object()


def line(**changes: Any) -> str:
    """BASE with fields replaced (or dropped with ``_DROP``), as one JSON line."""
    obj = dict(BASE)
    for key, value in changes.items():
        if value is _DROP:
            obj.pop(key, None)
        else:
            obj[key] = value
    return json.dumps(obj, ensure_ascii=False)


def reject(raw: str | bytes) -> EventError:
    with pytest.raises(EventError) as info:
        parse_event(raw)
    err = info.value
    assert err.reason in REASONS
    assert err.message and str(err) == err.message
    return err


# -- well-formed events ------------------------------------------------------------------


def test_full_design_example_parses() -> None:
    raw = (
        '{"id": "evt-1001", "type": "message.posted", "at": "2026-03-02T20:15:00+08:00",'
        ' "community": "fans", "platform": "discord", "channel": "general",'
        ' "member": {"id": "u42", "name": "阿明", "roles": ["member"],'
        ' "created_at": "2025-12-01T00:00:00Z"},'
        ' "data": {"text": "大家好！今天分享一个教程 https://example.com", "message_id": "m-77"}}'
    )
    e = parse_event(raw)
    assert (e.id, e.type, e.community, e.platform, e.channel) == (
        "evt-1001",
        "message.posted",
        "fans",
        "discord",
        "general",
    )
    assert e.member is not None and e.member_id == "u42"
    assert e.member.name == "阿明" and e.member.roles == ("member",)
    assert e.member.created_at == datetime(2025, 12, 1, tzinfo=UTC)
    assert e.data["message_id"] == "m-77"
    assert e.internal is False and e.depth == 0


def test_bytes_and_str_input_give_the_same_event() -> None:
    raw = line(data={"text": "你好"})
    assert parse_event(raw) == parse_event(raw.encode())


def test_community_defaults_to_default() -> None:
    assert parse_event(line(community=_DROP)).community == "default"


def test_optional_fields_are_optional() -> None:
    e = parse_event(line())
    assert e.platform is None and e.channel is None
    assert e.data == {}
    assert e.member is not None
    assert e.member.name is None and e.member.roles == () and e.member.created_at is None


def test_community_level_event_without_member() -> None:
    e = parse_event(line(type="custom.weekly_topic", member=_DROP))
    assert e.member is None and e.member_id is None


def test_any_dotted_lower_case_type_is_accepted() -> None:
    assert parse_event(line(type="acme.badge_earned.v2")).type == "acme.badge_earned.v2"
    assert parse_event(line(type="checkin")).type == "checkin"


def test_aware_times_keep_their_offset_and_compare_as_instants() -> None:
    shanghai = parse_event(line(id="a", at="2026-03-02T20:15:00+08:00"))
    utc = parse_event(line(id="b", at="2026-03-02T12:15:00Z"))
    assert shanghai.at == utc.at
    assert shanghai.ts == utc.ts == datetime(2026, 3, 2, 12, 15, tzinfo=UTC).timestamp()
    assert shanghai.at.utcoffset() == timedelta(hours=8)
    assert utc.at.utcoffset() == timedelta(0)
    assert shanghai.at.isoformat() == "2026-03-02T20:15:00+08:00"
    negative = parse_event(line(id="c", at="2026-03-02T07:15:00-05:00"))
    assert negative.at == utc.at and negative.at.utcoffset() == timedelta(hours=-5)


def test_member_created_at_aware_is_kept() -> None:
    e = parse_event(line(member={"id": "u1", "created_at": "2025-06-01T08:00:00+08:00"}))
    assert e.member is not None and e.member.created_at is not None
    assert e.member.created_at == datetime(2025, 6, 1, tzinfo=UTC)


def test_input_cannot_claim_to_be_an_internal_event() -> None:
    e = parse_event(line(internal=True, depth=99, ts=5))
    assert e.internal is False and e.depth == 0
    assert e.ts == e.at.timestamp()


# -- malformed events: reason code and a message that names the problem ------------------


@pytest.mark.parametrize("raw", ['{"id": ', "{'id': 'e1'}", "", "NaN", '{"a": 1} trailing'])
def test_bad_json(raw: str) -> None:
    err = reject(raw)
    assert err.reason == "bad_json"
    assert "invalid JSON" in err.message


@pytest.mark.parametrize("raw", ["[1, 2]", '[{"id": "e1"}]', '"evt"', "42", "3.5", "null", "true"])
def test_not_an_object(raw: str) -> None:
    err = reject(raw)
    assert err.reason == "not_object"
    assert "object" in err.message


@pytest.mark.parametrize("field", ["id", "type", "at"])
def test_missing_required_top_level_field(field: str) -> None:
    err = reject(line(**{field: _DROP}))
    assert err.reason == "missing_field"
    assert f"`{field}`" in err.message


def test_member_present_without_id() -> None:
    err = reject(line(member={"name": "阿明", "roles": ["member"]}))
    assert err.reason == "missing_field"
    assert "member.id" in err.message


@pytest.mark.parametrize("at", [1772413200, 1772413200.5, None, True, ["2026-03-02T10:00:00Z"]])
def test_at_must_be_a_string(at: Any) -> None:
    err = reject(line(at=at))
    assert err.reason == "bad_time"
    assert "`at`" in err.message and "ISO 8601" in err.message


@pytest.mark.parametrize("at", ["2026-03-02T10:00:00", "2026-03-02 10:00:00", "2026-03-02"])
def test_naive_at_is_malformed(at: str) -> None:
    err = reject(line(at=at))
    assert err.reason == "bad_time"
    assert "`at`" in err.message and "offset" in err.message


@pytest.mark.parametrize(
    "at",
    [
        "yesterday",
        "",
        "2026-13-02T10:00:00Z",
        "2026-03-02T25:00:00+08:00",
        "2026-03-02T10:00:00+24:00",
        "1e10",
    ],
)
def test_garbage_at_is_malformed(at: str) -> None:
    err = reject(line(at=at))
    assert err.reason == "bad_time"
    assert "`at`" in err.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": 1001}, "id"),
        ({"id": None}, "id"),
        ({"type": 7}, "type"),
        ({"community": 1}, "community"),
        ({"channel": ["general"]}, "channel"),
        ({"data": [1, 2]}, "data"),
        ({"data": "text"}, "data"),
        ({"member": "u42"}, "member"),
        ({"member": ["u42"]}, "member"),
        ({"member": {"id": 42}}, "member.id"),
        ({"member": {"id": "u42", "roles": "admin"}}, "member.roles"),
        ({"member": {"id": "u42", "roles": [1]}}, "member.roles"),
        ({"member": {"id": "u42", "name": 5}}, "member.name"),
    ],
)
def test_wrong_typed_fields(changes: dict[str, Any], field: str) -> None:
    err = reject(line(**changes))
    # `id: null` is reported as missing or wrong-typed; either names the field.
    assert err.reason in ("wrong_type", "missing_field")
    if changes != {"id": None}:
        assert err.reason == "wrong_type"
    assert f"`{field}" in err.message


@pytest.mark.parametrize("created", ["2025-06-01T00:00:00", "last year", 1700000000])
def test_member_created_at_naive_or_garbage(created: Any) -> None:
    err = reject(line(member={"id": "u42", "created_at": created}))
    assert err.reason == "bad_time"
    assert "member.created_at" in err.message


@pytest.mark.parametrize(
    "type_",
    [
        "Message Posted",
        "message posted",
        "Message.posted",
        "message..posted",
        ".message",
        "message.",
        "消息.发送",
    ],
)
def test_bad_type_names(type_: str) -> None:
    err = reject(line(type=type_))
    assert err.reason == "bad_event_type"
    assert repr(type_) in err.message


def test_empty_type_is_malformed() -> None:
    err = reject(line(type=""))
    assert err.reason in ("bad_event_type", "wrong_type")
    assert "`type`" in err.message


@pytest.mark.parametrize("changes", [{"id": ""}, {"member": {"id": ""}}])
def test_empty_ids_are_malformed(changes: dict[str, Any]) -> None:
    err = reject(line(**changes))
    assert err.reason == "wrong_type"
    assert "id`" in err.message


def test_oversized_event() -> None:
    raw = line(data={"text": "x" * (MAX_EVENT_BYTES + 1)})
    err = reject(raw)
    assert err.reason == "oversized"
    assert str(MAX_EVENT_BYTES) in err.message
    assert str(len(raw.encode())) in err.message


def test_oversized_is_measured_in_utf8_bytes() -> None:
    # 25,000 CJK characters: fewer than 64 Ki characters but more than 64 KiB of UTF-8.
    raw = line(data={"text": "字" * 25_000})
    assert len(raw) < MAX_EVENT_BYTES < len(raw.encode())
    assert reject(raw).reason == "oversized"


def test_event_just_under_the_limit_is_accepted() -> None:
    skeleton = line(data={"text": ""})
    raw = line(data={"text": "x" * (MAX_EVENT_BYTES - len(skeleton))})
    assert len(raw.encode()) == MAX_EVENT_BYTES
    assert parse_event(raw).data["text"].startswith("x")


def test_str_with_lone_surrogate_is_an_event_error() -> None:
    assert (
        reject('{"id": "\ud800", "type": "a", "at": "2026-03-02T10:00:00Z"}').reason == "bad_json"
    )


# -- hypothesis: nothing but EventError --------------------------------------------------

_json = est.json_values()
_eventish = est.malformed_event_objs(_json)


def _check(value: Any) -> None:
    raw = json.dumps(value, ensure_ascii=False)
    for form in (raw, raw.encode()):
        try:
            e = parse_event(form)
        except EventError as err:
            assert err.reason in REASONS
        else:
            assert isinstance(e, Event)
            assert e.at.utcoffset() is not None
            assert e.internal is False and e.depth == 0


@settings(max_examples=50, deadline=None)
@given(_json)
def test_arbitrary_json_only_raises_event_error(value: Any) -> None:
    _check(value)


@settings(max_examples=50, deadline=None)
@given(_eventish)
def test_event_shaped_json_only_raises_event_error(value: dict[str, Any]) -> None:
    _check(value)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_only_raise_event_error(raw: bytes) -> None:
    try:
        parse_event(raw)
    except EventError as err:
        assert err.reason in REASONS


# -- reading JSON Lines -----------------------------------------------------------------


def _good(i: int) -> str:
    return line(id=f"e{i}", at=f"2026-03-02T10:00:{i:02d}+08:00")


def _collect(items: Any) -> tuple[list[tuple[int, str]], list[Quarantined]]:
    events: list[tuple[int, str]] = []
    bad: list[Quarantined] = []
    for lineno, item in items:
        if isinstance(item, Quarantined):
            assert item.line == lineno
            bad.append(item)
        else:
            events.append((lineno, item.id))
    return events, bad


def test_read_events_file_line_numbers_blank_lines_and_reasons(tmp_path: Path) -> None:
    rows = [
        _good(1),  # 1
        "",  # 2 blank: skipped, still counted
        "   \t",  # 3 whitespace only: skipped
        '{"id": "x", "type"',  # 4 bad_json
        "[1, 2, 3]",  # 5 not_object
        line(id="e6", at=1772413200),  # 6 bad_time
        line(id="e7", type="Message Posted"),  # 7 bad_event_type
        line(id="e8", member={"name": "n"}),  # 8 missing_field
        line(id="e9", data=[1]),  # 9 wrong_type
        _good(10),  # 10
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    events, bad = _collect(read_events(path))
    assert events == [(1, "e1"), (10, "e10")]
    assert [(q.line, q.reason) for q in bad] == [
        (4, "bad_json"),
        (5, "not_object"),
        (6, "bad_time"),
        (7, "bad_event_type"),
        (8, "missing_field"),
        (9, "wrong_type"),
    ]
    assert bad[0].raw == '{"id": "x", "type"'
    assert bad[0].to_json() == {
        "line": 4,
        "reason": "bad_json",
        "message": bad[0].message,
        "raw": bad[0].raw,
    }


def test_read_events_accepts_str_path_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(("\r\n".join([_good(1), "", _good(3)]) + "\r\n").encode())
    events, bad = _collect(read_events(str(path)))
    assert events == [(1, "e1"), (3, "e3")] and bad == []


@pytest.mark.parametrize("size", [MAX_EVENT_BYTES + 1, MAX_EVENT_BYTES + 2, 3 * MAX_EVENT_BYTES])
def test_oversized_line_in_the_middle_does_not_disturb_the_next(tmp_path: Path, size: int) -> None:
    filler = line(id="big", data={"text": ""})
    big = line(id="big", data={"text": "y" * (size - len(filler))})
    assert len(big.encode()) == size
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join([_good(1), big, _good(3), "", _good(5)]) + "\n")
    events, bad = _collect(read_events(path))
    assert events == [(1, "e1"), (3, "e3"), (5, "e5")]
    assert [(q.line, q.reason) for q in bad] == [(2, "oversized")]
    assert len(bad[0].raw) <= 200  # only a preview is kept


def test_oversized_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "tail.jsonl"
    path.write_text(_good(1) + "\n" + "z" * (MAX_EVENT_BYTES * 2))
    events, bad = _collect(read_events(path))
    assert events == [(1, "e1")]
    assert [(q.line, q.reason) for q in bad] == [(2, "oversized")]


def test_read_lines_from_an_iterable_of_bytes() -> None:
    events, bad = _collect(read_lines([_good(1).encode(), b"\n", b"oops\n"]))
    assert events == [(1, "e1")]
    assert [(q.line, q.reason) for q in bad] == [(3, "bad_json")]


def test_read_events_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    data = "\n".join([_good(1), "not json", "", _good(4)]) + "\n"
    stdin = io.TextIOWrapper(io.BytesIO(data.encode()), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    events, bad = _collect(read_events("-"))
    assert events == [(1, "e1"), (4, "e4")]
    assert [(q.line, q.reason) for q in bad] == [(2, "bad_json")]


@pytest.mark.subprocess
def test_read_events_dash_in_a_subprocess() -> None:
    script = (
        "import sys\n"
        "from engage_rules.shell.reader import read_events, Quarantined\n"
        "for n, item in read_events('-'):\n"
        "    print(n, item.reason if isinstance(item, Quarantined) else item.id)\n"
    )
    data = "\n".join([_good(1), "[]", "", _good(4)]) + "\n"
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=data.encode(),
        capture_output=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().split("\n") == ["1 e1", "2 not_object", "4 e4", ""]


def test_event_to_json_round_trips() -> None:
    e = parse_event(
        line(
            community="fans",
            channel="c",
            platform="discord",
            member={
                "id": "u1",
                "name": "阿明",
                "roles": ["vip"],
                "created_at": "2025-06-01T00:00:00Z",
            },
            data={"n": 1, "text": "你好"},
        )
    )
    out = event_to_json(e)
    assert out["at"] == "2026-03-02T20:15:00+08:00"
    assert parse_event(orjson.dumps(out)) == e


@given(
    st.datetimes(
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3, minutes=-30))]
        )
    ),
    st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
)
@settings(max_examples=50)
def test_action_json_bytes_equal_to_json(at: datetime, params: dict[str, Any]) -> None:
    from engage_rules.model.decision import ActionRecord

    a = ActionRecord(None, "award", "u1", "r", "e1", at, params, "c", ("pb", "do.0"))
    assert json.loads(a.to_json_bytes()) == a.to_json()  # stdlib: exact big integers


def test_action_records_are_untracked_structs_with_lazy_keys() -> None:
    import gc

    from engage_rules.model.decision import ActionRecord, action_key

    at = datetime(2026, 3, 1, tzinfo=UTC)
    a = ActionRecord(None, "award", "u1", "r", "e1", at, {"amount": 1}, "c", ("pb", "do.0"))
    # The memory store keeps every action still to deliver: the collector never scans them.
    assert not gc.is_tracked(a)
    assert a.key == action_key("pb", "r", "e1", "do.0")  # computed on first read
    assert a.to_json()["key"] == a.key and a.community == "c" and not a.shadow
    given_key = ActionRecord(
        key="k1", type="tag", member=None, rule="r", cause="e", at=at, params={}
    )
    assert given_key.key == "k1" and given_key.community == "default"
    assert given_key.key_source is None
    same = ActionRecord(a.key, "award", "u1", "r", "e1", at, {"amount": 1}, "c")
    assert a == same and a != given_key and a != "award"
    with pytest.raises(TypeError):
        hash(a)


def test_ledger_entries_are_untracked_and_compare_without_their_action() -> None:
    import gc

    import msgspec

    from engage_rules.model.decision import ActionRecord
    from engage_rules.model.state import LedgerEntry

    at = datetime(2026, 3, 1, tzinfo=UTC)
    action = ActionRecord(None, "award", "u1", "r", "e1", at, {}, "c", ("pb", "do.0"))
    e = LedgerEntry(1, "points", 5, "award", "bonus", "r", "e1", "", at, action=action)
    assert not gc.is_tracked(e)  # one per award: the collector never scans them
    assert e.action_key() == action.key and e.key == action.key
    stored = msgspec.structs.replace(e, action=None, original=[1, 2])
    assert stored == e and "action" not in repr(stored) and "amount=5" in repr(stored)
    assert msgspec.structs.replace(e, reversed_by=2) != e and e != (1, "points")
    with pytest.raises(TypeError):
        hash(e)
