"""``engage-rules dispatch``: deliver the outbox the Kafka workers fill, as one of any
number of dispatchers sharing it (docs/scaling.md).

The dispatcher of ``run`` (dispatcher.py: routing, retries, backoff, rate limits, the
configured adapters), reading the outbox through claims (store/postgres_claims.py) so
that each item is handed to one dispatcher.  Nothing tells a dispatcher that workers
committed actions: it looks every ``poll`` seconds, and renews its claims' leases as it
goes.  Delivery is at least once, as with ``run``: an item whose dispatcher died
between handing it to an adapter and recording it is delivered again, once its lease
ran out.
"""

from __future__ import annotations

import logging
import threading

from ..adapters.base import Adapter
from ..plugins.registry import Registry
from ..store.postgres import PostgreSQLStore
from ..store.postgres_claims import OutboxClaims
from ..store.schemes import open_postgresql
from .config import RuntimeConfig
from .dispatcher import Dispatcher
from .kafka_client import postgresql_store
from .service import adapter_limits, build_adapters

log = logging.getLogger("engage_rules.runtime.dispatch")

#: Seconds between two looks at the outbox.
POLL_SECONDS = 0.5


class Dispatch:
    """One dispatcher of a shared outbox: :meth:`run` until :meth:`request_stop`."""

    def __init__(
        self, config: RuntimeConfig, store: PostgreSQLStore, adapters: dict[str, Adapter]
    ) -> None:
        self.config = config
        self.store = store
        self.adapters = adapters
        self.claims = OutboxClaims(store)
        self.dispatcher = Dispatcher(
            self.claims, adapters, config.dispatch, limits=adapter_limits(config)
        )
        self._stop = threading.Event()

    @classmethod
    def from_config(cls, config: RuntimeConfig, *, registry: Registry) -> Dispatch:
        """Build the adapters with the plugins of ``registry`` and open the shared
        store (worker mode: dispatchers run beside the workers)."""
        url = postgresql_store(config)
        adapters = build_adapters(config, registry)
        try:
            store = open_postgresql(url, worker=True)
        except BaseException:
            for adapter in adapters.values():
                adapter.close()
            raise
        return cls(config, store, adapters)

    def request_stop(self) -> None:
        """Stop after delivering what is due (safe from a signal handler)."""
        self._stop.set()

    def run(self) -> None:
        """Deliver until asked to stop; then deliver what is due for up to the
        dispatch section's ``shutdown_timeout``, and close."""
        log.info("dispatching the outbox of %s as %s", self.config.store, self.claims.name)
        renewed = 0.0
        try:
            self.dispatcher.recover()
            self.dispatcher.start()
            while not self._stop.wait(POLL_SECONDS):
                if self.dispatcher.error is not None:
                    raise self.dispatcher.error
                self.dispatcher.notify()
                renewed += POLL_SECONDS
                if renewed >= self.claims.lease / 4:
                    self.claims.renew()
                    renewed = 0.0
        finally:
            try:
                self.dispatcher.stop()
            finally:
                for adapter in self.adapters.values():
                    adapter.close()
                self.store.close()
        d = self.dispatcher.stats
        log.info(
            "stopped: actions delivered %d, skipped %d, retried %d, failed %d, "
            "possible duplicates %d",
            d.delivered,
            d.skipped,
            d.retries,
            d.failed,
            d.possible_duplicates,
        )
