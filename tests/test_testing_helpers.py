"""engage_rules.testing: builders, FrozenClock, FakeAdapter, and the adapter contract
failing adapters that break it."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from engage_rules.adapters.base import Adapter, Delivery, DeliveryError, PayloadError
from engage_rules.events import (
    REASONS,
    Event,
    EventError,
    event_from_obj,
    event_to_json,
    parse_event,
)
from engage_rules.plugins import default_registry as registry
from engage_rules.testing import (
    HEADER,
    T0,
    AdapterContract,
    FakeAdapter,
    FrozenClock,
    PayloadSample,
    RecordingPlatform,
    action,
    actions_from_payloads,
    after,
    deliver_all,
    event,
    event_json,
    event_line,
    event_obj,
    events,
    live_service,
    message,
    playbook,
    post_json,
    post_signed,
    run_cli,
    wait_for,
    write_setup,
)
from engage_rules.testing import strategies as est

pytest_plugins = ("pytester",)


# -- builders --------------------------------------------------------------------------------


def test_event_builds_a_validated_event() -> None:
    e = event(
        "message.posted",
        "u1",
        at=90,
        id="e-1",
        channel="general",
        platform="chat",
        text="hi",
        message_id="m-1",
    )
    assert e.id == "e-1" and e.type == "message.posted" and e.member_id == "u1"
    assert e.at == T0 + timedelta(seconds=90) and e.ts == e.at.timestamp()
    assert e.channel == "general" and e.platform == "chat" and not e.internal
    assert e.data == {"text": "hi", "message_id": "m-1"}


def test_event_forms_agree() -> None:
    line = event_line(
        "checkin",
        {"id": "u2", "roles": ["vip"]},
        at="2026-03-02T09:00:00Z",
        id="c-1",
        community="fans",
    )
    e = parse_event(line)
    assert event_json(e) == event_to_json(
        event(
            "checkin",
            {"id": "u2", "roles": ["vip"]},
            at="2026-03-02T09:00:00Z",
            id="c-1",
            community="fans",
        )
    )
    assert e.member is not None and e.member.roles == ("vip",)


def test_event_defaults_and_community_events() -> None:
    a, b = event("checkin"), event("checkin")
    assert a.id != b.id and a.at == T0 and a.member_id == "u1" and a.community == "default"
    assert event("leaderboard.closed", None).member is None
    assert "member" not in event_obj("leaderboard.closed", None)
    with pytest.raises(ValueError, match="offset"):
        event("checkin", at=datetime(2026, 3, 2, 12, 0))


def test_action_has_the_output_shape() -> None:
    a = action("send", "u9", cause="evt-7")
    assert a == {
        "key": "key-send-u9-evt-7",
        "type": "send",
        "member": "u9",
        "rule": "test-rule",
        "cause": "evt-7",
        "at": T0.isoformat(),
        "params": {"text": "hello"},
        "community": "default",
    }
    assert action("kick", params={"reason": "x"}, channel="c")["params"] == {"reason": "x"}
    assert action("kick", channel="c")["channel"] == "c"
    assert action("custom.thing")["params"] == {}


# -- FrozenClock -------------------------------------------------------------------------------


def test_frozen_clock() -> None:
    clock = FrozenClock()
    assert clock.now() == T0 and clock.now() == T0
    assert clock.advance(30) == T0 + timedelta(seconds=30)
    clock.advance(timedelta(minutes=1), seconds=30)
    clock.advance(minutes=5)
    assert clock.now() == T0 + timedelta(minutes=7)
    clock.sleep(2.5)
    assert (
        clock.slept == [2.5]
        and clock.time() == (T0 + timedelta(minutes=7, seconds=2.5)).timestamp()
    )
    later = datetime(2027, 1, 1, tzinfo=UTC)
    clock.set(later)
    assert clock.now() == later
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.sleep(-1)
    with pytest.raises(ValueError):
        FrozenClock(datetime(2026, 1, 1))


# -- FakeAdapter -------------------------------------------------------------------------------


def test_fake_adapter_records_and_fails_on_demand() -> None:
    fake = FakeAdapter()
    assert isinstance(fake, Adapter)
    assert fake.capabilities == frozenset(registry().actions)
    first = fake.deliver(action("send"))
    assert isinstance(first, Delivery) and first.platform_id == "fake-1"
    fake.fail_next(DeliveryError("slow down", retry_after=3.0, status=429), times=2)
    for _ in range(2):
        with pytest.raises(DeliveryError) as info:
            fake.deliver(action("send"))
        assert info.value.retry_after == 3.0 and not info.value.permanent
    fake.fail_always("kick", DeliveryError("no rights", permanent=True, status=403))
    with pytest.raises(DeliveryError, match="no rights"):
        fake.deliver(action("kick"))
    fake.deliver(action("reply"))
    fake.heal()
    fake.deliver(action("kick"))
    assert fake.delivered_types() == ["send", "reply", "kick"]
    assert len(fake.attempts) == 6
    with pytest.raises(DeliveryError) as unknown:
        fake.deliver(action("teleport"))
    assert unknown.value.permanent
    fake.close()
    with pytest.raises(DeliveryError):
        fake.deliver(action("send"))


def test_fake_adapter_parse() -> None:
    fake = FakeAdapter.from_settings({"name": "chat", "capabilities": ["send"]})
    assert fake.name == "chat" and fake.capabilities == frozenset({"send"})
    one = fake.parse(event_obj("checkin", id="x1"))
    assert [(e.id, e.platform) for e in one] == [("x1", "chat")]
    many = fake.parse(
        {"events": [event_obj("checkin", id="x2"), event_obj("checkin", id="x3", platform="other")]}
    )
    assert [(e.id, e.platform) for e in many] == [("x2", "chat"), ("x3", "other")]
    with pytest.raises(PayloadError, match="events\\[0\\]"):
        fake.parse({"events": [{"type": "checkin"}]})
    with pytest.raises(PayloadError):
        fake.parse({"events": "nope"})


class TestFakeAdapterContract(AdapterContract):
    """The fake adapter itself passes the contract (it does not speak HTTP)."""

    delivers_over_http = False
    samples = (
        PayloadSample(
            "one event", event_obj("checkin", id="s1"), [event("checkin", id="s1", platform="fake")]
        ),
        PayloadSample(
            "a batch",
            {"events": [event_obj("member.left", id="s2")]},
            [event_obj("member.left", id="s2", platform="fake")],
        ),
    )
    malformed = ({"type": "checkin"}, {"events": 3}, {"events": [1]})

    def make_adapter(self, base_url: str) -> FakeAdapter:
        return FakeAdapter()


# -- the contract catches broken adapters --------------------------------------------------------

BROKEN = """
import json, urllib.error, urllib.request
from engage_rules.adapters.base import Delivery, DeliveryError, PayloadError
from engage_rules.events import event_from_obj
from engage_rules.testing import AdapterContract, PayloadSample, event

