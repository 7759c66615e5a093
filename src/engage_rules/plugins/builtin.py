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
from ..i18n import N_
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
    "member.joined": N_("a member joined the community"),
    "member.left": N_("a member left the community"),
    "member.join_requested": N_(
        "a member asked to join (data.bio, data.invite_link); approve_join / decline_join answer"
    ),
    "message.posted": N_("a member posted a message (data.text, data.message_id)"),
    "message.deleted": N_("a message was deleted (data.message_id)"),
    "message.edited": N_("a member edited a message (data.text: the new text, data.message_id)"),
    "reaction.added": N_("a member reacted to a message (data.to_member: its author)"),
    "reaction.removed": N_("a member took a reaction back (data.message_id, data.emoji)"),
    "content.shared": N_("a member shared content (data.message_id: a post, for posts)"),
    "checkin": N_("a member checked in"),
    "purchase": N_("a member bought something (data.amount, data.currency)"),
    "referral.completed": N_("a referred member completed sign-up (data.referrer)"),
    "poll.voted": N_("a member voted in a poll"),
    "activity.attended": N_("a member attended an activity"),
    "feedback.submitted": N_("a member submitted feedback"),
    "report.filed": N_("a member reported another (data.reported_member)"),
    "redeem.requested": N_("a member asked to redeem an item (data.item)"),
    "member.opted_out": N_("a member stopped direct messages"),
    "member.opted_in": N_("a member allowed direct messages again"),
    "member.linked": N_("the operator's system linked the member to a person (data.person)"),
    # internal events (raised by the engine)
    "member.level_changed": N_("internal: level changed (data.from, data.to, data.direction)"),
    "badge.granted": N_("internal: a badge was granted"),
    "badge.revoked": N_("internal: a badge was revoked"),
    "strike.added": N_("internal: a strike was added (data.total)"),
    "flow.completed": N_("internal: a member completed a flow"),
    "flow.exited": N_("internal: a member left a flow before its end"),
    "leaderboard.closed": N_("internal: a leaderboard period closed"),
    "draw.closed": N_("internal: a draw picked its winners (data.winners)"),
    "shop.redeemed": N_("internal: a member redeemed a shop item (data.item, data.code)"),
    "member.silent": N_("internal: a member has been silent for a configured time"),
    "post.reached": N_("internal: a post reached a post_reached rule's counts (its author)"),
    "person.code_issued": N_("internal: bind_code issued a code (data.code, data.expires)"),
    "person.linked": N_(
        "internal: bind linked the member to a person (data.person, "
        "data.community, data.member: the other account)"
    ),
}


#: What each built-in feature is, for `engage-rules plugins -v`: the first paragraph of its
#: class docstring, marked for translation (tests/test_i18n_leftovers.py checks they agree).
FEATURE_SUMMARIES: dict[str, str] = {
    "segments": N_("Named member conditions: ``segment('name')`` and schedule audiences."),
    "points": N_("Currencies: `award`, `spend`, `revoke`, and the expiry of credits."),
    "tags": N_("Member tags (optionally expiring) and custom attributes."),
    "messaging": N_(
        "Messages (`send`, `reply`, `broadcast`, `warn`), consent (`opt_out`, `opt_in`) "
        "and the `messaging:` policy: quiet hours and caps."
    ),
    "platform": N_("Roles, pins, join requests and polls: actions for the platform adapters."),
    "emit": N_("Rules raising internal events (`emit`)."),
    "moderation": N_(
        "The moderation actions, the strike ladder, exemptions and moderators' events."
    ),
    "lottery": N_("`lottery`: seeded, reproducible weighted draws with community-wide stock."),
    "shadow": N_("Rules in shadow mode (``shadow: true``): their actions are recorded, not done."),
    "silence": N_("Trigger rules ``on: {silent_for: ...}`` and ``on: {after: T, delay: D}``."),
    "flows": N_("Flows: `start_flow`, `exit_flow`, their steps, waits and goals."),
    "schedules": N_("Trigger rules ``on: {cron: ...}``: weekly topics, monthly events."),
    "levels": N_("The level ladder: promotion, demotion, `set_level` and `lock_level`."),
    "badges": N_("Badges, tiered badges and honour titles: `grant_badge` and `revoke_badge`."),
    "leaderboards": N_("Leaderboards per calendar period, closed by a timer, with prizes by rank."),
    "shop": N_("The points shop: items, stock, limits, codes and the `redeem` action."),
    "draws": N_("Fair, seeded draws among the members a playbook's rules enter."),
    "posts": N_("Posts as objects: ``post.*``, ``on: {post_reached: ...}`` and ``tag_post``."),
    "persons": N_("Persons: `member.linked`, `bind_code` and `bind` (see the module docs)."),
    "signals": N_(
        "Keep the community-wide history ``community.count()`` and "
        "``community.members_count()`` read."
    ),
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
