"""The gateway source against a local fake gateway speaking the real protocol (HELLO,
heartbeats, IDENTIFY/READY, dispatches, RESUME/RESUMED, op 7, op 9, close codes)."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from concurrent.futures import Future

import pytest
from discord_gateway_fake import APPLICATION_ID, fake_gateway
from discord_gateway_helpers import (
    FAST,
    TOKEN,
    CommittingContext,
    message,
    message_id,
    rig,
)
from engage_rules_discord.gateway import Session
from engage_rules_discord.intents import (
    GUILD_MEMBERS,
    GUILD_MESSAGE_REACTIONS,
    GUILD_MESSAGES,
    GUILDS,
    MESSAGE_CONTENT,
    intents_for,
)
from engage_rules_discord.plugin import DiscordAdapter
from engage_rules_discord.source import GatewaySource, IdentifyGate, cursor_value, read_cursor
from pytest_httpserver import HTTPServer

from engage_rules import i18n
from engage_rules.plugin_api import Event, Outcome
from engage_rules.testing import wait_for

CURSOR = f"discord:{APPLICATION_ID}:0"


@pytest.mark.e2e
def test_identify_ready_heartbeats_and_dispatches_in_order(httpserver: HTTPServer) -> None:
    with rig(httpserver) as r:
        wait_for(lambda: r.gateway.has_session())
        for n in range(5):
            r.gateway.dispatch("MESSAGE_CREATE", message(n))
        r.gateway.dispatch("TYPING_START", {"channel_id": "1", "user_id": "2"})
        wait_for(lambda: len(r.context.seqs()) == 7)
        wait_for(lambda: len(r.gateway.sent_by_clients(1)) >= 2)
        assert r.gateway.conns[0].path.startswith("/?v=10&encoding=json")
    [identify] = r.gateway.sent_by_clients(2)
    assert identify["d"]["token"] == TOKEN
    assert identify["d"]["shard"] == [0, 1]
    assert identify["d"]["intents"] == GUILDS | GUILD_MEMBERS | GUILD_MESSAGES | MESSAGE_CONTENT
    assert set(identify["d"]["properties"]) == {"os", "browser", "device"}
    assert r.context.event_ids() == [message_id(n) for n in range(5)]
    assert r.context.seqs() == [1, 2, 3, 4, 5, 6, 7]  # READY, 5 messages, TYPING_START
    cursor = json.loads(r.context.cursors[CURSOR])
    assert cursor == {
        "session_id": "session-1",
        "seq": 7,
        "resume_gateway_url": r.gateway.resume_url,
        "shards": 1,
    }
    # Each heartbeat carries the last sequence number received (null before any).
    beats = [f["d"] for f in r.gateway.sent_by_clients(1)]
    assert all(b is None or 1 <= b <= 7 for b in beats)
    assert beats == sorted(beats, key=lambda b: -1 if b is None else b)


@pytest.mark.e2e
def test_a_committed_cursor_resumes_and_the_gateway_replays_what_was_missed(
    httpserver: HTTPServer,
) -> None:
    with fake_gateway(TOKEN) as gateway:
        first = CommittingContext()
        with rig(httpserver, first, gateway=gateway) as r:
            wait_for(lambda: gateway.has_session())
            for n in range(3):
                gateway.dispatch("MESSAGE_CREATE", message(n))
            wait_for(lambda: len(first.event_ids()) == 3)
        # Stopped: dispatches meanwhile wait in the session; the cursor says seq 4.
        for n in range(3, 6):
            gateway.dispatch("MESSAGE_CREATE", message(n))
        second = CommittingContext(cursors=dict(first.cursors))
        httpserver.clear()
        with rig(httpserver, second, gateway=gateway) as r:
            wait_for(lambda: len(second.event_ids()) == 3)
            assert r.source.shards[0].identifies == 0
    [resume] = gateway.sent_by_clients(6)
    assert resume["d"] == {"token": TOKEN, "session_id": "session-1", "seq": 4}
    assert gateway.conns[-1].path.startswith("/resume/?v=10")
    assert second.event_ids() == [message_id(n) for n in range(3, 6)]
    assert json.loads(second.cursors[CURSOR])["seq"] == 8  # ... 7: message 5, 8: RESUMED


@pytest.mark.e2e
def test_a_cursor_past_the_resume_window_identifies_anew(httpserver: HTTPServer) -> None:
    stale = json.dumps(
        {"session_id": "gone", "seq": 40, "resume_gateway_url": "ws://127.0.0.1:9", "shards": 1}
    )
    context = CommittingContext(cursors={CURSOR: stale})
    with rig(httpserver, context) as r:
        wait_for(lambda: len(r.gateway.sent_by_clients(2)) == 1)
        wait_for(lambda: r.gateway.has_session())
        r.gateway.dispatch("MESSAGE_CREATE", message(1))
        wait_for(lambda: context.event_ids() == [message_id(1)])
    assert json.loads(context.cursors[CURSOR])["session_id"] == "session-1"


@pytest.mark.parametrize(
    "interruption",
    [
        {"op": 7, "d": None},  # RECONNECT
        {"op": 9, "d": True},  # INVALID SESSION, resumable
        4000,  # unknown error
        4008,  # rate limited
        1001,  # going away
    ],
)
@pytest.mark.e2e
def test_interruptions_resume_without_losing_or_doubling(
    httpserver: HTTPServer, interruption: object
) -> None:
    with rig(httpserver) as r:
        wait_for(lambda: r.gateway.has_session())
        r.gateway.dispatch("MESSAGE_CREATE", message(0))
        wait_for(lambda: len(r.context.event_ids()) == 1)
        if isinstance(interruption, int):
            r.gateway.close(interruption)
        else:
            assert isinstance(interruption, dict)
            r.gateway.send(interruption)
        # Queued behind the interruption: the shard reads it only from the replay.
        r.gateway.dispatch("MESSAGE_CREATE", message(1))
        wait_for(lambda: len(r.gateway.sent_by_clients(6)) == 1)
        wait_for(lambda: r.gateway.has_session())
        r.gateway.dispatch("MESSAGE_CREATE", message(2))
        wait_for(lambda: len(r.context.event_ids()) == 3)
        assert r.source.shards[0].identifies == 1
    assert r.context.event_ids() == [message_id(n) for n in range(3)]


@pytest.mark.parametrize("interruption", [{"op": 9, "d": False}, 4007, 4009])
@pytest.mark.e2e
def test_a_session_that_cannot_resume_is_identified_anew(
    httpserver: HTTPServer, interruption: object
) -> None:
    with rig(httpserver) as r:
        wait_for(lambda: r.gateway.has_session())
        r.gateway.dispatch("MESSAGE_CREATE", message(0))
        wait_for(lambda: len(r.context.event_ids()) == 1)
        if isinstance(interruption, int):
            r.gateway.close(interruption)
        else:
            assert isinstance(interruption, dict)
            r.gateway.send(interruption)
        wait_for(lambda: len(r.gateway.sent_by_clients(2)) == 2)
        wait_for(lambda: r.gateway.has_session() and len(r.gateway.sessions) == 2)
        r.gateway.dispatch("MESSAGE_CREATE", message(1))
        wait_for(lambda: len(r.context.event_ids()) == 2)
    assert r.gateway.sent_by_clients(6) == []
    assert json.loads(r.context.cursors[CURSOR])["session_id"] == "session-2"


@pytest.mark.e2e
def test_a_zombie_connection_is_closed_and_resumed(httpserver: HTTPServer) -> None:
    with rig(httpserver) as r:
        wait_for(lambda: r.gateway.has_session())
        r.gateway.ack = False  # heartbeats go unanswered
        wait_for(lambda: len(r.gateway.sent_by_clients(6)) >= 1)
        r.gateway.ack = True
        wait_for(lambda: r.gateway.has_session())
        r.gateway.dispatch("MESSAGE_CREATE", message(0))
        wait_for(lambda: r.context.event_ids() == [message_id(0)])
    zombie = r.gateway.conns[0]
    assert zombie.closed_code is None  # the client closed it, not the gateway
    assert r.source.error is None


@pytest.mark.e2e
def test_a_heartbeat_request_is_answered_at_once(httpserver: HTTPServer) -> None:
    with fake_gateway(TOKEN, heartbeat_ms=60_000) as gateway, rig(httpserver, gateway=gateway):
        wait_for(lambda: gateway.has_session())
        before = len(gateway.sent_by_clients(1))
        gateway.send({"op": 1, "d": None})
        wait_for(lambda: len(gateway.sent_by_clients(1)) == before + 1)


@pytest.mark.e2e
def test_a_refused_token_stops_the_source_with_a_clear_error(httpserver: HTTPServer) -> None:
    context = CommittingContext()
    with fake_gateway("another-token") as gateway, rig(httpserver, context, gateway=gateway) as r:
        wait_for(lambda: r.source.error is not None)
        error = r.source.error or ""
        assert "4004" in error
        assert "refused the bot token" in error
        assert TOKEN not in error
        connections = len(gateway.conns)
    assert len(gateway.conns) == connections  # no reconnecting after a fatal close
    # ... and the runtime is asked to stop, with the same message.
    assert context.failures == [f"discord gateway: {error}"]


@pytest.mark.e2e
def test_disallowed_intents_name_the_privileged_intents_to_enable(
    httpserver: HTTPServer,
) -> None:
    context = CommittingContext(event_types=frozenset({"message.posted", "reaction.added"}))
    with fake_gateway(TOKEN) as gateway:
        gateway.identify_close = 4014
        with rig(httpserver, context, gateway=gateway) as r:
            wait_for(lambda: r.source.error is not None)
    assert r.source.error is not None
    assert "4014" in r.source.error
    assert "MESSAGE_CONTENT (Message Content Intent, for message.posted)" in r.source.error
    assert "GUILD_MEMBERS" not in r.source.error  # the playbook does not use member events
    assert "Privileged Gateway Intents" in r.source.error


def test_the_operator_is_told_what_to_fix_in_their_language(
    httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    context = CommittingContext(event_types=frozenset({"message.posted"}))
    previous = i18n.current_language()
    i18n.set_language("zh_CN")  # as `engage-rules --lang zh_CN run` (the shards' threads too)
    try:
        with fake_gateway(TOKEN) as gateway, caplog.at_level(logging.INFO):
            gateway.identify_close = 4014
            with rig(httpserver, context, gateway=gateway) as r:
                wait_for(lambda: r.source.error is not None)
    finally:
        i18n.set_language(previous)
    assert r.source.error == (
        "Discord 关闭了 gateway 连接（4014）：intents 未获准：机器人请求了特权 intents "
        "MESSAGE_CONTENT（开关 Message Content Intent，用于 message.posted）；请在开发者门户里"
        "打开它们（Applications → 机器人的应用 → Bot → Privileged Gateway Intents）"
    )
    assert "discord gateway：应用 1301000000000000900，1 个分片，intents GUILDS" in caplog.text
    assert "discord gateway 已停止：Discord 关闭了 gateway 连接（4014）" in caplog.text


@pytest.mark.e2e
def test_two_shards_each_with_its_own_session_and_cursor(httpserver: HTTPServer) -> None:
    with rig(httpserver, recommended=2, max_concurrency=2) as r:
        wait_for(lambda: r.gateway.has_session(0) and r.gateway.has_session(1))
        r.gateway.dispatch("MESSAGE_CREATE", message(0), shard=0)
        r.gateway.dispatch("MESSAGE_CREATE", message(1), shard=1)
        r.gateway.dispatch("MESSAGE_CREATE", message(2), shard=1)
        wait_for(lambda: len(r.context.event_ids()) == 3)
    shards = sorted(f["d"]["shard"] for f in r.gateway.sent_by_clients(2))
    assert shards == [[0, 2], [1, 2]]
    assert sorted(r.context.event_ids()) == sorted(message_id(n) for n in range(3))
    assert r.context.seqs(0) == [1, 2] and r.context.seqs(1) == [1, 2, 3]
    sessions = {
        json.loads(r.context.cursors[f"discord:{APPLICATION_ID}:{i}"])["session_id"] for i in (0, 1)
    }
    assert len(sessions) == 2


@pytest.mark.e2e
def test_shards_n_overrides_the_recommended_count(httpserver: HTTPServer) -> None:
    with rig(httpserver, shards=2, recommended=1, max_concurrency=1) as r:
        wait_for(lambda: r.gateway.has_session(0) and r.gateway.has_session(1))
    assert sorted(f["d"]["shard"] for f in r.gateway.sent_by_clients(2)) == [[0, 2], [1, 2]]


@pytest.mark.e2e
def test_a_cursor_from_another_shard_count_is_not_resumed(httpserver: HTTPServer) -> None:
    other = json.dumps(
        {"session_id": "s", "seq": 3, "resume_gateway_url": "ws://127.0.0.1:9", "shards": 4}
    )
    with rig(httpserver, CommittingContext(cursors={CURSOR: other})) as r:
        wait_for(lambda: r.gateway.has_session())
    assert r.gateway.sent_by_clients(6) == []


@pytest.mark.e2e
def test_hostile_frames_never_stop_the_source(httpserver: HTTPServer) -> None:
    small = dataclasses.replace(FAST, max_frame=64 * 1024)
    with rig(httpserver, timing=small) as r:
        wait_for(lambda: r.gateway.has_session())
        r.gateway.send("not json {")
        r.gateway.send(b"\xff\xfe binary garbage")
        r.gateway.send("[1, 2, 3]")
        r.gateway.send({"op": 99, "d": {"what": "unknown opcode"}})
        r.gateway.send({"op": "0", "t": "MESSAGE_CREATE"})
        r.gateway.send({"op": 0, "t": "MESSAGE_CREATE", "d": message(90)})  # no `s`
        r.gateway.send({"op": 10, "d": {"heartbeat_interval": "soon"}})  # a late HELLO
        bad = r.gateway.dispatch("MESSAGE_CREATE", {"guild_id": "-1", "type": 0})
        r.gateway.dispatch("MESSAGE_CREATE", message(1))
        wait_for(lambda: r.context.event_ids() == [message_id(1)])
        assert bad in r.context.seqs()  # the unreadable dispatch moved the cursor past it
        r.gateway.send("x" * (200 * 1024))  # over max_frame: the connection is closed...
        r.gateway.dispatch("MESSAGE_CREATE", message(2))
        wait_for(lambda: len(r.gateway.sent_by_clients(6)) == 1)  # ...and resumed
        wait_for(lambda: r.context.event_ids() == [message_id(1), message_id(2)])
        assert r.source.error is None


def test_intents_follow_the_event_types() -> None:
    assert intents_for([]).value == GUILDS
    members = intents_for(["member.joined", "member.left", "badge.granted", "checkin"])
    assert members.value == GUILDS | GUILD_MEMBERS
    assert (
        members.privileged()
        == "GUILD_MEMBERS (Server Members Intent, for member.joined, member.left)"
    )
    assert intents_for(["member.level_changed", "member.silent"]).value == GUILDS
    assert intents_for(["message.deleted"]).value == GUILDS | GUILD_MESSAGES
    assert intents_for(["message.posted"]).value == GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT
    reactions = intents_for(["reaction.added"])
    assert reactions.value == GUILDS | GUILD_MESSAGE_REACTIONS
    assert reactions.privileged() == "none"
    assert reactions.names() == ["GUILDS", "GUILD_MESSAGE_REACTIONS"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Waits(threading.Event):
    """A stopping event whose waits move the clock instead of sleeping."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.waited: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waited.append(round(timeout, 6))
        self.clock.now += timeout
        return self.is_set()


