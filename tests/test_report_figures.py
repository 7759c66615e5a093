"""The report's handbook figures (docs/reports.md): volumes with replies apart from posts,
day-1/7/30 and monthly retention, the churn rate, conversion by source and tag, and
activity per community and channel — worked out by hand on a small history, from the
JSON, the terminal tables (English and Chinese) and the HTML page; the same from a
memory store as from SQLite.

The history (Asia/Shanghai days, all at 10:00; the period is 2026-03-01 to 2026-04-10):

- club: y joined 01-01 and last posted 01-02 (already churned at the start); z joined
  02-01, posted that day and never again; x joined 02-10 and posts on 03-20; w joined
  02-15 and leaves on 03-05;
- a joins 03-01 from the invite link "poster", posts 03-01, replies 03-02, checks in
  03-08 (tagged `regular`), posts 03-31, buys 04-02, reacts 04-03;
- b joins 03-01 from source "ad", posts 03-08, buys 03-09;
- c joins 03-15 from "poster", posts 03-16; e never joins, posts 03-20;
- d joins 04-01, reacts 04-02, buys 04-04, checks in 04-05 (tagged `regular`);
- shop: s joins 03-03 from "ad" and posts that day in channel `deals`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.i18n import use_language
from engage_rules.shell.runner import Runner
from engage_rules.store import MemoryStore
from engage_rules.store.records import join_source
from engage_rules.store.reports import MemberTally
from engage_rules.testing import event, playbook, run_cli
from engage_rules.tools.report.breakdowns import OTHERS, TOP_VALUES, conversion_by
from engage_rules.tools.report.build import build_report
from engage_rules.tools.report.data import read_period, read_store
from engage_rules.tools.report.figures import Period, wilson
from engage_rules.tools.report.html import render_html
from test_report_sources import _replay as replay_log
from test_report_sources import random_log

PLAYBOOK = """\
engage_rules: 1
name: figures
community: {name: Figures, timezone: Asia/Shanghai}
rules:
  - id: regulars
    on: checkin
    do:
      - tag: regular
