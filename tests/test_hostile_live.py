"""Issue 12 ("No input can stop it"), the live runtime: regression tests of each finding.

- a runaway clock: one event dated a year ahead moved the engine clock and at once sent
  a year of scheduled broadcasts; and a restart after downtime fired every missed slot;
- the webhook server: no connection timeouts (idle and slowloris clients held their
  connections for good), no connection cap (idle connections exhausted the process's
  file descriptors), a listen backlog of 5, unbounded header blocks;
- the delivery id was not signed: a captured request replayed with fresh delivery ids
  grew the store by one processed id per replay, forever.
"""

from __future__ import annotations

import json
import logging
import resource
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engage_rules.adapters.signing import sign, signature
from engage_rules.runtime.intake import Outcome
from engage_rules.runtime.webhook_source import ACCEPT_PAUSE, FD_RESERVE, connection_cap
from engage_rules.testing import FrozenClock, event, event_obj, now, wait_for
from hostile_helpers import (
    build,
    exchange,
    http_bytes,
    live,
    read_answer,
    signed_post,
    write_config,
)
from runtime_helpers import HOOK_SECRET, committed_ids

pytestmark = pytest.mark.e2e

#: A Monday 09:00 UTC: the weekly broadcast's next slot is an hour later.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def body_of(obj: dict[str, object]) -> bytes:
    return json.dumps(obj).encode()


def outbox_types(live_service: object) -> list[str]:
    store = live_service.store  # type: ignore[attr-defined]
    return [item.action.type for item in store.outbox()]


def processed(store: object) -> set[str]:
    return committed_ids(store.path)  # type: ignore[attr-defined]


# -- the live clock -------------------------------------------------------------------------


def test_an_event_dated_a_year_ahead_is_quarantined_and_fires_no_schedule_early(
    tmp_path: Path,
) -> None:
    clock = FrozenClock(T0)
    with live(tmp_path, clock.time) as run:
        # a member joins now: the community's weekly schedule is armed for 10:00
        answer = signed_post(
            run.port, body_of(event_obj("member.joined", "u1", T0, id="evt-1")), "d-1", clock.time()
        )
        assert answer is not None and answer.status == 202
        far = signed_post(
            run.port,
            body_of(event_obj("member.joined", "u1", T0 + timedelta(days=365), id="evt-2")),
            "d-2",
            clock.time(),
        )
        assert far is not None and far.status == 422
        assert (far.body["status"], far.body["reason"]) == ("quarantined", "future_time")
        assert "evt-2" in far.body["message"] and "max_clock_skew" in far.body["message"]
        service = run.service
        # nothing of it happened: the clock, the timers and the outbox are as they were
        assert service.engine.state.clock is not None
        assert service.engine.state.clock <= T0 + timedelta(minutes=5)
        assert "broadcast" not in outbox_types(service)
        assert not service.store.is_processed("evt-2")
        assert not service.store.is_processed("webhook-delivery:d-2")
        assert service.stats.quarantined == {"future_time": 1}
        assert service.webhooks[0].counts["quarantined"] == 1
        # the same event, dated right, is then accepted (its id was not used up)
        again = signed_post(
            run.port, body_of(event_obj("member.joined", "u1", T0, id="evt-2")), "d-3", clock.time()
        )
        assert again is not None and again.status == 202
        # an event slightly ahead (a platform clock drifting by 4 minutes) is accepted
        near = signed_post(
            run.port,
            body_of(event_obj("member.joined", "u1", T0 + timedelta(minutes=4), id="evt-3")),
            "d-4",
            clock.time(),
        )
        assert near is not None and near.status == 202
        assert "broadcast" not in outbox_types(service)
        # the schedule fires by the wall clock: once its slot has come
        clock.advance(hours=1, minutes=1)
        wait_for(lambda: "broadcast" in [a["type"] for a in run.fake.delivered])
        assert outbox_types(service).count("broadcast") == 1
    assert [a["type"] for a in run.fake.delivered].count("broadcast") == 1


