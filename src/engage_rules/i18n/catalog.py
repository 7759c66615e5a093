"""Build and check the translation catalog (a maintainer's tool; needs Babel, from the
``dev`` extra).

``python -m engage_rules.i18n.catalog`` merges the PO part files of every language
(``engage_rules/i18n/po/<lang>/*.po``, one per area of the code) and compiles them into
``engage_rules/locale/<lang>/LC_MESSAGES/engage_rules.mo``, the catalog the package ships.
``--check`` compiles nothing: it lists every message marked in the source (``_()``,
``N_()``, ``ngettext()``) that a language lacks, every translation whose ``{placeholders}``
differ from its message's, translations of messages the source no longer has (but in
``stdlib-*.po``, which translate the standard library's own messages, argparse's), a msgid
translated differently by two part files, and a compiled catalog older than its parts.
It exits 1 when it found any.  The test suite runs the same check
(tests/test_i18n_catalog.py).
"""

from __future__ import annotations

import argparse
import re
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import DOMAIN, LOCALE_DIR

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PO_DIR = Path(__file__).resolve().parent / "po"
#: The marking functions: name → the argument positions of the message(s).
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
_FIELD = re.compile(r"\{([^{}!:]*)[^{}]*\}|%\((\w+)\)[sdrif]")

#: A message id: the text, or (singular, plural) for a message with plural forms.
MsgId = str | tuple[str, str]
#: A translation: the text, or one text per plural form.
MsgStr = str | tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """One translation read from a part file, and where (``file:line``)."""

    msgid: MsgId
    msgstr: MsgStr
    where: str


def placeholders(text: str) -> frozenset[str]:
    """The names of a text's ``{name}`` and ``%(name)s`` placeholders (``{{`` escapes
    are not placeholders)."""
    names = set()
    for match in _FIELD.finditer(text.replace("{{", "").replace("}}", "")):
        names.add(match.group(1) if match.group(1) is not None else match.group(2))
    return frozenset(names)


def read_parts(lang: str) -> list[Entry]:
    """Every translated entry of ``lang``'s part files (the header entry excluded)."""
    from babel.messages.pofile import read_po  # noqa: PLC0415 (a dev-only dependency)

    entries: list[Entry] = []
    for path in sorted((PO_DIR / lang).glob("*.po")):
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=lang.replace("-", "_"))
        for message in catalog:
            if not message.id:
                continue
            msgid: MsgId = (
                (message.id[0], message.id[1])
                if isinstance(message.id, (list, tuple))
                else message.id
            )
            msgstr: MsgStr = (
                tuple(t or "" for t in message.string)
                if isinstance(message.string, (list, tuple))
                else message.string or ""
            )
            line = message.lineno if message.lineno is not None else 0
            entries.append(Entry(msgid, msgstr, f"{path.name}:{line}"))
    return entries


def extract() -> dict[MsgId, str]:
    """Every message marked in the package's source → where it is first marked."""
    from babel.messages.extract import extract_from_dir  # noqa: PLC0415 (dev-only)

    found: dict[MsgId, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE_DIR),
        method_map=[("**.py", "python")],
        keywords=KEYWORDS,
        # Babel's default skips every folder whose name starts with "_" (``_util``).
        directory_filter=lambda path: not Path(path).name.startswith((".", "__")),
    ):
        msgid: MsgId = (message[0], message[1]) if isinstance(message, tuple) else message
        if msgid and msgid not in found:
            found[msgid] = f"{filename}:{lineno}"
    return found


def merged(entries: Iterable[Entry]) -> tuple[dict[MsgId, MsgStr], list[str]]:
    """One translation per msgid, and the conflicts between part files."""
    table: dict[MsgId, Entry] = {}
    conflicts: list[str] = []
    for entry in entries:
        seen = table.get(entry.msgid)
        if seen is not None and seen.msgstr != entry.msgstr:
            conflicts.append(
                f"{entry.where}: {entry.msgid!r} is translated differently in {seen.where}"
            )
        table.setdefault(entry.msgid, entry)
    return {k: e.msgstr for k, e in table.items()}, conflicts