"""

#: (type, member, community, local day, channel, data)
HISTORY: list[tuple[str, str, str, str, str | None, dict[str, Any]]] = [
    ("member.joined", "y", "club", "2026-01-01", None, {}),
    ("message.posted", "y", "club", "2026-01-02", None, {}),
    ("member.joined", "z", "club", "2026-02-01", None, {}),
    ("message.posted", "z", "club", "2026-02-01", None, {}),
    ("member.joined", "x", "club", "2026-02-10", None, {}),
    ("member.joined", "w", "club", "2026-02-15", None, {}),
    ("member.joined", "a", "club", "2026-03-01", None, {"invite_name": "poster"}),
    ("member.joined", "b", "club", "2026-03-01", None, {"source": "ad"}),
    ("message.posted", "a", "club", "2026-03-01", "general", {"message_id": "m1"}),
    ("message.posted", "a", "club", "2026-03-02", "general", {"reply_to": "m1"}),
    ("member.joined", "s", "shop", "2026-03-03", None, {"source": "ad"}),
    ("message.posted", "s", "shop", "2026-03-03", "deals", {}),
    ("member.left", "w", "club", "2026-03-05", None, {}),
    ("checkin", "a", "club", "2026-03-08", None, {}),
    ("message.posted", "b", "club", "2026-03-08", "help", {}),
    ("purchase", "b", "club", "2026-03-09", None, {"amount": 10}),
    ("member.joined", "c", "club", "2026-03-15", None, {"invite_name": "poster"}),
    ("message.posted", "c", "club", "2026-03-16", None, {}),
    ("message.posted", "x", "club", "2026-03-20", "general", {}),
    ("message.posted", "e", "club", "2026-03-20", "general", {}),
    ("message.posted", "a", "club", "2026-03-31", "help", {}),
    ("member.joined", "d", "club", "2026-04-01", None, {}),
    ("purchase", "a", "club", "2026-04-02", None, {"amount": 5}),
    ("reaction.added", "d", "club", "2026-04-02", None, {}),
    ("reaction.added", "a", "club", "2026-04-03", None, {}),
    ("purchase", "d", "club", "2026-04-04", None, {"amount": 8}),
    ("checkin", "d", "club", "2026-04-05", None, {}),
]
PERIOD = ["--from", "2026-03-01", "--to", "2026-04-10"]


def _objects() -> list[dict[str, Any]]:
    out = []
    for n, (type_, member, community, day, channel, data) in enumerate(HISTORY):
        obj: dict[str, Any] = {
            "id": f"e{n}",
            "type": type_,
            "at": f"{day}T10:00:00+08:00",
            "community": community,
            "member": {"id": member},
            "data": data,
        }
        if channel is not None:
            obj["channel"] = channel
        out.append(obj)
    return out


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("figures")
    (folder / "playbook.yaml").write_text(PLAYBOOK, encoding="utf-8")
    lines = "\n".join(json.dumps(o) for o in _objects()) + "\n"
    (folder / "events.jsonl").write_text(lines, encoding="utf-8")
    url = f"sqlite:///{folder / 'state.db'}"
    result = run_cli(
        "replay",
        str(folder / "playbook.yaml"),
        str(folder / "events.jsonl"),
        "--store",
        url,
        "--until",
        "2026-04-11T12:00:00+08:00",
    )
    assert result.returncode == 0, result.stderr
    return url


def _report(store_url: str, *args: str) -> dict[str, Any]:
    result = run_cli("report", "--store", store_url, *PERIOD, "--json", *args)
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def test_volumes_count_posts_and_replies_apart(store_url: str) -> None:
    v = _report(store_url)["volumes"]
    assert v["types"] == [
        "posts",
        "replies",
        "reaction.added",
        "checkin",
        "purchase",
        "member.joined",
        "member.left",
    ]
    assert v["total"] == {
        "posts": 7,
        "replies": 1,
        "reaction.added": 2,
        "checkin": 2,
        "purchase": 3,
        "member.joined": 5,
        "member.left": 1,
    }
    assert len(v["per_day"]) == 41
    assert v["per_day"]["2026-03-01"] == {
        **dict.fromkeys(v["types"], 0),
        "posts": 1,
        "member.joined": 2,
    }
    assert v["per_day"]["2026-03-02"]["replies"] == 1
    assert v["per_day"]["2026-03-02"]["posts"] == 0
    assert v["per_day"]["2026-03-20"]["posts"] == 2
    assert v["per_day"]["2026-04-10"] == dict.fromkeys(v["types"], 0)


def test_day_retention_per_join_day_and_overall(store_url: str) -> None:
    r = _report(store_url)["day_retention"]
    assert r["days"] == [1, 7, 30]
    rates = {row["day"]: (row["members"], row["rate"]) for row in r["per_day"]}
    assert rates == {
        "2026-03-01": (2, {"1": 0.5, "7": 1.0, "30": 0.5}),
        "2026-03-03": (1, {"1": 0.0, "7": 0.0, "30": 0.0}),
        "2026-03-15": (1, {"1": 1.0, "7": 0.0, "30": None}),  # 04-14 is after the period
        "2026-03-20": (1, {"1": 0.0, "7": 0.0, "30": None}),
        "2026-04-01": (1, {"1": 1.0, "7": 0.0, "30": None}),
    }
    assert r["per_day"][2]["active"] == {"1": 1, "7": 0, "30": None}
    assert r["overall"] == {
        "1": {"members": 6, "active": 3, "rate": 0.5},
        "7": {"members": 6, "active": 2, "rate": 0.3333},
        "30": {"members": 3, "active": 1, "rate": 0.3333},
    }


def test_monthly_retention_by_calendar_month(store_url: str) -> None:
    assert _report(store_url)["monthly_retention"] == [
        {
            "month": "2026-03",
            "starts": "2026-03-01",
            "members": 5,
            "active": [5, 1],
            "percent": [100.0, 20.0],
        },
        {
            "month": "2026-04",
            "starts": "2026-04-01",
            "members": 1,
            "active": [1],
            "percent": [100.0],
        },
    ]


def test_churn_rate_counts_members_who_churned_during_the_period(store_url: str) -> None:
    # At the start (02-28): y (churned already: silent 57 days), z, x and w.  z goes
    # silent for good, w leaves: 2 of 4.
    assert _report(store_url)["churn"] == {
        "members_at_start": 4,
        "churned_in_period": 2,
        "rate": 0.5,
    }
    # With 60 days, y was not churned at the start (57 days) but is at the end.
    assert _report(store_url, "--churn-after", "60d")["churn"] == {
        "members_at_start": 4,
        "churned_in_period": 3,
        "rate": 0.75,
    }


def test_conversion_by_source_and_tag(store_url: str) -> None:
    by = _report(store_url)["conversion_by"]
    half = list(wilson(1, 2) or ())
    assert by == {
        "goal": "purchase",
        "source": [
            {"value": "ad", "members": 2, "converted": 1, "rate": 0.5, "ci95": half},
            {"value": "poster", "members": 2, "converted": 1, "rate": 0.5, "ci95": half},
        ],
        # d bought on 04-04, before being tagged on 04-05: not a conversion of the tag.
        "tag": [{"value": "regular", "members": 2, "converted": 1, "rate": 0.5, "ci95": half}],
        "segment": [],  # the playbook has no segments (tests/test_segment_sizes.py)
    }
    assert half == [0.0945, 0.9055]
    club = _report(store_url, "--community", "club")["conversion_by"]["source"]
    assert [(r["value"], r["members"], r["converted"]) for r in club] == [
        ("poster", 2, 1),
        ("ad", 1, 1),
    ]


def test_activity_per_community_and_channel(store_url: str) -> None:
    assert _report(store_url)["communities"] == [
        {
            "community": "club",
            "events": 11,
            "active_members": 6,
            "channels": [
                {"channel": "general", "events": 4},
                {"channel": "help", "events": 2},
            ],
        },
        {
            "community": "shop",
            "events": 1,
            "active_members": 1,
            "channels": [{"channel": "deals", "events": 1}],
        },
    ]
    shop = _report(store_url, "--community", "shop")
    assert [c["community"] for c in shop["communities"]] == ["shop"]
    assert shop["volumes"]["total"] == {"posts": 1, "member.joined": 1}


def test_a_memory_store_gives_the_same_figures(store_url: str) -> None:
    from engage_rules.model.events import parse_event

    store = MemoryStore(keep_history=True)
    runner = Runner(playbook(PLAYBOOK), store)
    for obj in _objects():
        runner.feed(parse_event(json.dumps(obj)))
    runner.advance_to(datetime.fromisoformat("2026-04-11T12:00:00+08:00"))
    runner.flush()
    data = read_store(store, None)
    period = Period(datetime(2026, 3, 1).date(), datetime(2026, 4, 10).date())
    memory = build_report(data, read_period(store, data, period))
    sqlite = _report(store_url)
    for key in ("volumes", "day_retention", "monthly_retention", "churn", "conversion_by"):
        assert memory[key] == sqlite[key], key
    assert memory["communities"] == sqlite["communities"]


def test_the_terminal_report_prints_the_figures_in_english_and_chinese(store_url: str) -> None:
    english = run_cli("report", "--store", store_url, *PERIOD)
    assert english.returncode == 0, english.stderr
    out = english.stdout
    for text in (
        "Volumes",
        "Day-1, day-7 and day-30 retention",
        "Monthly retention",
        "Churn rate",
        "Conversion by source, tag and segment",
        "Communities and channels",
        "poster",
        "regular",
        "deals",
    ):
        assert text in out, text
    assert "│ churn rate            │ 50.0% │" in out
    chinese = run_cli("--lang", "zh_CN", "report", "--store", store_url, *PERIOD)
    assert chinese.returncode == 0, chinese.stderr
    titles = ("发帖与互动量", "次日、7日、30日留存", "月留存", "流失率", "按来源、标签和分群的转化")
    for text in titles:
        assert text in chinese.stdout, text
    assert "回帖" in chinese.stdout and "第 30 天" in chinese.stdout


def test_the_html_report_has_the_figures_and_a_volume_chart(store_url: str, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = run_cli("report", "--store", store_url, *PERIOD, "--html", str(page))
    assert result.returncode == 0, result.stderr
    html = page.read_text(encoding="utf-8")
    for section in (
        "volumes",
        "day_retention",
        "monthly_retention",
        "churn",
        "conversion_by",
        "communities",
    ):
        assert f'<section id="{section}">' in html, section
    # posts, replies and reactions (no shares in the history), 41 days each
    assert 'data-chart="volumes" data-marks="123"' in html
    assert '<th scope="row">poster</th>' in html
    with use_language("zh_CN"):
        report = _report(store_url)
        chinese = render_html(report)
    assert "每天的发帖、回帖、点赞和分享" in chinese and "期初成员数" in chinese


def test_a_source_name_is_escaped_in_html(tmp_path: Path) -> None:
    store = MemoryStore(keep_history=True)
    runner = Runner(playbook(PLAYBOOK), store)
    runner.feed(event("member.joined", "q", "2026-03-02T10:00:00+08:00", data={"source": "<b>x"}))
    runner.flush()
    data = read_store(store, None)
    period = Period(datetime(2026, 3, 1).date(), datetime(2026, 3, 3).date())
    html = render_html(build_report(data, read_period(store, data, period)))
    assert "&lt;b&gt;x" in html and "<b>x" not in html


@pytest.mark.parametrize(
    ("data", "source"),
    [
        ({"source": " ad ", "invite_name": "poster"}, "ad"),
        ({"invite_name": "poster", "invite_link": "https://t.me/+abc"}, "poster"),
        ({"invite_link": "https://t.me/+abc"}, "https://t.me/+abc"),
        ({"source": "", "inviter": "u1"}, None),
        ({"source": 3}, None),
        ("not a mapping", None),
    ],
)
def test_where_a_member_came_from(data: object, source: str | None) -> None:
    assert join_source(data) == source


def test_many_values_keep_the_top_ones_and_sum_the_others() -> None:
    tally = MemberTally(dimensions={("tag", f"t{i:02d}"): (30 - i, i % 2) for i in range(25)})
    rows = conversion_by(tally, "purchase")["tag"]
    assert len(rows) == TOP_VALUES
    assert [r["value"] for r in rows[:2]] == ["t00", "t01"]
    assert rows[-1]["value"] == OTHERS
    assert rows[-1]["members"] == sum(30 - i for i in range(TOP_VALUES - 1, 25))
    assert rows[-1]["converted"] == sum(i % 2 for i in range(TOP_VALUES - 1, 25))


def test_a_bad_churn_after_is_refused(store_url: str) -> None:
    result = run_cli("report", "--store", store_url, "--churn-after", "36h")
    assert result.returncode == 2
    assert "whole number of days" in result.stderr


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), tz=st.sampled_from(["UTC", "Asia/Kathmandu"]))
def test_the_figures_add_up_on_any_log(seed: int, tz: str) -> None:
    """Per-day volumes add up to the totals; retention and churn count within their
    groups; every community's channels are among its events."""
    store = MemoryStore(keep_history=True)
    replay_log(tz, random_log(seed, 80), store)
    data = read_store(store, None)
    period = Period(*sorted({datetime(2026, 2, 25).date(), datetime(2026, 3, 20).date()}))
    report = build_report(data, read_period(store, data, period))
    v = report["volumes"]
    for key in v["types"]:
        assert sum(day[key] for day in v["per_day"].values()) == v["total"][key]
    assert v["total"].get("posts", 0) >= 0
    for row in report["day_retention"]["per_day"]:
        for n, active in row["active"].items():
            assert active is None or 0 <= active <= row["members"], n
    for cohort in report["monthly_retention"]:
        assert all(0 <= a <= cohort["members"] for a in cohort["active"])
    churn = report["churn"]
    assert 0 <= churn["churned_in_period"] <= churn["members_at_start"]
    for rows in (report["conversion_by"]["source"], report["conversion_by"]["tag"]):
        assert all(0 <= r["converted"] <= r["members"] for r in rows)
    active = sum(c["active_members"] for c in report["communities"])
    assert active == report["activity"]["active_in_period"]


