"""The messaging policy (docs/reference.md §5.8) from YAML to actions: quiet hours (defer with a
deterministic spread, or drop; community or member time zone), frequency caps with
`transactional` bypass and `when_capped`, opt-out at the moment of sending (deferred sends
included), suppression records, and engine messages never triggering rules."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engage_rules import Engine
from engage_rules.errors import PlaybookError
from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.testing import event
from helpers import decisions, playbook, run
from test_cli import cli

HOUR = 3600


def local(text: str) -> datetime:
    return datetime.fromisoformat(text + "+08:00")


def policy(messaging: str, rules: str | None = None) -> Engine:
    return Engine(
        playbook(
            f"messaging: {messaging}\nrules:\n"
            + (
                rules
                or """
  - id: dm
    on: message.posted
    do: [{send: {text: "hi {{ member.id }}"}}]
  - id: urgent
    on: redeem.requested
    do: [{send: {text: "redeemed", transactional: true}}]
  - id: chat
    on: reaction.added
    do: [{reply: {text: "thanks"}}, {broadcast: {text: "news"}}]
  - id: set-tz
    on: poll.voted
    do: [{set: {timezone: "{{ event.data.tz }}"}}]
"""
            )
        )
    )


def advance(engine: Engine, at: datetime) -> list[ActionRecord]:
    return [a for d in engine.advance_to(at) for a in d.actions]


def audit(ds: list[Decision]) -> list[tuple[str, str]]:
    return [(e["action"], e["reason"]) for d in ds for e in d.audit]


QUIET = '{quiet_hours: {from: "22:00", to: "08:00", mode: defer, spread: 1h}}'


# -- quiet hours ----------------------------------------------------------------------------
def test_a_send_outside_quiet_hours_goes_now() -> None:
    engine = policy(QUIET)
    acts = run(engine, event("message.posted", "u1", local("2026-03-02T21:59:59")))
    assert [(a.type, a.at) for a in acts] == [("send", local("2026-03-02T21:59:59"))]


def test_quiet_hours_defer_releases_after_the_end_spread_deterministically() -> None:
    engine = policy(QUIET)
    ds = decisions(
        engine,
        *[
            event(
                "message.posted",
                f"u{i}",
                local("2026-03-02T23:30") + timedelta(seconds=i),
                id=f"p{i}",
            )
            for i in range(40)
        ],
    )
    assert [a for d in ds for a in d.actions] == []
    assert {a for a, _ in audit(ds)} == {"message_deferred"}
    released = advance(engine, local("2026-03-03T10:00"))
    assert sorted(a.member for a in released) == sorted(f"u{i}" for i in range(40))
    times = [a.at for a in released]
    assert times == sorted(times)
    assert all(local("2026-03-03T08:00") <= t < local("2026-03-03T09:00") for t in times)
    assert len(set(times)) > 30  # spread out, not flushed at once
    for a in released:  # the same action as it would have been: key, rule and cause
        assert a.rule == "dm" and a.params == {"text": f"hi {a.member}"}
        assert a.cause == f"p{a.member[1:]}"
    # Deterministic: the same stream gives the same release times and keys.
    again = policy(QUIET)
    decisions(
        again,
        *[
            event(
                "message.posted",
                f"u{i}",
                local("2026-03-02T23:30") + timedelta(seconds=i),
                id=f"p{i}",
            )
            for i in range(40)
        ],
    )
    assert sorted(a.at for a in advance(again, local("2026-03-03T10:00"))) == sorted(times)


def test_quiet_hours_within_one_day() -> None:
    engine = policy('{quiet_hours: {from: "12:00", to: "14:00", spread: 10m}}')
    assert run(engine, event("message.posted", "u1", local("2026-03-02T13:00"))) == []
    (a,) = advance(engine, local("2026-03-02T15:00"))
    assert local("2026-03-02T14:00") <= a.at < local("2026-03-02T14:10")
    assert [
        a.type for a in run(engine, event("message.posted", "u1", local("2026-03-02T14:30")))
    ] == ["send"]


def test_quiet_hours_drop() -> None:
    engine = policy('{quiet_hours: {from: "22:00", to: "08:00", mode: drop}}')
    ds = decisions(engine, event("message.posted", "u1", local("2026-03-02T06:00")))
    assert [a for d in ds for a in d.actions] == []
    assert audit(ds) == [("message_suppressed", "quiet_hours")]
    assert advance(engine, local("2026-03-04T00:00")) == []


def test_quiet_hours_use_the_member_time_zone_when_valid() -> None:
    engine = policy(QUIET)
    # 15:00 in Shanghai is 08:00 in Berlin (CET): Berlin's quiet hours are over.
    run(engine, event("poll.voted", "u1", local("2026-03-02T10:00"), tz="Europe/Berlin"))
    acts = run(engine, event("message.posted", "u1", local("2026-03-02T15:00")))
    assert [a.type for a in acts] == ["send"]
    # 14:00 in Shanghai is 07:00 in Berlin: deferred to 08:00 Berlin (15:00 Shanghai).
    assert run(engine, event("message.posted", "u1", local("2026-03-03T14:00"))) == []
    (a,) = advance(engine, local("2026-03-03T17:00"))
    assert local("2026-03-03T15:00") <= a.at < local("2026-03-03T16:00")
    # An invalid zone falls back to the community's.
    run(engine, event("poll.voted", "u2", local("2026-03-04T10:00"), tz="Mars/Olympus"))
    assert [
        a.type for a in run(engine, event("message.posted", "u2", local("2026-03-04T15:00")))
    ] == ["send"]


def test_transactional_bypasses_quiet_hours_and_channel_messages_are_outside_the_policy() -> None:
    engine = policy(QUIET)
    acts = run(
        engine,
        event("redeem.requested", "u1", local("2026-03-02T23:00")),
        event("reaction.added", "u1", local("2026-03-02T23:01")),
    )
    assert [a.type for a in acts] == ["send", "reply", "broadcast"]


# -- frequency caps -------------------------------------------------------------------------
CAP = "{max_per_member: {count: 2, per: day}}"


def test_cap_drops_beyond_the_count_per_community_day() -> None:
    engine = policy(CAP)
    ds = decisions(
        engine,
        *[
            event("message.posted", "u1", local("2026-03-02T10:00") + timedelta(minutes=k))
            for k in range(4)
        ],
    )
    assert [a.type for d in ds for a in d.actions] == ["send", "send"]
    assert audit(ds) == [("message_suppressed", "capped")] * 2
    # Transactional sends bypass the cap and do not count against it.
    assert [
        a.type for a in run(engine, event("redeem.requested", "u1", local("2026-03-02T11:00")))
    ] == ["send"]
    # Another member has their own count; the next Shanghai day starts afresh.
    assert len(run(engine, event("message.posted", "u2", local("2026-03-02T12:00")))) == 1
    assert len(run(engine, event("message.posted", "u1", local("2026-03-03T00:00:30")))) == 1


def test_cap_defer_releases_at_the_next_period_and_then_quiet_hours_apply() -> None:
    engine = policy(
        "{max_per_member: {count: 1, per: day}, when_capped: defer, "
        'quiet_hours: {from: "22:00", to: "08:00", spread: 30m}}'
    )
    acts = run(
        engine,
        event("message.posted", "u1", local("2026-03-02T10:00")),
        event("message.posted", "u1", local("2026-03-02T11:00")),
    )
    assert len(acts) == 1
    # Released at midnight: inside quiet hours, so deferred again to 08:00-08:30.
    (a,) = advance(engine, local("2026-03-03T12:00"))
    assert local("2026-03-03T08:00") <= a.at < local("2026-03-03T08:30")
    # It counted against the new day.
    assert run(engine, event("message.posted", "u1", local("2026-03-03T13:00"))) == []


def test_weekly_and_monthly_caps() -> None:
    engine = policy("{max_per_member: {count: 1, per: week}, when_capped: defer}")
    run(
        engine,
        event("message.posted", "u1", local("2026-03-04T10:00")),
        event("message.posted", "u1", local("2026-03-05T10:00")),
    )
    (a,) = advance(engine, local("2026-03-10T00:00"))
    assert local("2026-03-09T00:00") <= a.at < local("2026-03-09T01:00")  # Monday
    engine = policy("{max_per_member: {count: 1, per: month}, when_capped: defer}")
    run(
        engine,
        event("message.posted", "u1", local("2026-12-30T10:00")),
        event("message.posted", "u1", local("2026-12-31T10:00")),
    )
    (a,) = advance(engine, local("2027-01-02T00:00"))
    assert local("2027-01-01T00:00") <= a.at < local("2027-01-01T01:00")


# -- opt-out --------------------------------------------------------------------------------
def test_opt_out_is_honoured_at_release_for_sends_queued_before() -> None:
    engine = policy(QUIET)
    assert run(engine, event("message.posted", "u1", local("2026-03-02T23:00"))) == []
    run(engine, event("member.opted_out", "u1", local("2026-03-03T07:00")))
    ds = engine.advance_to(local("2026-03-03T10:00"))
    assert [a for d in ds for a in d.actions] == []
    assert audit(ds) == [("message_suppressed", "opted_out")]


def test_opting_back_in_before_release_lets_the_send_go() -> None:
    engine = policy(QUIET)
    run(
        engine,
        event("message.posted", "u1", local("2026-03-02T23:00")),
        event("member.opted_out", "u1", local("2026-03-03T01:00")),
        event("member.opted_in", "u1", local("2026-03-03T02:00")),
    )
    assert [a.type for a in advance(engine, local("2026-03-03T10:00"))] == ["send"]


def test_opted_out_members_get_no_send_or_warning_even_transactional() -> None:
    engine = Engine(
        playbook("""
