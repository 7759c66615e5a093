"""The core's own plugin: its actions, functions, event types, stores and classifiers,
registered through the same hooks as any third-party plugin (DESIGN.md §2, §9).

The plugin manager (:mod:`engage_rules.plugins`) always loads this module first, under
the plugin name ``builtin``.  The tables it registers from live next to the code they
describe: :data:`~engage_rules.action_specs.BUILTIN_ACTION_SPECS` with
:data:`~engage_rules.engine_actions.BUILTIN_EXECUTORS`,
:data:`~engage_rules.functions.BUILTIN_FUNCTIONS`,
:data:`~engage_rules.store.base.BUILTIN_STORE_SCHEMES`,
:data:`~engage_rules.classifiers.BUILTIN_CLASSIFIERS` and :data:`EVENT_TYPES` below.
"""

from __future__ import annotations

from .hookspecs import (
    RegisterAction,
    RegisterClassifier,
    RegisterEventType,
    RegisterFunction,
    RegisterStore,
    hookimpl,
)

#: The canonical event types (DESIGN.md §3) and the internal events the engine raises.
EVENT_TYPES: dict[str, str] = {
    "member.joined": "a member joined the community",
    "member.left": "a member left the community",
    "message.posted": "a member posted a message (data.text, data.message_id)",
    "message.deleted": "a message was deleted (data.message_id)",
    "reaction.added": "a member reacted to a message (data.to_member: its author)",
    "content.shared": "a member shared content",
    "checkin": "a member checked in",
    "purchase": "a member bought something (data.amount, data.currency)",
    "referral.completed": "a referred member completed sign-up (data.referrer)",
    "poll.voted": "a member voted in a poll",
    "activity.attended": "a member attended an activity",
    "feedback.submitted": "a member submitted feedback",
    "report.filed": "a member reported another (data.reported_member)",
    "redeem.requested": "a member asked to redeem an item (data.item)",
    "member.opted_out": "a member stopped direct messages",
    "member.opted_in": "a member allowed direct messages again",
    # internal events (raised by the engine)
    "member.level_changed": "internal: level changed (data.from, data.to, data.direction)",
    "badge.granted": "internal: a badge was granted",
    "badge.revoked": "internal: a badge was revoked",
    "strike.added": "internal: a strike was added (data.total)",
    "flow.completed": "internal: a member completed a flow",
    "flow.exited": "internal: a member left a flow before its end",
    "leaderboard.closed": "internal: a leaderboard period closed",
    "member.silent": "internal: a member has been silent for a configured time",
}


@hookimpl
def register_actions(register: RegisterAction) -> None:
    """The DESIGN.md §5.3 actions."""
    from . import flows, lottery  # noqa: F401  (they add their actions' executors)
    from .action_specs import BUILTIN_ACTION_SPECS
    from .engine_actions import BUILTIN_EXECUTORS

    for spec in BUILTIN_ACTION_SPECS:
        register(spec, BUILTIN_EXECUTORS[spec.name])


@hookimpl
def register_functions(register: RegisterFunction) -> None:
    """The DESIGN.md §5.2 expression functions."""
    from .functions import BUILTIN_FUNCTIONS

    for spec in BUILTIN_FUNCTIONS.values():
        register(spec)


@hookimpl
def register_event_types(register: RegisterEventType) -> None:
    """The canonical and internal event types of DESIGN.md §3."""
    for name, description in EVENT_TYPES.items():
        register(name, description)


@hookimpl
def register_stores(register: RegisterStore) -> None:
    """``memory:`` and ``sqlite:///path``."""
    from .store.base import BUILTIN_STORE_SCHEMES

    for scheme, factory in BUILTIN_STORE_SCHEMES.items():
        register(scheme, factory)


@hookimpl
def register_classifiers(register: RegisterClassifier) -> None:
    """The core's content classifiers used by ``score()``."""
    from . import lexicon  # noqa: F401  (adds the built-in lexicon scorer)
    from .classifiers import BUILTIN_CLASSIFIERS

    for name, scorer in BUILTIN_CLASSIFIERS.items():
        register(name, scorer)