AT = "2026-03-02T12:00:00+08:00"


class Chat:
    name = "chat"
    capabilities = frozenset({"send"})
    flaws = frozenset()

    def __init__(self, base_url):
        self.base_url = base_url

    def parse(self, payload):
        if "crash" in self.flaws:
            user = payload["user"]["id"]          # KeyError on a damaged payload
        else:
            user = payload.get("user", {}).get("id") if isinstance(
                payload.get("user"), dict) else None
            if not isinstance(user, str) or not user:
                raise PayloadError("missing", path="user.id")
        if "drift" in self.flaws:
            return [event_from_obj({"id": "c-" + user, "type": "checkin", "at": AT,
                                    "member": {"id": user}, "data": {"n": id(self)}})]
        if "links" in self.flaws and "note" in payload:  # a second payload: not a text
            return [event_from_obj({"id": "c-" + user, "type": "checkin", "at": AT,
                                    "member": {"id": user}, "data": {"links": [1]}})]
        return [event_from_obj({"id": "c-" + user, "type": "checkin", "at": AT,
                                "member": {"id": user}})]

    def deliver(self, action):
        url = self.base_url if "ignore_base_url" not in self.flaws else "http://127.0.0.1:9"
        if "ignore_base_url" in self.flaws:
            return Delivery()
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    url + "/send", data=b"{}", method="POST"), timeout=5) as r:
                r.read()
        except urllib.error.HTTPError as err:
            if err.code == 429 and "no_retry_after" not in self.flaws:
                raise DeliveryError("429", retry_after=float(err.headers["Retry-After"]))
            permanent = 400 <= err.code < 500 or "5xx_permanent" in self.flaws
            raise DeliveryError(str(err.code), permanent=permanent and err.code != 429)
        except OSError as err:
            if "raw_oserror" in self.flaws:
                raise
            raise DeliveryError(str(err))
        return Delivery()

    def close(self):
        pass


class Base(AdapterContract):
    samples = (PayloadSample("a check-in", {"user": {"id": "u1"}},
                             [event("checkin", "u1", id="c-u1", at=AT)]),)
    malformed = ({"user": {}},)
    flaws = frozenset()

    def make_adapter(self, base_url):
        adapter = Chat(base_url)
        adapter.flaws = self.flaws
        return adapter


