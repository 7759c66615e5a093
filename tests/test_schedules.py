"""Schedules (docs/reference.md §5.6): `on: {cron: ...}` from YAML to actions.

Slots fire once each across DST changes (Europe/Berlin, America/New_York and
Australia/Lord_Howe's 30-minute shift), across restarts of a SQLite-backed replay, and
after downtime according to `catch_up`; `audience:` runs the rule once per member of a
segment.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engage_rules import Engine
from engage_rules._util.cron import CronSchedule, check_cron, to_instant
from engage_rules.errors import PlaybookError
from engage_rules.model.decision import ActionRecord
from engage_rules.model.state import Timer, ts
from engage_rules.shell.runner import Runner
from engage_rules.testing import T0, event, open_store
from helpers import playbook, run
from test_cli import cli

UTC = ZoneInfo("UTC")


def pb_in(tz: str, body: str) -> Engine:
    header = f"engage_rules: 1\nname: s\ncommunity: {{name: c, timezone: {tz}}}\n"
    return Engine(playbook(body, header))


def fired(engine: Engine, until: datetime) -> list[ActionRecord]:
    return [a for d in engine.advance_to(until) for a in d.actions]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


DAILY = """
rules:
  - id: nightly
    on: {{cron: "{cron}"}}
    do: [{{broadcast: {{text: "slot {{{{ event.data.slot }}}}"}}}}]
