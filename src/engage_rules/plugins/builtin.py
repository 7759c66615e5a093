"""The core's own plugin: its features, functions, event types, stores and classifiers,
registered through the same hooks as any third-party plugin (docs/plugins.md).

The plugin manager (:mod:`engage_rules.plugins.manager`) always loads this module first,
under the plugin name ``builtin``.  What it registers lives next to the code it
describes: each feature in :mod:`engage_rules.features` (with its actions and timer
kinds), :data:`~engage_rules.expr.functions.BUILTIN_FUNCTIONS`, the store factories of
:mod:`engage_rules.store.schemes`, the ``lexicon`` classifier of
:mod:`engage_rules.text.lexicon` and :data:`EVENT_TYPES` below.  The built-in adapters
and CLI commands are registered by their own built-in plugins
(``engage_rules.plugins.builtin_adapters``, ``engage_rules.cli.commands``).
"""

from __future__ import annotations

from ..expr.functions import BUILTIN_FUNCTIONS
from ..features.badges import BadgesFeature
from ..features.draws import DrawsFeature
from ..features.emit import EmitFeature
from ..features.flows import FlowsFeature
from ..features.leaderboards import LeaderboardsFeature
from ..features.levels import LevelsFeature
from ..features.lottery import LotteryFeature
from ..features.messaging import MessagingFeature
from ..features.moderation import ModerationFeature
from ..features.persons import PersonsFeature
from ..features.platform import PlatformFeature
from ..features.points import PointsFeature
from ..features.posts import PostsFeature
from ..features.schedules import SchedulesFeature
from ..features.segments import SegmentsFeature
from ..features.shadow import ShadowFeature
from ..features.shop import ShopFeature
from ..features.signals import SignalsFeature
from ..features.silence import SilenceFeature
from ..features.tags import TagsFeature
from ..store.schemes import BUILTIN_STORE_SCHEMES
from ..text.lexicon import lexicon_score
from .hookspecs import (
    RegisterClassifier,
    RegisterEventType,
    RegisterFeature,
    RegisterFunction,
    RegisterStore,
    hookimpl,
)

#: The canonical event types (docs/reference.md §3) and the internal events the engine raises.
EVENT_TYPES: dict[str, str] = {
    "member.joined": "a member joined the community",
    "member.left": "a member left the community",
    "member.join_requested": "a member asked to join (data.bio, data.invite_link); "
    "approve_join / decline_join answer",
    "message.posted": "a member posted a message (data.text, data.message_id)",
    "message.deleted": "a message was deleted (data.message_id)",
    "message.edited": "a member edited a message (data.text: the new text, data.message_id)",
    "reaction.added": "a member reacted to a message (data.to_member: its author)",
    "reaction.removed": "a member took a reaction back (data.message_id, data.emoji)",
    "content.shared": "a member shared content (data.message_id: a post, for posts)",
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
    "member.linked": "the operator's system linked the member to a person (data.person)",
    # internal events (raised by the engine)
    "member.level_changed": "internal: level changed (data.from, data.to, data.direction)",
    "badge.granted": "internal: a badge was granted",
    "badge.revoked": "internal: a badge was revoked",
    "strike.added": "internal: a strike was added (data.total)",
    "flow.completed": "internal: a member completed a flow",
    "flow.exited": "internal: a member left a flow before its end",
    "leaderboard.closed": "internal: a leaderboard period closed",
    "draw.closed": "internal: a draw picked its winners (data.winners)",
    "shop.redeemed": "internal: a member redeemed a shop item (data.item, data.code)",
    "member.silent": "internal: a member has been silent for a configured time",
    "post.reached": "internal: a post reached a post_reached rule's counts (its author)",
    "person.code_issued": "internal: bind_code issued a code (data.code, data.expires)",
    "person.linked": "internal: bind linked the member to a person (data.person, "
    "data.community, data.member: the other account)",
}


@hookimpl
def register_features(register: RegisterFeature) -> None:
    """Every built-in section of the playbook language, in the order they compile."""
    for feature in (
        SegmentsFeature(),
        PointsFeature(),
        TagsFeature(),
        MessagingFeature(),
        PlatformFeature(),
        EmitFeature(),
        ModerationFeature(),
        LotteryFeature(),
        ShadowFeature(),
        SilenceFeature(),
        FlowsFeature(),
        SchedulesFeature(),
        LevelsFeature(),
        BadgesFeature(),
        LeaderboardsFeature(),
        ShopFeature(),
        DrawsFeature(),
        PersonsFeature(),
        # Last: they read what every other feature's expressions use (CompileContext.used).
        PostsFeature(),
        SignalsFeature(),
    ):
        register(feature)


@hookimpl
def register_functions(register: RegisterFunction) -> None:
    """The expression functions of docs/reference.md §5.2."""
    for spec in BUILTIN_FUNCTIONS.values():
        register(spec)


@hookimpl
def register_event_types(register: RegisterEventType) -> None:
    """The canonical and internal event types of docs/reference.md §3."""
    for name, description in EVENT_TYPES.items():
        register(name, description)


@hookimpl
def register_stores(register: RegisterStore) -> None:
    """``memory:`` and ``sqlite:///path``."""
    for scheme, factory in BUILTIN_STORE_SCHEMES.items():
        register(scheme, factory)


@hookimpl
def register_classifiers(register: RegisterClassifier) -> None:
    """The core's content classifier used by ``score()``: ``lexicon``."""
    register("lexicon", lexicon_score)
