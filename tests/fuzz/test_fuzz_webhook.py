"""Fuzzing the webhook source (issue 12, part 8): arbitrary methods, paths, headers and
bodies, against :meth:`WebhookServer.handle` and through real sockets into a running
service.

Invariants: every request gets a well-formed JSON answer with one of the documented
statuses (``STATUSES``); nothing raises; nothing that is not rightly signed (version 2, or
legacy where accepted), inside the window, with a valid delivery id, is ever submitted.
Explicit regression cases for the findings close the file.
"""

from __future__ import annotations

import json
import re
import socket
import string
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engage_rules.adapters.signing import sign, signature
from engage_rules.runtime.config import WebhookSource
from engage_rules.runtime.intake import Intake, Outcome
from engage_rules.runtime.webhook_source import (
    STATUSES,
    Headers,
    WebhookServer,
)
from engage_rules.testing import strategies as est
from hostile_helpers import Live, http_bytes, live, parse_answer, read_answer
from runtime_helpers import HOOK_SECRET

NOW = 1_800_000_000.0
WINDOW = 300.0
ANSWER_STATUSES = {"accepted", "duplicate", "rejected", "quarantined", "unavailable", "ok"}
_DELIVERY = re.compile(r"[\x21-\x7e]{1,200}")

# -- strategies -----------------------------------------------------------------------------


_printable = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.:", min_size=1, max_size=24
)
timestamps = est.mostly(
    st.just(str(int(NOW))),
    st.one_of(
        st.integers(int(NOW - 2 * WINDOW), int(NOW + 2 * WINDOW)).map(str),
        st.sampled_from(
            [
                "",
                "nan",
                "inf",
                "-inf",
                "1e999",
                " 1800000000",
                "1800000000.5",
                "0x6B49D200",
                "１８００００００００",
                "1_800_000_000",
            ]
        ),
        st.text(max_size=16),
    ),
)
deliveries = est.mostly(
    _printable,
    st.one_of(
        st.text(max_size=40), st.sampled_from(["x" * 201, "", "has space", "ümlaut", "tab\t"])
    ),
)
#: How a request is signed: rightly (v2 or legacy), or not.
sig_modes = est.mostly(
    st.sampled_from(["v2", "v2", "v1"]),
    st.sampled_from(
        ["v2-other-delivery", "v2-other-body", "garbage", "prefix-only", "missing", "empty"]
    ),
)


def _at(base: datetime) -> st.SearchStrategy[str]:
    """Event times: around ``base``, far ahead of it, or malformed."""
    return st.one_of(
        st.integers(-3600, 290).map(lambda s: (base + timedelta(seconds=s)).isoformat()),
        st.integers(301, 10**9).map(lambda s: (base + timedelta(seconds=s)).isoformat()),
        st.sampled_from(["2026-03-02T10:00:00", "not a time", "9999-12-31T23:59:59Z", ""]),
    )


json_values = est.json_values(est.json_scalars(floats=st.floats(allow_nan=False)))


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _bodies(base: datetime) -> st.SearchStrategy[bytes]:
    events = st.fixed_dictionaries(
        {
            "id": st.one_of(_printable, st.text(max_size=10), st.integers()),
            "type": st.sampled_from(["member.joined", "message.posted", "x", "engine.timer", ""]),
            "at": _at(base),
        },
        optional={
            "member": st.fixed_dictionaries({"id": _printable}) | json_values,
            "channel": st.text(max_size=10),
            "data": json_values,
            "community": st.text(max_size=10),
            "platform": st.text(max_size=10),
        },
    )
    return est.mostly(
        events.map(_dumps), st.one_of(st.binary(max_size=300), json_values.map(_dumps))
    )


#: Bodies for the fake clock (NOW) and for the wall clock of the running service.
bodies = _bodies(datetime.fromtimestamp(NOW, UTC))
wall_bodies = _bodies(datetime.now(UTC))
paths = est.mostly(
    st.sampled_from(["/events", "/events?x=1"]),
    st.one_of(
        st.sampled_from(["/other", "/", "", "/healthz", "//events", "/events/", "/EVENTS"]),
        st.text(max_size=20),
    ),
    8,
)
extra_headers = st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=30), max_size=4)


def signed_rightly(mode: str, ts: str, delivery: str) -> bool:
    """Whether a request built with ``mode`` may be submitted (before its body is read)."""
    if mode not in ("v2", "v1") or not _DELIVERY.fullmatch(delivery) or not ts.isascii():
        return False
    try:
        sent = float(ts)
    except ValueError:
        return False
    return abs(NOW - sent) <= WINDOW


def signature_for(mode: str, ts: str, delivery: str, body: bytes) -> str | None:
    key = HOOK_SECRET.encode()
    try:
        if mode == "v2":
            return sign(key, ts, delivery, body)
        if mode == "v1":
            return signature(key, ts, body)
        if mode == "v2-other-delivery":
            return sign(key, ts, delivery + "x", body)
        if mode == "v2-other-body":
            return sign(key, ts, delivery, body + b" ")
    except UnicodeEncodeError:
        return "v2=" + "0" * 64
    return {"garbage": "v2=" + "ab" * 32, "prefix-only": "v2=", "empty": ""}.get(mode)


