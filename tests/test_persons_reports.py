"""Reports of a community with persons (docs/reference.md §4.3): persons are not members
of a group, and a person-wide currency's awards and spends count in the group where they
happened — the same in SQL (SQLite) as in the Python reference (memory store, and the
generic reports over the SQLite store's lists)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from engage_rules.engine.core import Engine
from engage_rules.features.persons import make_code
from engage_rules.model.persons import PERSONS
from engage_rules.model.state import MemberState
from engage_rules.store import MemoryStore, SQLiteStore
from engage_rules.store.member_lists import MemberListQuery, StoreMemberLists, member_list_source
from engage_rules.store.reports import ReportQuery, StoreReports, report_source
from engage_rules.testing import T0, event, open_store, playbook

PLAYBOOK = playbook(
    """
engage_rules: 1
name: person-reports
community: {name: R, timezone: Asia/Shanghai}
currencies: [{name: points, scope: person}, coins]
rules:
  - id: post
    on: message.posted
    do: [{award: {points: 5}}, {award: {currency: coins, amount: 1}}]
  - id: buy
    on: redeem.requested
    do: [{spend: {points: 7}}]
  - id: ask
    on: custom.ask
    do: [{bind_code: 1d}]
  - id: bind
    on: custom.bind
    do: [{bind: "{{ event.data.code }}"}]
"""
)
GROUPS = ("tg", "qq", "dc")


def _log(seed: int) -> list[Any]:
    rng = random.Random(seed)
    out = []
    codes: list[tuple[str, str]] = []
    for i in range(400):
        group, member = rng.choice(GROUPS), f"u{rng.randrange(8)}"
        at = T0 + timedelta(hours=i)
        roll = rng.random()
        if roll < 0.6:
            out.append(event("message.posted", member, at, community=group, id=f"e{i}"))
        elif roll < 0.8:
            out.append(event("redeem.requested", member, at, community=group, id=f"e{i}"))
        elif roll < 0.9:
            out.append(event("custom.ask", member, at, community=group, id=f"e{i}"))
            m = MemberState(id=member, community=group)
            codes.append((make_code("person-reports", "", m, f"e{i}", 6, 0), group))
        elif codes:
            code, issued = codes[-1]
            other = rng.choice([g for g in GROUPS if g != issued])
            data = {"code": code}
            out.append(event("custom.bind", member, at, community=other, id=f"e{i}", data=data))
    return out


def test_person_wide_points_count_in_their_group_and_persons_are_not_members() -> None:
    _check_reports(SQLiteStore(":memory:"))


def test_the_same_on_postgresql(pg_url: str) -> None:
    _check_reports(open_store(pg_url))


def _check_reports(sql: Any) -> None:
    memory = MemoryStore(keep_history=True)
    try:
        for store in (memory, sql):
            engine = Engine(PLAYBOOK, store.open())
            for ev in _log(3):
                store.commit(engine.process(ev), engine.state)
        assert memory.open().communities[PERSONS].member_ids()  # persons were made
        start, end = date(2026, 3, 1), date(2026, 4, 30)
        totals: dict[tuple[str, str], int] = {}
        for community in (None, *GROUPS):
            q = ReportQuery("Asia/Shanghai", community, start, end)
            expected = report_source(memory).report_points(q)
            assert report_source(sql).report_points(q) == expected, community
            assert StoreReports(sql).report_points(q) == expected, community
            members = report_source(memory).report_members(q)
            assert report_source(sql).report_members(q) == members
            if community is None:
                all_points, all_members = expected, members
            else:
                for key, n in expected.items():
                    totals[key] = totals.get(key, 0) + n
        # Each award and spend counts once, in its group.  (Merges are transfers, not
        # issued or spent points: the report shows none of them.)
        moved = {k: v for k, v in all_points.items() if k[1] != "merge"}
        assert {k: v for k, v in totals.items() if k[1] != "merge"} == moved
        assert moved[("points", "award")] > 0 and moved[("points", "spend")] > 0
        assert all_points[("points", "merge")] > 0
        persons = len(memory.open().communities[PERSONS].member_ids())
        accounts = sum(len(memory.open().community(g).member_ids()) for g in GROUPS)
        assert persons > 0
        assert sum(all_members.by_last_active.values()) == accounts
        for source in (memory, sql, StoreReports(sql)):
            assert report_source(source).report_communities() == sorted(GROUPS)
        # The top members list: accounts only, a person's awards counted for the account
        # each was made in (every award of the log is someone's: 5 points a post).
        for community in (None, *GROUPS):
            q = ReportQuery("Asia/Shanghai", community, start, end)
            lists = [
                list(member_list_source(s).report_member_list(MemberListQuery(q, "top")))
                for s in (memory, sql, StoreMemberLists(sql))
            ]
            assert lists[0] == lists[1] == lists[2], community
            assert all(m.community != PERSONS for m in lists[0])
            if community is None:
                awarded = sum(m.points for m in lists[0])
                assert awarded == all_points[("points", "award")] + all_points[("coins", "award")]
    finally:
        sql.close()
