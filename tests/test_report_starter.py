"""The report over the starter playbook's example history, checked against the replay's
own state snapshot and actions: the figures and the engine agree."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engage_rules.cli import main
from engage_rules.testing import open_store

ROOT = Path(__file__).resolve().parent.parent
UNTIL = "2026-05-01T12:00:00+08:00"


def test_starter_report_matches_the_replay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'starter.db'}"
    snapshot, actions_out = tmp_path / "state.json", tmp_path / "actions.jsonl"
    assert (
        main(
            [
                "replay",
                str(ROOT / "rules/starter/community.yaml"),
                str(ROOT / "examples/starter-events.jsonl"),
                "--until",
                UNTIL,
                "--store",
                url,
                "--state-out",
                str(snapshot),
                "--actions-out",
                str(actions_out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["report", "--store", url, "--json"]) == 0
    r: Any = json.loads(capsys.readouterr().out)
    members = json.loads(snapshot.read_text())["members"]
    # The default period ends on the replay's last day of activity.
    assert r["period"] == {
        "from": "2026-04-02",
        "to": "2026-05-01",
        "days": 30,
        # The replay stopped at 2026-05-01 12:00 (+08:00): that day is not over.
        "partial_last_day": True,
        "partial_from": "2026-05-01",
        "data_until": "2026-05-01T12:00:00+08:00",
    }
    # Everyone in the snapshot who has not left is a member at the period's end.
    assert r["members"]["total"] == sum(1 for m in members.values() if m["status"] != "left")
    silence = r["members"]["silence"]
    assert sum(silence.values()) == r["members"]["total"]
    assert (
        r["activity"]["wau"] <= r["activity"]["mau"] <= r["members"]["total"] + r["members"]["left"]
    )
    assert max(r["activity"]["dau"].values()) <= r["activity"]["active_in_period"]
    # Live actions in the period, by type, agree with the replay's actions output.
    tz = ZoneInfo("Asia/Shanghai")
    live = [
        a
        for a in map(json.loads, actions_out.read_text().splitlines())
        if "2026-04-02"
        <= datetime.fromisoformat(a["at"]).astimezone(tz).date().isoformat()
        <= "2026-05-01"
    ]
    by_rule = Counter(a["rule"] for a in live)
    assert {row["rule"]: row["actions"] for row in r["rules"]} == dict(by_rule.most_common(15))
    sent = Counter(a["type"] for a in live if a["type"] in ("reply", "broadcast"))
    assert {k: v for k, v in r["messages"]["sent"].items() if k in sent} == dict(sent)
    assert r["messages"]["sent"]["direct message"] == sum(
        1 for a in live if a["type"] == "send" and "channel" not in a["params"]
    )
    issued = sum(a["params"]["amount"] for a in live if a["type"] == "award")
    spent = sum(a["params"]["amount"] for a in live if a["type"] == "spend")
    assert r["points"]["points"]["issued"] == issued and r["points"]["points"]["spent"] == spent
    assert r["shadow"] == []


def test_an_empty_store_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(url).close()
    assert main(["report", "--store", url]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: the store has no activity yet: replay or run events into it "
        "first, or give --from and --to"
    )
    assert (
        main(["report", "--store", url, "--from", "2026-01-01", "--to", "2026-01-07", "--json"])
        == 0
    )
    r: Any = json.loads(capsys.readouterr().out)
    assert r["members"]["total"] == 0 and r["activity"]["average_dau"] == 0
    assert r["conversion"]["rate"] is None and r["retention"] == []
