"""Shared helpers for engine tests: playbooks from a body under the standard header, and
what events did.  Events come from the test kit (``engage_rules.testing.event``).

The engine does not keep the ledger: :func:`run` and :func:`decisions` commit each
engine's decisions to a memory store that keeps history (:func:`store_of`), and
:func:`ledger` reads a member's ledger back from it, as from any store."""

from __future__ import annotations

import weakref

from engage_rules import Engine, Event, testing
from engage_rules.compile.playbook import CompiledPlaybook
from engage_rules.model.decision import ActionRecord, Decision
from engage_rules.model.state import LedgerEntry
from engage_rules.plugins import Registry
from engage_rules.store import MemoryStore
from engage_rules.testing import HEADER, run_decisions

_STORES: weakref.WeakKeyDictionary[Engine, MemoryStore] = weakref.WeakKeyDictionary()


def playbook(
    body: str, header: str | None = None, *, registry: Registry | None = None
) -> CompiledPlaybook:
    head = header if header is not None else HEADER
    return testing.playbook(head + body, registry=registry)


def store_of(engine: Engine) -> MemoryStore:
    """The store (with history) that :func:`run` commits ``engine``'s decisions to."""
    store = _STORES.get(engine)
    if store is None:
        store = _STORES[engine] = MemoryStore(keep_history=True)
    return store


def commit(engine: Engine, done: list[Decision]) -> list[Decision]:
    """Commit ``done`` (decisions of ``engine``) to its store; return them."""
    if done:
        store_of(engine).commit(done, engine.state)
    return done


def run(engine: Engine, *events: Event) -> list[ActionRecord]:
    """Process events and return every action emitted, in order."""
    return [a for d in decisions(engine, *events) for a in d.actions]


def decisions(engine: Engine, *events: Event) -> list[Decision]:
    """Process events and return every decision (timers that fired included)."""
    return commit(engine, run_decisions(engine, events))


def ledger(engine: Engine, member: str = "u1", community: str = "default") -> list[LedgerEntry]:
    """A member's ledger, as the engine's store keeps it (by seq, reversals linked)."""
    return store_of(engine).ledger(community, member)


def types(actions: list[ActionRecord]) -> list[str]:
    return [a.type for a in actions]
