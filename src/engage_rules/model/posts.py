"""Posts as objects (docs/language.md, "Posts"): how a community keeps the posts it
follows, as plain JSON data in ``CommunityState.data["posts"]``.

::

    {"keep": 604800.0,                      # seconds a post is followed after first seen
     "items": {<post key>: {"id": "m-1", "ch": "general", "a": "u1", "t": 1767225600.0,
                            "r": 3, "p": 1, "s": 0, "k": ["u2:👍", ...],
                            "f": ["essence"], "g": ["essence"]}}}

``id`` is the platform's message id, ``ch`` its channel (message ids are unique per
channel on some platforms), ``a`` the author (None while unknown), ``t`` when the post
was first seen (seconds since the epoch), ``r``/``p``/``s`` its reactions, replies and
shares, ``k`` the reactions counted (``member:emoji``, so a repeated reaction counts
once and a removal undoes it), ``f`` the ``post_reached`` rules that fired for it and
``g`` its tags (``tag_post``).  Items are in the order posts were first seen; the
feature (features/posts.py) drops expired posts and the oldest beyond its cap.

Which post an event concerns: ``data.reply_to`` for a reply (the post replied to),
else ``data.message_id``, in the event's channel.
"""

from __future__ import annotations

from typing import Any

from .events import Event

#: Where the posts live in ``CommunityState.data``.
POSTS_KEY = "posts"
#: Reactions remembered per post (``k``); beyond it reactions are counted, not named.
MAX_REACTORS = 200
#: Tags per post (``tag_post``).
MAX_POST_TAGS = 16


def post_key(channel: str | None, message_id: str) -> str:
    """The key of a post: its channel and message id, unambiguously."""
    if channel is None:
        return f"-:{message_id}"
    return f"{len(channel)}:{channel}{message_id}"


def event_post_id(ev: Event) -> str | None:
    """The message id of the post ``ev`` concerns, or None."""
    data = ev.data
    target = data.get("reply_to") if ev.type == "message.posted" else None
    if not isinstance(target, str) or not target:
        target = data.get("message_id")
    if isinstance(target, str) and target and len(target) <= 512:
        return target
    return None


def find_post(community_data: dict[str, Any], ev: Event, now_ts: float) -> dict[str, Any] | None:
    """The followed post ``ev`` concerns (None when there is none, or it expired)."""
    posts = community_data.get(POSTS_KEY)
    if not posts:
        return None
    mid = event_post_id(ev)
    if mid is None:
        return None
    item: dict[str, Any] | None = posts["items"].get(post_key(ev.channel, mid))
    if item is None or now_ts - item["t"] > posts["keep"]:
        return None
    return item
