"""Posts as objects (docs/language.md, "Posts"): reactions, replies and shares per post.

A playbook follows posts when its expressions or templates read ``post``, when a rule's
``on:`` is ``{post_reached: ...}``, or when it has a ``posts:`` section (``keep``, how
long a post is followed after it is first seen, default 7d; ``max``, how many posts per
community, default 2,000).  Otherwise nothing of this runs: no observer is registered.

Before the rules of an event run, the post it concerns is updated in the community's data
(layout: :mod:`engage_rules.model.posts`), so that ``post.reactions`` in those rules
counts the event itself, like ``count()`` does:

* ``message.posted`` — the post ``data.message_id`` is created, by the event's member; a
  reply (``data.reply_to``) adds one reply to the post replied to (created, with
  ``data.reply_to_member`` as its author, if it was not followed yet);
* ``reaction.added`` — one reaction to ``data.message_id`` (author ``data.to_member``),
  once per member and emoji; ``reaction.removed`` takes it back;
* ``content.shared`` — one share of ``data.message_id`` (author ``data.to_member``).

Internal events of those types (from `emit`) update posts too.  A post expires ``keep``
after it was first seen: it is then treated as unknown, and forgotten when newer posts
are added; beyond ``max`` posts the oldest are forgotten.  The posts are stored with the
community's data, so a restart keeps them.

**``on: {post_reached: {reactions: 10, replies: 3}}``** fires once per post: after the
rules of the event that makes the post first reach every given count.  The rule sees an
internal ``post.reached`` event (``data``: ``message_id``, ``channel``, ``reactions``,
``replies``, ``shares``; its channel is the post's) whose member is the post's author;
``post`` is that post.  Its ``if:`` is evaluated then, once: whether it holds or not,
the post is spent for that rule, and a post that falls back below the counts (a reaction
removed) and reaches them again does not fire it again.

**``tag_post: essence``** tags the post the event concerns (``'essence' in post.tags``)
and outputs a ``tag_post`` action (``name``, ``message_id``, ``channel``) for the
author, for a platform adapter to act on (pin, highlight).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ..compile.feature import ActionDef, BaseFeature, CompileContext, FeaturePlan, Observer
from ..compile.playbook import CompiledAction
from ..engine.effects import Effects
from ..engine.scope import ActionScope
from ..errors import ActionError
from ..expr.posts import current_post
from ..i18n import N_
from ..lang.action_params import ActionSpec, PostTagParams
from ..lang.loader import ActionCall
from ..lang.spec import PostReachedTrigger
from ..model import rule_problems as rp
from ..model.decision import Decision
from ..model.events import Event, MemberRef, internal_event
from ..model.posts import MAX_POST_TAGS, MAX_REACTORS, POSTS_KEY, event_post_id, post_key
from ..model.state import MemberState

#: The event types that change posts.
POST_EVENTS = ("message.posted", "reaction.added", "reaction.removed", "content.shared")
#: What `post_reached` counts, by the record's field.
_METRICS = (("reactions", "r"), ("replies", "p"), ("shares", "s"))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 512 else None


class PostBook:
    """The posts of one community (its ``data["posts"]``), for one event."""

    __slots__ = ("cap", "items", "keep", "now")

    def __init__(self, data: dict[str, Any], keep: float, cap: int, now: float) -> None:
        posts = data.get(POSTS_KEY)
        if posts is None:
            posts = data[POSTS_KEY] = {"keep": keep, "items": {}}
        posts["keep"] = keep
        self.items: dict[str, dict[str, Any]] = posts["items"]
        self.keep = keep
        self.cap = cap
        self.now = now

    def get(self, channel: str | None, mid: str, author: Any) -> dict[str, Any]:
        """The followed post, created (by ``author``) if unknown or expired."""
        key = post_key(channel, mid)
        item = self.items.get(key)
        if item is not None and self.now - item["t"] > self.keep:
            del self.items[key]  # expired: followed afresh
            item = None
        if item is None:
            item = {
                "id": mid,
                "ch": channel,
                "a": _text(author),
                "t": self.now,
                "r": 0,
                "p": 0,
                "s": 0,
                "k": [],
                "f": [],
                "g": [],
            }
            self.items[key] = item
            self.prune()
        elif item["a"] is None and _text(author) is not None:
            item["a"] = author
        return item

    def prune(self) -> None:
        """Forget expired posts at the front (the oldest first seen), and the oldest
        beyond the cap."""
        items = self.items
        while items:
            first = next(iter(items))
            if len(items) > self.cap or self.now - items[first]["t"] > self.keep:
                del items[first]
            else:
                break


def update_post(book: PostBook, ev: Event) -> bool:
    """Apply ``ev`` to the posts; True if something changed."""
    data = ev.data
    member = ev.member.id if ev.member is not None else None
    t = ev.type
    if t == "message.posted":
        changed = False
        own = _text(data.get("message_id"))
        if own is not None:
            book.get(ev.channel, own, member)
            changed = True
        parent = _text(data.get("reply_to"))
        if parent is not None and parent != own:
            book.get(ev.channel, parent, data.get("reply_to_member"))["p"] += 1
            changed = True
        return changed
    mid = _text(data.get("message_id"))
    if mid is None:
        return False
    if t == "content.shared":
        book.get(ev.channel, mid, data.get("to_member"))["s"] += 1
        return True
    emoji = data.get("emoji")
    reactor = f"{member}:{emoji if isinstance(emoji, str) else ''}" if member else None
    if t == "reaction.added":
        item = book.get(ev.channel, mid, data.get("to_member"))
        if reactor is not None:
            if reactor in item["k"]:
                return False  # the same member's same reaction, again
            if len(item["k"]) < MAX_REACTORS:
                item["k"].append(reactor)
        item["r"] += 1
        return True
    # reaction.removed: only a followed post, and only a reaction that was counted
    removed = book.items.get(post_key(ev.channel, mid))
    if removed is None or removed["r"] <= 0:
        return False
    named: list[str] = removed["k"]
    if reactor is not None and reactor in named:
        named.remove(reactor)
    elif len(named) < MAX_REACTORS or removed["r"] <= len(named):
        return False  # a reaction never counted (or named, and not this one)
    removed["r"] -= 1
    return True


def make_tracker(keep: float, cap: int) -> Observer:
    """The observer that keeps posts up to date before an event's rules run."""

    def track(
        engine: Effects, ev: Event, m: MemberState | None, d: Decision, queue: deque[Event]
    ) -> None:
        community = engine.state.community(ev.community)
        if update_post(PostBook(community.data, keep, cap, ev.ts), ev):
            d.touch_community(ev.community)

    return track


