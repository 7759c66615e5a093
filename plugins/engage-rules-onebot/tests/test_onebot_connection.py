"""The adapter's sources against a fake OneBot implementation on 127.0.0.1: forward
WebSocket (token, reconnect after a disconnect, API calls with echo), reverse WebSocket
(header checks), HTTP POST events (signature checks)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from engage_rules_onebot import OneBotAdapter
from onebot_fake import SELF_ID, ForwardServer, ReverseClient, group_message, wait_for
from websockets.exceptions import InvalidStatus

from engage_rules.plugin_api import DeliveryError, Event, Outcome, Source, SourceContext

pytestmark = pytest.mark.e2e


class Recorder:
    """The runtime's intake, recording what is submitted (each delivery accepted)."""

    def __init__(self) -> None:
        self.submitted: list[tuple[list[str], str | None]] = []
        self._lock = threading.Lock()

    def __call__(
        self, events: list[Event], key: str | None = None, *, cursor: tuple[str, str] | None = None
    ) -> Future[Outcome]:
        assert cursor is None  # OneBot cannot resume: no cursor
        with self._lock:
            self.submitted.append(([e.id for e in events], key))
        future: Future[Outcome] = Future()
        future.set_result(Outcome("accepted", [e.id for e in events]))
        return future

    def ids(self) -> list[str]:
        with self._lock:
            return [i for ids, _ in self.submitted for i in ids]


def context(recorder: Recorder) -> SourceContext:
    return SourceContext(platform="onebot", event_types=frozenset(), submitter=recorder)


@pytest.fixture
def forward() -> Iterator[ForwardServer]:
    server = ForwardServer(token="s3cret")
    yield server
    server.close()


def started(adapter: OneBotAdapter, recorder: Recorder) -> Source:
    source = adapter.connect(context(recorder))
    source.start()
    return source


def stop(source: Source) -> None:
    source.stop()
    join = getattr(source, "join", None)
    if join is not None:
        join(5)


SEND = {
    "key": "k",
    "type": "reply",
    "member": "20002000",
    "params": {"text": "收到", "channel": "123456", "reply_to": "1"},
    "community": "123456",
}


def test_forward_reads_events_calls_the_api_and_reconnects(forward: ForwardServer) -> None:
    adapter = OneBotAdapter({"url": forward.url, "access_token": "s3cret", "timeout": 5})
    recorder = Recorder()
    source = started(adapter, recorder)
    try:
        wait_for(lambda: len(forward.open()) == 1)
        forward.push(
            {
                "time": 1,
                "self_id": SELF_ID,
                "post_type": "meta_event",
                "meta_event_type": "lifecycle",
                "sub_type": "connect",
            }
        )
        forward.push(group_message(1, "你好"))
        wait_for(lambda: recorder.ids() == ["onebot:123456:1"])
        assert recorder.submitted[0][1] == f"onebot:{SELF_ID}:group:1"
        delivery = adapter.deliver(SEND)
        assert delivery.platform_id is not None
        assert forward.actions() == ["send_group_msg"]
        forward.drop()  # the implementation restarts
        wait_for(lambda: len(forward.open()) == 1)
        forward.push(group_message(2, "又来了"))
        wait_for(lambda: recorder.ids() == ["onebot:123456:1", "onebot:123456:2"])
        adapter.deliver(SEND)
        assert forward.actions() == ["send_group_msg", "send_group_msg"]
        forward.retcodes["delete_msg"] = 1404
        with pytest.raises(DeliveryError) as err:
            adapter.deliver({**SEND, "type": "delete_message", "params": {"message_id": "1"}})
        assert err.value.permanent
    finally:
        stop(source)


def test_forward_with_a_wrong_token_keeps_retrying_and_calls_fail_retryably(
    forward: ForwardServer,
) -> None:
    adapter = OneBotAdapter({"url": forward.url, "access_token": "wrong"})
    source = started(adapter, Recorder())
    try:
        wait_for(lambda: forward.refused >= 2)
        with pytest.raises(DeliveryError) as err:
            adapter.deliver(SEND)
        assert not err.value.permanent and "not connected" in str(err.value)
    finally:
        stop(source)


def test_a_call_the_implementation_never_answers_times_out_retryably(
    forward: ForwardServer,
) -> None:
    adapter = OneBotAdapter({"url": forward.url, "access_token": "s3cret", "timeout": 0.3})
    source = started(adapter, Recorder())
    try:
        wait_for(lambda: len(forward.open()) == 1)
        forward.silent.set()
        with pytest.raises(DeliveryError) as err:
            adapter.deliver(SEND)
        assert not err.value.permanent and "no answer" in str(err.value)
    finally:
        stop(source)


def test_unreadable_frames_are_skipped(forward: ForwardServer) -> None:
    adapter = OneBotAdapter({"url": forward.url, "access_token": "s3cret"})
    recorder = Recorder()
    source = started(adapter, recorder)
    try:
        wait_for(lambda: len(forward.open()) == 1)
        for conn in forward.open():
            conn.send("not json")
        forward.push({**group_message(3, "x"), "message": 5})
        forward.push(group_message(4, "ok"))
        wait_for(lambda: recorder.ids() == ["onebot:123456:4"])
    finally:
        stop(source)


