"""Group-wide signals (docs/language.md, "Group-wide signals"): `community.count()` and
`community.members_count()` against a brute-force count, `cooldown_per`, the channel
message caps of `messaging:`, persistence and load-time problems."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules import Engine, Event
from engage_rules.errors import PlaybookError
from engage_rules.expr.group import SIGNALS_KEY, fn_community_count, fn_members_count
from engage_rules.features.signals import MAX_ENTRIES, record
from engage_rules.model.decision import ActionRecord
from engage_rules.shell.runner import Runner
from engage_rules.testing import T0, event, open_store
from helpers import playbook, run

ALERT = """
rules:
  - id: detect
    on: message.posted
    if: "'bad' in event.data.text"
    do: [{emit: {type: message.negative}}]
  - id: alert
    on: message.negative
    if:
      - "community.count('message.negative', within='30m') >= 3"
      - "community.members_count('message.negative', within='30m') >= 2"
    cooldown: 1h
    cooldown_per: community
    do: [{broadcast: {text: alert, channel: mods}}]
"""


def bad(member: str, minutes: float, channel: str = "g", community: str = "default") -> Event:
    return event(
        "message.posted",
        member,
        minutes * 60,
        channel=channel,
        community=community,
        data={"text": "bad"},
    )


def alerts(acts: list[ActionRecord]) -> list[tuple[str, str]]:
    return [(a.cause.split("/")[0], a.community) for a in acts if a.type == "broadcast"]


def test_count_and_members_count_over_emitted_events_alert_once_per_hour() -> None:
    engine = Engine(playbook(ALERT))
    stream = [bad("u1", 0), bad("u1", 5), bad("u2", 10), bad("u3", 15), bad("u1", 50)]
    acts = run(engine, *stream)
    assert alerts(acts) == [(stream[2].id, "default")]
    # An hour after the first alert, three more in 30 minutes alert again.
    later = [bad("u4", 71), bad("u5", 72), bad("u4", 73)]
    assert alerts(run(engine, *later)) == [(later[1].id, "default")]


def test_one_member_alone_never_alerts_and_communities_are_apart() -> None:
    engine = Engine(playbook(ALERT))
    acts = run(engine, *(bad("u1", m) for m in range(5)))
    assert alerts(acts) == []
    acts = run(engine, bad("u2", 6, community="other"), bad("u3", 7, community="other"))
    assert alerts(acts) == []  # "other" has only two negative messages


def test_per_channel_counts_and_channel_cooldowns() -> None:
    pb = playbook("""
rules:
  - id: busy-channel
    on: message.posted
    if: "community.count('message.posted', within='10m', channel=event.channel) >= 3"
    cooldown: 30m
    cooldown_per: channel
    do: [{reply: {text: "slow down"}}]
""")
    engine = Engine(pb)
    stream = [
        event("message.posted", "u1", 0, channel="a"),
        event("message.posted", "u2", 60, channel="b"),
        event("message.posted", "u3", 120, channel="a"),
        event("message.posted", "u4", 180, channel="b"),
        event("message.posted", "u5", 240, channel="a"),  # a: 3 → reply
        event("message.posted", "u6", 300, channel="b"),  # b: 3 → its own cooldown
        event("message.posted", "u7", 360, channel="a"),  # a: cooling
    ]
    acts = run(engine, *stream)
    assert [(a.cause, a.params["channel"]) for a in acts] == [
        (stream[4].id, "a"),
        (stream[5].id, "b"),
    ]
    cooldowns = engine.state.community("default").data["cooldowns"]["busy-channel"]
    assert set(cooldowns) == {"#a", "#b"}


def test_lifetime_count_without_a_window() -> None:
    pb = playbook("""
rules:
  - id: hundredth
    on: checkin
    if: "community.count('checkin') == 3"
    do: [{tag: third-checkin-of-the-community}]
