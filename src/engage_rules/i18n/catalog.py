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

``--package DIR`` does the same for a plugin's own catalog (docs/plugins.md, "Speaking
the operator's language"): the package folder ``DIR`` (e.g.
``plugins/engage-rules-telegram/src/engage_rules_telegram``) holds its part files in
``po/<lang>/*.po`` and gets ``locale/<lang>/LC_MESSAGES/<domain>.mo``, the domain being
the folder's name (``--domain`` to choose another); its messages are those marked in
``DIR``'s source with ``_()``, ``N_()`` or ``ngettext()`` (the plugin's translator,
``engage_rules.plugin_api.translator``, and its ``ngettext``/``N_`` methods).
"""

from __future__ import annotations

import argparse
import re
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import DOMAIN, LOCALE_DIR

PACKAGE_DIR = Path(__file__).resolve().parent.parent
PO_DIR = Path(__file__).resolve().parent / "po"
#: The marking functions: name → the argument positions of the message(s) (a plugin's
#: translator marks with ``_.ngettext``/``_.N_`` too: Babel matches the last name).
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


@dataclass(frozen=True)
class Domain:
    """One gettext catalog: the package whose source marks its messages, the folder of
    its PO part files (``<po_dir>/<lang>/*.po``) and where its compiled catalogs go
    (``<locale_dir>/<lang>/LC_MESSAGES/<name>.mo``)."""

    name: str
    package_dir: Path
    po_dir: Path
    locale_dir: Path
    #: Part-file name prefixes whose messages need not be in the source.
    foreign_prefixes: tuple[str, ...] = field(default=("stdlib-",))

    @classmethod
    def plugin(cls, package_dir: str | Path, name: str | None = None) -> Domain:
        """A plugin's catalog: ``<package>/po`` compiled into ``<package>/locale``."""
        folder = Path(package_dir).resolve()
        return cls(name or folder.name, folder, folder / "po", folder / "locale", ())


#: engage_rules' own catalog.
CORE = Domain(DOMAIN, PACKAGE_DIR, PO_DIR, LOCALE_DIR)
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


def read_parts(lang: str, domain: Domain = CORE) -> list[Entry]:
    """Every translated entry of ``lang``'s part files (the header entry excluded)."""
    from babel.messages.pofile import read_po  # noqa: PLC0415 (a dev-only dependency)

    entries: list[Entry] = []
    for path in sorted((domain.po_dir / lang).glob("*.po")):
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


def extract(domain: Domain = CORE) -> dict[MsgId, str]:
    """Every message marked in the package's source → where it is first marked."""
    from babel.messages.extract import extract_from_dir  # noqa: PLC0415 (dev-only)

    found: dict[MsgId, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(domain.package_dir),
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


def mo_path(lang: str, domain: Domain = CORE) -> Path:
    """Where ``lang``'s compiled catalog is."""
    return domain.locale_dir / lang / "LC_MESSAGES" / f"{domain.name}.mo"


def languages(domain: Domain = CORE) -> list[str]:
    """The languages that have part files."""
    if not domain.po_dir.is_dir():
        return []
    return sorted(p.name for p in domain.po_dir.iterdir() if p.is_dir())


def compile_all(domain: Domain = CORE) -> list[Path]:
    """Compile every language's part files; returns the catalogs written."""
    written = []
    for lang in languages(domain):
        table, conflicts = merged(read_parts(lang, domain))
        if conflicts:
            raise SystemExit("\n".join(conflicts))
        path = mo_path(lang, domain)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(mo_bytes(lang, table))
        written.append(path)
    return written


def check(domain: Domain = CORE) -> list[str]:
    """Every problem of the catalogs against the source (empty: all is well)."""
    problems: list[str] = []
    marked = extract(domain)
    langs = languages(domain)
    if not langs:
        return [f"{domain.po_dir}: no part files (<lang>/*.po)"]
    for lang in langs:
        entries = read_parts(lang, domain)
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
            if entry.msgid not in marked and not entry.where.startswith(domain.foreign_prefixes):
                problems.append(f"{lang}/{entry.where}: {entry.msgid!r} is no longer in the source")
        path = mo_path(lang, domain)
        if not path.exists() or path.read_bytes() != mo_bytes(lang, table):
            again = "" if domain == CORE else f" --package {domain.package_dir}"
            problems.append(f"{path}: out of date; run python -m engage_rules.i18n.catalog{again}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Compile the catalogs, or ``--check`` them."""
    parser = argparse.ArgumentParser(prog="python -m engage_rules.i18n.catalog")
    parser.add_argument("--check", action="store_true", help="check, compile nothing")
    parser.add_argument(
        "--package",
        metavar="DIR",
        help="a plugin's package folder: its po/<lang>/*.po compiled into its locale/",
    )
    parser.add_argument(
        "--domain", metavar="NAME", help="with --package: the catalog's name (default: DIR's)"
    )
    args = parser.parse_args(argv)
    if args.domain and not args.package:
        parser.error("--domain needs --package")
    domain = CORE if args.package is None else Domain.plugin(args.package, args.domain)
    if args.package is not None and not domain.package_dir.is_dir():
        parser.error(f"--package {args.package}: no such folder")
    if args.check:
        problems = check(domain)
        for problem in problems:
            print(problem)
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1 if problems else 0
    for path in compile_all(domain):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
