"""`report`: a mistyped `--goal` is refused with the type it likely means, a goal with no
events in the period is said so, and the report is titled with the community's name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engage_rules.cli import main
from report_helpers import report_json

PLAYBOOK = """\
engage_rules: 1
name: book-club
community: {name: 读书会, timezone: UTC}
rules:
  - id: vip
    on: purchase
    do: [{emit: {type: custom.vip}}]
"""


@pytest.fixture
def store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    playbook = tmp_path / "p.yaml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    events = tmp_path / "e.jsonl"
    events.write_text(
        '{"id": "p1", "type": "purchase", "at": "2026-01-05T10:00:00+00:00", '
        '"community": "c1", "member": {"id": "a"}}\n',
        encoding="utf-8",
    )
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert main(["replay", str(playbook), str(events), "--store", url]) == 0
    capsys.readouterr()
    return url


PERIOD = ("--from", "2026-01-01", "--to", "2026-01-07")


@pytest.mark.parametrize(
    ("goal", "meant"), [("purchse", "purchase"), ("custom.vp", "custom.vip"), ("chekin", "checkin")]
)
def test_a_mistyped_goal_is_refused_with_what_it_likely_means(
    store: str, goal: str, meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--store", store, *PERIOD, "--goal", goal]) == 2
    err = capsys.readouterr().err
    assert f"--goal {goal!r} is no event type" in err
    assert f"did you mean {meant!r}?" in err


def test_a_goal_nobody_had_is_said_so(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--store", store, *PERIOD, "--goal", "custom.signup", "--json"]) == 0
    assert "note: no 'custom.signup' events in the period" in capsys.readouterr().err
    r: Any = report_json(capsys, "--store", store, *PERIOD, "--goal", "custom.vip")
    assert r["conversion"]["events"] == 1


def test_the_report_is_titled_with_the_community_name(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r: Any = report_json(capsys, "--store", store, *PERIOD)
    assert r["community_name"] == "读书会" and r["playbook"] == "book-club"
    page = tmp_path / "r.html"
    assert main(["report", "--store", store, *PERIOD, "--html", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    assert "<h1>Community report: 读书会</h1>" in html
    assert "<title>读书会: community report 2026-01-01 to 2026-01-07</title>" in html
    assert capsys.readouterr().out.startswith("Community report: 读书会 (all communities)")


def test_the_days_not_over_are_marked_not_shown_as_a_drop(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The store's clock is the last event's time: 2026-01-05 10:00 UTC.
    r: Any = report_json(capsys, "--store", store, *PERIOD)
    assert r["period"]["partial_last_day"] is True
    assert r["period"]["partial_from"] == "2026-01-05"
    assert r["period"]["data_until"] == "2026-01-05T10:00:00+00:00"
    assert main(["report", "--store", store, *PERIOD]) == 0
    out = capsys.readouterr().out
    assert "The store's data reach 2026-01-05 10:00: the days from 2026-01-05" in " ".join(
        out.split()
    )
    assert "2026-01-05 *" in out and "2026-01-04 *" not in out
    page = tmp_path / "r.html"
    assert main(["report", "--store", store, *PERIOD, "--html", str(page)]) == 0
    html = page.read_text(encoding="utf-8")
    assert "01-05*" in html and "01-04*" not in html
    capsys.readouterr()
    # A period that ended before the clock has no partial day.
    r = report_json(capsys, "--store", store, "--from", "2026-01-01", "--to", "2026-01-04")
    assert r["period"] == {
        "from": "2026-01-01",
        "to": "2026-01-04",
        "days": 4,
        "partial_last_day": False,
    }
