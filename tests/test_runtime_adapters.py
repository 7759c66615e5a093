"""The built-in adapters: webhook (the adapter contract), console and jsonl; signing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from engage_rules.adapters.base import DeliveryError, PayloadError
from engage_rules.adapters.console import ConsoleAdapter
from engage_rules.adapters.http import retry_after_seconds
from engage_rules.adapters.jsonl import JsonlAdapter
from engage_rules.adapters.signing import sign, signature, signature_matches, verify
from engage_rules.adapters.webhook import WebhookAdapter
from engage_rules.plugins import default_registry as registry
from engage_rules.testing import AdapterContract, PayloadSample, action

EVENT = {
    "id": "evt-1",
    "type": "message.posted",
    "at": "2026-03-02T20:15:00+08:00",
    "channel": "general",
    "member": {"id": "u42", "name": "阿明"},
    "data": {"text": "大家好", "message_id": "m-77"},
}


class TestWebhookAdapterContract(AdapterContract):
    samples = (
        PayloadSample("a reference §3.1 event", EVENT, [{**EVENT, "platform": "webhook"}]),
        PayloadSample(
            "an event naming its platform",
            {**EVENT, "platform": "discord"},
            [{**EVENT, "platform": "discord"}],
        ),
        PayloadSample(
            "a batch",
            {"events": [EVENT, {**EVENT, "id": "evt-2"}]},
            [{**EVENT, "platform": "webhook"}, {**EVENT, "id": "evt-2", "platform": "webhook"}],
        ),
    )
    malformed = (
        {"type": "message.posted"},
        {"events": "nope"},
        {**EVENT, "at": "2026-03-02T20:15:00"},
        {"events": [{"id": "x"}]},
    )

    def make_adapter(self, base_url: str) -> WebhookAdapter:
        return WebhookAdapter.from_settings({"base_url": base_url, "secret": "s" * 20})


def test_the_builtin_adapters_are_registered_through_the_hook() -> None:
    adapters = registry().adapters
    for name in ("console", "jsonl", "webhook"):
        assert name in adapters and adapters[name].description
    built = adapters["webhook"]({"base_url": "http://127.0.0.1:9", "platform": "chat"})
    assert built.name == "chat"
    built.close()


def test_webhook_adapter_signs_each_post_with_the_action_key_as_delivery_id(
    httpserver: Any,
) -> None:
    httpserver.expect_request("/hooks/actions", method="POST").respond_with_json(
        {"id": "msg-9"}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": "2.5"}
    )
    adapter = WebhookAdapter(
        httpserver.url_for("/hooks"), secret="top-secret-value", clock=lambda: 1_700_000_000.0
    )
    a = action("send", params={"text": "hi", "channel": "general"}, key="k-1")
    result = adapter.deliver(a)
    adapter.close()
    request = httpserver.log[0][0]
    body = request.get_data()
    assert orjson.loads(body) == a
    assert request.headers["X-Engage-Timestamp"] == "1700000000"
    assert request.headers["X-Engage-Delivery"] == "k-1"
    assert request.headers["X-Engage-Signature"] == sign(
        b"top-secret-value", "1700000000", "k-1", body
    )
    assert (result.platform_id, result.route, result.remaining, result.reset_after) == (
        "msg-9",
        "channel:general",
        0,
        2.5,
    )


def test_webhook_adapter_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="base_url"):
        WebhookAdapter.from_settings({})
    with pytest.raises(ValueError, match="unknown action type 'sned'"):
        WebhookAdapter.from_settings({"base_url": "http://x", "capabilities": ["sned"]})
    with pytest.raises(ValueError, match="not an http"):
        WebhookAdapter.from_settings({"base_url": "ftp://x"})
    only = WebhookAdapter.from_settings({"base_url": "http://x", "capabilities": ["send"]})
    assert only.capabilities == frozenset({"send"})


def test_signatures_match_only_the_same_secret_timestamp_and_body() -> None:
    sig = signature(b"k", "100", b"{}")
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert signature_matches(b"k", "100", b"{}", sig)
    assert not signature_matches(b"k", "101", b"{}", sig)
    assert not signature_matches(b"k", "100", b"{ }", sig)
    assert not signature_matches(b"other", "100", b"{}", sig)
    assert not signature_matches(b"k", "100", b"{}", sig[7:])
    assert not signature_matches(b"k", "100", b"{}", "sha256=Ω")


def test_version_2_signatures_cover_the_delivery_id_too() -> None:
    sig = sign(b"k", "100", "d-1", b"{}")
    assert sig.startswith("v2=") and len(sig) == 3 + 64
    assert verify(b"k", "100", "d-1", b"{}", sig) == "v2"
    assert verify(b"k", "100", "d-2", b"{}", sig) is None  # a fresh delivery id
    assert verify(b"k", "101", "d-1", b"{}", sig) is None
    assert verify(b"k", "100", "d-1", b"{ }", sig) is None
    assert verify(b"other", "100", "d-1", b"{}", sig) is None
    assert verify(b"k", "100", "d-1", b"{}", "v2=Ω") is None
    # the separators cannot be shifted: the delivery id and the body split one way
    assert verify(b"k", "100", "d", b"-1\n{}", sig) is None
    legacy = signature(b"k", "100", b"{}")
    assert verify(b"k", "100", "any", b"{}", legacy) == "v1"
    assert verify(b"k", "100", "d-1", b"{}", "v1=" + sig[3:]) is None


def test_webhook_adapter_can_sign_the_legacy_way_for_old_receivers(httpserver: Any) -> None:
    httpserver.expect_request("/actions", method="POST").respond_with_json({})
    adapter = WebhookAdapter.from_settings(
        {"base_url": httpserver.url_for("/"), "secret": "top-secret-value", "signing": "v1"}
    )
    adapter.deliver(action("send", params={"text": "hi"}, key="k-2"))
    adapter.close()
    request = httpserver.log[0][0]
    assert request.headers["X-Engage-Signature"] == signature(
        b"top-secret-value", request.headers["X-Engage-Timestamp"], request.get_data()
    )
    with pytest.raises(ValueError, match="signing must be one of v2, v1"):
        WebhookAdapter.from_settings({"base_url": "http://x", "signing": "v3"})


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


def test_console_prints_each_action_as_one_json_line() -> None:
    out = io.StringIO()
    console = ConsoleAdapter(out)
    a = action("award", params={"currency": "points", "amount": 5})
    console.deliver(a)
    assert orjson.loads(out.getvalue()) == a
    assert {"send", "award", "mute", "level_changed"} <= console.capabilities
    assert [e.id for e in console.parse(EVENT)] == ["evt-1"]
    with pytest.raises(ValueError, match="stream"):
        ConsoleAdapter.from_settings({"stream": "file"})


def test_jsonl_appends_actions_and_parses_events(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "actions.jsonl"
    adapter = JsonlAdapter.from_settings({"actions_out": str(out), "fsync": True})
    adapter.deliver(action("send", key="a"))
    adapter.deliver(action("kick", key="b"))
    adapter.close()
    assert [orjson.loads(line)["key"] for line in out.read_bytes().splitlines()] == ["a", "b"]
    with pytest.raises(PayloadError, match="missing_field"):
        adapter.parse({"type": "checkin", "at": "2026-03-02T20:15:00Z"})
    with pytest.raises(DeliveryError) as info:
        JsonlAdapter(None).deliver(action("send"))
    assert info.value.permanent


def test_unknown_adapter_settings_are_rejected_with_a_hint() -> None:
    with pytest.raises(
        ValueError,
        match=r"webhook: unknown setting 'timout'; did you mean "
        r"'timeout'\? \(known: ",
    ):
        WebhookAdapter.from_settings({"base_url": "http://x", "timout": 3})
    with pytest.raises(ValueError, match="jsonl: unknown setting 'out'"):
        JsonlAdapter.from_settings({"out": "x"})
    ConsoleAdapter.from_settings({"stream": "stderr", "platform": "console"}).close()
