"""Reports computed where the data is (store/reports.py, store/sqlite_reports.py): the SQL
aggregates of the SQLite store equal the Python reference of the memory store on the
same events — in time zones with DST (New York), a +05:45 offset (Kathmandu) and a DST
change at midnight (São Paulo, 2018: the local day runs backwards for an hour) — and a
report on SQLite loads no state, member, action or ledger entry into objects."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.cli import main
from engage_rules.compile.playbook import CompiledPlaybook
from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.model.events import Event
from engage_rules.model.state import LedgerEntry, MemberState
from engage_rules.shell.runner import Runner
from engage_rules.store import MemoryStore, SQLiteStore
from engage_rules.store.reports import ReportQuery, StoreReports, report_source
from engage_rules.store.sqlite_reports import LocalDays, day_number
from engage_rules.testing import event, playbook
from engage_rules.tools.report.build import build_report, choose_period
from engage_rules.tools.report.data import read_period, read_store
from engage_rules.tools.report.lists import read_member_lists
from report_helpers import drop_report_columns

PLAYBOOK = """\
engage_rules: 1
name: sources
community: {{name: Sources, timezone: {tz}}}
currencies: [points]
segments:
  pointy: "member.points >= 5"
  everyone: "true"
experiments:
  copy: {{variants: {{a: 1, b: 2}}}}
messaging:
  quiet_hours: {{from: "23:00", to: "01:00", mode: defer}}
  max_per_member: {{count: 1, per: day}}
  when_capped: drop
rules:
  - id: welcome
    on: member.joined
    do:
      - send: {{text: "welcome!"}}
  - id: post-points
    on: message.posted
    do:
      - award: {{points: 5, reason: post}}
  - id: checked-in
    on: checkin
    do:
      - award: {{points: 2, reason: checkin}}
      - send: {{text: "checked in"}}
  - id: copy-a
    on: checkin
    if: "variant('copy') == 'a'"
    do:
      - tag: copy-a
  - id: thanks
    on: reaction.added
    do:
      - reply: {{text: "thanks"}}
  - id: no-spam
    on: message.posted
    if: "'spam' in event.data.text"
    do:
      - mute: {{for: 1h, reason: spam}}
  - id: alert
    on: message.posted
    if: "'spam' in event.data.text"
    do:
      - emit: {{type: spam.seen}}
  - id: caution
    on: spam.seen
    do:
      - award: {{points: 1, reason: caution}}
      - send: {{text: "careful"}}
  - id: take-back
    on: message.deleted
    do:
      - revoke: {{event: "{{{{ event.data.message_id }}}}", reason: deleted}}
  - id: buy
    on: purchase
    do:
      - spend: {{points: 3, reason: purchase}}
  - id: strict
    shadow: true
    on: message.posted
    if: "'spam' in event.data.text"
    do:
      - ban: {{reason: spam}}
