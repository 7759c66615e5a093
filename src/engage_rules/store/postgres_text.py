"""Text PostgreSQL cannot hold: the NUL character.

Ids, member ids, communities and event types come from outside and may contain NUL,
which SQLite stores and PostgreSQL's ``text`` refuses.  :func:`use_escaped_text` makes a
connection write every string with NUL escaped, injectively, and read it back as it
was: ``\\x01`` is written ``\\x01\\x01`` and NUL ``\\x01\\x02`` (JSON texts never hold
either raw: orjson escapes control characters, so they pass unchanged).  Only strings
holding one of the two characters are rewritten; comparisons and ``COLLATE "C"`` order
stay those of the original strings except between such strings.
"""

from __future__ import annotations

import re

import psycopg
from psycopg.types.string import StrBinaryDumper, StrDumperUnknown, TextBinaryLoader, TextLoader

_ESCAPED = re.compile("\x01([\x01\x02])")


def escape(text: str) -> str:
    """``text`` as the database holds it."""
    if "\x00" in text or "\x01" in text:
        return text.replace("\x01", "\x01\x01").replace("\x00", "\x01\x02")
    return text


def unescape(text: str) -> str:
    """The string the database's ``text`` stands for (the inverse of :func:`escape`)."""
    if "\x01" in text:
        return _ESCAPED.sub(lambda m: "\x01" if m.group(1) == "\x01" else "\x00", text)
    return text


class _Dumper(StrDumperUnknown):
    def dump(self, obj: str) -> bytes | bytearray | memoryview | None:
        return escape(obj).encode()


class _BinaryDumper(StrBinaryDumper):
    def dump(self, obj: str) -> bytes | bytearray | memoryview | None:
        return escape(obj).encode()


class _Loader(TextLoader):
    def load(self, data: bytes | bytearray | memoryview) -> bytes | str:
        return unescape(str(data, "utf-8"))


class _BinaryLoader(TextBinaryLoader):
    def load(self, data: bytes | bytearray | memoryview) -> bytes | str:
        return unescape(str(data, "utf-8"))


def use_escaped_text(conn: psycopg.Connection) -> None:
    """Make ``conn`` (whose client encoding is UTF-8) escape the strings it writes and
    unescape the text it reads."""
    adapters = conn.adapters
    adapters.register_dumper(str, _Dumper)
    adapters.register_dumper(str, _BinaryDumper)
    for name in ("text", "varchar"):
        adapters.register_loader(name, _Loader)
        adapters.register_loader(name, _BinaryLoader)