class TestGood(Base):
    pass


class TestCrash(Base):
    flaws = frozenset({"crash"})


class TestDrift(Base):
    flaws = frozenset({"drift"})


class TestBadLinks(Base):
    flaws = frozenset({"links"})
    fuzz_payloads = ({"user": {"id": "u1"}}, {"user": {"id": "u2"}, "note": "hi"})


class TestIgnoresBaseUrl(Base):
    flaws = frozenset({"ignore_base_url"})


class TestNoRetryAfter(Base):
    flaws = frozenset({"no_retry_after"})


class TestServerErrorsPermanent(Base):
    flaws = frozenset({"5xx_permanent"})


class TestRawOSError(Base):
    flaws = frozenset({"raw_oserror"})


class TestUnknownCapability(Base):
    def make_adapter(self, base_url):
        adapter = super().make_adapter(base_url)
        adapter.capabilities = frozenset({"send", "teleport"})
        return adapter


class TestNoSamples(Base):
    samples = ()
"""


@pytest.mark.subprocess
@pytest.mark.slow
def test_the_adapter_contract_fails_broken_adapters(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken=textwrap.dedent(BROKEN))
    pytester.makeconftest(
        "from hypothesis import Phase, settings\n"
        "settings.register_profile('quick', max_examples=15, database=None,\n"
        "                          phases=[Phase.explicit, Phase.generate])\n"
        "settings.load_profile('quick')\n"
    )
    result = pytester.runpytest_subprocess(
        "-q", "-rf", "-p", "no:cacheprovider", "-p", "no:randomly"
    )
    failed = {
        re.sub(r"\[.*\]$", "", line.split()[1].split("::", 1)[1])
        for line in result.outlines
        if line.startswith("FAILED ")
    }
    assert failed == {
        "TestCrash::test_random_json_raises_only_payload_errors",
        "TestCrash::test_damaged_samples_raise_only_payload_errors",
        "TestCrash::test_damaged_streams_map_or_raise_payload_errors",
        "TestBadLinks::test_damaged_streams_map_or_raise_payload_errors",
        "TestCrash::test_rejects_malformed_payloads",
        "TestDrift::test_parses_samples",
        "TestIgnoresBaseUrl::test_delivers_each_capability",
        "TestIgnoresBaseUrl::test_rate_limit_is_retryable_with_retry_after",
        "TestIgnoresBaseUrl::test_server_errors_are_retryable",
        "TestIgnoresBaseUrl::test_client_errors_are_permanent",
        "TestIgnoresBaseUrl::test_unreachable_server_is_retryable",
        "TestNoRetryAfter::test_rate_limit_is_retryable_with_retry_after",
        "TestServerErrorsPermanent::test_server_errors_are_retryable",
        "TestRawOSError::test_unreachable_server_is_retryable",
        "TestUnknownCapability::test_capabilities_are_known_action_types",
        "TestNoSamples::test_has_samples",
    }, "\n".join(result.outlines[-40:])


# -- more builders ------------------------------------------------------------------------------


def test_event_takes_at_positionally_and_describes_the_member() -> None:
    e = event(
        "referral.completed",
        "new1",
        60,
        roles=["vip"],
        name="Lin",
        created_at=after(days=-30),
        data={"member": "u9", "id": "not-the-event-id"},
        referrer="u1",
    )
    assert e.at == after(seconds=60) and e.member_id == "new1"
    assert e.member is not None and e.member.roles == ("vip",) and e.member.name == "Lin"
    assert e.member.created_at == T0 - timedelta(days=30)
    assert e.data == {"member": "u9", "id": "not-the-event-id", "referrer": "u1"}
    assert e.id.startswith("evt-")
    with pytest.raises(ValueError, match="member"):
        event_obj("checkin", None, roles=["vip"])


def test_t0_after_message_and_events() -> None:
    assert T0.isoformat() == "2026-03-02T10:00:00+08:00" and T0.weekday() == 0
    assert after(90) == after(minutes=1.5) == T0 + timedelta(seconds=90)
    assert after(days=1, start=after(hours=1)) == T0 + timedelta(days=1, hours=1)
    m1, m2 = message("u1", "hi", 30), message("u2", "yo", message_id="m-7", channel="c")
    assert (m1.type, m1.data["text"], m1.at) == ("message.posted", "hi", after(30))
    assert m1.data["message_id"].startswith("msg-") and m2.data["message_id"] == "m-7"
    assert m2.channel == "c"
    week = events("checkin", "u1", count=7, every=timedelta(days=1), start=after(hours=1))
    assert [e.at for e in week] == [after(days=d, hours=1) for d in range(7)]
    joins = events("member.joined", ["a", "b", None], every=60, n=1)
    assert [(e.member_id, e.at, e.data) for e in joins] == [
        ("a", T0, {"n": 1}),
        ("b", after(60), {"n": 1}),
        (None, after(120), {"n": 1}),
    ]
    with pytest.raises(ValueError, match="count"):
        events("checkin", ["a", "b"], count=3)


def test_frozen_clock_builds_events_at_its_instant() -> None:
    clock = FrozenClock()
    first = clock.event("member.joined", "u1")
    clock.advance(hours=5)
    later = clock.event_obj("checkin", "u2", id="c-1")
    assert first.at == T0
    assert later == event_obj("checkin", "u2", after(hours=5), id="c-1")


# -- importing the kit needs neither pytest nor hypothesis -------------------------------------

_BLOCKED_IMPORT = """
import sys
for name in ("hypothesis", "pytest", "_pytest", "pytest_httpserver"):
    sys.modules[name] = None  # any import of these now fails
