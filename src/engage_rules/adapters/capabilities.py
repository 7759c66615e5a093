"""Which action types reach a platform, and which exist at all.

``PLATFORM_ACTIONS`` are the built-in actions that do something on a platform (messages,
moderation, roles, pins, join requests and polls).  Plugin actions (dotted names,
``telegram.pin``) are platform actions too.  Everything else (``award``, ``tag``,
``level_changed``...) is bookkeeping: the engine has already applied it to state, and an
adapter delivers it only if it declares it (the console and jsonl adapters declare every
type, to show the whole story).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from ..i18n import _

#: Built-in actions carried out on a platform.
PLATFORM_ACTIONS = frozenset(
    {
        "send",
        "reply",
        "broadcast",
        "warn",
        "delete_message",
        "mute",
        "unmute",
        "kick",
        "ban",
        "unban",
        "grant_role",
        "remove_role",
        "pin",
        "unpin",
        "approve_join",
        "decline_join",
        "poll",
    }
)

#: Action types the engine emits on its own (docs/reference.md §6.3), beyond registered
#: actions.
ENGINE_ACTIONS = frozenset(
    {
        "level_changed",
        "expire",
        "untag",
        "grant_badge",
        "revoke_badge",
        "complete_flow",
        "exit_flow",
        "exposed",
        "unmute",
        "unban",
    }
)


def is_platform_action(action_type: str) -> bool:
    """True for messages, moderation and plugin (dotted) actions."""
    return action_type in PLATFORM_ACTIONS or "." in action_type


def known_action_types(registry: Any) -> frozenset[str]:
    """Every action type: ``registry``'s actions (built-in and plugins') and the engine's."""
    return frozenset(registry.actions) | ENGINE_ACTIONS


#: The action types of the registry the runtime is building adapters for (set by
#: :func:`building_adapters` around the factory calls).
_building: ContextVar[frozenset[str] | None] = ContextVar("_building", default=None)


@contextmanager
def building_adapters(registry: Any) -> Iterator[None]:
    """Adapter factories called inside see ``registry``'s action types in
    :func:`action_types` (the runtime wraps its factory calls in this)."""
    token = _building.set(known_action_types(registry))
    try:
        yield
    finally:
        _building.reset(token)


def action_types(settings: Mapping[str, Any] | None = None) -> frozenset[str]:
    """The action types an adapter may declare: those of the registry the runtime is
    building adapters for, else those of the installed plugins (an adapter built
    directly, as in tests).  ``settings`` is accepted for symmetry and not read."""
    building = _building.get()
    if building is not None:
        return building
    # The plugin layer sits above the adapters: the one import below the edges of the
    # default registry, an exception named in pyproject.toml [tool.importlinter].
    from ..plugins.manager import default_registry  # noqa: PLC0415, TID251

    return known_action_types(default_registry())


def check_capabilities(
    names: Iterable[object], adapter: str, settings: Mapping[str, Any]
) -> frozenset[str]:
    """A ``capabilities`` setting as a set of known action types, or ValueError."""
    out: set[str] = set()
    known = action_types(settings)
    for name in names:
        if not isinstance(name, str) or name not in known:
            raise ValueError(
                _("{adapter}: unknown action type {name!r} in capabilities").format(
                    adapter=adapter, name=name
                )
            )
        out.add(name)
    if not out:
        raise ValueError(
            _("{adapter}: capabilities must name at least one action type").format(adapter=adapter)
        )
    return frozenset(out)
