"""Several dispatchers on one PostgreSQL outbox: claims (``engage-rules dispatch``,
docs/scaling.md "Dispatch").

:class:`OutboxClaims` is the outbox a dispatcher (runtime/dispatcher.py) sees.  Reading
pending items claims them: one transaction marks them ``sending``, claimed by this
dispatcher until a lease runs out (``SELECT ... FOR UPDATE SKIP LOCKED``: what another
dispatcher is claiming is skipped, never waited for), so each item is handed to one
dispatcher.  Claims are serialised by a transaction-level advisory lock and take no
item of a community another dispatcher holds items of, so the actions of one community
(and so of each route) are still delivered in commit order, by one dispatcher at a
time.  A dispatcher renews its leases while it runs (:meth:`OutboxClaims.renew`); the
items of one that died are claimed again once its lease ran out, as possible
duplicates.  A retryable failure keeps the item claimed (the dispatcher retries it);
delivered and permanently failed items are final.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence

import psycopg

from .base import OutboxItem
from .batch_rows import OUTBOX_COLUMNS, outbox_item
from .postgres import PostgreSQLStore
from .postgres_schema import lock_key

log = logging.getLogger("engage_rules.store.claims")

#: Seconds a claim lasts unless renewed.
LEASE_SECONDS = 60.0


class OutboxClaims:
    """The outbox of a worker-mode ``PostgreSQLStore`` as one of several dispatchers
    sees it (see the module doc)."""

    def __init__(
        self,
        store: PostgreSQLStore,
        *,
        lease: float = LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.lease = lease
        self.clock = clock
        #: Who claims: this dispatcher, unique per process run.
        self.name = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._claim_key = lock_key(store.schema, "claim")

    def outbox(
        self, *, status: str | None = None, limit: int | None = None, after: int = 0
    ) -> list[OutboxItem]:
        """Claim up to ``limit`` items for this dispatcher, in commit order: with
        ``status="sending"`` (recovery) only items whose claim ran out, else those and
        pending ones.  ``after`` is ignored: workers commit out of sequence order, and a
        claimed item is never offered again."""
        del after
        n = 1000 if limit is None else limit
        now = self.clock()
        with self.store.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._claim_key,))
            claimed = self._claim(conn, "sending", now, n)
            for item in claimed:
                log.warning(
                    "possible duplicate: action %s (%s) was claimed by a dispatcher that "
                    "stopped; delivering it again",
                    item.action.key,
                    item.action.type,
                )
            if status != "sending" and len(claimed) < n:
                claimed += self._claim(conn, "pending", now, n - len(claimed))
        return claimed

    def _claim(self, conn: psycopg.Connection, status: str, now: float, n: int) -> list[OutboxItem]:
        expired = " AND coalesce(o.lease_until, 0) < %(now)s" if status == "sending" else ""
        query = f"""
            WITH c AS (
                SELECT o.seq FROM outbox o
                WHERE o.status = '{status}'{expired}
                  AND NOT EXISTS (
                      SELECT 1 FROM outbox s
                      WHERE s.status = 'sending' AND s.community = o.community
                        AND s.claimed_by <> %(me)s AND s.lease_until >= %(now)s)
                ORDER BY o.seq LIMIT %(n)s FOR UPDATE SKIP LOCKED
            )
            UPDATE outbox o SET status = 'sending', claimed_by = %(me)s,
                lease_until = %(until)s
            FROM c WHERE o.seq = c.seq
            RETURNING {", ".join("o." + c.strip() for c in OUTBOX_COLUMNS.split(","))}
        """
        params = {"me": self.name, "now": now, "n": n, "until": now + self.lease}
        rows = conn.execute(query.encode(), params).fetchall()
        return sorted((outbox_item(row) for row in rows), key=lambda item: item.seq)

    def renew(self) -> int:
        """Extend the leases of the items this dispatcher holds; how many."""
        with self.store.transaction() as conn:
            cur = conn.execute(
                "UPDATE outbox SET lease_until = %s WHERE claimed_by = %s AND status = 'sending'",
                (self.clock() + self.lease, self.name),
            )
            return cur.rowcount

    def mark_sending(self, keys: Sequence[str]) -> None:
        """Nothing to do: claimed items are ``sending`` already."""

    def mark_delivered(self, keys: Sequence[str]) -> None:
        """Delivered (one more attempt each), if this dispatcher holds them."""
        self._final(keys, "delivered", None)

    def mark_failed(self, key: str, error: str, permanent: bool) -> None:
        """Failed for good (``permanent``), or kept claimed for another attempt."""
        if permanent:
            self._final([key], "failed", error)
            return
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = %s, lease_until = %s "
                "WHERE key = %s AND claimed_by = %s AND status = 'sending'",
                (error, self.clock() + self.lease, key, self.name),
            )

    def _final(self, keys: Sequence[str], status: str, error: str | None) -> None:
        unique = list(dict.fromkeys(keys))
        if not unique:
            return
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET status = %s, attempts = attempts + 1, "
                "last_error = coalesce(%s, last_error), claimed_by = NULL, lease_until = NULL "
                "WHERE key = ANY(%s) AND claimed_by = %s AND status = 'sending'",
                (status, error, unique, self.name),
            )
