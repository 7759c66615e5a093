"""An adapter between a platform and a playbook, end to end in a test (docs/reference.md §9).

:func:`actions_from_payloads` runs recorded platform payloads through an adapter's
``parse`` and a playbook's engine, and returns the actions the engine emitted in their
output shape (docs/reference.md §6.1); :func:`deliver_all` hands actions to the adapter's
``deliver`` in order — against a local server (``pytest-httpserver``'s, or a
:class:`~engage_rules.testing.RecordingPlatform`) whose log the test then checks::

    actions = actions_from_payloads(adapter, engine, [load("message"), load("reaction")])
    assert [a["type"] for a in actions] == ["delete_message", "mute"]
    deliver_all(adapter, actions)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..adapters.base import Adapter, Delivery
from ..compile.playbook import CompiledPlaybook
from ..engine.core import Engine


def actions_from_payloads(
    adapter: Adapter, engine: Engine | CompiledPlaybook, payloads: Iterable[Any]
) -> list[dict[str, Any]]:
    """Parse each payload with ``adapter``, process each event with ``engine`` (or a new
    engine of the playbook), and return every emitted action as JSON, in order."""
    run = engine if isinstance(engine, Engine) else Engine(engine)
    return [
        a.to_json()
        for p in payloads
        for e in adapter.parse(p)
        for d in run.process(e)
        for a in d.actions
    ]


def deliver_all(
    adapter: Adapter, actions: Iterable[Mapping[str, Any]], *, skip_unsupported: bool = False
) -> list[Delivery]:
    """Deliver ``actions`` through ``adapter`` in order and return the deliveries; with
    ``skip_unsupported``, actions of a type the adapter does not declare (bookkeeping
    such as ``award``, which the dispatcher marks delivered without a call) are left
    out, as the runtime leaves them."""
    return [
        adapter.deliver(a)
        for a in actions
        if not skip_unsupported or a.get("type") in adapter.capabilities
    ]


__all__ = ["actions_from_payloads", "deliver_all"]