# -- against WebhookServer.handle -----------------------------------------------------------


class Recorder:
    """The service loop's stand-in: answers every submission ``accepted`` and records
    what was submitted."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.keys: list[str | None] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for sub in self.intake.take(100, 0.05):
                self.keys.append(sub.key)
                sub.future.set_result(Outcome("accepted", [e.id for e in sub.events]))

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[WebhookServer, Recorder]]:
    intake = Intake()
    config = WebhookSource(
        type="webhook", listen="127.0.0.1:0", secret=HOOK_SECRET, window=WINDOW, commit_timeout=5
    )
    srv = WebhookServer(config, intake, clock=lambda: NOW)
    recorder = Recorder(intake)
    try:
        yield srv, recorder
    finally:
        recorder.stop()
        srv.stop()


def check_answer(status: int, answer: dict[str, Any]) -> None:
    assert status in STATUSES, status
    assert isinstance(answer, dict) and answer["status"] in ANSWER_STATUSES, answer
    assert orjson.loads(orjson.dumps(answer)) == answer
    if status >= 400 and answer["status"] != "quarantined":
        assert isinstance(answer["reason"], str) and answer["reason"]


@pytest.mark.slow
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=paths,
    ts=timestamps,
    delivery=deliveries,
    mode=sig_modes,
    body=bodies,
    extra=extra_headers,
    case_insensitive=st.booleans(),
)
def test_handle_answers_every_request_and_submits_only_signed_ones(
    server: tuple[WebhookServer, Recorder],
    path: str,
    ts: str,
    delivery: str,
    mode: str,
    body: bytes,
    extra: dict[str, str],
    case_insensitive: bool,
) -> None:
    srv, recorder = server
    headers: dict[str, str] = dict(extra)
    headers["X-Engage-Timestamp"] = ts
    headers["X-Engage-Delivery"] = delivery
    sig = signature_for(mode, ts, delivery, body)
    if sig is not None:
        headers["X-Engage-Signature"] = sig
    if case_insensitive:  # as the server hands them over: names in any case
        given_headers: Any = Headers({k.upper(): v for k, v in headers.items()})
    else:
        given_headers = headers
    before = len(recorder.keys)
    status, answer = srv.handle(path, given_headers, body)
    event(f"status {status}")
    check_answer(status, answer)
    submitted = recorder.keys[before:]
    if submitted:
        assert len(submitted) == 1 and status == 202
        assert path.split("?", 1)[0] == "/events"
        assert signed_rightly(mode, ts, delivery) and sig is not None, (mode, ts, delivery)
        assert submitted[0] == (
            f"webhook-delivery:{delivery}"
            if mode == "v2"
            else f"webhook-signature:{sig.removeprefix('sha256=')}"
        )
    if not signed_rightly(mode, ts, delivery):
        assert not submitted and status in (400, 401, 404), (status, answer)


# -- through real sockets into a running service --------------------------------------------


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("fuzz-webhook")
    with live(
        tmp, store="memory:", webhook="idle_timeout: 2\nread_timeout: 2\nmax_connections: 16\n"
    ) as run:
        yield run


_token = st.text(alphabet=string.ascii_letters + "-", min_size=1, max_size=10)
methods = est.mostly(
    st.just("POST"),
    st.one_of(st.sampled_from(["GET", "PUT", "DELETE", "OPTIONS", "PATCH"]), _token.map(str.upper)),
)
clean_paths = est.mostly(
    st.just("/events"),
    st.one_of(
        st.sampled_from(["/healthz", "/other", "/events?a=b"]),
        st.text(alphabet=string.ascii_letters + "/?=&%.", min_size=1, max_size=20).map(
            lambda p: "/" + p
        ),
    ),
)
clean_headers = st.dictionaries(
    _token, st.text(alphabet=string.printable.strip() + " ", max_size=30), max_size=5
)


@pytest.mark.e2e
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=methods,
    path=clean_paths,
    headers=clean_headers,
    body=wall_bodies,
    mode=sig_modes,
    length=est.mostly(st.just("right"), st.just("missing"), 8),
)
def test_every_well_framed_request_over_a_socket_gets_a_json_answer(
    running: Live,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    mode: str,
    length: str,
) -> None:
    ts = str(int(time.time()))
    delivery = f"fz-{time.monotonic_ns()}"
    sig = signature_for(mode, ts, delivery, body)
    h = {
        k: v
        for k, v in headers.items()
        if k.lower() not in ("content-length", "transfer-encoding", "connection", "expect")
    }
    h.update({"X-Engage-Timestamp": ts, "X-Engage-Delivery": delivery})
    if sig is not None:
        h["X-Engage-Signature"] = sig
    accepted_before = running.service.stats.accepted + running.service.stats.duplicates
    request = http_bytes(method, path, h, body, length=length == "right")
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = read_answer(sock)
    assert answer is not None, request[:200]
    event(f"status {answer.status}")
    check_answer(answer.status, answer.body)
    taken = running.service.stats.accepted + running.service.stats.duplicates - accepted_before
    if taken:
        assert method == "POST" and mode in ("v2", "v1") and length == "right"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    raw=st.one_of(
        st.binary(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    b"POST /events HTTP/1.1\r\n",
                    b"GET / HTTP/1.0\r\n",
                    b"Content-Length: 5\r\n",
                    b"\r\n",
                    b"\n",
                    b"Content-Length: x\r\n",
                    b" folded\r\n",
                    b"Transfer-Encoding: chunked\r\n",
                    b"{}",
                    b"Expect: 100-continue\r\n",
                    b"X: \x00\r\n",
                    b"Connection: keep-alive\r\n",
                    b"\xff\xfe",
                ]
            ),
            max_size=12,
        ).map(b"".join),
    )
)
@pytest.mark.e2e
def test_arbitrary_bytes_over_a_socket_never_get_a_malformed_answer(
    running: Live, raw: bytes
) -> None:
    accepted_before = running.service.stats.accepted
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    # zero or more answers, each well formed (100 Continue is an interim answer)
    data = data.replace(b"HTTP/1.1 100 Continue\r\n\r\n", b"")
    while data:
        answer = parse_answer(data)
        check_answer(answer.status, answer.body)
        head_end = data.index(b"\r\n\r\n") + 4
        data = data[head_end + int(answer.headers["content-length"]) :]
    assert running.service.stats.accepted == accepted_before  # nothing here is signed


# -- regression cases for the findings -------------------------------------------------------


@pytest.mark.e2e
def test_the_server_still_answers_after_the_fuzzing(running: Live) -> None:
    body = orjson.dumps(
        {
            "id": "fz-final",
            "type": "member.joined",
            "at": datetime.now(UTC).isoformat(),
            "member": {"id": "u1"},
        }
    )
    ts = str(int(time.time()))
    h = {
        "X-Engage-Timestamp": ts,
        "X-Engage-Delivery": "fz-final",
        "X-Engage-Signature": sign(HOOK_SECRET.encode(), ts, "fz-final", body),
    }
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as sock:
        sock.sendall(http_bytes("POST", "/events", h, body))
        answer = read_answer(sock)
    assert answer is not None and answer.status == 202


_BODY = b'{"id":"r1","type":"member.joined","at":"2027-01-15T08:00:00+00:00"}'


def test_a_version_2_request_under_a_fresh_delivery_id_is_a_bad_signature(
    server: tuple[WebhookServer, Recorder],
) -> None:
    srv, recorder = server
    ts = str(int(NOW))
    captured = {
        "X-Engage-Timestamp": ts,
        "X-Engage-Delivery": "orig",
        "X-Engage-Signature": sign(HOOK_SECRET.encode(), ts, "orig", _BODY),
    }
    before = len(recorder.keys)
    for n in range(20):
        got = srv.handle("/events", Headers({**captured, "X-Engage-Delivery": f"fresh-{n}"}), _BODY)
        assert got == (401, {"status": "rejected", "reason": "bad signature"})
    assert len(recorder.keys) == before


def test_a_legacy_request_is_known_by_its_signature_whatever_its_delivery_id(
    server: tuple[WebhookServer, Recorder],
) -> None:
    srv, _ = server
    ts = str(int(NOW))
    sig = signature(HOOK_SECRET.encode(), ts, _BODY)
    keys = set()
    for n in range(20):
        checked = srv.check(
            "/events",
            Headers(
                {
                    "X-Engage-Timestamp": ts,
                    "X-Engage-Delivery": f"fresh-{n}",
                    "X-Engage-Signature": sig,
                }
            ),
            _BODY,
        )
        assert not isinstance(checked, tuple)
        keys.add(checked.key)
    assert keys == {"webhook-signature:" + sig.removeprefix("sha256=")}


@pytest.mark.e2e
def test_a_head_request_gets_headers_only(running: Live) -> None:
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as sock:
        sock.sendall(b"HEAD /events HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 405 ") and data.endswith(b"\r\n\r\n")


@pytest.mark.e2e
def test_expect_100_continue_is_honoured(running: Live) -> None:
    body = orjson.dumps(
        {
            "id": "fz-100",
            "type": "member.joined",
            "at": datetime.now(UTC).isoformat(),
            "member": {"id": "u1"},
        }
    )
    ts = str(int(time.time()))
    h = {
        "X-Engage-Timestamp": ts,
        "X-Engage-Delivery": "fz-100",
        "Expect": "100-continue",
        "X-Engage-Signature": sign(HOOK_SECRET.encode(), ts, "fz-100", body),
    }
    request = http_bytes("POST", "/events", h, body)
    head = request[: request.index(b"\r\n\r\n") + 4]
    with socket.create_connection(("127.0.0.1", running.port), timeout=30) as sock:
        sock.sendall(head)
        interim = sock.recv(25)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        answer = read_answer(sock)
    assert answer is not None and answer.status == 202
