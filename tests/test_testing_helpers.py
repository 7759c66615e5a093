"""engage_rules.testing: builders, FrozenClock, FakeAdapter, and the adapter contract
failing adapters that break it."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from engage_rules.adapters.base import Adapter, Delivery, DeliveryError, PayloadError
from engage_rules.events import event_to_json, parse_event
from engage_rules.plugins import registry
from engage_rules.testing import (
    T0,
    AdapterContract,
    FakeAdapter,
    FrozenClock,
    PayloadSample,
    action,
    event,
    event_json,
    event_line,
    event_obj,
)

pytest_plugins = ("pytester",)


# -- builders --------------------------------------------------------------------------------

def test_event_builds_a_validated_event() -> None:
    e = event("message.posted", "u1", at=90, id="e-1", channel="general", platform="chat",
              text="hi", message_id="m-1")
    assert e.id == "e-1" and e.type == "message.posted" and e.member_id == "u1"
    assert e.at == T0 + timedelta(seconds=90) and e.ts == e.at.timestamp()
    assert e.channel == "general" and e.platform == "chat" and not e.internal
    assert e.data == {"text": "hi", "message_id": "m-1"}


def test_event_forms_agree() -> None:
    line = event_line("checkin", {"id": "u2", "roles": ["vip"]}, at="2026-03-02T09:00:00Z",
                      id="c-1", community="fans")
    e = parse_event(line)
    assert event_json(e) == event_to_json(event("checkin", {"id": "u2", "roles": ["vip"]},
                                                at="2026-03-02T09:00:00Z", id="c-1",
                                                community="fans"))
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
    assert a == {"key": "key-send-u9-evt-7", "type": "send", "member": "u9",
                 "rule": "test-rule", "cause": "evt-7", "at": T0.isoformat(),
                 "params": {"text": "hello"}, "community": "default"}
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
    assert clock.slept == [2.5] and clock.time() == (T0 + timedelta(minutes=7,
                                                                     seconds=2.5)).timestamp()
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
    many = fake.parse({"events": [event_obj("checkin", id="x2"),
                                  event_obj("checkin", id="x3", platform="other")]})
    assert [(e.id, e.platform) for e in many] == [("x2", "chat"), ("x3", "other")]
    with pytest.raises(PayloadError, match="events\\[0\\]"):
        fake.parse({"events": [{"type": "checkin"}]})
    with pytest.raises(PayloadError):
        fake.parse({"events": "nope"})


class TestFakeAdapterContract(AdapterContract):
    """The fake adapter itself passes the contract (it does not speak HTTP)."""

    delivers_over_http = False
    samples = (
        PayloadSample("one event", event_obj("checkin", id="s1"),
                      [event("checkin", id="s1", platform="fake")]),
        PayloadSample("a batch", {"events": [event_obj("member.left", id="s2")]},
                      [event_obj("member.left", id="s2", platform="fake")]),
    )
    malformed = ({"type": "checkin"}, {"events": 3}, {"events": [1]})

    def make_adapter(self, base_url: str) -> FakeAdapter:
        return FakeAdapter()


# -- the contract catches broken adapters --------------------------------------------------------

BROKEN = '''
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
'''


@pytest.mark.slow
def test_the_adapter_contract_fails_broken_adapters(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken=textwrap.dedent(BROKEN))
    pytester.makeconftest(
        "from hypothesis import Phase, settings\n"
        "settings.register_profile('quick', max_examples=15, database=None,\n"
        "                          phases=[Phase.explicit, Phase.generate])\n"
        "settings.load_profile('quick')\n")
    result = pytester.runpytest_subprocess("-q", "-rf", "-p", "no:cacheprovider",
                                           "-p", "no:randomly")
    failed = {re.sub(r"\[.*\]$", "", line.split()[1].split("::", 1)[1])
              for line in result.outlines if line.startswith("FAILED ")}
    assert failed == {
        "TestCrash::test_random_json_raises_only_payload_errors",
        "TestCrash::test_damaged_samples_raise_only_payload_errors",
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