def test_max_clock_skew_is_configurable(tmp_path: Path) -> None:
    clock = FrozenClock(T0)
    with live(tmp_path, clock.time, extra="max_clock_skew: 30s\n") as run:
        late = signed_post(
            run.port,
            body_of(event_obj("member.joined", "u1", T0 + timedelta(seconds=31), id="evt-1")),
            "d-1",
            clock.time(),
        )
        assert late is not None and (late.status, late.body["reason"]) == (422, "future_time")
        ok = signed_post(
            run.port,
            body_of(event_obj("member.joined", "u1", T0 + timedelta(seconds=29), id="evt-2")),
            "d-2",
            clock.time(),
        )
        assert ok is not None and ok.status == 202


def test_a_quarantined_delivery_loses_nothing_else_in_its_batch(tmp_path: Path) -> None:
    clock = FrozenClock(T0)
    (tmp_path / "none.jsonl").write_text("", encoding="utf-8")
    service, _ = build(
        write_config(tmp_path, source=f"  - type: jsonl\n    path: {tmp_path}/none.jsonl\n"),
        clock.time,
    )

    def ev(n: int, at: datetime) -> list[object]:
        return [event("member.joined", f"u{n}", at, id=f"evt-{n}")]

    try:
        futures = [
            service.intake.submit(ev(1, T0), "webhook-delivery:a"),  # type: ignore[arg-type]
            service.intake.submit(
                [*ev(2, T0), *ev(3, T0 + timedelta(days=365))],  # type: ignore[list-item]
                "webhook-delivery:b",
            ),
            service.intake.submit(
                ev(4, T0 + timedelta(minutes=1)),  # type: ignore[arg-type]
                "webhook-delivery:c",
            ),
        ]
        subs = service.intake.take(10, 0)
        assert len(subs) == 3  # one batch, one transaction
        service.step(subs)
        service._last_commit.result(10)  # type: ignore[union-attr]
        outcomes = [f.result(10) for f in futures]
        assert [o.status for o in outcomes] == ["accepted", "quarantined", "accepted"]
        assert outcomes[1] == Outcome(
            "quarantined", ["evt-2", "evt-3"], "future_time", outcomes[1].message
        )
        store = service.store
        # the whole of delivery b is refused (evt-2 too: a delivery is one unit), and
        # nothing records it; a and c are committed
        assert {"evt-1", "evt-4", "webhook-delivery:a", "webhook-delivery:c"} <= processed(store)
        assert not {"evt-2", "evt-3", "webhook-delivery:b"} & processed(store)
        assert service.engine.state.clock == T0 + timedelta(minutes=1)
    finally:
        service.shutdown()


