"""Stores: where engine state, the ledger, the outbox and timers live (docs/reference.md
§10).

Open one with :func:`open_store`, a URL (``memory:``, ``sqlite:///path/state.db``,
``postgresql://USER@HOST/DB``) and the plugin registry (which knows the schemes), or
construct :class:`MemoryStore` / :class:`SQLiteStore` directly
(``engage_rules.store.postgres.PostgreSQLStore`` needs the ``postgresql`` extra, so it is
not imported here).  Every backend implements the :class:`Store` protocol and passes the
same contract suite.
"""

from __future__ import annotations

from .base import (
    OUTBOX_STATUSES,
    OutboxItem,
    Store,
    StoreFactory,
    completed,
    open_store,
)
from .memory import MemoryStore
from .sqlite import SQLiteStore

__all__ = [
    "OUTBOX_STATUSES",
    "MemoryStore",
    "OutboxItem",
    "SQLiteStore",
    "Store",
    "StoreFactory",
    "completed",
    "open_store",
]
