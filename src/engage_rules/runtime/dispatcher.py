"""The dispatcher: outbox → adapter.deliver, with retries, backoff and rate limits.

Semantics (docs/running.md, "Delivery"):

* **At least once.**  Before a batch of actions is handed to adapters it is marked
  ``sending`` in the store (one transaction); each is marked ``delivered`` once its
  adapter returned.  A crash in between leaves items ``sending``: on restart each is
  logged as a *possible duplicate* and sent again.  That is the only window in which a
  platform can see an action twice.  (The webhook adapter sends the action key as
  ``X-Engage-Delivery`` so a receiver can drop the second copy.)
* **Routing.**  An action goes to the adapter of its event's platform, else the adapter
  its community is routed to, else ``dispatch.default``, provided that adapter declares
  the action type; otherwise to the first configured adapter that declares it.  An
  action no adapter declares is bookkeeping (``award``, ``tag``...) the engine already
  applied: it is marked delivered without a call and counted as ``skipped``.
* **Order and pacing.**  Actions to one route (a channel, else a member, else the
  community, on one adapter) are delivered one at a time in commit order; different
  routes go in parallel on ``workers`` threads.  Token buckets limit calls per adapter
  (platform) and per route.  A 429's ``Retry-After`` pauses the route; a success
  reporting ``remaining == 0`` pauses it for ``reset_after``.
* **Retries.**  A retryable failure waits a random time in
  ``[0, min(max_delay, base * 2**(attempt-1))]`` (full jitter, seeded), and at least the
  platform's ``retry_after``; after ``max_attempts`` it is recorded as failed.  A
  permanent failure is recorded at once (``failed``, with the error) and the route moves
  on.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..adapters.base import Adapter, Delivery, DeliveryError
from ..i18n import _
from ..store.base import Outbox, OutboxItem
from .config import DispatchConfig, RateLimit
from .ratelimit import TokenBucket

log = logging.getLogger("engage_rules.runtime.dispatcher")

#: How many outbox items the dispatcher holds in memory, in multiples of ``batch``.
HELD_BATCHES = 5


def route_of(action: Mapping[str, Any]) -> str:
    """The conversation an action targets: its channel, else its member, else its
    community (what per-route ordering and rate limits count)."""
    params = action.get("params")
    channel = params.get("channel") if isinstance(params, Mapping) else None
    if channel:
        return f"channel:{channel}"
    member = action.get("member")
    if member:
        return f"member:{member}"
    return f"community:{action.get('community', 'default')}"


@dataclass(slots=True)
class _Job:
    item: OutboxItem
    action: dict[str, Any]
    adapter: str
    route: tuple[str, str]
    attempts: int = 0  # attempts made by this process
    not_before: float = 0.0


@dataclass
class DispatchStats:
    """What the dispatcher has done so far."""

    delivered: int = 0
    skipped: int = 0
    retries: int = 0
    failed: int = 0
    possible_duplicates: int = 0
    by_adapter: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class AdapterLimits:
    """The rate limits of one adapter: per platform and per route."""

    platform: RateLimit | None = None
    route: RateLimit | None = None


class Dispatcher:
    """Delivers the outbox of ``store`` through ``adapters`` (config name → adapter)."""

    def __init__(
        self,
        store: Outbox,
        adapters: Mapping[str, Adapter],
        config: DispatchConfig,
        *,
        limits: Mapping[str, AdapterLimits] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.adapters = dict(adapters)
        self.config = config
        self.clock = clock
        self.rng = rng if rng is not None else random.Random(config.seed)
        self.stats = DispatchStats()
        limits = limits or {}
        self._route_limits = {
            name: (
                limits[name].route
                if name in limits and limits[name].route
                else config.route_rate_limit
            )
            for name in self.adapters
        }
        now = clock()
        self._platform_buckets: dict[str, TokenBucket] = {}
        for name in self.adapters:
            lim = (
                limits[name].platform
                if name in limits and limits[name].platform
                else config.rate_limit
            )
            if lim is not None:
                self._platform_buckets[name] = TokenBucket(lim.rate, lim.burst, now)
        self._route_buckets: dict[tuple[str, str], TokenBucket] = {}
        self._paused: dict[tuple[str, str], float] = {}
        self._queues: dict[tuple[str, str], deque[_Job]] = {}
        self._busy: set[tuple[str, str]] = set()
        self._held = 0
        self._last_seq = 0
        self._cv = threading.Condition()
        self._wake = True
        self._results: list[tuple[_Job, Delivery | DeliveryError]] = []
        self._stopping = False
        self._deadline: float | None = None
        self._pool = ThreadPoolExecutor(config.workers, thread_name_prefix="engage-deliver")
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- routing --------------------------------------------------------------------------
    def adapter_for(self, item: OutboxItem) -> str | None:
        """The configured adapter that delivers ``item``, or None (bookkeeping)."""
        kind = item.action.type
        for name in (
            item.platform,
            self.config.communities.get(item.action.community),
            self.config.default,
        ):
            if (
                name is not None
                and name in self.adapters
                and kind in self.adapters[name].capabilities
            ):
                return name
        for name, adapter in self.adapters.items():
            if kind in adapter.capabilities:
                return name
        return None

    # -- life cycle ------------------------------------------------------------------------
    def recover(self) -> None:
        """Load what a previous run left: ``sending`` items are possible duplicates."""
        for item in self.store.outbox(status="sending"):
            self.stats.possible_duplicates += 1
            a = item.action
            log.warning(
                _(
                    "possible duplicate: action %(key)s (%(type)s to %(member)s, rule %(rule)s) "
                    "was being delivered when the runtime stopped; delivering it again"
                ),
                {"key": a.key, "type": a.type, "member": a.member or a.community, "rule": a.rule},
            )
            self._enqueue(item)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="engage-dispatcher", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """New actions were committed."""
        with self._cv:
            self._wake = True
            self._cv.notify()

    def stop(self, timeout: float | None = None) -> None:
        """Keep delivering what is due for up to ``timeout`` seconds (the config's
        ``shutdown_timeout`` by default), then stop.  Undelivered items stay in the store."""
        with self._cv:
            self._stopping = True
            self._deadline = self.clock() + (
                self.config.shutdown_timeout if timeout is None else timeout
            )
            self._cv.notify()
        if self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=True)
        self._handle_results()
        if self._error is not None:
            raise self._error

    def pump(self) -> float | None:
        """One turn of the loop, synchronously (for tests and embedding without the
        dispatcher's own thread): read new outbox items, hand every ready one to its
        adapter, wait for those calls and record them.  Returns when the next held item
        is due (on :attr:`clock`), or None if nothing waits."""
        with self._cv:
            self._wake = False
        self._load()
        next_due = self._start_ready()
        with self._cv:
            while self._busy and len(self._results) < len(self._busy):
                self._cv.wait(1.0)
        self._handle_results()
        return next_due

    @property
    def error(self) -> BaseException | None:
        """What stopped the dispatcher's thread (a store failure), if anything did."""
        return self._error

    @property
    def idle(self) -> bool:
        """Nothing held, in flight or waiting to be read (for tests and shutdown)."""
        with self._cv:
            return not self._held and not self._busy and not self._results and not self._wake

    # -- the loop --------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                self._handle_results()
                with self._cv:
                    wake, self._wake = self._wake, False
                if wake or self._held == 0:
                    self._load()
                next_due = self._start_ready()
                with self._cv:
                    now = self.clock()
                    if self._stopping and (
                        (
                            self._held == 0
                            and not self._busy
                            and not self._results
                            and not self._wake
                        )
                        or (self._deadline is not None and now >= self._deadline)
                    ):
                        return
                    if self._results or self._wake:
                        continue
                    timeout = 1.0 if next_due is None else max(0.0, min(1.0, next_due - now))
                    if self._stopping and self._deadline is not None:
                        timeout = max(0.0, min(timeout, self._deadline - now))
                    self._cv.wait(timeout)
        except BaseException as err:  # a store failure: the service stops
            self._error = err
            log.exception("dispatcher stopped")

    def _load(self) -> None:
        cap = self.config.batch * HELD_BATCHES
        while self._held < cap:
            items = self.store.outbox(
                status="pending",
                after=self._last_seq,
                limit=min(self.config.batch, cap - self._held),
            )
            if not items:
                return
            skipped: list[str] = []
            for item in items:
                self._last_seq = max(self._last_seq, item.seq)
                if not self._enqueue(item):
                    skipped.append(item.action.key)
            if skipped:
                self.store.mark_delivered(skipped)
                self.stats.skipped += len(skipped)

    def _enqueue(self, item: OutboxItem) -> bool:
        name = self.adapter_for(item)
        if name is None:
            return False
        action = item.action.to_json()
        route = (name, route_of(action))
        job = _Job(item, action, name, route)
        self._queues.setdefault(route, deque()).append(job)
        self._held += 1
        return True

    def _start_ready(self) -> float | None:
        """Hand every ready route head to a worker; return when the next one is due."""
        now = self.clock()
        next_due: float | None = None
        ready: list[_Job] = []
        for route, queue in list(self._queues.items()):
            if route in self._busy:
                continue
            if not queue:
                del self._queues[route]
                continue
            job = queue[0]
            wait = max(job.not_before, self._paused.get(route, 0.0)) - now
            bucket = self._platform_buckets.get(job.adapter)
            if bucket is not None:
                wait = max(wait, bucket.wait_time(now))
            rbucket = self._route_bucket(route, now)
            if rbucket is not None:
                wait = max(wait, rbucket.wait_time(now))
            if wait > 0:
                next_due = now + wait if next_due is None else min(next_due, now + wait)
                continue
            if bucket is not None:
                bucket.take(now)
            if rbucket is not None:
                rbucket.take(now)
            self._busy.add(route)
            ready.append(job)
        if ready:
            self.store.mark_sending([j.item.action.key for j in ready])
            for job in ready:
                self._pool.submit(self._deliver, job)
        return next_due

    def _route_bucket(self, route: tuple[str, str], now: float) -> TokenBucket | None:
        lim = self._route_limits.get(route[0])
        if lim is None:
            return None
        bucket = self._route_buckets.get(route)
        if bucket is None:
            bucket = self._route_buckets[route] = TokenBucket(lim.rate, lim.burst, now)
        return bucket

    def _deliver(self, job: _Job) -> None:
        """On a worker thread: one call to the adapter."""
        result: Delivery | DeliveryError
        try:
            result = self.adapters[job.adapter].deliver(job.action)
        except DeliveryError as err:
            result = err
        except Exception as err:  # a bug in an adapter must not stop delivery
            log.exception("adapter %s raised on action %s", job.adapter, job.item.action.key)
            result = DeliveryError(f"{type(err).__name__}: {err}")
        with self._cv:
            self._results.append((job, result))
            self._cv.notify()

    def _handle_results(self) -> None:
        with self._cv:
            results, self._results = self._results, []
        if not results:
            return
        delivered: list[str] = []
        now = self.clock()
        for job, result in results:
            route = job.route
            self._busy.discard(route)
            if isinstance(result, Delivery):
                delivered.append(job.item.action.key)
                self._finish(job)
                self.stats.delivered += 1
                self.stats.by_adapter[job.adapter] += 1
                if result.remaining == 0 and result.reset_after:
                    self._paused[route] = now + result.reset_after
                continue
            job.attempts += 1
            total = job.item.attempts + job.attempts
            if result.permanent or total >= self.config.retry.max_attempts:
                reason = (
                    _("permanent")
                    if result.permanent
                    else _("gave up after %(n)d attempts") % {"n": total}
                )
                log.error(
                    _("action %(key)s (%(type)s) failed (%(reason)s): %(error)s"),
                    {
                        "key": job.item.action.key,
                        "type": job.item.action.type,
                        "reason": reason,
                        "error": result,
                    },
                )
                self.store.mark_failed(job.item.action.key, str(result), permanent=True)
                self.stats.failed += 1
                self._finish(job)
                continue
            delay = self._backoff(total, result.retry_after)
            if result.retry_after is not None:
                self._paused[route] = max(self._paused.get(route, 0.0), now + result.retry_after)
            log.info(
                "action %s (%s) failed, retry %d in %.2fs: %s",
                job.item.action.key,
                job.item.action.type,
                total,
                delay,
                result,
            )
            self.store.mark_failed(job.item.action.key, str(result), permanent=False)
            self.stats.retries += 1
            job.not_before = now + delay  # it stays at the head of its route's queue
        if delivered:
            self.store.mark_delivered(delivered)

    def _finish(self, job: _Job) -> None:
        queue = self._queues.get(job.route)
        if queue and queue[0] is job:
            queue.popleft()
            if not queue:
                del self._queues[job.route]
        self._held -= 1

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        policy = self.config.retry
        ceiling = min(policy.max_delay, policy.base * 2 ** (attempt - 1))
        delay = self.rng.uniform(0.0, ceiling)
        return max(delay, retry_after or 0.0)