"""

#: Zone -> the first day of the logs: a DST change falls within their first weeks.
ZONES = {
    "America/New_York": date(2026, 2, 23),  # DST from 2026-03-08
    "Asia/Kathmandu": date(2026, 2, 23),  # +05:45 all year
    "America/Sao_Paulo": date(2018, 2, 5),  # DST ended at midnight on 2018-02-18
    "UTC": date(2026, 2, 23),
}
TYPES = [
    "member.joined",
    "member.left",
    "message.posted",
    "message.posted",
    "message.posted",
    "checkin",
    "purchase",
    "message.deleted",
    "reaction.added",
]
#: (event type, member, community, days after the first day, local minutes after midnight)
Item = tuple[str, str, str, int, int]


@cache
def compiled(tz: str) -> CompiledPlaybook:
    return playbook(PLAYBOOK.format(tz=tz))


def _events(tz: str, items: list[Item]) -> list[Event]:
    """Events in time order, at local times (a DST gap's times land after it)."""
    zone, first = ZoneInfo(tz), ZONES[tz]
    timed = []
    for n, (type_, member, community, day, minute) in enumerate(items):
        local = datetime.combine(first + timedelta(days=day), datetime.min.time(), zone)
        at = (local + timedelta(minutes=minute)).astimezone(UTC)
        timed.append((at, n, type_, member, community))
    timed.sort()
    out = []
    for at, n, type_, member, community in timed:
        data: dict[str, Any] = {}
        if type_ == "message.posted":
            data = {"text": "spam!" if n % 7 == 0 else "hello", "message_id": f"{member}-{n % 3}"}
            if n % 4 == 1:  # a reply
                data["reply_to"] = f"{member}-{(n + 1) % 3}"
        elif type_ == "message.deleted":  # one of the member's posts, often
            data = {"message_id": f"{member}-{n % 3}"}
        elif type_ == "member.joined" and n % 3:  # where they came from, often
            data = {"invite_name": "poster"} if n % 3 == 1 else {"source": f"ad-{n % 2}"}
        channel = ("general", "help", None)[n % 3]
        out.append(
            event(type_, member, at, id=f"e{n}", community=community, data=data, channel=channel)
        )
    return out


def _replay(tz: str, items: list[Item], store: MemoryStore | SQLiteStore) -> None:
    """The events through a runner into ``store`` (small batches: a reversal often
    rewrites an entry of an earlier batch), and the timers due within a week after."""
    events = _events(tz, items)
    runner = Runner(compiled(tz), store, batch_size=7)
    for e in events:
        runner.feed(e)
    if events:
        runner.advance_to(events[-1].at + timedelta(days=7))
    runner.flush()
    # A plugin's sends to a channel (the built-in `send` carries no channel), and to none.
    at = datetime.combine(ZONES[tz] + timedelta(days=13), datetime.min.time(), UTC)
    d = Decision(cause="plugin-1", at=at)
    for n, (member, params) in enumerate(
        [("u1", {"channel": "general"}), ("u2", {"channel": ""}), (None, {}), ("u3", {})]
    ):
        d.actions.append(ActionRecord(f"k{n}", "send", member, "plugin", "plugin-1", at, params))
    store.commit([d], runner.state)


def random_log(seed: int, n: int = 160) -> list[Item]:
    """A varied log: two communities, a dozen members, times all round the clock (many
    within minutes of local midnight), over 40 days."""
    rng = random.Random(seed)
    items: list[Item] = []
    for _ in range(n):
        minute = rng.choice([rng.randrange(1440), rng.randrange(5), 1435 + rng.randrange(5)])
        items.append(
            (
                rng.choice(TYPES),
                f"u{rng.randrange(12)}",
                rng.choice(["c1", "c1", "c2"]),
                rng.randrange(40),
                minute,
            )
        )
    return items


def _queries(tz: str) -> list[ReportQuery]:
    first = ZONES[tz]
    periods = [
        (first, first + timedelta(days=45)),  # everything
        (first + timedelta(days=5), first + timedelta(days=18)),  # across the DST change
        (first + timedelta(days=13), first + timedelta(days=13)),  # one day
        (first + timedelta(days=30), first + timedelta(days=31)),  # late: history before
        (first - timedelta(days=430), first + timedelta(days=40)),  # 68 weeks (retention)
    ]
    out = []
    for start, end in periods:
        for community in (None, "c1", "c2"):
            out.append(ReportQuery(tz, community, start, end, frozenset(), "purchase"))
    # 66 months: monthly retention past the months that fit in one integer's bits.
    out.append(ReportQuery(tz, None, first - timedelta(days=1975), first + timedelta(days=40)))
    activity = frozenset({"message.posted", "checkin"})
    out.append(
        ReportQuery(tz, None, periods[1][0], periods[1][1], activity, "checkin", churn_days=7)
    )
    # The playbook's own events (emit): a goal, never activity.
    passive = frozenset({"spam.seen"})
    for start, end in periods[:2]:
        out.append(ReportQuery(tz, "c1", start, end, frozenset(), "spam.seen", passive))
    return out


def _tallies(store: Any, q: ReportQuery) -> tuple[Any, ...]:
    source = report_source(store)
    return (
        source.report_members(q),
        source.report_daily_active(q),
        source.report_actions(q),
        source.report_audit(q),
        source.report_points(q),
        source.report_experiments(q),
        source.report_breakdowns(q),
    )


def _assert_same(tz: str, items: list[Item]) -> None:
    memory, sql = MemoryStore(keep_history=True), SQLiteStore(":memory:")
    try:
        _replay(tz, items, memory)
        _replay(tz, items, sql)
        generic = StoreReports(sql)  # the Python reference over the SQLite store's lists
        for q in _queries(tz):
            expected = _tallies(memory, q)
            assert _tallies(sql, q) == expected, q
            assert _tallies(generic, q) == expected, q
        assert sql.report_communities() == memory.report_communities()
        for community in (None, "c1", "c2", "nope"):  # (the clock is the store's own)
            assert sql.report_newest_day(tz, community) == generic.report_newest_day(tz, community)
    finally:
        sql.close()


@pytest.mark.parametrize("tz", list(ZONES))
@pytest.mark.parametrize("seed", [1, 2])
def test_sql_and_python_tallies_agree(tz: str, seed: int) -> None:
    _assert_same(tz, random_log(seed))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tz=st.sampled_from(list(ZONES)),
    items=st.lists(
        st.tuples(
            st.sampled_from(TYPES),
            st.sampled_from(["u1", "u2", "u3"]),
            st.sampled_from(["c1", "c2"]),
            st.integers(0, 35),
            st.integers(0, 1439),
        ),
        max_size=40,
    ),
)
def test_sql_and_python_tallies_agree_on_any_log(tz: str, items: list[Item]) -> None:
    _assert_same(tz, items)


