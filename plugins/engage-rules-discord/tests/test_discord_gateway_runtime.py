"""`engage-rules run` connected to a local fake gateway by the token alone (no `sources`):
dispatches → engine → actions on a local REST server, committed in a SQLite store with
the gateway cursor; and ``kill -9`` mid-stream, restart, RESUME from the committed
sequence number: every dispatch's events processed exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from discord_gateway_fake import APPLICATION_ID, FakeGateway, fake_gateway, gateway_bot
from discord_gateway_helpers import GUILD, TOKEN, message
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from engage_rules.store.sqlite import SQLiteStore
from engage_rules.testing import live_service, wait_for, write_setup

pytestmark = pytest.mark.e2e

GENERAL = "1301000000000000001"
DM = "1300000000000000555"
CURSOR = f"discord:{APPLICATION_ID}:0"

PLAYBOOK = """\
engage_rules: 1
name: discord-gateway
community: {name: fans, timezone: Asia/Shanghai}
currencies: [points]
rules:
  - id: welcome
    on: member.joined
    do:
      - send: {text: "欢迎 {{ member.name }}!"}
  - id: points
    on: message.posted
    do:
      - award: {points: 1, reason: post}
      - reply: {text: "ok {{ event.data.text }}"}
"""


def config(tmp_path: Path, api_url: str) -> str:
    """Only a store and the adapter with its token: the adapter connects by itself."""
    return f"""\
store: sqlite:///{tmp_path}/state.db
timer_poll: 0.2
adapters:
  discord:
    token_env: DISCORD_BOT_TOKEN
    base_url: {api_url}
    guilds: {{{GUILD}: fans}}
    channels: {{{GENERAL}: general}}
    rate_limit: {{rate: 1000, burst: 1000}}
    route_rate_limit: {{rate: 1000, burst: 1000}}
dispatch:
  default: discord
  retry: {{base: 0.05, max_delay: 0.5, max_attempts: 50}}
  shutdown_timeout: 5
"""


class Replies:
    """The REST server's side: replies posted, by the text they answer."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        body = json.loads(request.data)
        with self.lock:
            self.texts.append(body["content"])
        return Response(
            json.dumps({"id": "1478004000000000001"}), 200, content_type="application/json"
        )

    def answered(self) -> set[str]:
        with self.lock:
            return {t.removeprefix("ok ") for t in self.texts}


def serve_rest(httpserver: HTTPServer, gateway: FakeGateway) -> Replies:
    httpserver.expect_request("/api/v10/applications/@me").respond_with_json({"id": APPLICATION_ID})
    httpserver.expect_request("/api/v10/gateway/bot").respond_with_json(gateway_bot(gateway))
    httpserver.expect_request("/api/v10/users/@me/channels").respond_with_json({"id": DM})
    httpserver.expect_request(f"/api/v10/channels/{DM}/messages").respond_with_json(
        {"id": "1478004000000000002"}
    )
    replies = Replies()
    httpserver.expect_request(f"/api/v10/channels/{GENERAL}/messages").respond_with_handler(replies)
    return replies


def stored(tmp_path: Path) -> tuple[dict[str, int], dict[str, str]]:
    """Points by member, and the cursors, in the store."""
    store = SQLiteStore(tmp_path / "state.db")
    try:
        opened = store.open()
        members = opened.load_all_members().community("fans").members
        return {m: s.balances.get("points", 0) for m, s in members.items()}, dict(opened.cursors)
    finally:
        store.close()


def test_a_token_is_enough_dispatches_become_actions_and_the_cursor_is_committed(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    join = json.loads((Path(__file__).parent / "data" / "guild_member_add.json").read_text("utf-8"))
    with fake_gateway(TOKEN) as gateway:
        replies = serve_rest(httpserver, gateway)
        with live_service(
            config(tmp_path, httpserver.url_for("/api/v10")),
            playbook=PLAYBOOK,
            directory=tmp_path,
            env={"DISCORD_BOT_TOKEN": TOKEN},
        ):
            wait_for(gateway.has_session)
            gateway.dispatch("GUILD_MEMBER_ADD", join["d"])
            for n in range(3):
                gateway.dispatch("MESSAGE_CREATE", message(n))
            wait_for(lambda: replies.answered() == {f"message {n}" for n in range(3)})
            wait_for(
                lambda: any(r.path.endswith(f"/channels/{DM}/messages") for r, _ in httpserver.log)
            )
    points, cursors = stored(tmp_path)
    assert points == {"1067468743521075230": 3, "1112223334445556667": 0}  # poster, joiner
    assert json.loads(cursors[CURSOR]) == {
        "session_id": "session-1",
        "seq": 5,  # READY, the join, three messages
        "resume_gateway_url": gateway.resume_url,
        "shards": 1,
    }
    [identify] = gateway.sent_by_clients(2)
    assert identify["d"]["token"] == TOKEN


class Runtime:
    """``engage-rules run --config`` in a subprocess."""

    def __init__(self, path: Path) -> None:
        env = {
            **os.environ,
            "DISCORD_BOT_TOKEN": TOKEN,
            "ENGAGE_RULES_LOAD_PLUGINS": "discord",
        }
        self.log = path.parent / f"run-{os.urandom(4).hex()}.log"
        self._err = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engage_rules", "run", "--config", str(path)],
            stdout=subprocess.DEVNULL,
            stderr=self._err,
            env=env,
        )

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._err.close()

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._err.close()
        return code

    def stderr(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


def _stream(gateway: FakeGateway, total: int) -> None:
    """Dispatch ``total`` messages, one every 10 ms (kept in the session while no
    runtime is connected, as Discord keeps them for a RESUME)."""
    for n in range(total):
        gateway.dispatch("MESSAGE_CREATE", message(n))
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_kill_9_mid_stream_resumes_and_processes_every_dispatch_once(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    total = 200
    with fake_gateway(TOKEN) as gateway:
        replies = serve_rest(httpserver, gateway)
        path = write_setup(
            tmp_path, config(tmp_path, httpserver.url_for("/api/v10")), playbook=PLAYBOOK
        )
        first = Runtime(path)
        stream = threading.Thread(target=_stream, args=(gateway, total), daemon=True)
        try:
            wait_for(gateway.has_session, 60)
            stream.start()  # dispatches keep coming, before, during and after the kill
            wait_for(lambda: len(replies.answered()) >= 5, 30)  # mid-stream: some committed
        finally:
            first.kill9()
        stream.join(60)
        _, at_kill = stored(tmp_path)
        committed = json.loads(at_kill[CURSOR])["seq"]

        second = Runtime(path)
        try:
            wait_for(lambda: len(gateway.sent_by_clients(6)) == 1, 60)
            wait_for(lambda: replies.answered() == {f"message {n}" for n in range(total)}, 60)
        finally:
            assert second.terminate() == 0, second.stderr()
    [resume] = gateway.sent_by_clients(6)
    assert resume["d"] == {"token": TOKEN, "session_id": "session-1", "seq": committed}
    assert len(gateway.sent_by_clients(2)) == 1  # identified once, resumed after the kill
    points, cursors = stored(tmp_path)
    assert points == {"1067468743521075230": total}  # every message's event exactly once
    assert json.loads(cursors[CURSOR])["seq"] == total + 2  # READY, the messages, RESUMED
