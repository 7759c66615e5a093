"""``engage-rules ingest``: the verified webhook sources of ``run``, producing each
accepted event onto the Kafka topic keyed by its community (docs/scaling.md).

The webhook servers are ``run``'s (webhook_source.py: signatures, the replay window,
limits, hostile clients); what they submit is produced here instead of decided.  A
request is answered 202 once the brokers acknowledged every event of it (``acks=all``,
an idempotent producer), and 503 if they did not (the sender retries).  Each record's
key is its event's community, its value the event line, and its header
``engage-delivery`` the delivery it came in.

A delivery accepted here is answered 409 if it comes again while its signature's
timestamp is still within the window (later, its timestamp is stale: 401).  A delivery
sent again to another ingest process, or after a restart, reaches the topic a second
time, where the workers recognise its events by their ids: nothing is decided twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from ..adapters.base import Adapter
from ..errors import NotProduced, SetupError
from ..i18n import _
from ..model.events import event_to_json
from ..plugins.registry import Registry
from .config import KafkaConfig, RuntimeConfig, WebhookSource
from .intake import Intake, Outcome, Submission
from .kafka_client import DELIVERY_HEADER, confluent, kafka_section, producer_settings
from .service import build_adapters, future_dated
from .webhook_source import WebhookServer

log = logging.getLogger("engage_rules.runtime.ingest")

#: How long the loop waits for submissions per turn (it serves the producer between).
TURN_SECONDS = 0.05


class Ingest:
    """The webhook servers of a config and the producer they feed."""

    def __init__(
        self,
        config: RuntimeConfig,
        kafka: KafkaConfig,
        adapters: dict[str, Adapter],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.kafka = kafka
        self.adapters = adapters
        self.clock = clock
        self.intake = Intake()
        self.servers: list[WebhookServer] = []
        for sc in config.sources:
            if isinstance(sc, WebhookSource):
                parser = adapters[sc.parser] if sc.parser is not None else None
                self.servers.append(WebhookServer(sc, self.intake, parser=parser, clock=clock))
        if not self.servers:
            raise SetupError([_("ingest needs a webhook source (sources: - type: webhook)")])
        self.window = max(s.config.window for s in self.servers)
        self.producer: Any = confluent().Producer(producer_settings(kafka))
        #: Delivery keys accepted, with when (oldest first), kept for the window.
        self._accepted: OrderedDict[str, float] = OrderedDict()
        self._stop = threading.Event()
        self.produced = 0

    @classmethod
    def from_config(cls, config: RuntimeConfig, *, registry: Registry) -> Ingest:
        """Check the config's ``kafka`` section, build the adapters (the sources'
        parsers among them) with the plugins of ``registry``."""
        kafka = kafka_section(config)
        adapters = build_adapters(config, registry)
        try:
            return cls(config, kafka, adapters)
        except BaseException:
            for adapter in adapters.values():
                adapter.close()
            raise

    def request_stop(self) -> None:
        """Stop accepting and shut down (safe from a signal handler)."""
        self._stop.set()
        self.intake.wake()

    def run(self) -> None:
        """Serve until :meth:`request_stop`; then answer what was accepted and stop."""
        for server in self.servers:
            server.start()
            host, port = server.address
            log.info("webhook source listening on http://%s:%d%s", host, port, server.config.path)
        log.info("producing to topic %s", self.kafka.topic)
        try:
            while not self._stop.is_set():
                self.step(self.intake.take(self.config.max_batch, TURN_SECONDS))
        finally:
            for server in self.servers:
                server.stop()
            self.intake.close()
            self.step(self.intake.take(10**9, 0))
            left = self.producer.flush(self.config.dispatch.shutdown_timeout)
            for server in self.servers:
                server.join(timeout=2.0)
            for adapter in self.adapters.values():
                adapter.close()
            log.info("stopped: %d events produced, %d not acknowledged", self.produced, left)

    def step(self, subs: list[Submission]) -> None:
        """Produce each submission's events; serve the producer's acknowledgements."""
        wall = self.clock()
        self._forget(wall)
        for sub in subs:
            self._produce(sub, wall)
        self.producer.poll(0)

    def _produce(self, sub: Submission, wall: float) -> None:
        if sub.key is not None and sub.key in self._accepted:
            sub.future.set_result(Outcome("replayed"))
            return
        ahead = future_dated(sub.events, wall, self.config.max_clock_skew)
        if ahead is not None:
            sub.future.set_result(ahead)
            return
        ids = [e.id for e in sub.events]
        waiting = [len(sub.events)]
        if not sub.events:
            sub.future.set_result(Outcome("accepted", ids))
            return

        def acknowledged(err: Any, _record: Any) -> None:
            if sub.future.done():
                return
            if err is not None:
                sub.future.set_exception(NotProduced(f"the event was not produced: {err}"))
                return
            waiting[0] -= 1
            if waiting[0] == 0:
                if sub.key is not None:
                    self._accepted[sub.key] = self.clock()
                sub.future.set_result(Outcome("accepted", ids))

        headers = {DELIVERY_HEADER: sub.key} if sub.key is not None else None
        for event in sub.events:
            value = orjson.dumps(event_to_json(event))
            while True:
                try:
                    self.producer.produce(
                        self.kafka.topic,
                        value,
                        event.community.encode(),
                        headers=headers,
                        on_delivery=acknowledged,
                    )
                    break
                except BufferError:  # the producer's queue is full: let it drain
                    self.producer.poll(0.1)
            self.produced += 1

    def _forget(self, wall: float) -> None:
        """Forget accepted deliveries older than the signature window."""
        accepted = self._accepted
        while accepted:
            key, at = next(iter(accepted.items()))
            if at >= wall - self.window:
                break
            del accepted[key]