""")
    engine = Engine(pb)
    acts = run(engine, *(event("checkin", f"u{i}", i) for i in range(5)))
    assert [a.member for a in acts] == ["u2"]
    assert engine.state.community("default").data[SIGNALS_KEY] == {"checkin": {"n": 5}}


def test_signals_survive_a_restart_of_a_sqlite_store(tmp_path: Path) -> None:
    pb = playbook(ALERT)
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = Runner(pb, open_store(url))
    for e in (bad("u1", 0), bad("u2", 1), bad("u3", 2), bad("u4", 3)):
        first.feed(e)
    first.close()
    second = Runner(pb, open_store(url))
    committed: list[ActionRecord] = []
    second.on_commit = committed.extend
    last = bad("u5", 40)  # the first alert's cooldown (community-wide) still runs
    second.feed(last)
    later = [bad("u1", 65), bad("u2", 66)]
    for e in later:
        second.feed(e)
    second.close()
    # At 66 minutes: the events of 40, 65 and 66 are in the window; the cooldown is over.
    assert alerts(committed) == [(later[1].id, "default")]


def test_traced_and_generated_dispatch_agree_on_shared_cooldowns() -> None:
    pb = playbook(ALERT)
    stream = [bad(f"u{i % 4}", i * 7) for i in range(30)]
    plain, traced = Engine(pb), Engine(pb, trace=True)
    assert run(plain, *stream) == run(traced, *stream)
    decided = traced.process(bad("u9", 20 * 7 + 1))
    traces = [r for d in decided for t in d.traces for r in t["rules"] if r["rule"] == "alert"]
    assert traces and traces[0]["outcome"] == "cooldown", traces
    assert traces[0]["cooldown_per"] == "community"


# -- the history is bounded and equals a brute-force count ------------------------------------


class _Ctx(SimpleNamespace):
    pass


def _ctx(engine: Engine, ev: Event) -> Any:
    return _Ctx(effects=engine, event=ev, now_ts=ev.ts)


_events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=7200),  # seconds after T0 (sorted below)
        st.sampled_from(["x", "y"]),
        st.sampled_from(["u1", "u2", "u3", None]),
        st.sampled_from(["a", "b", None]),
    ),
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(_events, st.sampled_from(["10m", "30m", "1h"]))
def test_window_counts_equal_a_brute_force_count(
    raw: list[tuple[int, str, str | None, str | None]], window: str
) -> None:
    seconds = {"10m": 600, "30m": 1800, "1h": 3600}[window]
    pb = playbook(f"""
rules:
  - id: r
    on: [x, y]
    if: "community.count('x', within='{window}') >= 0 and
         community.members_count('x', within='10m') >= 0"
    do: [{{tag: seen}}]
""")
    engine = Engine(pb)
    seen: list[tuple[float, str | None, str | None]] = []
    for n, (at, type_, member, channel) in enumerate(sorted(raw, key=lambda r: r[0])):
        ev = event(type_, member, at, channel=channel, id=f"w{n}")
        engine.process(ev)
        if type_ == "x":
            seen.append((ev.ts, member, channel))
        c = _ctx(engine, ev)
        now = ev.ts
        inside = [s for s in seen if now - seconds < s[0] <= now]
        assert fn_community_count(c, "x", seconds) == len(inside)
        for ch in ("a", "b"):
            expected = sum(1 for s in inside if s[2] == ch)
            assert fn_community_count(c, "x", seconds, ch) == expected
        short = [s for s in seen if now - 600 < s[0] <= now]
        assert fn_members_count(c, "x", 600) == len({s[1] for s in short if s[1] is not None})
        assert fn_community_count(c, "x") == len(seen)
        assert fn_community_count(c, "y", seconds) == 0 or type_ == "y" or seen
    history = engine.state.community("default").data.get(SIGNALS_KEY, {}).get("x")
    if history is not None:  # trimmed to the longest window
        w = history["w"]
        assert all(w[-1][0] - ts < seconds for ts, _, _ in w)


def test_the_history_is_capped_and_a_late_event_is_counted_where_it_is_dated() -> None:
    entry: dict[str, Any] = {"n": 0}
    ev = event("x", "u1", 0)
    for i in range(MAX_ENTRIES + 50):
        record(entry, 10 * 86400.0, T0.timestamp() + i, ev)
    assert entry["n"] == MAX_ENTRIES + 50
    assert len(entry["w"]) == MAX_ENTRIES
    assert entry["w"][0][0] == T0.timestamp() + 50  # the oldest went first
    entry = {"n": 0}
    for i in (0, 100, 50):  # the third is late
        record(entry, 3600.0, T0.timestamp() + i, ev)
    assert [x[0] - T0.timestamp() for x in entry["w"]] == [0, 50, 100]


# -- caps on channel messages --------------------------------------------------------------

CAPS = """
messaging:
  max_broadcasts: {count: 2, per: day}
  max_per_channel: {count: 3, per: day}