"""


def daily(tz: str, cron: str, start: datetime, until: datetime) -> list[datetime]:
    """Instants (UTC) at which a schedule fired, the clock starting at ``start``."""
    engine = pb_in(tz, DAILY.format(cron=cron))
    run(engine, event("member.joined", "u1", start))
    return [a.at.astimezone(UTC) for a in fired(engine, until)]


# -- DST ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tz", "cron", "start", "expected"),
    [
        # Berlin, spring forward 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 is skipped and
        # fires once, at the first instant after the gap (03:00 CEST = 01:00Z).
        (
            "Europe/Berlin",
            "30 2 * * *",
            "2026-03-27T12:00",
            ["2026-03-28T01:30", "2026-03-29T01:00", "2026-03-30T00:30"],
        ),
        # Berlin, fall back 2026-10-25 03:00 CEST -> 02:00 CET: 02:30 occurs twice and
        # fires once, at its first occurrence (02:30 CEST = 00:30Z).
        (
            "Europe/Berlin",
            "30 2 * * *",
            "2026-10-23T12:00",
            ["2026-10-24T00:30", "2026-10-25T00:30", "2026-10-26T01:30"],
        ),
        # New York, spring forward 2026-03-08 02:00 EST -> 03:00 EDT.
        (
            "America/New_York",
            "30 2 * * *",
            "2026-03-06T12:00",
            ["2026-03-07T07:30", "2026-03-08T07:00", "2026-03-09T06:30"],
        ),
        # New York, fall back 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 occurs twice.
        (
            "America/New_York",
            "30 1 * * *",
            "2026-10-30T12:00",
            ["2026-10-31T05:30", "2026-11-01T05:30", "2026-11-02T06:30"],
        ),
        # Lord Howe, spring forward 2026-10-04 02:00 +10:30 -> 02:30 +11: a 30-minute gap;
        # 02:15 fires at 02:30 +11 (15:30Z).
        (
            "Australia/Lord_Howe",
            "15 2 * * *",
            "2026-10-02T00:00",
            ["2026-10-02T15:45", "2026-10-03T15:30", "2026-10-04T15:15"],
        ),
        # Lord Howe, fall back 2026-04-05 02:00 +11 -> 01:30 +10:30: 01:45 occurs twice.
        (
            "Australia/Lord_Howe",
            "45 1 * * *",
            "2026-04-03T00:00",
            ["2026-04-03T14:45", "2026-04-04T14:45", "2026-04-05T15:15"],
        ),
    ],
)
def test_daily_slot_fires_once_across_dst(
    tz: str, cron: str, start: str, expected: list[str]
) -> None:
    got = daily(tz, cron, utc(start), utc(start) + timedelta(days=3))
    assert got == [utc(x) for x in expected]


@pytest.mark.parametrize(
    ("tz", "day"),
    [
        ("Europe/Berlin", "2026-10-25"),
        ("America/New_York", "2026-11-01"),
        ("Australia/Lord_Howe", "2026-04-05"),
        ("Europe/Berlin", "2026-03-29"),
        ("America/New_York", "2026-03-08"),
        ("Australia/Lord_Howe", "2026-10-04"),
    ],
)
def test_every_quarter_hour_on_dst_days(tz: str, day: str) -> None:
    """Every wall-clock slot of the day fires exactly once, in order, never earlier than
    the one before; ambiguous ones at their first occurrence."""
    zone = ZoneInfo(tz)
    start = datetime.fromisoformat(day + "T00:00").replace(tzinfo=zone) - timedelta(minutes=1)
    engine = pb_in(tz, DAILY.format(cron="*/15 * * * *"))
    run(engine, event("member.joined", "u1", start))
    acts = fired(engine, start + timedelta(hours=24))
    assert len({a.cause for a in acts}) == len(acts)  # one action per slot
    walls = [datetime.fromisoformat(a.cause.split(":", 3)[3]) for a in acts]
    assert walls == sorted(walls) and len(walls) == 96  # 24 wall hours x 4
    instants = [a.at for a in acts]
    assert instants == sorted(instants)
    for wall, at in zip(walls, instants, strict=True):
        # (aware times of an ambiguous wall time never compare == across zones: PEP 495)
        assert at.timestamp() == to_instant(wall, zone).timestamp()


def test_to_instant_gap_and_fold() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert to_instant(datetime(2026, 3, 29, 2, 30), berlin) == utc("2026-03-29T01:00")
    assert to_instant(datetime(2026, 10, 25, 2, 30), berlin) == utc("2026-10-25T00:30")
    howe = ZoneInfo("Australia/Lord_Howe")
    assert to_instant(datetime(2026, 10, 4, 2, 0), howe) == utc("2026-10-03T15:30")
    assert to_instant(datetime(2026, 10, 4, 2, 29), howe) == utc("2026-10-03T15:30")
    assert to_instant(datetime(2026, 4, 5, 1, 45), howe) == utc("2026-04-04T14:45")


def test_cron_schedule_queries() -> None:
    sched = CronSchedule("0 20 * * FRI", ZoneInfo("Asia/Shanghai"))
    friday = datetime(2026, 3, 6, 20, 0)
    assert sched.first_after(T0) == friday
    assert sched.first_after(sched.instant(friday)) == datetime(2026, 3, 13, 20, 0)
    assert sched.latest_at_or_before(T0 + timedelta(days=11)) == friday
    assert sched.latest_at_or_before(T0 + timedelta(days=12)) == datetime(2026, 3, 13, 20, 0)
    assert sched.slots_between(friday, T0 + timedelta(days=12)) == [
        friday,
        datetime(2026, 3, 13, 20, 0),
    ]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 20 * *", "has 4 fields"),
        ("0 20 * * FRI 2026", "has 6 fields"),
        ("61 * * * *", "not a valid cron expression"),
        ("@fortnightly", "unknown cron macro"),
        ("0 0 30 2 *", "never fires"),
        ("", "needs an expression"),
    ],
)
def test_bad_cron_expressions(expr: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_cron(expr)


# -- from YAML ------------------------------------------------------------------------------
WEEKLY = """
segments:
  core: "member.points >= 10"
templates:
  topic: "本周话题 {{ event.data.slot }}"
rules:
  - id: weekly-topic
    on: {cron: "0 20 * * FRI"}
    do: [{broadcast: {template: topic, channel: general}}]
  - id: core-thanks
    on: {cron: "0 21 * * FRI", audience: core}
    if: "member.points < 100"
    do: [{send: {text: "谢谢 {{ member.id }}"}}, {award: {points: 1, reason: weekly}}]
  - id: post
    on: message.posted
    do: [{award: {points: 10, reason: post}}]
