"""Which action types reach a platform, and which exist at all.

``PLATFORM_ACTIONS`` are the built-in actions that do something on a platform (messages
and moderation).  Plugin actions (dotted names, ``telegram.pin``) are platform actions
too.  Everything else (``award``, ``tag``, ``level_changed``...) is bookkeeping: the
engine has already applied it to state, and an adapter delivers it only if it declares it
(the console and jsonl adapters declare every type, to show the whole story).
"""

from __future__ import annotations

from collections.abc import Iterable

#: Built-in actions carried out on a platform.
PLATFORM_ACTIONS = frozenset({
    "send", "reply", "broadcast", "warn",
    "delete_message", "mute", "unmute", "kick", "ban", "unban",
})

#: Action types the engine emits on its own (DESIGN.md §6), beyond registered actions.
ENGINE_ACTIONS = frozenset({"level_changed", "expire", "untag", "grant_badge",
                            "revoke_badge"})


def is_platform_action(action_type: str) -> bool:
    """True for messages, moderation and plugin (dotted) actions."""
    return action_type in PLATFORM_ACTIONS or "." in action_type


def known_action_types() -> frozenset[str]:
    """Every action type: registered (built-in and plugin) actions and engine actions."""
    from ..action_specs import ACTION_SPECS
    from ..plugins import registry

    registry()  # fills ACTION_SPECS through the plugin hooks, once per process
    return frozenset(ACTION_SPECS) | ENGINE_ACTIONS


def check_capabilities(names: Iterable[object], adapter: str) -> frozenset[str]:
    """A ``capabilities`` setting as a set of known action types, or ValueError."""
    out: set[str] = set()
    known = known_action_types()
    for name in names:
        if not isinstance(name, str) or name not in known:
            raise ValueError(f"{adapter}: unknown action type {name!r} in capabilities")
        out.add(name)
    if not out:
        raise ValueError(f"{adapter}: capabilities must name at least one action type")
    return frozenset(out)
