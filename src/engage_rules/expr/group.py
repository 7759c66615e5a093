"""Group-wide signals (docs/language.md, "Group-wide signals"): ``community.count()``
and ``community.members_count()`` in expressions.

``community.count('message.negative', within='30m')`` counts the community's events of
a type in the rolling window (now − 30m, now] — every member's, and those without a
member; ``channel=`` keeps one channel's.  ``community.members_count(type, within=...)``
counts the distinct members behind them.  Without ``within``, ``community.count(type)``
is the community's lifetime total.  The history is kept by the ``signals`` feature
(features/signals.py) in ``CommunityState.data["signals"]``, for only the event types
and the longest windows the playbook's expressions name (their load-time checks record
them in :class:`~.uses.Uses`)::

    {"message.negative": {"n": 42, "w": [[ts, member, channel], ...]}}

``w`` is ordered by time and trimmed to the longest window (and a hard cap, see
features/signals.py).  Like member ``count()``, the current event is included.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

from ..errors import ExpressionError
from ..i18n import _
from ..model import rule_problems as rp
from .function_spec import CallSite, FunctionSpec
from .functions import literal_window, window_seconds
from .runtime import shown

#: Where the history lives in ``CommunityState.data``.
SIGNALS_KEY = "signals"

_TS = itemgetter(0)


def _history(c: Any, type_: Any) -> dict[str, Any] | None:
    effects = getattr(c, "effects", None)
    if effects is None:
        return None
    community = effects.state.communities.get(c.event.community)
    if community is None:
        return None
    signals = community.data.get(SIGNALS_KEY)
    if not signals:
        return None
    entry: dict[str, Any] | None = signals.get(type_)
    return entry


def _window(c: Any, entry: dict[str, Any], within: Any, channel: Any) -> list[list[Any]]:
    if channel is not None and not isinstance(channel, str):
        raise ExpressionError(rp.english(rp.CHANNEL_NOT_A_NAME, value=shown(channel)))
    now = c.now_ts
    w: list[list[Any]] = entry["w"]
    first = bisect_right(w, now - window_seconds(within), key=_TS)
    last = bisect_right(w, now, key=_TS)
    items = w[first:last]
    if channel is not None:
        return [x for x in items if x[2] == channel]
    return items


def fn_community_count(c: Any, type_: Any, within: Any = None, channel: Any = None) -> int:
    """``community.count(type, within=None, channel=None)``."""
    entry = _history(c, type_)
    if entry is None:
        return 0
    if within is None:
        return int(entry["n"])
    return len(_window(c, entry, within, channel))


def fn_members_count(c: Any, type_: Any, within: Any = None, channel: Any = None) -> int:
    """``community.members_count(type, within, channel=None)``."""
    entry = _history(c, type_)
    if entry is None:
        return 0
    return len({x[1] for x in _window(c, entry, within, channel) if x[1] is not None})


def _check(site: CallSite, *, window_required: bool) -> Mapping[int | str, Any] | None:
    type_arg = site.arg(0, "type")
    if type_arg is None or not type_arg[1].static or not isinstance(type_arg[1].value, str):
        raise ValueError(
            _(
                "{name}(): the event type must be a quoted name, e.g. "
                "{name}('message.posted', within='1h')"
            ).format(name=site.name)
        )
    type_ = type_arg[1].value
    window = site.arg(1, "within")
    if window is None or (window[1].static and window[1].value is None):
        if window_required or site.arg(2, "channel") is not None:
            raise ValueError(
                _(
                    "{name}(): give a window, e.g. within='30m' (the engine keeps only the "
                    "history that windows need)"
                ).format(name=site.name)
            )
        site.uses.group_count(type_, None)
        return None
    seconds = literal_window(site, window[1])
    site.uses.group_count(type_, seconds)
    return {window[0]: seconds}


def check_community_count(site: CallSite) -> Mapping[int | str, Any] | None:
    """Load-time check of ``community.count()``: a quoted type, a literal window."""
    return _check(site, window_required=False)


def check_members_count(site: CallSite) -> Mapping[int | str, Any] | None:
    """Load-time check of ``community.members_count()``: the window is required."""
    return _check(site, window_required=True)


#: ``community.<name>(...)`` methods of expressions.
COMMUNITY_METHODS: dict[str, FunctionSpec] = {
    "count": FunctionSpec(
        "community.count",
        fn_community_count,
        ("type", "within", "channel"),
        1,
        check=check_community_count,
        doc="the community's events of a type in a window (or ever), optionally of one channel",
    ),
    "members_count": FunctionSpec(
        "community.members_count",
        fn_members_count,
        ("type", "within", "channel"),
        2,
        check=check_members_count,
        doc="how many distinct members had an event of a type in the window",
    ),
}
