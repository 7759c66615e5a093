"""The built-in stores pass the store contract (engage_rules.testing.StoreContract),
and ``open_store`` turns URLs into stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engage_rules import hookimpl
from engage_rules.errors import StoreError
from engage_rules.model.state import State
from engage_rules.plugins import PluginError
from engage_rules.store import (
    MemoryStore,
    SQLiteStore,
    Store,
)
from engage_rules.testing import isolated_plugins, open_store
from engage_rules.testing.store_contract import StoreBackend as Backend
from engage_rules.testing.store_contract import (
    StoreContract,
    add_timer,
    award,
    decision,
    state_json,
)


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def backend(self) -> Backend:
        return Backend(create=lambda: MemoryStore(keep_history=True), reopen=lambda s: s)

    def test_open_returns_the_live_state(self) -> None:
        store = MemoryStore()
        state = store.open()
        assert store.open() is state

    def test_committing_another_state_copies_what_was_touched(self) -> None:
        store = MemoryStore()
        other = State()
        d = decision(1)
        award(other, d, "u1", 5)
        add_timer(other, d, "t", 3)
        other.clock = d.at
        store.commit([d], other)
        own = store.open()
        assert own is not other
        assert state_json(own) == state_json(other)
        assert own.community("default").member("u1") is not other.community("default").member("u1")


class TestForgetfulMemoryStore(StoreContract):
    """The memory store without history (what `replay` uses): the suite's
    ``keeps_history = False`` contract."""

    keeps_history = False

    @pytest.fixture
    def backend(self) -> Backend:
        return Backend(create=MemoryStore, reopen=lambda s: s)


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Backend:
        path = tmp_path / "state" / "engage.db"

        def reopen(store: Store) -> Store:
            store.close()
            return SQLiteStore(path)

        return Backend(create=lambda: SQLiteStore(path), reopen=reopen)


class TestSQLiteStoreViaURL(StoreContract):
    """The same contract through ``open_store`` and a relative ``sqlite:///`` URL."""

    @pytest.fixture
    def backend(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
        monkeypatch.chdir(tmp_path)

        def reopen(store: Store) -> Store:
            store.close()
            return open_store("sqlite:///data/engage.db")

        return Backend(create=lambda: open_store("sqlite:///data/engage.db"), reopen=reopen)


# -- open_store URLs -------------------------------------------------------------------


def test_memory_urls() -> None:
    assert isinstance(open_store("memory:"), MemoryStore)
    assert isinstance(open_store("memory://"), MemoryStore)
    assert isinstance(open_store(" MEMORY: "), MemoryStore)


def test_sqlite_relative_url_creates_parent_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///var/lib/state.db")
    try:
        assert isinstance(store, SQLiteStore)
        assert (tmp_path / "var" / "lib" / "state.db").exists()
    finally:
        store.close()


def test_sqlite_absolute_url(tmp_path: Path) -> None:
    target = tmp_path / "abs" / "state.db"
    assert str(target).startswith("/")
    store = open_store(f"sqlite:///{target}")  # sqlite:////abs/...: four slashes
    try:
        assert isinstance(store, SQLiteStore) and store.path == str(target)
        assert target.exists()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "missing store URL; supported: memory:, sqlite:///"),
        ("   ", "missing store URL"),
        ("state.db", "did you mean sqlite:///state.db?"),
        ("/var/state.db", "invalid store URL '/var/state.db'"),
        ("memory:extra", "a memory store is written 'memory:'"),
        ("sqlite:", "write sqlite:///relative/path.db or sqlite:////absolute/path.db"),
        ("sqlite:state.db", "write sqlite:///relative/path.db"),
        ("sqlite://host/state.db", "a SQLite URL has no host"),
        ("sqlite:///", "the database path is missing"),
        ("postgresql+psycopg://127.0.0.1/engage", "write postgresql://127.0.0.1/engage (no"),
        ("postgres:engage", "write postgresql://USER@HOST[:PORT]/DATABASE[?schema=NAME]"),
        ("postgresql://127.0.0.1:port/engage", "invalid store URL"),
        ("postgresql://127.0.0.1/db?schema=pg_catalog", "schema 'pg_catalog' is not a plain"),
        ("postgresql://127.0.0.1/db?schema=a-b", "schema 'a-b' is not a plain name"),
        ("postgresql://127.0.0.1/db?schema=a&schema=b", "`schema` is given more than once"),
        (  # nothing listens on port 1
            "postgresql://u:secret@127.0.0.1:1/engage?schema=x",
            "cannot connect to PostgreSQL store postgresql://u:***@127.0.0.1:1/engage?schema=x:",
        ),
        ("redis://localhost/0", "unsupported store URL scheme 'redis'"),
        (
            "redis://localhost/0",
            "supported: memory:, sqlite:///relative/path.db, sqlite:////absolute/path.db, "
            "postgresql://USER@HOST/DATABASE[?schema=NAME]",
        ),
    ],
)
def test_bad_urls_say_what_is_supported(url: str, message: str) -> None:
    with pytest.raises(StoreError) as err:
        open_store(url)
    assert message in str(err.value)
    assert "secret" not in str(err.value)


def test_plugins_can_register_schemes() -> None:
    made: list[str] = []

    def factory(url: str) -> Store:
        made.append(url)
        return MemoryStore()

    def plugin(scheme: str) -> object:
        class Stores:
            @hookimpl
            def register_stores(self, register: Any) -> None:
                register(scheme, factory)

        return Stores()

    with_fake = isolated_plugins(("fake-store", plugin("fake")))
    assert isinstance(open_store("fake://anything", registry=with_fake), MemoryStore)
    assert made == ["fake://anything"]
    with pytest.raises(StoreError) as err:
        open_store("nope://x", registry=with_fake)
    assert "fake:..." in str(err.value)
    # Another registry (another plugin set in the same process) does not know it.
    with pytest.raises(StoreError, match="unsupported store URL scheme 'fake'"):
        open_store("fake://anything")
    with pytest.raises(PluginError, match="store 'sqlite', which plugin 'builtin'"):
        isolated_plugins(("bad", plugin("sqlite")))
    with pytest.raises(PluginError, match="invalid URL scheme"):
        isolated_plugins(("bad", plugin("bad scheme")))


class TestPostgreSQLStore(StoreContract):
    """The contract on the local PostgreSQL server, each test in a schema of its own."""

    @pytest.fixture
    def backend(self, pg_url: str) -> Backend:
        from engage_rules.store.postgres import PostgreSQLStore

        def reopen(store: Store) -> Store:
            store.close()
            return PostgreSQLStore(pg_url)

        return Backend(create=lambda: PostgreSQLStore(pg_url), reopen=reopen)


class TestPostgreSQLStoreViaURL(StoreContract):
    """The same contract through ``open_store`` and a ``postgres://`` URL."""

    @pytest.fixture
    def backend(self, pg_url: str) -> Backend:
        url = pg_url.replace("postgresql://", "postgres://", 1)

        def reopen(store: Store) -> Store:
            store.close()
            return open_store(url)

        return Backend(create=lambda: open_store(url), reopen=reopen)