"""


def test_weekly_schedule_and_audience_through_the_engine() -> None:
    engine = Engine(playbook(WEEKLY))
    run(
        engine,
        event("message.posted", "u1", 0),
        event("member.joined", "u2", 10),
        event("message.posted", "u3", 20),
        event("member.left", "u3", 30),
    )
    acts = fired(engine, T0 + timedelta(days=8))
    assert [(a.type, a.rule, a.member, a.at.isoformat()) for a in acts] == [
        ("broadcast", "weekly-topic", None, "2026-03-06T20:00:00+08:00"),
        ("send", "core-thanks", "u1", "2026-03-06T21:00:00+08:00"),
        ("award", "core-thanks", "u1", "2026-03-06T21:00:00+08:00"),
    ]  # u2 has no points; u3 left
    assert acts[0].params == {
        "template": "topic",
        "text": "本周话题 2026-03-06T20:00:00+08:00",
        "channel": "general",
    }
    assert acts[0].cause == "schedule:default:weekly-topic:2026-03-06T20:00"
    assert acts[1].cause == "schedule:default:core-thanks:2026-03-06T21:00/u1"
    books = engine.state.communities["default"].data["schedules"]
    assert books["weekly-topic"] == {
        "cron": "0 20 * * FRI",
        "last": "2026-03-06T20:00",
        "next": "2026-03-13T20:00",
    }
    # A second week: the same again, with distinct keys.
    more = fired(engine, T0 + timedelta(days=15))
    assert [a.rule for a in more] == ["weekly-topic", "core-thanks", "core-thanks"]
    assert not {a.key for a in more} & {a.key for a in acts}


def test_first_slot_is_the_first_after_the_clock_starts() -> None:
    # The clock starts on a Friday at 20:00 exactly: that slot is not "after" it.
    start = datetime.fromisoformat("2026-03-06T20:00:00+08:00")
    engine = Engine(playbook(WEEKLY))
    run(engine, event("member.joined", "u1", start))
    acts = fired(engine, start + timedelta(days=7, minutes=1))
    assert [a.at.isoformat() for a in acts if a.rule == "weekly-topic"] == [
        "2026-03-13T20:00:00+08:00"
    ]


def test_a_slot_never_fires_twice_even_if_its_timer_is_recreated() -> None:
    engine = Engine(playbook(WEEKLY))
    run(engine, event("message.posted", "u1", 0))
    first = fired(engine, T0 + timedelta(days=5))
    assert [a.rule for a in first] == ["weekly-topic", "core-thanks", "core-thanks"]
    slot = datetime.fromisoformat("2026-03-06T20:00:00+08:00")
    again = Timer(
        ts(slot),
        0,
        "schedule:default:weekly-topic:2026-03-06T20:00",
        "schedule",
        "default",
        None,
        "weekly-topic",
        {"slot": "2026-03-06T20:00"},
    )
    assert engine.state.add_timer(again)
    assert [a for a in fired(engine, T0 + timedelta(days=6)) if a.rule == "weekly-topic"] == []


def test_several_communities_each_get_their_slots() -> None:
    engine = Engine(playbook(WEEKLY))
    a = event("member.joined", "u1", 0)
    b = event("member.joined", "u1", 5)
    import msgspec

    b = msgspec.structs.replace(b, community="other")
    run(engine, a, b)
    acts = [x for x in fired(engine, T0 + timedelta(days=5)) if x.rule == "weekly-topic"]
    assert sorted(x.community for x in acts) == ["default", "other"]
    assert len({x.key for x in acts}) == 2


def test_schedule_without_members_and_else() -> None:
    engine = Engine(
        playbook("""
vars: {on: false}
rules:
  - id: monthly
    on: {cron: "0 10 1 * *"}
    if: "vars.on"
    do: [{broadcast: {text: on}}]
    else: [{broadcast: {text: "off {{ event.type }}"}}]
