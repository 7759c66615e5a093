"""The core's store schemes, ``memory:``, ``sqlite:///path`` and ``postgresql://...``
(docs/reference.md §10).

:data:`BUILTIN_STORE_SCHEMES` maps each scheme to its factory; the built-in plugin
registers them through the ``register_stores`` hook, as a plugin registers its own, and
:func:`engage_rules.store.base.open_store` finds them in the registry.  The backends are
imported when a store is opened, so building a registry does not load SQLite, and
``import engage_rules`` never imports psycopg (the ``postgresql`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import StoreError
from .base import Store, StoreFactory, sqlite_path

if TYPE_CHECKING:
    from .postgres import PostgreSQLStore


def _open_memory(url: str) -> Store:
    if url.lower() not in ("memory:", "memory://"):
        raise StoreError(f"invalid store URL {url!r}: a memory store is written 'memory:'")
    from .memory import MemoryStore  # noqa: PLC0415 (loaded when a store is opened)

    return MemoryStore()


def _open_sqlite(url: str) -> Store:
    from .sqlite import SQLiteStore  # noqa: PLC0415 (loaded when a store is opened)

    return SQLiteStore(sqlite_path(url))


def _open_postgresql(url: str) -> Store:
    return open_postgresql(url)


def open_postgresql(url: str, *, worker: bool = False) -> PostgreSQLStore:
    """A PostgreSQL store (``worker``: in worker mode, for Kafka workers and
    dispatchers), or StoreError naming the extra when psycopg is missing."""
    try:
        from .postgres import PostgreSQLStore  # noqa: PLC0415 (an optional dependency)
    except ImportError as err:
        if (err.name or "").split(".")[0] != "psycopg":
            raise
        raise StoreError(
            "PostgreSQL stores need psycopg 3, which is not installed: "
            "pip install 'engage-rules[postgresql]'"
        ) from None
    return PostgreSQLStore(url, worker=worker)


#: The core's store schemes (registered by :mod:`engage_rules.plugins.builtin`); their
#: names are :data:`.base.BUILTIN_SCHEMES`.
BUILTIN_STORE_SCHEMES: dict[str, StoreFactory] = {
    "memory": _open_memory,
    "sqlite": _open_sqlite,
    "postgresql": _open_postgresql,
    "postgres": _open_postgresql,
}
