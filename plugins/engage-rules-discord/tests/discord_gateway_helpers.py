"""Helpers of the gateway tests: recorded dispatches, a context that commits at once, a
source wired to a fake gateway and a local REST server."""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from discord_gateway_fake import FakeGateway, fake_gateway, gateway_bot
from engage_rules_discord import DiscordAdapter
from engage_rules_discord.gateway import Timing
from engage_rules_discord.source import GatewaySource
from pytest_httpserver import HTTPServer

from engage_rules.plugin_api import Event, Outcome, SourceContext

DATA = Path(__file__).parent / "data"
TOKEN = "gateway-test-token"
GUILD = "81384788765712384"
FIRST_MESSAGE = 1478002685239230471
#: Short waits: the tests never wait for a real Discord delay.
FAST = Timing(
    hello_timeout=5.0,
    invalid_session_wait=(0.0, 0.05),
    backoff=(0.0, 0.05, 0.1),
    close_timeout=1.0,
    poll=0.05,
)


def message(n: int) -> dict[str, Any]:
    """The recorded MESSAGE_CREATE ``d`` (tests/data/message_create.json) as message n."""
    payload = json.loads((DATA / "message_create.json").read_text("utf-8"))
    d: dict[str, Any] = copy.deepcopy(payload["d"])
    d["id"] = str(FIRST_MESSAGE + n)
    d["content"] = f"message {n}"
    return d


def message_id(n: int) -> str:
    return f"discord:{FIRST_MESSAGE + n}"


@dataclass
class Submitted:
    events: list[Event]
    cursor: tuple[str, str] | None


@dataclass
class CommittingContext:
    """Builds the :class:`SourceContext` of a source whose submissions are committed at
    once (cursors included), and records them."""

    event_types: frozenset[str] = frozenset({"message.posted", "member.joined"})
    cursors: dict[str, str] = field(default_factory=dict)
    submitted: list[Submitted] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: What the source asked the runtime to stop for (``context.fail``).
    failures: list[str] = field(default_factory=list)

    def context(self) -> SourceContext:
        return SourceContext(
            platform="discord",
            event_types=self.event_types,
            submitter=self.submit,
            cursors=dict(self.cursors),
            clock=time.time,
            log=logging.getLogger("test.discord"),
            fail=self.failures.append,
        )

    def submit(
        self,
        events: list[Event],
        key: str | None = None,
        *,
        cursor: tuple[str, str] | None = None,
    ) -> Future[Outcome]:
        with self.lock:
            self.submitted.append(Submitted(list(events), cursor))
            if cursor is not None:
                self.cursors[cursor[0]] = cursor[1]
        future: Future[Outcome] = Future()
        future.set_result(Outcome("accepted", [e.id for e in events]))
        return future

    def event_ids(self) -> list[str]:
        with self.lock:
            return [e.id for s in self.submitted for e in s.events]

    def seqs(self, shard: int = 0) -> list[int]:
        """The sequence numbers submitted by one shard, in order."""
        with self.lock:
            return [
                json.loads(s.cursor[1])["seq"]
                for s in self.submitted
                if s.cursor is not None and s.cursor[0].endswith(f":{shard}")
            ]


@dataclass
class Rig:
    gateway: FakeGateway
    context: CommittingContext
    source: GatewaySource


@contextmanager
def rig(
    httpserver: HTTPServer,
    context: CommittingContext | None = None,
    *,
    shards: int | str = "auto",
    recommended: int = 1,
    max_concurrency: int = 1,
    gateway: FakeGateway | None = None,
    timing: Timing = FAST,
) -> Iterator[Rig]:
    """A source connected to a fake gateway (``GET /gateway/bot`` from ``httpserver``)."""
    context = context or CommittingContext()
    with fake_gateway(TOKEN) if gateway is None else _given(gateway) as gw:
        httpserver.expect_request("/api/v10/applications/@me").respond_with_json(
            {"id": "1301000000000000900", "name": "engage"}
        )
        httpserver.expect_request("/api/v10/gateway/bot").respond_with_json(
            gateway_bot(gw, shards=recommended, max_concurrency=max_concurrency)
        )
        adapter = DiscordAdapter({"token": TOKEN, "guilds": {GUILD: "fans"}})
        source = GatewaySource(
            context.context(),
            token=TOKEN,
            base_url=httpserver.url_for("/api/v10"),
            shards=shards,
            parse=adapter.parse,
            timing=timing,
            identify_interval=0.0,
        )
        source.start()
        try:
            yield Rig(gw, context, source)
        finally:
            source.stop()
            source.join(5)


@contextmanager
def _given(gateway: FakeGateway) -> Iterator[FakeGateway]:
    yield gateway