def test_a_store_from_before_the_day_totals_gets_them_from_its_activity(
    store_url: str, tmp_path: Path
) -> None:
    """Schema 7 had no day totals: the upgrade fills them from the activity (replies and
    channels are counted from then on only)."""
    import shutil
    import sqlite3

    path = tmp_path / "old.db"
    shutil.copyfile(store_url.removeprefix("sqlite:///"), path)
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE activity_totals")
        db.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    db.close()
    fresh = _report(store_url)
    upgraded = _report(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        (version,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    db.close()
    assert version == "8"
    totals = dict(fresh["volumes"]["total"])
    totals["posts"] += totals.pop("replies")  # a reply was a post before the upgrade
    assert upgraded["volumes"]["total"] == totals
    assert [c["channels"] for c in upgraded["communities"]] == [[], []]
    assert [c["events"] for c in upgraded["communities"]] == [11, 1]
    for key in ("day_retention", "monthly_retention", "churn", "conversion_by"):
        assert upgraded[key] == fresh[key], key


class NoTotalsStore:
    """A store with the Store protocol's lists but no day totals (as a plugin's may be)."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "activity_totals" or (name.startswith("report_") and name != "report_context"):
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_a_store_without_day_totals_reports_volumes_from_its_activity() -> None:
    from engage_rules.model.events import parse_event

    store = MemoryStore(keep_history=True)
    runner = Runner(playbook(PLAYBOOK), store)
    for obj in _objects():
        runner.feed(parse_event(json.dumps(obj)))
    runner.flush()
    period = Period(datetime(2026, 3, 1).date(), datetime(2026, 4, 10).date())
    reports = []
    for source in (store, NoTotalsStore(store)):
        data = read_store(source, None)  # type: ignore[arg-type]
        reports.append(build_report(data, read_period(source, data, period)))  # type: ignore[arg-type]
    full, plain = reports
    assert plain["volumes"]["total"]["posts"] == 8  # no replies without the totals
    assert "replies" not in plain["volumes"]["types"]
    assert plain["communities"][0]["channels"] == []
    assert plain["conversion_by"] == full["conversion_by"]
    assert plain["churn"] == full["churn"]


def test_the_days_not_over_are_marked_in_the_volumes(store_url: str, tmp_path: Path) -> None:
    # The store's clock is 2026-04-11 12:00: that day is not over.
    args = ("report", "--store", store_url, "--from", "2026-04-04", "--to", "2026-04-11")
    out = run_cli(*args).stdout
    volumes = out[out.index("Volumes") : out.index("Day-1, day-7")]
    assert "│ 2026-04-11 * │" in volumes and "│ 2026-04-10   │" in volumes
    page = tmp_path / "partial.html"
    assert run_cli(*args, "--html", str(page)).returncode == 0
    html = page.read_text(encoding="utf-8")
    assert '<th scope="row">2026-04-11*</th>' in html
    assert '<th scope="row">2026-04-10</th>' in html