def test_the_logs_reach_every_figure() -> None:
    """The logs above are worth comparing: the memory store's tallies of one of them
    hold every kind of count."""
    tz = "America/New_York"
    store = MemoryStore(keep_history=True)
    _replay(tz, random_log(1), store)
    members, daily_active, actions, audit, points, experiments, breakdowns = _tallies(
        store, _queries(tz)[0]
    )
    assert experiments
    assert members.first_seen and members.left and members.retention
    assert {n for _, n in members.day_retention} == {1, 7, 30}
    assert {k for _, k in members.monthly_retention} >= {0, 1}
    late = _tallies(store, _queries(tz)[9])[0]  # a period with members before it
    assert late.at_start and late.churned_in_period
    assert {t for _, t in breakdowns.volumes} >= {"message.posted", "kind:reply", "checkin"}
    assert set(breakdowns.communities) == set(members.active_by_community) == {"c1", "c2"}
    assert {ch for _, ch in breakdowns.channels} == {"general", "help"}
    assert {d for d, _ in members.dimensions} == {"source", "tag", "segment"}
    assert {name for _, name in breakdowns.segments} == {"pointy", "everyone"}
    assert any(converted for _, converted in members.dimensions.values())
    assert {belongs for _, belongs, _ in members.by_last_active} == {True, False}
    assert daily_active and members.goal_events and members.converters
    # The events the playbook emits itself are counted: a report's goal can name them,
    # and they never make a member active.
    start, end = ZONES[tz], ZONES[tz] + timedelta(days=45)
    passive = frozenset({"spam.seen"})
    q = ReportQuery(tz, None, start, end, frozenset(), "spam.seen", passive)
    emitted = report_source(store).report_members(q)
    assert emitted.goal_events and emitted.converters
    assert not q.is_activity("spam.seen") and q.is_activity("message.posted")
    assert {t for t, _ in actions.types} >= {"send", "award", "spend", "revoke", "mute"}
    assert {direct for t, direct in actions.types if t == "send"} == {True, False}
    assert actions.shadow and actions.rules
    assert {a for a, _ in audit} >= {"message_deferred", "message_suppressed", "mute"}
    assert {kind for _, kind in points} == {"award", "spend", "revoke"}