import engage_rules.testing as kit
e = kit.event("message.posted", "u1", 60, text="hi")
assert e.data == {"text": "hi"} and e.at == kit.after(60)
print(kit.run_cli("validate", "-q", sys.argv[1]).returncode)
try:
    kit.strategies
except ImportError:
    print("strategies need hypothesis")
try:
    kit.AdapterContract
except ImportError:
    print("the contract needs pytest")
"""


@pytest.mark.subprocess
def test_the_kit_imports_without_pytest_and_hypothesis() -> None:
    starter = Path(__file__).resolve().parents[1] / "rules" / "starter" / "community.yaml"
    proc = subprocess.run(
        [sys.executable, "-c", _BLOCKED_IMPORT, str(starter)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "0",
        "strategies need hypothesis",
        "the contract needs pytest",
    ]


# -- run_cli -------------------------------------------------------------------------------------


def test_run_cli_runs_the_command_line_in_process(tmp_path: Path) -> None:
    pb = tmp_path / "pb.yaml"
    pb.write_text(
        HEADER + "rules:\n  - id: hi\n    on: member.joined\n    do: [{send: {text: hi}}]\n",
        encoding="utf-8",
    )
    lines = event_line("member.joined", "u1", id="j1") + "\n"
    result = run_cli("replay", pb, "-", stdin=lines, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    [sent] = result.jsonl()
    assert (sent["type"], sent["member"], sent["cause"]) == ("send", "u1", "j1")
    assert "events: 1 read" in result.stderr
    usage = run_cli("replay")
    assert usage.returncode == 2 and "required" in usage.stderr
    missing = run_cli("validate", "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.startswith("nope.yaml:")


# -- the live service, posts and the recording platform ----------------------------------------

_LIVE_PLAYBOOK = (
    HEADER + "rules:\n  - id: hi\n    on: member.joined\n    do: [{send: {text: hi}}]\n"
)
_LIVE_CONFIG = """\
store: "memory:"
timer_poll: 0.05
sources:
  - {type: webhook, listen: "127.0.0.1:0", secret_env: HOOK_SECRET}
adapters:
  out: {type: webhook, base_url: "%s", secret_env: PLATFORM_SECRET}