def test_identify_gate_paces_each_max_concurrency_bucket() -> None:
    clock = Clock()
    waits = Waits(clock)
    gate = IdentifyGate(2, interval=5.0, stopping=waits, clock=clock)
    assert gate.wait_turn(0) and gate.wait_turn(1)  # two buckets: no wait
    assert waits.waited == []
    assert gate.wait_turn(2)  # bucket 0 again: 5 s after shard 0
    assert waits.waited == [5.0]
    assert gate.wait_turn(3)  # bucket 1 identified at 100, now is 105: no wait
    assert waits.waited == [5.0]


def test_identify_gate_waits_out_a_spent_session_start_limit() -> None:
    clock = Clock()
    waits = Waits(clock)
    gate = IdentifyGate(1, remaining=0, reset_after=60.0, stopping=waits, clock=clock)
    assert gate.wait_turn(0)
    assert waits.waited == [60.0]
    waits.set()
    assert not gate.wait_turn(0)  # stopping while waiting: no identify


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "[]",
        '{"session_id": "s", "seq": 1, "resume_gateway_url": "ws://x"}',  # no shard count
        '{"session_id": "s", "seq": true, "resume_gateway_url": "ws://x", "shards": 1}',
        '{"session_id": 5, "seq": 1, "resume_gateway_url": "ws://x", "shards": 1}',
        '{"session_id": "s", "seq": 1, "resume_gateway_url": null, "shards": 1}',
    ],
)
def test_an_unreadable_cursor_means_identify(raw: str | None) -> None:
    assert read_cursor(raw, 1) is None