def make_reached(rules: list[tuple[str, tuple[tuple[str, int], ...]]]) -> Observer:
    """The observer that fires `post_reached` rules, after an event's rules ran."""

    def reached(
        engine: Effects, ev: Event, m: MemberState | None, d: Decision, queue: deque[Event]
    ) -> None:
        mid = event_post_id(ev)
        community = engine.state.communities.get(ev.community)
        if mid is None or community is None:
            return
        posts = community.data.get(POSTS_KEY)
        if not posts:
            return
        item = posts["items"].get(post_key(ev.channel, mid))
        if item is None or ev.ts - item["t"] > posts["keep"]:
            return
        for rid, needs in rules:
            if rid in item["f"] or any(item[code] < n for code, n in needs):
                continue
            item["f"].append(rid)
            d.touch_community(ev.community)
            author = item["a"]
            post_event = internal_event(
                id=f"{ev.id}/post:{rid}",
                type="post.reached",
                at=ev.at,
                community=ev.community,
                member=MemberRef(author) if author is not None else None,
                data={
                    "message_id": item["id"],
                    "channel": item["ch"],
                    "reactions": item["r"],
                    "replies": item["p"],
                    "shares": item["s"],
                },
                depth=ev.depth + 1,
                channel=item["ch"],
                platform=ev.platform,
            )
            engine.run_rule(d, rid, post_event, queue)

    return reached


def check_tag_post(
    ctx: CompileContext, call: ActionCall, label: str, consts: dict[str, Any]
) -> None:
    """`tag_post` anywhere (a rule, a flow step, a ladder) makes the playbook follow posts."""
    ctx.used.posts = True


def do_tag_post(run: ActionScope, action: CompiledAction) -> None:
    """The ``tag_post`` action."""
    item = current_post(run)
    if item is None:
        raise ActionError(rp.english(rp.NEEDS_A_POST))
    name = run.text(action, "name")
    if not name:
        raise ActionError(rp.english(rp.TAG_NAME_EMPTY))
    tags: list[str] = item["g"]
    if name in tags:
        return
    if len(tags) >= MAX_POST_TAGS:
        raise ActionError(rp.english(rp.POST_TAGS_LIMIT, most=MAX_POST_TAGS))
    tags.append(name)
    run.d.touch_community(run.event.community)
    run.emit(action, item["a"], {"name": name, "message_id": item["id"], "channel": item["ch"]})


class PostsFeature(BaseFeature):
    """Posts as objects: ``post.*``, ``on: {post_reached: ...}`` and ``tag_post``."""

    name = "posts"

    def actions(self) -> list[ActionDef]:
        return [
            ActionDef(
                ActionSpec(
                    "tag_post",
                    PostTagParams,
                    "name",
                    N_("tag the post the event concerns"),
                    title=N_("Tag post"),
                ),
                do_tag_post,
                check=check_tag_post,
            )
        ]

    def compile(self, ctx: CompileContext) -> FeaturePlan | None:
        reached: list[tuple[str, tuple[tuple[str, int], ...]]] = []
        for rule in ctx.rules:
            trigger = rule.trigger
            if isinstance(trigger, PostReachedTrigger):
                spec = trigger.post_reached
                needs = tuple(
                    (code, n) for field, code in _METRICS if (n := getattr(spec, field)) is not None
                )
                reached.append((rule.id, needs))
        section = ctx.spec.posts
        if not reached and not ctx.used.posts and section is None:
            return None
        keep = section.keep.total_seconds() if section is not None else 7 * 86400.0
        cap = section.max if section is not None else 2_000
        tracker = make_tracker(keep, cap)
        before: dict[str, list[Observer]] = {t: [tracker] for t in POST_EVENTS}
        observers: dict[str, list[Observer]] = {}
        if reached:
            hook = make_reached(reached)
            # A removed reaction never makes a post reach its counts.
            observers = {t: [hook] for t in POST_EVENTS if t != "reaction.removed"}
        return FeaturePlan(before=before, observers=observers)
