"""What a member's Discord message says, as event data: the text (a forward's text is the
forwarded message's), every URL (visible, in embeds, in link buttons), whether and from
where it was forwarded, attachments, the sticker and the message replied to."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from engage_rules.plugin_api import PayloadError

from .fields import add_link, integer, kind_of, obj, snowflake, string, user

#: ``message_reference.type`` of a forward (0, or absent, is a reply's reference).
FORWARD = 1
#: Component type of a button (``url`` set on link buttons).
BUTTON = 2
#: How deep components nest (action rows, containers, sections) and how many are read.
_COMPONENT_DEPTH = 4
_COMPONENT_LIMIT = 200
#: Discord links what starts with http:// or https:// (up to a space or ``<>``); the
#: punctuation a sentence puts after a URL is not part of it.
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,:;!?'\")]}"


def _array(value: Any, path: str) -> Sequence[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"expected an array, got {kind_of(value)}", path)
    return value


def visible_links(text: str, links: list[str]) -> None:
    for m in _URL.finditer(text):
        add_link(links, m.group(0).rstrip(_TRAILING), "content")


def _components(value: Any, path: str, depth: int = 0) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Every component object (rows, containers and sections walked into)."""
    for i, raw in enumerate(_array(value, path)[:_COMPONENT_LIMIT]):
        where = f"{path}[{i}]"
        c = obj(raw, where)
        yield c, where
        if depth < _COMPONENT_DEPTH:
            for key in ("components", "accessory"):
                child = c.get(key)
                if isinstance(child, Mapping):
                    yield from _components([child], f"{where}.{key}", depth + 1)
                elif child is not None:
                    yield from _components(child, f"{where}.{key}", depth + 1)


def _content_links(m: Mapping[str, Any], path: str, text: str, links: list[str]) -> None:
    """URLs of one message (or snapshot): its text, its embeds' ``url`` and
    ``author.url``, and its link buttons."""
    visible_links(text, links)
    for i, raw in enumerate(_array(m.get("embeds"), f"{path}.embeds")):
        where = f"{path}.embeds[{i}]"
        embed = obj(raw, where)
        if embed.get("url") is not None:
            add_link(links, embed["url"], f"{where}.url")
        if embed.get("author") is not None:
            author = obj(embed["author"], f"{where}.author")
            if author.get("url") is not None:
                add_link(links, author["url"], f"{where}.author.url")
    for c, where in _components(m.get("components"), f"{path}.components"):
        if c.get("type") == BUTTON and c.get("url") is not None:
            add_link(links, c["url"], f"{where}.url")


def _sticker(m: Mapping[str, Any], path: str) -> dict[str, Any] | None:
    items = _array(m.get("sticker_items"), f"{path}.sticker_items")
    if not items:
        return None
    s = obj(items[0], f"{path}.sticker_items[0]")
    out: dict[str, Any] = {"id": snowflake(s.get("id"), f"{path}.sticker_items[0].id")}
    if s.get("name") is not None:
        out["name"] = string(s["name"], f"{path}.sticker_items[0].name")
    return out


def message_data(d: Mapping[str, Any], path: str, kind: int) -> dict[str, Any]:
    """The ``data`` of a ``message.posted`` / ``message.edited`` event for the message
    object ``d`` (of message type ``kind``)."""
    message_id = snowflake(d.get("id"), f"{path}.id")
    content = string(d.get("content"), f"{path}.content")
    reference = d.get("message_reference")
    ref = obj(reference, f"{path}.message_reference") if reference is not None else {}
    ref_type = integer(ref.get("type", 0), f"{path}.message_reference.type")
    snapshot: Mapping[str, Any] | None = None
    if ref_type == FORWARD:
        snaps = _array(d.get("message_snapshots"), f"{path}.message_snapshots")
        if snaps:
            snap = obj(snaps[0], f"{path}.message_snapshots[0]")
            snapshot = obj(snap.get("message"), f"{path}.message_snapshots[0].message")
    text = content
    links: list[str] = []
    _content_links(d, path, content, links)
    attachments = len(_array(d.get("attachments"), f"{path}.attachments"))
    sticker = _sticker(d, path)
    if snapshot is not None:
        where = f"{path}.message_snapshots[0].message"
        forwarded = string(snapshot.get("content", ""), f"{where}.content")
        text = f"{content}\n{forwarded}" if content and forwarded else content or forwarded
        _content_links(snapshot, where, forwarded, links)
        attachments += len(_array(snapshot.get("attachments"), f"{where}.attachments"))
        sticker = sticker or _sticker(snapshot, where)
    data: dict[str, Any] = {"text": text, "message_id": message_id}
    if links:
        data["links"] = links
    if attachments:
        data["attachments"] = attachments
    if sticker is not None:
        data["sticker"] = sticker
    if ref_type == FORWARD:
        data["forwarded"] = True
        origin: dict[str, Any] = {}
        for key in ("message_id", "channel_id", "guild_id"):
            if ref.get(key) is not None:
                origin[key] = snowflake(ref[key], f"{path}.message_reference.{key}")
        data["forward_origin"] = origin
    elif kind == 19 and reference is not None:
        if ref.get("message_id") is not None:
            data["reply_to"] = snowflake(ref["message_id"], f"{path}.message_reference.message_id")
        replied = d.get("referenced_message")
        if replied is not None:
            author = user(
                obj(replied, f"{path}.referenced_message").get("author"),
                f"{path}.referenced_message.author",
            )
            if not author.bot:
                data["reply_to_member"] = author.id
    return data


__all__ = ["FORWARD", "message_data", "visible_links"]