HEADER = (
    "Project-Id-Version: engage-rules\n"
    "Language: {lang}\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "Plural-Forms: nplurals=1; plural=0;\n"
)


def mo_bytes(lang: str, table: dict[MsgId, MsgStr]) -> bytes:
    """The GNU .mo file of ``table`` (deterministic: sorted, no dates)."""
    pairs: list[tuple[bytes, bytes]] = [(b"", HEADER.format(lang=lang).encode())]
    for msgid, msgstr in table.items():
        if isinstance(msgid, tuple):
            key = "\0".join(msgid)
            value = "\0".join(msgstr) if isinstance(msgstr, tuple) else msgstr
        else:
            key = msgid
            value = msgstr if isinstance(msgstr, str) else msgstr[0]
        if value:
            pairs.append((key.encode(), value.encode()))
    pairs.sort()
    n = len(pairs)
    ids = b"".join(k + b"\0" for k, _v in pairs)
    strs = b"".join(v + b"\0" for _k, v in pairs)
    start = 7 * 4 + 16 * n
    id_table, str_table = [], []
    offset = 0
    for k, _v in pairs:
        id_table += [len(k), start + offset]
        offset += len(k) + 1
    for _k, v in pairs:
        str_table += [len(v), start + offset]
        offset += len(v) + 1
    head = struct.pack("Iiiiiii", 0x950412DE, 0, n, 7 * 4, 7 * 4 + 8 * n, 0, 0)
    return (
        head
        + struct.pack(f"{2 * n}i", *id_table)
        + struct.pack(f"{2 * n}i", *str_table)
        + ids
        + strs
    )


def mo_path(lang: str) -> Path:
    """Where ``lang``'s compiled catalog is."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def languages() -> list[str]:
    """The languages that have part files."""
    return sorted(p.name for p in PO_DIR.iterdir() if p.is_dir())


def compile_all() -> list[Path]:
    """Compile every language's part files; returns the catalogs written."""
    written = []
    for lang in languages():
        table, conflicts = merged(read_parts(lang))
        if conflicts:
            raise SystemExit("\n".join(conflicts))
        path = mo_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(mo_bytes(lang, table))
        written.append(path)
    return written


def check() -> list[str]:
    """Every problem of the catalogs against the source (empty: all is well)."""
    problems: list[str] = []
    marked = extract()
    for lang in languages():
        entries = read_parts(lang)
        table, conflicts = merged(entries)
        problems += conflicts
        for msgid, where in marked.items():
            msgstr = table.get(msgid)
            texts = msgstr if isinstance(msgstr, tuple) else (msgstr,)
            if msgstr is None or not all(texts):
                problems.append(f"{where}: no {lang} translation of {msgid!r}")
                continue
            ids = msgid if isinstance(msgid, tuple) else (msgid,)
            wanted = frozenset().union(*(placeholders(t) for t in ids))
            for text in texts:
                assert text is not None
                if placeholders(text) != wanted:
                    problems.append(
                        f"{where}: the {lang} translation of {msgid!r} has the placeholders "
                        f"{sorted(placeholders(text))}, the message {sorted(wanted)}"
                    )
        for entry in entries:
            if entry.msgid not in marked and not entry.where.startswith("stdlib-"):
                problems.append(f"{lang}/{entry.where}: {entry.msgid!r} is no longer in the source")
        path = mo_path(lang)
        if not path.exists() or path.read_bytes() != mo_bytes(lang, table):
            problems.append(f"{path}: out of date; run python -m engage_rules.i18n.catalog")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Compile the catalogs, or ``--check`` them."""
    parser = argparse.ArgumentParser(prog="python -m engage_rules.i18n.catalog")
    parser.add_argument("--check", action="store_true", help="check, compile nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1 if problems else 0
    for path in compile_all():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