dispatch: {default: out, retry: {base: 0.05, max_delay: 0.2, max_attempts: 20}}
"""
_SECRETS = {"HOOK_SECRET": "hook-secret-0123456789", "PLATFORM_SECRET": "platform-secret-0123"}


@pytest.mark.e2e
def test_live_service_posts_and_the_recording_platform(tmp_path: Path) -> None:
    with (
        RecordingPlatform(secret=_SECRETS["PLATFORM_SECRET"], fail_next=1) as platform,
        live_service(
            _LIVE_CONFIG % platform.url, playbook=_LIVE_PLAYBOOK, directory=tmp_path, env=_SECRETS
        ) as live,
    ):
        assert live.url == f"http://127.0.0.1:{live.port}/events"
        joined = live.event_obj("member.joined", "u7", id="j-1")
        assert abs(datetime.fromisoformat(joined["at"]).timestamp() - time.time()) < 3600
        assert live.post(joined) == (202, {"status": "accepted", "events": ["j-1"]})
        assert live.post(joined, secret="not-the-hook-secret")[0] == 401
        assert post_json(live.url, joined)[0] == 401  # unsigned
        status, answer = post_signed(live.url, b"{", _SECRETS["HOOK_SECRET"])
        assert (status, answer["reason"]) == (400, "bad_json")
        wait_for(lambda: len(platform.calls) == 1)  # after one 503, retried
        [call] = platform.calls
        assert (call["type"], call["member"], call["cause"]) == ("send", "u7", "j-1")
        assert platform.keys() == [call["key"]] and platform.deliveries == [call["key"]]
        assert platform.requests[0].method == "POST" and platform.bad_signatures == 0
        assert live.service.stats.accepted == 1
    assert not live.thread.is_alive()
    # a platform given the wrong secret refuses the adapter's calls
    with RecordingPlatform(secret="another-secret-000000") as strict:
        status, _ = post_signed(strict.url + "/x", {"a": 1}, "platform-secret-0123")
        assert status == 401 and strict.bad_signatures == 1 and strict.calls == []
        assert post_json(strict.url, {"a": 1})[0] == 401
    with pytest.raises(AssertionError, match="not met"):
        wait_for(lambda: False, timeout=0.05)


@pytest.mark.e2e
def test_live_service_with_ready_adapters_and_a_frozen_clock(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text(event_line("member.joined", "u3", id="j3") + "\n")
    fake = FakeAdapter()
    clock = FrozenClock(after(minutes=1))
    config = write_setup(
        tmp_path,
        f'store: "memory:"\nsources: [{{type: jsonl, path: {tmp_path / "in.jsonl"}}}]\n'
        "adapters: {fake: {}}\ndispatch: {default: fake}\n",
        playbook=_LIVE_PLAYBOOK,
    )
    assert config.read_text().startswith('playbook: "playbook.yaml"\n')
    with live_service(config, adapters={"fake": fake}, clock=clock.time) as live:
        wait_for(lambda: fake.delivered_types() == ["send"])
        assert live.now() == clock.now()
    with pytest.raises(ValueError, match="directory"), live_service('store: "memory:"\n'):
        pass


# -- an adapter end to end -------------------------------------------------------------------------


def test_actions_from_payloads_and_deliver_all() -> None:
    adapter = FakeAdapter(capabilities=["send"])
    pb = playbook(
        "rules:\n  - id: hi\n    on: member.joined\n"
        "    do: [{send: {text: hi}}, {award: {points: 1, reason: hi}}]\n"
        "currencies: [points]\n"
    )
    actions = actions_from_payloads(adapter, pb, [event_obj("member.joined", "u1", id="j1")])
    assert [(a["type"], a["cause"]) for a in actions] == [("send", "j1"), ("award", "j1")]
    delivered = deliver_all(adapter, actions, skip_unsupported=True)
    assert len(delivered) == 1 and adapter.delivered_types() == ["send"]
    with pytest.raises(DeliveryError):
        deliver_all(adapter, actions)  # award is not the adapter's


# -- the strategies ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    obj=est.event_objs(),
    odd=est.malformed_event_objs(),
    parsed=est.events(types=est.event_types(["checkin"])),
    times=est.arrival_times([0, 60, 3600], max_size=6),
    late=est.arrival_times([60], late=[0, 120], floor=0, max_size=6),
    silence=est.durations("mh", max_count=5),
    damaged=est.damaged_actions(types=["send"], communities=["fans"], samples=["u1"]),
)
def test_the_strategies_draw_what_they_say(
    obj: dict[str, Any],
    odd: dict[str, Any],
    parsed: Event,
    times: list[int],
    late: list[int],
    silence: est.Duration,
    damaged: dict[str, Any],
) -> None:
    assert event_from_obj(obj).id == obj["id"]  # well-formed objects parse
    try:
        event_from_obj(odd)
    except EventError as err:
        assert err.reason in REASONS
    assert parsed.type == "checkin"
    assert 1 <= len(times) <= 6 and times == sorted(times) and times[0] >= 0
    assert all(t >= 0 for t in late)
    unit = {"m": 60, "h": 3600}[silence.text[-1]]
    assert silence.seconds == int(silence.text[:-1]) * unit and 1 <= silence.seconds // unit <= 5
    assert (damaged["type"], damaged["community"]) == ("send", "fans")
    assert set(damaged) == {"type", "params", "member", "community"}


def test_a_request_cut_short_by_its_sender_is_neither_recorded_nor_a_bad_signature() -> None:
    """A sender killed mid-request (kill -9 of a dispatcher) leaves a body shorter than
    its Content-Length: the platform saw no request, not a forged one."""
    import socket

    with RecordingPlatform(secret="another-secret-000000") as platform:
        host, port = platform.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n" + b'{"a": 1'
            )
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(1024) == b""  # closed without an answer
        assert platform.bad_signatures == 0 and platform.requests == []