def test_a_cursor_round_trips() -> None:
    session = Session("abc", 42, "wss://gateway-us-east1-b.discord.gg")
    assert read_cursor(cursor_value(session, 3), 3) == session
    assert read_cursor(cursor_value(session, 3), 2) is None


@pytest.mark.e2e
def test_a_token_refused_by_rest_stops_the_source_before_connecting(
    httpserver: HTTPServer,
) -> None:
    httpserver.expect_request("/api/v10/applications/@me").respond_with_json(
        {"message": "401: Unauthorized", "code": 0}, status=401
    )
    context = CommittingContext()
    source = GatewaySource(
        context.context(),
        token=TOKEN,
        base_url=httpserver.url_for("/api/v10"),
        shards="auto",
        parse=lambda payload: [],
        timing=FAST,
    )
    source.start()
    try:
        wait_for(lambda: source.error is not None)
    finally:
        source.stop()
        source.join(5)
    assert "refused the bot token (401 Unauthorized)" in (source.error or "")
    assert TOKEN not in (source.error or "")
    assert source.shards == []


class SlowContext(CommittingContext):
    """The runtime's queue is full for a while: the first message's submission waits."""

    def submit(
        self,
        events: list[Event],
        key: str | None = None,
        *,
        cursor: tuple[str, str] | None = None,
    ) -> Future[Outcome]:
        if events and events[0].id == message_id(0):
            time.sleep(1.5)  # six heartbeat intervals of the fake gateway
        return super().submit(events, key, cursor=cursor)


@pytest.mark.e2e
def test_a_full_runtime_queue_is_not_taken_for_a_zombie_connection(
    httpserver: HTTPServer,
) -> None:
    context = SlowContext()
    with rig(httpserver, context) as r:
        wait_for(lambda: r.gateway.has_session())
        r.gateway.dispatch("MESSAGE_CREATE", message(0))
        r.gateway.dispatch("MESSAGE_CREATE", message(1))
        wait_for(lambda: len(context.event_ids()) == 2)
        assert len(r.gateway.sent_by_clients(1)) >= 3  # heartbeats went on meanwhile
    assert r.gateway.sent_by_clients(6) == []  # no reconnection
    assert len(r.gateway.conns) == 1


@pytest.mark.parametrize("shards", [0, -1, 5000, "many", None])
def test_shards_is_auto_or_a_count(shards: object) -> None:
    with pytest.raises(ValueError, match="shards"):
        DiscordAdapter({"token": TOKEN, "shards": shards})


@pytest.mark.parametrize("shards", ["auto", 1, 16])
def test_shards_accepted(shards: object) -> None:
    assert DiscordAdapter({"token": TOKEN, "shards": shards}).settings.shards == shards