rules:
  - id: dm
    on: message.posted
    do:
      - send: {text: "x", transactional: true}
      - warn: {text: "careful", reason: test}
      - award: {points: 1, reason: post}
""")
    )
    run(engine, event("member.opted_out", "u1", 0))
    ds = decisions(engine, event("message.posted", "u1", 10))
    assert [a.type for d in ds for a in d.actions] == ["award"]
    assert audit(ds) == [
        ("message_suppressed", "opted_out"),
        ("message_suppressed", "opted_out"),
        ("warn", "test"),
    ]


# -- engine messages never trigger rules ----------------------------------------------------
def test_engine_messages_never_come_back_as_events() -> None:
    engine = Engine(
        playbook("""
rules:
  - id: echo
    on: [message.posted, send, reply, broadcast, warn, message.sent]
    do: [{send: {text: "echo"}}, {reply: {text: "echo"}}, {broadcast: {text: "echo"}},
         {warn: {text: "echo"}}]
""")
    )
    acts = run(engine, event("message.posted", "u1", 0, message_id="m1"))
    assert [a.type for a in acts] == ["send", "reply", "broadcast", "warn"]  # once, no loop
    assert {a.cause for a in acts} == {acts[0].cause}


# -- load errors ----------------------------------------------------------------------------
def problems(body: str) -> list[str]:
    with pytest.raises(PlaybookError) as info:
        playbook(body)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('{quiet_hours: {from: "22:00", to: "8am"}}', "'messaging.quiet_hours.to'"),
        ('{quiet_hours: {from: "22:00", to: "22:00"}}', "need `from` and `to` to differ"),
        ('{quiet_hours: {from: "22:00", to: "08:00", spread: 15h}}', "longer than the hours"),
        ('{quiet_hours: {from: "22:00", to: "08:00", mode: later}}', "expected 'defer' or 'drop'"),
        ("{max_per_member: {count: 0, per: day}}", "must be at least 1"),
        ("{max_per_member: {count: 3, per: hour}}", "expected 'day', 'week' or 'month'"),
        ("{when_capped: wait}", "expected 'drop' or 'defer'"),
        ("{quiet: {}}", "did you mean 'quiet_hours'?"),
    ],
)
def test_messaging_errors_are_located(section: str, message: str) -> None:
    (msg,) = problems(f"messaging: {section}\n")
    assert msg.startswith("test.yaml:") and message in msg, msg


# -- the command line -----------------------------------------------------------------------
CLI_PB = """\
engage_rules: 1
name: cli
community: {name: c, timezone: Asia/Shanghai}
segments:
  posters: "count('message.posted') >= 1"
