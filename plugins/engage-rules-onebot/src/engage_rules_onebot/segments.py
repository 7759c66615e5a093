"""OneBot v11 messages (github.com/botuniverse/onebot-11, message/): the array form and
the CQ-code string form, read into what a ``message.posted`` event carries.

A message is either an array of segments ``{"type": ..., "data": {...}}`` or a string in
which segments are written as CQ codes, ``[CQ:at,qq=10001000]``, with ``&`` ``[`` ``]``
escaped as ``&amp;`` ``&#91;`` ``&#93;`` (and ``,`` as ``&#44;`` inside a code).

:func:`read_message` returns a :class:`Content`: the text (the ``text`` segments
joined), the mentioned QQ ids (``at``; ``"all"`` for @全体成员), the message replied to
(``reply``), how many images, the face ids, and the links: URLs written in the text and
those of share cards (``share``), ``json`` cards (mini programs, link previews) and
``xml`` cards.  :func:`to_cq` writes segments back as a CQ-code string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engage_rules.plugin_api import PayloadError

from .i18n import _

_CQ = re.compile(r"\[CQ:([A-Za-z0-9_.\-]+)((?:,[^\]]*)?)\]")
_URL = re.compile(r"https?://[^\s\"'<>\[\]{}\\]+", re.IGNORECASE)
#: What a link may end with that is punctuation around it rather than part of it.
_TRAILING = ".,;:!?)）。，；：！？」』"
#: Segment kinds that make a message more than text (``data.kind`` names the first one).
MEDIA = (
    "image",
    "record",
    "video",
    "file",
    "share",
    "json",
    "xml",
    "face",
    "location",
    "music",
    "contact",
    "forward",
    "poke",
    "dice",
    "rps",
    "mface",
    "markdown",
)


def unescape(text: str) -> str:
    """CQ-code escapes back to characters (the order matters: ``&amp;`` last)."""
    return (
        text.replace("&#91;", "[").replace("&#93;", "]").replace("&#44;", ",").replace("&amp;", "&")
    )


def escape(text: str, *, in_code: bool = False) -> str:
    out = text.replace("&", "&amp;").replace("[", "&#91;").replace("]", "&#93;")
    return out.replace(",", "&#44;") if in_code else out


def parse_cq(message: str) -> list[dict[str, Any]]:
    """A CQ-code string → the array form (text between codes becomes ``text`` segments)."""
    out: list[dict[str, Any]] = []
    at = 0
    for match in _CQ.finditer(message):
        if match.start() > at:
            out.append({"type": "text", "data": {"text": unescape(message[at : match.start()])}})
        data: dict[str, Any] = {}
        for pair in match.group(2)[1:].split(",") if match.group(2) else []:
            key, sep, value = pair.partition("=")
            if sep:
                data[key] = unescape(value)
        out.append({"type": match.group(1), "data": data})
        at = match.end()
    if at < len(message):
        out.append({"type": "text", "data": {"text": unescape(message[at:])}})
    return out


def to_cq(segments: Sequence[Mapping[str, Any]]) -> str:
    """Segments written as one CQ-code string."""
    parts = []
    for seg in segments:
        data = seg.get("data") or {}
        if seg.get("type") == "text":
            parts.append(escape(str(data.get("text", ""))))
            continue
        args = "".join(f",{k}={escape(str(v), in_code=True)}" for k, v in data.items())
        parts.append(f"[CQ:{seg.get('type')}{args}]")
    return "".join(parts)


@dataclass
class Content:
    """What a message says, read from its segments."""

    text: str = ""
    mentions: list[str] = field(default_factory=list)
    reply_to: str | None = None
    images: int = 0
    faces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    kind: str = "text"


def links_in(text: str) -> list[str]:
    """The http(s) URLs written in ``text``, in order, without trailing punctuation."""
    out = []
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if len(url) > len("https://"):
            out.append(url)
    return out


def _card_links(value: Any, depth: int = 0) -> list[str]:
    """The URLs among the strings of a decoded ``json`` card (mini program, preview)."""
    if depth > 16:
        return []
    if isinstance(value, str):
        return links_in(value)
    if isinstance(value, Mapping):
        return [u for v in value.values() for u in _card_links(v, depth + 1)]
    if isinstance(value, list):
        return [u for v in value for u in _card_links(v, depth + 1)]
    return []


def _scalar(value: Any, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadError(_("expected a string or an integer"), path)
    return str(value)


def _read_segment(
    kind: str, data: Mapping[str, Any], where: str, content: Content, links: list[str]
) -> None:
    """Read one segment other than text into ``content`` (card links into ``links``)."""
    if kind == "at":
        qq = _scalar(data.get("qq"), f"{where}.data.qq")
        if qq not in content.mentions:
            content.mentions.append(qq)
    elif kind == "reply":
        content.reply_to = _scalar(data.get("id"), f"{where}.data.id")
    elif kind == "image":
        content.images += 1
    elif kind == "face":
        content.faces.append(_scalar(data.get("id"), f"{where}.data.id"))
    elif kind == "share":
        links.extend(links_in(_scalar(data.get("url"), f"{where}.data.url")))
    elif kind == "json":
        raw = data.get("data")
        try:
            links.extend(_card_links(json.loads(raw) if isinstance(raw, str) else raw))
        except (ValueError, RecursionError):
            links.extend(links_in(str(raw)))
    elif kind == "xml":
        links.extend(links_in(str(data.get("data", ""))))


def read_message(message: Any, path: str = "message") -> Content:
    """A message (array or CQ string) → :class:`Content`.  Raises :class:`PayloadError`
    naming the segment that cannot be read."""
    if isinstance(message, str):
        segments: Sequence[Any] = parse_cq(message)
    elif isinstance(message, list):
        segments = message
    else:
        raise PayloadError(_("expected a message: an array of segments or a string"), path)
    content = Content()
    text: list[str] = []
    links: list[str] = []
    for i, seg in enumerate(segments):
        where = f"{path}[{i}]"
        if not isinstance(seg, Mapping) or not isinstance(seg.get("type"), str):
            raise PayloadError(_("expected a segment object with a string `type`"), where)
        data = seg.get("data")
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise PayloadError(_("expected an object"), f"{where}.data")
        kind = seg["type"]
        if kind == "text":
            value = data.get("text", "")
            if not isinstance(value, str):
                raise PayloadError(_("expected a string"), f"{where}.data.text")
            text.append(value)
        else:
            _read_segment(kind, data, where, content, links)
        if content.kind == "text" and kind in MEDIA:
            content.kind = kind
    content.text = "".join(text)
    content.links = list(dict.fromkeys(links_in(content.text) + links))
    return content


__all__ = ["Content", "escape", "links_in", "parse_cq", "read_message", "to_cq", "unescape"]