# -- local days in SQL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "start", "end"),
    [
        ("America/New_York", date(2026, 3, 1), date(2026, 3, 14)),
        ("America/Sao_Paulo", date(2018, 2, 10), date(2018, 2, 25)),
        ("America/Sao_Paulo", date(2018, 10, 30), date(2018, 11, 8)),  # DST from midnight
        ("Asia/Kathmandu", date(1985, 12, 25), date(1986, 1, 5)),  # +05:30 to +05:45
        ("Pacific/Apia", date(2011, 12, 25), date(2012, 1, 5)),  # skipped 2011-12-30
        ("UTC", date(1969, 12, 25), date(1970, 1, 5)),  # before 1970: floor, not truncate
    ],
)
def test_local_days_in_sql_match_zoneinfo(tz: str, start: date, end: date) -> None:
    zone = ZoneInfo(tz)
    days = LocalDays(zone, start, end)
    db = sqlite3.connect(":memory:")
    sql = f"SELECT {days.sql('?')}"
    lo = int(datetime.combine(start, datetime.min.time(), UTC).timestamp()) - 86400
    hi = int(datetime.combine(end, datetime.min.time(), UTC).timestamp()) + 2 * 86400
    for ts in [*range(lo, hi, 899), *range(lo, hi, 3600)]:
        local = datetime.fromtimestamp(ts, zone).date()
        ((got,),) = db.execute(sql.replace("?", str(ts))).fetchall()
        assert got == day_number(local), (tz, ts, local)
        within = start <= local <= end
        ((inside,),) = db.execute(f"SELECT {days.in_period(str(ts))}").fetchall()
        assert bool(inside) is within, (tz, ts, local)


# -- a report on SQLite loads nothing -----------------------------------------------------------


def test_a_sqlite_report_loads_no_state_member_action_or_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    tz = "America/New_York"
    store = SQLiteStore(tmp_path / "state.db")
    _replay(tz, random_log(3), store)
    store.close()
    assert main(["report", "--store", url, "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)

    def loaded(*args: object, **kwargs: object) -> None:
        raise AssertionError("a report loaded the store into objects")

    for name in ("open", "activity", "outbox", "audit_log", "ledger", "rule_errors"):
        monkeypatch.setattr(SQLiteStore, name, loaded)
    for cls in (MemberState, LedgerEntry, ActionRecord):
        monkeypatch.setattr(cls, "from_json", loaded)
    for args in ([], ["--community", "c2"], ["--from", "2026-03-01", "--to", "2026-03-10"]):
        assert main(["report", "--store", url, "--json", *args]) == 0
        out = json.loads(capsys.readouterr().out)
        if not args:
            assert out == expected


# -- an older store is upgraded with the columns reports read --------------------------------


def test_a_store_from_before_the_report_columns_reports_the_same_after_its_upgrade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    _replay("America/New_York", random_log(4), store)
    store.close()
    url = f"sqlite:///{path}"
    assert main(["report", "--store", url, "--json"]) == 0
    fresh = capsys.readouterr().out
    with sqlite3.connect(path) as db:
        drop_report_columns(db)
        db.execute(  # the schema before the report columns
            "UPDATE meta SET value = '5' WHERE key = 'schema_version'"
        )
    db.close()
    assert main(["report", "--store", url, "--json"]) == 0
    assert capsys.readouterr().out == fresh
    # And the figures are the memory store's.
    memory = MemoryStore(keep_history=True)
    _replay("America/New_York", random_log(4), memory)
    data = read_store(memory, None)
    period = choose_period(data, None, None)
    expected = build_report(data, read_period(memory, data, period))
    expected["member_lists"] = read_member_lists(memory, data, period, 30, 10)  # the lists too
    assert expected == json.loads(fresh)


# -- a store without report methods (a plugin's) ------------------------------------------------


class PlainStore:
    """A store with only the Store protocol's methods (as a plugin's store may be)."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name.startswith("report_") and name != "report_context":
            raise AttributeError(name)
        return getattr(self.inner, name)


def test_a_store_without_report_methods_reports_the_same_figures() -> None:
    tz = "Asia/Kathmandu"
    store = MemoryStore(keep_history=True)
    _replay(tz, random_log(5), store)
    plain = PlainStore(store)
    assert isinstance(report_source(plain), StoreReports)
    assert report_source(store) is store
    reports = []
    for source in (store, plain):
        data = read_store(source, "c1")  # type: ignore[arg-type]
        period = choose_period(data, None, None)
        reports.append(build_report(data, read_period(source, data, period)))  # type: ignore[arg-type]
    assert reports[0] == reports[1]
    assert reports[0]["members"]["total"] and reports[0]["rules"]