rules:
  - id: announce
    on: announce.requested
    do: [{broadcast: {text: "{{ event.data.text }}", channel: news}}]
    else: [{send: {text: refused}}]
  - id: answer
    on: message.posted
    do: [{reply: {text: ok}}]
    else: [{tag: capped}]
"""


def test_broadcasts_beyond_the_daily_cap_are_refused_audited_and_run_else() -> None:
    engine = Engine(playbook(CAPS))
    day = 86400
    decisions = [
        d
        for at in (0, 60, 120, day + 60)
        for d in engine.process(event("announce.requested", "mod", at, data={"text": f"t{at}"}))
    ]
    acts = [(a.type, a.params.get("text")) for d in decisions for a in d.actions]
    assert acts == [
        ("broadcast", "t0"),
        ("broadcast", "t60"),
        ("send", "refused"),
        ("broadcast", f"t{day + 60}"),  # a new day
    ]
    audit = [e for d in decisions for e in d.audit]
    assert [(e["action"], e["reason"], e["message"], e["cap"]) for e in audit] == [
        ("message_suppressed", "capped", "broadcast", "broadcast")
    ]
    caps = engine.state.community("default").data["message_caps"]
    assert caps == {
        "broadcast": [(T0 + timedelta(days=1)).date().isoformat(), 1],
        "#news": caps["#news"],
    }
    assert caps["#news"][1] == 1  # past days' counts are dropped


def test_replies_are_capped_per_channel() -> None:
    engine = Engine(playbook(CAPS))
    stream = [event("message.posted", f"u{i}", i, channel="a") for i in range(4)]
    stream.append(event("message.posted", "u9", 10, channel="b"))
    acts = run(engine, *stream)
    assert [(a.type, a.member) for a in acts] == [
        ("reply", "u0"),
        ("reply", "u1"),
        ("reply", "u2"),
        ("tag", "u3"),
        ("reply", "u9"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "  - {id: r, on: x, if: \"community.count('x', within='soon') > 1\", do: [{tag: a}]}",
            "community.count(): ",
        ),
        (
            "  - {id: r, on: x, if: 'community.count(event.type) > 1', do: [{tag: a}]}",
            "community.count(): the event type must be a quoted name",
        ),
        (
            "  - {id: r, on: x, if: \"community.members_count('x') > 1\", do: [{tag: a}]}",
            "community.members_count() needs the argument `within`",
        ),
        (
            "  - {id: r, on: x, if: \"community.count('x', channel='a') > 1\", do: [{tag: a}]}",
            "community.count(): give a window",
        ),
        (
            "  - {id: r, on: x, if: \"community.count('x', within=vars.w) > 1\", do: [{tag: a}]}",
            "the window must be a quoted duration",
        ),
        (
            "  - {id: r, on: x, do: [{tag: \"n{{ community.count('x', within='1h') }}\"}]}",
            "`community.count()` is for conditions",
        ),
        (
            "  - {id: r, on: x, cooldown_per: community, do: [{tag: a}]}",
            "`cooldown_per` needs a `cooldown`",
        ),
        (
            "  - {id: r, on: x, cooldown: 1h, cooldown_per: room, do: [{tag: a}]}",
            "'cooldown_per': expected 'member', 'channel' or 'community'",
        ),
    ],
)
def test_malformed_group_signals_are_located(body: str, message: str) -> None:
    with pytest.raises(PlaybookError) as exc:
        playbook("vars: {w: 1h}\nrules:\n" + body + "\n")
    text = "\n".join(map(str, exc.value.problems))
    assert message in text, text
    assert text.startswith("test.yaml:"), text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("messaging: {max_broadcasts: {count: 0, per: day}}", "'messaging.max_broadcasts.count'"),
        ("messaging: {max_per_channel: {count: 3, per: hour}}", "'messaging.max_per_channel.per'"),
    ],
)
def test_malformed_channel_caps_are_located(body: str, message: str) -> None:
    with pytest.raises(PlaybookError) as exc:
        playbook(body + "\n")
    text = "\n".join(map(str, exc.value.problems))
    assert message in text and text.startswith("test.yaml:4:"), text