""")
    )
    run(engine, event("member.joined", "u1", 0))
    acts = fired(engine, T0 + timedelta(days=61))
    assert [(a.params["text"], a.at.isoformat()) for a in acts] == [
        ("off schedule.fired", "2026-04-01T10:00:00+08:00"),
        ("off schedule.fired", "2026-05-01T10:00:00+08:00"),
    ]


# -- load errors ----------------------------------------------------------------------------
def problems(body: str) -> list[str]:
    with pytest.raises(PlaybookError) as info:
        playbook(body)
    return [str(p) for p in info.value.problems]


def test_cron_errors_are_located() -> None:
    assert problems("rules:\n  - id: a\n    on: {cron: '0 20 * *'}\n    do: [{tag: x}]\n") == [
        "test.yaml:6:16: 'on.cron': cron expression '0 20 * *' has 4 fields; write five: minute "
        'hour day-of-month month day-of-week, e.g. "0 20 * * FRI"'
    ]
    (msg,) = problems(
        "rules:\n  - id: a\n    on: {cron: '@daily', catch_up: some}\n    do: [{tag: x}]\n"
    )
    assert msg == (
        "test.yaml:6:36: 'on.catch_up': expected 'one', 'all' or 'skip', got the string 'some'"
    )
    (msg,) = problems(
        "rules:\n  - id: a\n    on: {cron: '@daily', audiance: x}\n    do: [{tag: x}]\n"
    )
    assert "unknown key 'audiance'" in msg and "did you mean 'audience'?" in msg


def test_unknown_audience_is_rejected_with_a_suggestion() -> None:
    (msg,) = problems(
        "segments: {core: 'member.points > 5'}\nrules:\n  - id: a\n"
        "    on: {cron: '@daily', audience: coer}\n    do: [{tag: x}]\n"
    )
    assert msg == "test.yaml:7:9: unknown segment 'coer'; did you mean 'core'?" or msg.endswith(
        "unknown segment 'coer'; did you mean 'core'?"
    )
    (msg,) = problems(
        "rules:\n  - id: a\n    on: {cron: '@daily', audience: core}\n    do: [{tag: x}]\n"
    )
    assert msg.endswith("unknown segment 'core' (define it under `segments:`)")


# -- catch-up after downtime (Engine.resume) ------------------------------------------------
CATCH_UP = """
rules:
  - id: daily
    on: {{cron: "0 9 * * *", catch_up: {mode}}}
    do: [{{broadcast: {{text: "daily {{{{ event.data.slot }}}}"}}}}]
"""


@pytest.mark.parametrize(
    ("mode", "slots"),
    [
        ("one", ["2026-03-06T09:00"]),
        ("all", ["2026-03-03T09:00", "2026-03-04T09:00", "2026-03-05T09:00", "2026-03-06T09:00"]),
        ("skip", []),
    ],
)
def test_resume_applies_catch_up(tmp_path: Path, mode: str, slots: list[str]) -> None:
    pb = playbook(CATCH_UP.format(mode=mode))
    store = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    runner = Runner(pb, store)
    runner.feed(event("member.joined", "u1", 0))  # Monday 10:00: the first slot is Tuesday 9:00
    runner.close()
    # Real downtime until Friday 12:00; the runtime resumes with the wall clock.
    now = datetime.fromisoformat("2026-03-06T12:00:00+08:00")
    engine = Engine(pb, open_store(f"sqlite:///{tmp_path / 'state.db'}").open())
    decisions = engine.resume(now)
    acts = [a for d in decisions for a in d.actions]
    assert [a.cause for a in acts] == [f"schedule:default:daily:{s}" for s in slots]
    assert all(a.at == now for a in acts)
    assert [a.params["text"] for a in acts] == [
        f"daily {s}:00+08:00" for s in slots
    ]  # event.data.slot: the missed slot
    audit = [e for d in decisions for e in d.audit]
    assert [e["action"] for e in audit] == ["schedule_catch_up"]
    assert audit[0]["reason"].startswith(f"catch_up {mode}: 4 missed slot(s)")
    book = engine.state.communities["default"].data["schedules"]["daily"]
    assert book["next"] == "2026-03-07T09:00"
    # Afterwards the schedule goes on as usual, and no missed slot fires late.
    later = fired(engine, now + timedelta(days=1))
    assert [a.cause for a in later] == ["schedule:default:daily:2026-03-07T09:00"]


def test_resume_without_downtime_changes_nothing() -> None:
    engine = Engine(playbook(CATCH_UP.format(mode="all")))
    run(engine, event("member.joined", "u1", 0))
    assert [a for d in engine.resume(T0 + timedelta(hours=1)) for a in d.actions] == []


def test_advancing_the_clock_fires_every_slot_whatever_catch_up_says() -> None:
    engine = Engine(playbook(CATCH_UP.format(mode="skip")))
    run(engine, event("member.joined", "u1", 0))
    assert len(fired(engine, T0 + timedelta(days=4))) == 4


def test_start_arms_a_schedule_added_to_the_playbook_of_a_stored_state(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    runner = Runner(
        playbook("rules:\n  - {id: p, on: message.posted, do: [{tag: x}]}\n"), open_store(url)
    )
    runner.feed(event("message.posted", "u1", 0))
    runner.close()
    acts: list[ActionRecord] = []
    runner = Runner(playbook(CATCH_UP.format(mode="one")), open_store(url), on_commit=acts.extend)
    runner.advance_to(T0 + timedelta(days=2))
    runner.close()
    assert [a.cause for a in acts] == [
        "schedule:default:daily:2026-03-03T09:00",
        "schedule:default:daily:2026-03-04T09:00",
    ]


# -- restarts of a SQLite-backed replay (CLI) -----------------------------------------------
REPLAY_PB = """\
engage_rules: 1
name: sched
community: {name: c, timezone: Europe/Berlin}
rules:
  - id: nightly
    on: {cron: "30 2 * * *"}
    do: [{broadcast: {text: "night {{ event.data.slot }}"}}]