messaging:
  quiet_hours: {from: "22:00", to: "08:00", spread: 1h}
  max_per_member: {count: 1, per: day}
rules:
  - id: thanks
    on: message.posted
    do: [{send: {text: "thanks"}}]
  - id: receipt
    on: redeem.requested
    do: [{send: {text: "receipt", transactional: true}}]
  - id: weekly
    on: {cron: "0 23 * * FRI", audience: posters}
    do: [{send: {text: "weekly digest"}}]
"""


def test_replay_until_runs_schedules_audiences_and_deferred_sends(tmp_path: Path) -> None:
    book = tmp_path / "pb.yaml"
    book.write_text(CLI_PB)
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(e)
            for e in [
                {
                    "id": "p1",
                    "type": "message.posted",
                    "at": "2026-03-02T12:00:00+08:00",
                    "member": {"id": "u1"},
                },
                {
                    "id": "p1b",
                    "type": "message.posted",
                    "at": "2026-03-02T13:00:00+08:00",
                    "member": {"id": "u1"},
                },
                {
                    "id": "r1",
                    "type": "redeem.requested",
                    "at": "2026-03-02T23:10:00+08:00",
                    "member": {"id": "u1"},
                    "data": {"item": "x"},
                },
                {
                    "id": "p2",
                    "type": "message.posted",
                    "at": "2026-03-02T23:00:00+08:00",
                    "member": {"id": "u2"},
                },
                {
                    "id": "j3",
                    "type": "member.joined",
                    "at": "2026-03-03T09:00:00+08:00",
                    "member": {"id": "u3"},
                },
            ]
        )
        + "\n"
    )
    proc = cli("replay", str(book), str(events), "--until", "2026-03-08T00:00:00+08:00")
    assert proc.returncode == 0, proc.stderr
    acts = [json.loads(x) for x in proc.stdout.splitlines()]
    got = [(a["rule"], a["member"], a["cause"], a["at"][:13]) for a in acts]
    assert got == [
        ("thanks", "u1", "p1", "2026-03-02T12"),  # p1b: capped (one DM a day), dropped
        ("receipt", "u1", "r1", "2026-03-02T23"),  # transactional: now, not capped
        ("thanks", "u2", "p2", "2026-03-03T08"),  # deferred past quiet hours
        # Friday 23:00 is quiet: the digest to each poster goes out on Saturday morning.
        ("weekly", "u1", "schedule:default:weekly:2026-03-06T23:00/u1", "2026-03-07T08"),
        ("weekly", "u2", "schedule:default:weekly:2026-03-06T23:00/u2", "2026-03-07T08"),
    ]
    assert "\nmessages: deferred: 3, suppressed: capped: 1\n" in proc.stderr


def test_deferred_sends_survive_a_restart_and_go_out_once(tmp_path: Path) -> None:
    from engage_rules.shell.runner import Runner
    from engage_rules.testing import open_store

    pb = playbook(
        f"messaging: {QUIET}\nrules:\n  - id: dm\n    on: message.posted\n"
        "    do: [{send: {text: hi}}]\n"
    )
    url = f"sqlite:///{tmp_path / 'state.db'}"
    out: list[ActionRecord] = []
    runner = Runner(pb, open_store(url), on_commit=out.extend)
    runner.feed(event("message.posted", "u1", local("2026-03-02T23:00"), id="late"))
    runner.close()
    assert out == []
    for _ in range(2):  # restarted twice: the deferred send goes out once
        runner = Runner(pb, open_store(url), on_commit=out.extend)
        runner.advance_to(local("2026-03-03T12:00"))
        runner.close()
    assert [(a.type, a.cause) for a in out] == [("send", "late")]
    assert local("2026-03-03T08:00") <= out[0].at < local("2026-03-03T09:00")