def test_the_jsonl_source_quarantines_a_far_future_line_and_reads_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FrozenClock(T0)
    lines = [
        event_obj("member.joined", "u1", T0, id="evt-1"),
        event_obj("member.joined", "u2", T0 + timedelta(days=365), id="evt-2"),
        event_obj("member.joined", "u3", T0 + timedelta(minutes=1), id="evt-3"),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    caplog.set_level(logging.WARNING, "engage_rules.runtime.jsonl")
    with live(tmp_path, clock.time, source=f"  - type: jsonl\n    path: {path}\n") as run:
        service = run.service
        reader = service.sources[0]
        wait_for(
            lambda: (
                service.store.is_processed("evt-3") and reader.quarantined.get("future_time") == 1
            )
        )  # type: ignore[attr-defined]
        assert service.store.is_processed("evt-1")
        assert not service.store.is_processed("evt-2")
        assert service.stats.quarantined == {"future_time": 1}
        assert "broadcast" not in outbox_types(service)
    assert any(
        "line 2 quarantined: future_time: event 'evt-2'" in r.getMessage() for r in caplog.records
    )


def test_a_restart_after_downtime_applies_catch_up_instead_of_firing_every_slot(
    tmp_path: Path,
) -> None:
    clock = FrozenClock(T0)
    with live(tmp_path, clock.time) as run:
        answer = signed_post(
            run.port, body_of(event_obj("member.joined", "u1", T0, id="evt-1")), "d-1", clock.time()
        )
        assert answer is not None and answer.status == 202
    clock.advance(weeks=10)  # the runtime was down for ten weekly slots
    with live(tmp_path, clock.time) as run:
        wait_for(lambda: "broadcast" in [a["type"] for a in run.fake.delivered])
        # catch_up: one (the default) — the latest missed slot once, and an audit entry
        assert outbox_types(run.service).count("broadcast") == 1
        assert run.service.engine.state.clock == T0 + timedelta(weeks=10)


# -- the webhook server under hostile clients ----------------------------------------------

FAST = "idle_timeout: 0.5\nread_timeout: 1\n"


def test_an_idle_connection_is_closed_after_idle_timeout(tmp_path: Path) -> None:
    with live(tmp_path, webhook=FAST) as run:
        with socket.create_connection(("127.0.0.1", run.port), timeout=20) as sock:
            assert read_answer(sock) is None  # closed by the server, without an answer
        server = run.service.webhooks[0]
        wait_for(lambda: server.connections == 0)
        assert server.counts["idle_timeout"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["headers", "body"])
def test_a_slowloris_client_gets_408_after_read_timeout(tmp_path: Path, stage: str) -> None:
    # a request line, then one header byte at a time; or whole headers announcing a body
    # that then comes one byte at a time — either way, never the end of the request
    if stage == "headers":
        start, trickle = b"POST /events HTTP/1.1\r\nX-Slow: ", b"a"
    else:
        start = http_bytes(
            "POST",
            "/events",
            {"X-Engage-Delivery": "d-1", "Content-Length": "100000"},
            b"",
            length=False,
        )
        trickle = b" "
    with (
        live(tmp_path, webhook=FAST) as run,
        socket.create_connection(("127.0.0.1", run.port), timeout=20) as sock,
    ):
        sock.sendall(start)
        answered = False
        for _ in range(2000):  # 100 s of trickling at most: far beyond read_timeout
            readable, _, _ = select.select([sock], [], [], 0.05)
            if readable:
                answered = True
                break
            try:
                sock.sendall(trickle)
            except (BrokenPipeError, ConnectionResetError):
                break
        assert answered, "the server waited for the whole trickle"
        answer = read_answer(sock)
        assert answer is not None
        assert (answer.status, answer.body["reason"]) == (408, "request not complete in time")
        assert run.service.webhooks[0].counts["read_timeout"] == 1
        assert run.service.stats.accepted == 0


def test_a_flood_of_idle_connections_never_locks_out_a_signed_request(tmp_path: Path) -> None:
    with live(tmp_path, webhook="max_connections: 8\nidle_timeout: 60\n") as run:
        server = run.service.webhooks[0]
        flood = [socket.create_connection(("127.0.0.1", run.port), timeout=20) for _ in range(60)]
        try:
            # the server keeps at most 8: the connections idle longest make room
            wait_for(lambda: server.counts.get("evicted", 0) >= 52)
            assert server.connections <= 8
            # while the flood holds, a signed request is answered
            answer = signed_post(
                run.port,
                body_of(event_obj("member.joined", "u1", now(), id="evt-1")),
                "d-1",
            )
            assert answer is not None and answer.status == 202
            assert server.connections <= 8
            closed: set[socket.socket] = set()
            wait_for(lambda: len(_closed_by_server(flood, closed)) >= 52)
        finally:
            for s in flood:
                s.close()


def _closed_by_server(socks: list[socket.socket], closed: set[socket.socket]) -> set[socket.socket]:
    """Add to ``closed`` the sockets the server has closed by now (without waiting)."""
    readable, _, _ = select.select([s for s in socks if s not in closed], [], [], 0)
    for s in readable:
        try:
            if s.recv(1) == b"":
                closed.add(s)
        except ConnectionResetError:
            closed.add(s)
    return closed


@pytest.mark.slow
def test_when_every_slot_holds_a_request_in_progress_new_connections_get_503(
    tmp_path: Path,
) -> None:
    with live(tmp_path, webhook="max_connections: 4\nidle_timeout: 60\nread_timeout: 1\n") as run:
        server = run.service.webhooks[0]
        slow = [socket.create_connection(("127.0.0.1", run.port), timeout=20) for _ in range(4)]
        try:
            for s in slow:
                s.sendall(b"POST /events HTTP/1.1\r\n")  # and then nothing
            wait_for(lambda: server.connections == 4 and not server._idle)
            busy = signed_post(
                run.port,
                body_of(event_obj("member.joined", "u1", now(), id="evt-1")),
                "d-1",
            )
            assert busy is not None
            assert (busy.status, busy.body["reason"]) == (503, "too many connections")
            # within read_timeout the slow requests are cut off, and the sender's retry
            # is accepted
            wait_for(lambda: server.connections == 0)
            answer = signed_post(
                run.port,
                body_of(event_obj("member.joined", "u1", now(), id="evt-1")),
                "d-2",
            )
            assert answer is not None and answer.status == 202
            for s in slow:
                late = read_answer(s)
                assert late is not None and late.status == 408
        finally:
            for s in slow:
                s.close()


def test_many_concurrent_senders_see_no_connection_resets(tmp_path: Path) -> None:
    senders, rounds = 128, 2
    barrier = threading.Barrier(senders)
    failures: list[str] = []
    statuses: list[int] = []
    lock = threading.Lock()

    def sender(k: int, port: int) -> None:
        barrier.wait()
        for r in range(rounds):
            n = k * rounds + r
            try:  # a new connection for every request: what stresses the accept queue
                answer = signed_post(
                    port,
                    body_of(event_obj("member.joined", f"u{n}", now(), id=f"evt-{n}")),
                    f"d-{n}",
                )
                with lock:
                    statuses.append(answer.status if answer else 0)
            except OSError as err:
                with lock:
                    failures.append(repr(err))

    with live(tmp_path) as run:
        threads = [threading.Thread(target=sender, args=(k, run.port)) for k in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert failures == []
        assert statuses == [202] * senders * rounds
        assert run.service.stats.accepted == senders * rounds


@pytest.mark.subprocess
@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_the_listen_backlog_is_the_configured_one(tmp_path: Path) -> None:
    for backlog, webhook in ((128, ""), (77, "backlog: 77\n")):
        with live(tmp_path / str(backlog), webhook=webhook) as run:
            out = subprocess.run(
                ["ss", "-ltnH", f"sport = :{run.port}"], capture_output=True, text=True, check=True
            ).stdout
            assert out.split()[2] == str(backlog), out


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-Big": "x" * 20_000}, "request line and headers too large"),
        ({f"X-H{i}": "1" for i in range(101)}, "more than 100 header lines"),
    ],
)
def test_oversized_header_blocks_get_431(
    tmp_path: Path, headers: dict[str, str], reason: str
) -> None:
    with live(tmp_path) as run:
        answer = exchange(run.port, http_bytes("POST", "/events", headers, b"{}"))
        assert answer is not None
        assert (answer.status, answer.body) == (431, {"status": "rejected", "reason": reason})


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"POST /events HTTP/2.0\r\n\r\n", 505),
        (b"POST /events HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /events HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 413),
        (b"POST /events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        (b"POST /events HTTP/1.1\r\n folded: header\r\n\r\n", 400),
        (b"DELETE /events HTTP/1.1\r\nConnection: close\r\n\r\n", 405),
    ],
)
def test_malformed_requests_get_json_answers(
    tmp_path: Path, request_bytes: bytes, status: int
) -> None:
    with live(tmp_path) as run:
        answer = exchange(run.port, request_bytes)
        assert answer is not None and answer.status == status
        assert answer.body["status"] == "rejected" and answer.body["reason"]