"""


def test_slots_fire_once_across_restarts_of_a_sqlite_replay(tmp_path: Path) -> None:
    book = tmp_path / "pb.yaml"
    book.write_text(REPLAY_PB)
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(
            {
                "id": "j1",
                "type": "member.joined",
                "at": "2026-10-23T12:00:00+02:00",
                "member": {"id": "u1"},
            }
        )
        + "\n"
    )
    store = f"sqlite:///{tmp_path / 'state.db'}"

    def replay(until: str) -> list[dict[str, object]]:
        proc = cli("replay", str(book), str(events), "--store", store, "--until", until)
        assert proc.returncode == 0, proc.stderr
        return [json.loads(x) for x in proc.stdout.splitlines()]

    first = replay("2026-10-25T02:45:00+02:00")  # between the two 02:30s of the DST day
    assert [a["at"] for a in first] == ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00"]
    # Restart past the second 02:30 (CET): the slot already fired does not fire again.
    second = replay("2026-10-25T02:45:00+01:00")
    # (A replay of the same input prints what it committed before, then what is new:
    # the output an uninterrupted replay to the later --until would print.)
    assert second == first
    third = replay("2026-10-27T00:00:00+01:00")
    assert [a["at"] for a in third[len(first) :]] == ["2026-10-26T02:30:00+01:00"]
    assert replay("2026-10-27T00:00:00+01:00") == third
    keys = [a["key"] for a in third]
    assert len(set(keys)) == 3


def test_a_changed_cron_takes_over_from_the_old_timer() -> None:
    old = playbook(CATCH_UP.format(mode="one"))
    engine = Engine(old)
    run(engine, event("member.joined", "u1", 0))
    # The same state under a playbook whose schedule now runs at 18:00.
    engine = Engine(
        playbook(CATCH_UP.format(mode="one").replace("0 9 * * *", "0 18 * * *")), engine.state
    )
    acts = fired(engine, T0 + timedelta(days=2, hours=9))
    assert [a.cause for a in acts] == [
        "schedule:default:daily:2026-03-03T18:00",
        "schedule:default:daily:2026-03-04T18:00",
    ]


def test_catch_up_with_an_audience_runs_per_member_per_missed_slot() -> None:
    engine = Engine(
        playbook("""
segments:
  everyone: "true"
rules:
  - id: daily
    on: {cron: "0 9 * * *", catch_up: all, audience: everyone}
    do: [{send: {text: "good morning {{ event.data.slot[:10] }}"}}]
""")
    )
    run(engine, event("member.joined", "u1", 0), event("member.joined", "u2", 1))
    acts = [a for d in engine.resume(T0 + timedelta(days=2, hours=1)) for a in d.actions]
    assert [(a.member, a.params["text"]) for a in acts] == [
        ("u1", "good morning 2026-03-03"),
        ("u2", "good morning 2026-03-03"),
        ("u1", "good morning 2026-03-04"),
        ("u2", "good morning 2026-03-04"),
    ]
    assert len({a.key for a in acts}) == 4
    assert all(a.at == T0 + timedelta(days=2, hours=1) for a in acts)
