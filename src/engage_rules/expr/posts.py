"""``post`` in expressions and templates (docs/language.md, "Posts").

``post`` is the post the event concerns (:func:`engage_rules.model.posts.find_post`),
read from the community's data when an expression asks for it — nothing is looked up
for playbooks that do not read it.  Without such a post (the event concerns none, the
playbook follows none, or it expired) the counts are 0 and the other fields None.

The state is reached through the scope rules run in (an ``ActionScope``, which holds
the engine's effects); an evaluation context without one sees no post.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..model.posts import find_post
from ..model.state import from_ts

#: Attributes of ``post``.
POST_FIELDS = ("id", "channel", "author", "reactions", "replies", "shares", "age", "at", "tags")

_COUNTS = {"reactions": "r", "replies": "p", "shares": "s"}


def current_post(c: Any) -> dict[str, Any] | None:
    """The raw record of the post the context's event concerns, or None."""
    effects = getattr(c, "effects", None)
    if effects is None:
        return None
    ev = c.event
    community = effects.state.communities.get(ev.community)
    if community is None:
        return None
    return find_post(community.data, ev, c.now_ts)


def post_field(c: Any, name: str) -> Any:
    """``post.<name>`` (name one of POST_FIELDS)."""
    item = current_post(c)
    code = _COUNTS.get(name)
    if code is not None:
        return item[code] if item is not None else 0
    if item is None:
        return [] if name == "tags" else None
    if name == "id":
        return item["id"]
    if name == "channel":
        return item["ch"]
    if name == "author":
        return item["a"]
    if name == "age":
        return timedelta(seconds=max(0.0, c.now_ts - item["t"]))
    if name == "at":
        return from_ts(item["t"]).astimezone(c.tz)
    return list(item.get("g", ()))


def post_view(c: Any) -> dict[str, Any] | None:
    """``post`` as a whole: a mapping of its fields, or None without a post."""
    if current_post(c) is None:
        return None
    return {name: post_field(c, name) for name in POST_FIELDS}