def test_the_connection_cap_stays_below_the_open_file_limit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 4096))
    assert connection_cap(256) == 256
    assert connection_cap(5000) == 1024 - FD_RESERVE
    assert f"at most {1024 - FD_RESERVE} connections" in caplog.text
    monkeypatch.setattr(resource, "getrlimit", lambda _: (50, 4096))
    assert connection_cap(5000) == 1


_FD_SCRIPT = """
import json, resource, sys, threading
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
from engage_rules.runtime.config import WebhookSource
from engage_rules.runtime.intake import Intake, Outcome
from engage_rules.runtime.webhook_source import WebhookServer
intake = Intake()
server = WebhookServer(WebhookSource(type="webhook", listen="127.0.0.1:0", secret=sys.argv[1],
                                     max_connections=100_000, idle_timeout=60), intake)
def loop():
    while True:
        for sub in intake.take(100, 0.1):
            sub.future.set_result(Outcome("accepted", [e.id for e in sub.events]))
threading.Thread(target=loop, daemon=True).start()
server.start()
hoard = []
if sys.argv[2] == "hoard":  # use up the descriptors but a few, as a leak elsewhere would
    try:
        while True:
            hoard.append(open("/dev/null"))
    except OSError:
        for f in hoard[-3:]:
            f.close()
        del hoard[-3:]
print(server.address[1], server.max_connections, flush=True)
sys.stdin.readline()
for f in hoard:
    f.close()
print("released", flush=True)
sys.stdin.readline()
print(json.dumps({"connections": server.connections, "counts": server.counts}), flush=True)
"""


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_connection_flood_cannot_exhaust_the_file_descriptors(tmp_path: Path) -> None:
    """The server in a process allowed 256 open files, 400 connections held open: it
    keeps its cap (256 less the reserve), runs out of nothing and keeps
    answering (before, about 1,020 idle connections exhausted 1,024 descriptors and the
    accept loop then spun)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _FD_SCRIPT, HOOK_SECRET, "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    flood: list[socket.socket] = []
    try:
        assert proc.stdout is not None and proc.stdin is not None
        port_text, cap_text = proc.stdout.readline().split()
        port, cap = int(port_text), int(cap_text)
        assert cap == 256 - FD_RESERVE
        for _ in range(400):
            flood.append(socket.create_connection(("127.0.0.1", port), timeout=20))
        body = body_of(event_obj("member.joined", "u1", now(), id="evt-1"))
        answer = signed_post(port, body, "d-1")
        assert answer is not None and answer.status == 202
        proc.stdin.write("release\nreport\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "released\n"
        report = json.loads(proc.stdout.readline())
        assert report["connections"] <= cap
        assert report["counts"]["evicted"] >= 400 - cap
    finally:
        for s in flood:
            s.close()
        proc.kill()
        _, err = proc.communicate(timeout=20)
    assert "Too many open files" not in err and "cannot accept" not in err, err


@pytest.mark.slow
@pytest.mark.subprocess
def test_out_of_descriptors_anyway_the_server_pauses_accepting_instead_of_spinning(
    tmp_path: Path,
) -> None:
    """Something else in the process used up the descriptors: each failed accept pauses
    accepting for ACCEPT_PAUSE (one log line each), instead of retrying at once for as
    long as the listening socket stays readable; once descriptors are free again, the
    queued connections are served."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _FD_SCRIPT, HOOK_SECRET, "hoard"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    flood: list[socket.socket] = []
    try:
        assert proc.stdout is not None and proc.stdin is not None
        port = int(proc.stdout.readline().split()[0])
        flood = [
            socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(20)
        ]  # queued by the kernel: the server cannot accept
        started = time.monotonic()
        time.sleep(2.5)
        proc.stdin.write("release\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "released\n"
        held = time.monotonic() - started
        answer = signed_post(
            port, body_of(event_obj("member.joined", "u1", now(), id="evt-1")), "d-1"
        )
        assert answer is not None and answer.status == 202
        proc.stdin.write("report\n")
        proc.stdin.flush()
        json.loads(proc.stdout.readline())
    finally:
        for s in flood:
            s.close()
        proc.kill()
        _, err = proc.communicate(timeout=20)
    pauses = err.count("cannot accept connections")
    # at least one pause, and at most one per ACCEPT_PAUSE while the descriptors were
    # gone (a spinning loop would have logged thousands)
    assert 1 <= pauses <= held / ACCEPT_PAUSE + 2, err


# -- replays with fresh delivery ids --------------------------------------------------------


def _post_raw(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    answer = exchange(
        port, http_bytes("POST", "/events", {"Content-Type": "application/json", **headers}, body)
    )
    assert answer is not None
    return answer.status, answer.body


def test_a_captured_request_replayed_with_fresh_delivery_ids_is_rejected_and_stores_nothing(
    tmp_path: Path,
) -> None:
    with live(tmp_path) as run:
        service = run.service
        body = body_of(event_obj("member.joined", "u1", now(), id="evt-1"))
        ts = str(int(time.time()))
        captured = {
            "X-Engage-Timestamp": ts,
            "X-Engage-Delivery": "d-original",
            "X-Engage-Signature": sign(HOOK_SECRET.encode(), ts, "d-original", body),
        }
        assert _post_raw(run.port, body, captured)[0] == 202
        before, commits = processed(service.store), service.stats.commits
        for i in range(50):
            replay = {**captured, "X-Engage-Delivery": f"fresh-{i}"}
            assert _post_raw(run.port, body, replay) == (
                401,
                {"status": "rejected", "reason": "bad signature"},
            )
        assert _post_raw(run.port, body, captured) == (
            409,
            {"status": "rejected", "reason": "replayed delivery"},
        )
        assert processed(service.store) == before
        assert service.stats.commits == commits


def test_a_legacy_signed_request_replayed_with_fresh_delivery_ids_is_rejected_and_stores_nothing(
    tmp_path: Path,
) -> None:
    with live(tmp_path) as run:
        service = run.service
        body = body_of(event_obj("member.joined", "u1", now(), id="evt-1"))
        ts = str(int(time.time()))
        captured = {
            "X-Engage-Timestamp": ts,
            "X-Engage-Delivery": "d-original",
            "X-Engage-Signature": signature(HOOK_SECRET.encode(), ts, body),
        }
        assert _post_raw(run.port, body, captured)[0] == 202
        before, commits = processed(service.store), service.stats.commits
        for i in range(50):
            replay = {**captured, "X-Engage-Delivery": f"fresh-{i}"}
            assert _post_raw(run.port, body, replay) == (
                409,
                {"status": "rejected", "reason": "replayed delivery"},
            )
        assert processed(service.store) == before
        assert service.stats.commits == commits
        # a legacy sender's retry re-signs (a new timestamp): a duplicate, as before
        ts2 = str(int(time.time()) + 1)
        retry = {
            "X-Engage-Timestamp": ts2,
            "X-Engage-Delivery": "d-retry",
            "X-Engage-Signature": signature(HOOK_SECRET.encode(), ts2, body),
        }
        assert _post_raw(run.port, body, retry)[0] == 200
    # the signature is remembered across a restart, like delivery ids
    with live(tmp_path) as run:
        assert _post_raw(run.port, body, {**captured, "X-Engage-Delivery": "fresh-x"})[0] == 409


def test_legacy_signatures_can_be_refused(tmp_path: Path) -> None:
    with live(tmp_path, webhook="legacy_signatures: false\n") as run:
        body = body_of(event_obj("member.joined", "u1", now(), id="evt-1"))
        ts = str(int(time.time()))
        legacy = {
            "X-Engage-Timestamp": ts,
            "X-Engage-Delivery": "d-1",
            "X-Engage-Signature": signature(HOOK_SECRET.encode(), ts, body),
        }
        assert _post_raw(run.port, body, legacy) == (
            401,
            {"status": "rejected", "reason": "legacy signature refused: sign with v2"},
        )
        assert run.service.stats.accepted == 0


def test_a_full_intake_queue_does_not_block_the_server(tmp_path: Path) -> None:
    """While the service's queue is full, a request waits for room off the event loop:
    other connections are still served (here: /healthz), and the request is answered
    once the service takes from the queue."""
    from concurrent.futures import ThreadPoolExecutor

    from engage_rules.runtime.config import WebhookSource
    from engage_rules.runtime.intake import Intake
    from engage_rules.runtime.webhook_source import WebhookServer

    intake = Intake(capacity=1)
    blocker = intake.submit([], "blocker")
    server = WebhookServer(
        WebhookSource(type="webhook", listen="127.0.0.1:0", secret=HOOK_SECRET), intake
    )
    server.start()
    port = server.address[1]
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                signed_post,
                port,
                body_of(event_obj("member.joined", "u1", now(), id="evt-1")),
                "d-1",
            )
            wait_for(lambda: server.connections == 1 and not server._idle)  # it is waiting
            health = exchange(port, b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert health is not None and (health.status, health.body) == (200, {"status": "ok"})
            assert not pending.done()
            [first] = intake.take(1, 5)  # the service makes room...
            first.future.set_result(Outcome("accepted"))
            wait_for(lambda: len(intake) == 1)
            [sub] = intake.take(1, 5)  # ...and takes the waiting request
            sub.future.set_result(Outcome("accepted", ["evt-1"]))
            answer = pending.result(20)
        assert answer is not None and (answer.status, answer.body["events"]) == (202, ["evt-1"])
        assert blocker.done()
    finally:
        server.stop()


def test_a_sender_of_an_oversized_body_reads_its_413(tmp_path: Path) -> None:
    """The answer comes before the body is read; what the client still sends is read
    and dropped (within bounds) so that it gets the 413, not a connection reset."""
    import http.client

    with live(tmp_path) as run:
        conn = http.client.HTTPConnection("127.0.0.1", run.port, timeout=20)
        try:
            conn.request("POST", "/events", body=b"x" * 8_000_000)
            resp = conn.getresponse()
            assert (resp.status, json.loads(resp.read())) == (
                413,
                {"status": "rejected", "reason": "body too large"},
            )
        finally:
            conn.close()
