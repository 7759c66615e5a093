"""`engage-rules report`: every figure against values worked out by hand from the small
history in report_helpers.py (period 2026-03-02 .. 2026-03-22, Asia/Shanghai days)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engage_rules.cli import main
from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.model.state import State
from engage_rules.testing import open_store
from report_helpers import replay_into_sqlite, report_json

PERIOD = ("--from", "2026-03-02", "--to", "2026-03-22")


@pytest.fixture
def store_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    return replay_into_sqlite(tmp_path, capsys)


def _days(series: dict[str, int]) -> dict[str, int]:
    """Only the days with a non-zero value."""
    return {day: n for day, n in series.items() if n}


def test_member_figures_by_hand(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    r: Any = report_json(capsys, "--store", store_url, *PERIOD)
    assert r["period"] == {
        "from": "2026-03-02",
        "to": "2026-03-22",
        "days": 21,
        "partial_last_day": False,  # the store's clock is in 2026-03-23
    }
    assert r["timezone"] == "Asia/Shanghai" and r["playbook"] == "report-test"
    m = r["members"]
    # Members at the end: z, a, c, d, e (b left on 03-12).
    assert m["total"] == 5
    # New: a 03-02, b 03-03, c 03-10, d 03-16 (joins) and e 03-19 (first post, no join).
    assert m["new"] == 5
    assert _days(m["new_per_day"]) == {
        "2026-03-02": 1,
        "2026-03-03": 1,
        "2026-03-10": 1,
        "2026-03-16": 1,
        "2026-03-19": 1,
    }
    assert m["left"] == 1 and _days(m["left_per_day"]) == {"2026-03-12": 1}
    # Churned: z was last active 02-20, 30 days before 03-22 (30d: 30 or more days).
    assert m["churned"] == 1
    # Days since last activity on 03-22: a 0, e 0, c 4 (checkin 03-18), z 30; d's only
    # post is on 03-23 local time, after the period: never active.
    assert m["silence"] == {
        "active_7d": 3,
        "silent_7_14d": 0,
        "silent_14_30d": 0,
        "silent_30d_plus": 1,
        "never_active": 1,
    }


def test_activity_figures_by_hand(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    a: Any = report_json(capsys, "--store", store_url, *PERIOD)["activity"]
    # Posts and check-ins per day (purchases and joins are not activity).
    assert _days(a["dau"]) == {
        "2026-03-02": 1,
        "2026-03-04": 1,
        "2026-03-05": 1,
        "2026-03-10": 1,
        "2026-03-11": 2,
        "2026-03-12": 1,
        "2026-03-17": 1,
        "2026-03-18": 1,
        "2026-03-19": 1,
        "2026-03-22": 2,
    }
    assert len(a["dau"]) == 21
    assert a["average_dau"] == 0.57  # 12 member-days / 21 days
    assert a["wau"] == 3  # a, c, e active 03-16..03-22
    assert a["mau"] == 4  # a, c, e and b (03-04); z's 02-20 is 30 days back
    assert a["active_in_period"] == 4  # a, b, c, e
    assert a["monthly_active_rate"] == 0.6  # a, c, e of the 5 members
    assert a["period_active_rate"] == 0.6


def test_retention_cohorts_by_hand(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    cohorts: Any = report_json(capsys, "--store", store_url, *PERIOD)["retention"]
    assert cohorts == [
        # a (active W10, W11, W12) and b (active W10 only)
        {
            "week": "2026-W10",
            "starts": "2026-03-02",
            "members": 2,
            "active": [2, 1, 1],
            "percent": [100.0, 50.0, 50.0],
        },
        # c: active both weeks
        {
            "week": "2026-W11",
            "starts": "2026-03-09",
            "members": 1,
            "active": [1, 1],
            "percent": [100.0, 100.0],
        },
        # d (no activity in the period) and e
        {
            "week": "2026-W12",
            "starts": "2026-03-16",
            "members": 2,
            "active": [1],
            "percent": [50.0],
        },
    ]


def test_conversion_and_outcomes_by_hand(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r: Any = report_json(capsys, "--store", store_url, *PERIOD)
    # Purchases: a 03-05, a 03-17, c 03-18; 4 members active in the period.
    assert r["conversion"] == {
        "goal": "purchase",
        "events": 3,
        "converters": 2,
        "active_members": 4,
        "rate": 0.5,
        "events_per_active_member": 0.75,
    }
    # 11 posts in the period; 3 welcomes sent (b's was suppressed); the mute and its
    # unmute (a timer) are two causes of no-spam.
    assert r["rules"] == [
        {"rule": "post-points", "times": 11, "actions": 11},
        {"rule": "buy", "times": 3, "actions": 3},
        {"rule": "welcome", "times": 3, "actions": 3},
        {"rule": "no-spam", "times": 2, "actions": 2},
    ]
    assert r["moderation"] == {"mute": 1}
    assert r["messages"]["sent"] == {"direct message": 3}
    assert r["messages"]["suppressed"] == {"quiet_hours": 1}
    assert r["messages"]["deferred_total"] == 0
    assert r["points"] == {"points": {"issued": 55, "spent": 9, "expired": 0, "revoked": 0}}
    assert r["shadow"] == []


def test_options_change_the_figures(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    r: Any = report_json(capsys, "--store", store_url, *PERIOD, "--churn-after", "4d")
    assert r["members"]["churned"] == 2  # c (4 days) and z
    r = report_json(capsys, "--store", store_url, *PERIOD, "--goal", "checkin")
    assert (r["conversion"]["events"], r["conversion"]["converters"]) == (1, 1)
    r = report_json(capsys, "--store", store_url, *PERIOD, "--community", "club")
    assert r["community"] == "club" and r["members"]["total"] == 5
    # A one-week period: only W12 joins are new; the points of that week.
    r = report_json(capsys, "--store", store_url, "--from", "2026-03-16", "--to", "2026-03-22")
    assert r["members"]["new"] == 2 and r["period"]["days"] == 7
    assert r["points"]["points"] == {"issued": 20, "spent": 6, "expired": 0, "revoked": 0}


def test_default_period_ends_on_the_newest_activity_day(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r: Any = report_json(capsys, "--store", store_url)
    # d's post at 00:30 on 03-23 (local) is the newest activity.
    assert r["period"] == {
        "from": "2026-02-22",
        "to": "2026-03-23",
        "days": 30,
        # The replay stopped at 2026-03-23 12:00 (+08:00): that day is not over.
        "partial_last_day": True,
        "partial_from": "2026-03-23",
        "data_until": "2026-03-23T12:00:00+08:00",
    }
    assert r["members"]["silence"]["never_active"] == 0  # d is now active


def test_shadow_actions_are_reported_apart(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_store(store_url)
    state: State = store.open()
    at = state.clock or pytest.fail("the replay set the clock")
    d = Decision(cause="shadow-1", at=at)
    in_period = at - timedelta(days=8)  # 2026-03-15
    for key, type_, member, when in (
        ("s1", "ban", "c", in_period),
        ("s2", "ban", "a", in_period),
        ("s3", "warn", "c", in_period),
        ("s4", "ban", "e", at),
    ):  # 03-23: after the period
        d.actions.append(
            ActionRecord(
                key, type_, member, "strict-spam", "shadow-1", when, {}, "club", shadow=True
            )
        )
    store.commit([d], state)
    store.close()
    r: Any = report_json(capsys, "--store", store_url, *PERIOD)
    assert r["shadow"] == [
        {"rule": "strict-spam", "action": "ban", "actions": 2, "members": 2},
        {"rule": "strict-spam", "action": "warn", "actions": 1, "members": 1},
    ]
    assert r["moderation"] == {"mute": 1}  # shadow bans are not moderation that happened
    assert "strict-spam" not in [row["rule"] for row in r["rules"]]


def test_terminal_report_is_plain_text_with_every_section(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from engage_rules.cli import main

    assert main(["report", "--store", store_url, *PERIOD]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out  # not a terminal: no colour codes
    for heading in (
        "Members",
        "Daily active members",
        "Weekly retention",
        "Silence stages",
        "Conversion",
        "Top rules",
        "Moderation",
        "Messaging",
        "Points",
        "Shadow rules",
    ):
        assert f"\n{heading}\n" in out
    assert "Period: 2026-03-02 to 2026-03-22 (21 days, time zone Asia/Shanghai)" in out
    assert "members at period end" in out and "│ post-points" in out
    assert "quiet hours" in out  # the suppression reason, in words
    assert "2026-W10 (2026-03-02)" in out and "100%" in out and "50%" in out
    assert "active in the last 7 days" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--store", "memory:"], "a memory: store keeps nothing between commands"),
        (["--store", "sqlite:///{tmp}/missing.db"], "no store at"),
        (["--store", "nonsense"], "invalid store URL"),
        (
            ["--store", "{url}", "--from", "2026-03-10", "--to", "2026-03-01"],
            "--from 2026-03-10 is after --to 2026-03-01",
        ),
        (["--store", "{url}", "--from", "03/01/2026"], "--from '03/01/2026' is not a date"),
        (["--store", "{url}", "--to", "2026-02-30"], "--to '2026-02-30' is not a date"),
        (["--store", "{url}", "--churn-after", "soon"], "--churn-after"),
        (["--store", "{url}", "--churn-after", "36h"], "whole number of days"),
        (["--store", "{url}", "--community", "nope"], "no community 'nope' (communities: club)"),
        (
            ["--store", "{url}", "--from", "2026-04-01"],
            "--from 2026-04-01 is after --to 2026-03-23",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    args: list[str],
    message: str,
    store_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from engage_rules.cli import main

    argv = [a.format(url=store_url, tmp=tmp_path) for a in args]
    assert main(["report", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "missing.db").exists()  # a report never creates a store


def test_terminal_report_on_a_terminal_has_colour_and_the_same_figures(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    from engage_rules.tools.report.text import print_report

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    r = report_json(capsys, "--store", store_url, *PERIOD)
    screen = Terminal()
    print_report(r, screen)
    out = screen.getvalue()
    assert "\x1b[" in out  # styled headings
    assert "Weekly retention" in out and "post-points" in out and "55" in out


def test_a_goal_can_be_an_event_the_playbook_emits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    playbook = tmp_path / "emit.yaml"
    playbook.write_text(
        "engage_rules: 1\nname: emit-goal\ncommunity: {name: c1, timezone: UTC}\n"
        "rules:\n  - id: big-buyer\n    on: purchase\n"
        '    if: "event.data.amount >= 100"\n    do: [{emit: {type: custom.vip}}]\n',
        encoding="utf-8",
    )
    events = tmp_path / "events.jsonl"
    lines = [
        ("p1", "purchase", "a", '{"amount": 150}'),
        ("p2", "purchase", "b", '{"amount": 50}'),
        ("m1", "message.posted", "b", '{"text": "hi"}'),
    ]
    events.write_text(
        "".join(
            f'{{"id": "{i}", "type": "{t}", "at": "2026-01-05T10:00:00+00:00", '
            f'"community": "c1", "member": {{"id": "{m}"}}, "data": {d}}}\n'
            for i, t, m, d in lines
        ),
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert main(["replay", str(playbook), str(events), "--store", url]) == 0
    capsys.readouterr()
    r: Any = report_json(
        capsys, "--store", url, "--from", "2026-01-01", "--to", "2026-01-07", "--goal", "custom.vip"
    )
    # a converted (the emitted event); only b is active (the emitted event is not activity)
    assert r["conversion"]["events"] == 1
    assert r["conversion"]["converters"] == 1
    assert r["conversion"]["active_members"] == 1