def reverse_adapter(**extra: Any) -> OneBotAdapter:
    return OneBotAdapter(
        {"mode": "reverse", "port": 0, "access_token": "tok", "timeout": 5, **extra}
    )


def reverse_endpoint(source: Any) -> tuple[str, dict[str, str]]:
    """The URL and handshake headers with which the implementation connects to ``source``
    (a started reverse WebSocket source)."""
    host, port = source.address
    headers = {
        "Authorization": "Bearer tok",
        "X-Self-ID": str(SELF_ID),
        "X-Client-Role": "Universal",
    }
    return f"ws://{host}:{port}/onebot/v11/ws", headers


def test_reverse_accepts_the_implementation_and_calls_back() -> None:
    adapter = reverse_adapter()
    recorder = Recorder()
    source = started(adapter, recorder)
    client = ReverseClient(*reverse_endpoint(source))
    try:
        client.push(group_message(5, "反向"))
        wait_for(lambda: recorder.ids() == ["onebot:123456:5"])
        wait_for(lambda: adapter.ws_api._conn is not None)
        adapter.deliver(SEND)
        assert client.actions() == ["send_group_msg"]
    finally:
        client.close()
        stop(source)


def test_reverse_survives_the_implementation_reconnecting() -> None:
    adapter = reverse_adapter()
    recorder = Recorder()
    source = started(adapter, recorder)
    url, headers = reverse_endpoint(source)
    first = ReverseClient(url, headers)
    try:
        first.push(group_message(7, "第一次连接"))
        wait_for(lambda: recorder.ids() == ["onebot:123456:7"])
        first.close()  # the implementation restarts: nobody to call until it is back
        wait_for(lambda: adapter.ws_api._conn is None)
        with pytest.raises(DeliveryError) as away:
            adapter.deliver(SEND)
        assert not away.value.permanent and "not connected" in str(away.value)
        second = ReverseClient(url, headers)
        try:
            second.push(group_message(8, "又连上了"))
            wait_for(lambda: recorder.ids() == ["onebot:123456:7", "onebot:123456:8"])
            wait_for(lambda: adapter.ws_api._conn is not None)
            adapter.deliver(SEND)  # the retried call goes over the new connection
            assert second.actions() == ["send_group_msg"] and first.actions() == []
        finally:
            second.close()
    finally:
        stop(source)


def handshake(token: str | None, self_id: str | None, role: str) -> dict[str, str]:
    out = {"X-Client-Role": role}
    if token is not None:
        out["Authorization"] = f"Bearer {token}"
    if self_id is not None:
        out["X-Self-ID"] = self_id
    return out


WS = "/onebot/v11/ws"


@pytest.mark.parametrize(
    ("headers", "path", "status"),
    [
        (handshake(None, "1", "Universal"), WS, 401),
        (handshake("no", "1", "Universal"), WS, 403),
        (handshake("tok", None, "Universal"), WS, 400),
        (handshake("tok", "1", "Event"), WS, 400),
        (handshake("tok", "2", "Universal"), WS, 403),
        (handshake("tok", "1", "Universal"), "/other", 404),
    ],
)
def test_reverse_refuses_bad_handshakes(headers: dict[str, str], path: str, status: int) -> None:
    source = started(reverse_adapter(self_id="1"), Recorder())
    host, port = source.address  # type: ignore[attr-defined]
    try:
        with pytest.raises(InvalidStatus) as err:
            ReverseClient(f"ws://{host}:{port}{path}", headers)
        assert err.value.response.status_code == status
    finally:
        stop(source)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_http_post_events_with_signatures() -> None:
    adapter = OneBotAdapter(
        {
            "mode": "http",
            "port": 0,
            "path": "/events",
            "secret": "sig",
            "api_url": "http://127.0.0.1:9",
        }
    )
    recorder = Recorder()
    source = started(adapter, recorder)
    host, port = source.address  # type: ignore[attr-defined]
    url = f"http://{host}:{port}/events"
    body = json.dumps(group_message(6, "http")).encode()
    good = "sha1=" + hmac.new(b"sig", body, hashlib.sha1).hexdigest()
    json_type = {"Content-Type": "application/json"}
    try:
        assert post(url, body, json_type) == 401
        assert post(url, body, {**json_type, "X-Signature": "sha1=00"}) == 403
        assert recorder.ids() == []
        assert post(url, body, {**json_type, "X-Signature": good}) == 204
        assert recorder.ids() == ["onebot:123456:6"]
        bad = b"{not json"
        bad_sig = "sha1=" + hmac.new(b"sig", bad, hashlib.sha1).hexdigest()
        assert post(url, bad, {**json_type, "X-Signature": bad_sig}) == 400
        assert post(url + "x", body, {**json_type, "X-Signature": good}) == 404
    finally:
        stop(source)
