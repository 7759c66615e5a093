"""The local PostgreSQL server for the PostgreSQL store's tests: a fresh database per
test module (or class), dropped afterwards, failures included.

The server is ``ENGAGE_RULES_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432``,
trust authentication).  When it cannot be reached the tests are skipped, saying so —
unless ``ENGAGE_RULES_POSTGRES_TESTS=required`` (as in CI), which makes them fail.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pytest

SERVER = os.environ.get("ENGAGE_RULES_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REQUIRED_ENV = "ENGAGE_RULES_POSTGRES_TESTS"

_schemas = itertools.count(1)


@cache
def _unreachable() -> str | None:
    """Why the server cannot be used (None: it can)."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install -e '.[dev]')"
    try:
        with psycopg.connect(f"{SERVER}/postgres", connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        return f"PostgreSQL at {SERVER} is unreachable: {' '.join(str(err).split())}"
    return None


def require_server() -> None:
    """Skip (or, when required, fail) the calling test without a server."""
    reason = _unreachable()
    if reason is None:
        return
    if os.environ.get(REQUIRED_ENV) == "required":
        pytest.fail(f"{reason} ({REQUIRED_ENV}=required)")
    pytest.skip(f"{reason} (set {REQUIRED_ENV}=required to fail instead)")


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(sql.encode())


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database on the server (its URL), dropped when done."""
    require_server()
    name = f"er_test_{uuid.uuid4().hex[:16]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{SERVER}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_schema(database: str) -> str:
    """A store URL naming a schema not used yet in ``database``."""
    return f"{database}?schema=s{next(_schemas)}_{uuid.uuid4().hex[:6]}"
