"""A safe YAML 1.2 (core schema) reader that remembers where every value came from.

PyYAML implements YAML 1.1, whose implicit typing turns ``on:``, ``yes`` and ``no`` into
booleans and ``1:30`` into a number, and whose loaders construct arbitrary tagged objects.
This module uses only PyYAML's parser (text → events; libyaml's when available) and does
the rest itself (docs/language.md, "Loading"):

* plain scalars are typed by the YAML 1.2 core schema: only ``true``/``false`` are
  booleans, ``null``/``~``/empty is null, ints are decimal, ``0o`` octal or ``0x`` hex;
* explicit tags outside the core schema (``!!python/...``, ``!!binary``, ``!custom``…)
  are rejected, as are duplicate mapping keys, merge keys and more than one document;
* aliases are expanded with a budget: the nodes they add are counted on the composed
  graph *before* anything is built, so an alias bomb is rejected at once;
* files are limited in size and nesting depth, and only regular files are read (a FIFO
  or a device such as ``/dev/zero`` is refused before it is opened);
* every mapping key, mapping value and sequence item gets a 1-based ``(line, col)``.

Problems are collected as :class:`~engage_rules.errors.Problem` values rather than raised,
so that a caller can report every problem of every file at once.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml
from yaml import events as ev
from yaml.error import MarkedYAMLError, YAMLError
from yaml.reader import ReaderError

from ..errors import FileTooLarge as FileTooLarge
from ..errors import NotRegularFile as NotRegularFile
from ..errors import Path, PlaybookError, Problem
from ..i18n import N_, _
from .yaml_words import yaml_words

#: The largest file read, in bytes, checked before parsing.
MAX_FILE_BYTES = 1 << 20
#: The most nodes that aliases may add to one document when expanded.
MAX_ALIAS_NODES = 10_000
#: The deepest nesting of mappings and sequences (after alias expansion).
MAX_DEPTH = 100
#: The most digits of an integer (Python's default conversion limit, applied here
#: whatever the interpreter is configured with).
MAX_INT_DIGITS = 4300

Pos = tuple[int, int]

#: Only the parser (text -> events) of this loader class is used: libyaml's when PyYAML
#: was built with it (same marks, much faster), else PyYAML's pure-Python one.
_EVENT_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_CORE = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null"))
_SEQ, _MAP = f"{_CORE}seq", f"{_CORE}map"
_SCALAR_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL})

_NULL_RE = re.compile(r"^(?:null|Null|NULL|~|)$")
_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_BOOL_WORDS_11 = frozenset(
    w for base in ("yes", "no", "on", "off", "y", "n") for w in (base, base.title(), base.upper())
)


@dataclass
class YamlDocument:
    """One parsed YAML file: plain data, positions and the problems found.

    ``positions`` maps a path (``("rules", 0, "if")``) to the 1-based ``(line, col)`` of
    the value at that path; ``key_positions`` maps the same path to the position of the
    mapping key that introduced it.  ``invalid`` holds the paths whose value was replaced
    by ``None`` because of a problem (a bad tag or scalar), so that callers can avoid
    reporting follow-on errors there.  ``fatal`` is true when the file could not be read
    or parsed at all (``data`` is then ``None``).
    """

    file: str
    data: Any = None
    positions: dict[Path, Pos] = field(default_factory=dict)
    key_positions: dict[Path, Pos] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    invalid: set[Path] = field(default_factory=set)
    fatal: bool = False

    def raise_if_problems(self) -> None:
        if self.problems:
            raise PlaybookError(self.problems)


class _Node:
    """A composed node: the graph shared by aliases, before any value is built."""

    __slots__ = (
        "col",
        "depth",
        "done",
        "flow",
        "items",
        "kind",
        "line",
        "plain",
        "size",
        "tag",
        "value",
    )

    def __init__(self, kind: str, tag: str | None, line: int, col: int) -> None:
        self.kind = kind  # "scalar" | "seq" | "map" | "alias" (whose one item is the target)
        self.tag = tag
        self.line = line
        self.col = col
        self.value = ""
        self.plain = False
        self.flow = False
        self.items: list[_Node] = []  # seq items, or map keys and values alternating
        self.size = 1  # nodes after alias expansion
        self.depth = 1
        self.done = kind in ("scalar", "alias")


class _Abort(Exception):
    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line, self.col, self.message = line, col, message


def _pos(event: ev.Event) -> Pos:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


class _Composer:
    """Turns parser events into a node graph, enforcing the alias and depth budgets."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.anchors: dict[str, _Node] = {}
        self.stack: list[_Node] = []
        self.root: _Node | None = None
        self.alias_nodes = 0
        self.documents = 0

    def compose(self, events: Iterable[ev.Event]) -> _Node | None:
        for event in events:
            if isinstance(event, ev.DocumentStartEvent):
                self.documents += 1
                if self.documents > 1:
                    line, col = _pos(event)
                    raise _Abort(
                        line,
                        col,
                        _(
                            "a playbook file holds one YAML document; found a "
                            "second one here (split it into another file)"
                        ),
                    )
            elif isinstance(event, ev.AliasEvent):
                self._alias(event)
            elif isinstance(event, ev.ScalarEvent):
                line, col = _pos(event)
                node = _Node("scalar", event.tag, line, col)
                node.value = event.value
                node.plain = bool(event.implicit[0]) and not event.style  # libyaml: ""
                self._anchor(event.anchor, node)
                self._attach(node)
            elif isinstance(event, ev.CollectionStartEvent):
                line, col = _pos(event)
                if len(self.stack) >= MAX_DEPTH:
                    raise _Abort(
                        line, col, _("nesting is deeper than {n} levels").format(n=MAX_DEPTH)
                    )
                kind = "seq" if isinstance(event, ev.SequenceStartEvent) else "map"
                node = _Node(kind, event.tag, line, col)
                node.flow = bool(event.flow_style)
                self._anchor(event.anchor, node)
                self.stack.append(node)
            elif isinstance(event, ev.CollectionEndEvent):
                node = self.stack.pop()
                node.size = 1 + sum(c.size for c in node.items)
                node.depth = 1 + max((c.depth for c in node.items), default=0)
                node.done = True
                self._attach(node)
        return self.root

    def _anchor(self, anchor: str | None, node: _Node) -> None:
        if anchor is not None:
            self.anchors[anchor] = node  # YAML 1.2: a later anchor of the same name wins

    def _alias(self, event: ev.AliasEvent) -> None:
        line, col = _pos(event)
        target = self.anchors.get(event.anchor or "")
        if target is None:
            self.problems.append(
                Problem(
                    self.file, line, col, _("undefined alias '*{name}'").format(name=event.anchor)
                )
            )
            target = _Node("scalar", _NULL, line, col)
        elif not target.done:
            raise _Abort(
                line,
                col,
                _("alias '*{name}' refers to a node that contains it").format(name=event.anchor),
            )
        self.alias_nodes += target.size
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise _Abort(
                line,
                col,
                _(
                    "aliases expand to more than {n} nodes; "
                    "write the repeated parts out or use fewer aliases"
                ).format(n=MAX_ALIAS_NODES),
            )
        if len(self.stack) + target.depth > MAX_DEPTH:
            raise _Abort(line, col, _("nesting is deeper than {n} levels").format(n=MAX_DEPTH))
        alias = _Node("alias", None, line, col)
        alias.items.append(target)
        alias.size, alias.depth = target.size, target.depth
        self._attach(alias)

    def _attach(self, node: _Node) -> None:
        if not self.stack:
            self.root = node
            return
        self.stack[-1].items.append(node)


class _Builder:
    """Builds plain Python data from the node graph, recording positions."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc

    def problem(self, node: _Node, message: str) -> None:
        self.doc.problems.append(Problem(self.doc.file, node.line, node.col, message))

    def build(self, node: _Node, path: Path) -> Any:
        if node.kind == "alias":  # the copy's own position is where the alias is written
            value = self.build(node.items[0], path)
            self.doc.positions[path] = (node.line, node.col)
            return value
        self.doc.positions[path] = (node.line, node.col)
        if node.kind == "scalar":
            before = len(self.doc.problems)
            value = self.scalar(node)
            if len(self.doc.problems) > before:
                self.doc.invalid.add(path)
            return value
        expected = _SEQ if node.kind == "seq" else _MAP
        if node.tag not in (None, "!", expected):
            self.bad_tag(node)
            self.doc.invalid.add(path)
            return None
        if node.kind == "seq":
            return [self.build(item, (*path, i)) for i, item in enumerate(node.items)]
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_ref, value_node in zip(node.items[::2], node.items[1::2], strict=True):
            key_node = key_ref.items[0] if key_ref.kind == "alias" else key_ref
            if key_node.kind != "scalar":
                hint = (
                    _(' (a value that starts with `{{` must be quoted: "{{ ... }}")')
                    if key_node.kind == "map" and key_node.flow
                    else ""
                )
                text = (
                    _("a mapping key must be a plain value, not a mapping{hint}")
                    if key_node.kind == "map"
                    else _("a mapping key must be a plain value, not a list{hint}")
                )
                self.problem(key_ref, text.format(hint=hint))
                continue
            before = len(self.doc.problems)
            key = self.scalar(key_node)
            if len(self.doc.problems) > before:  # a key with a bad tag or value
                continue
            if key == "<<" and key_node.plain and key_node.tag is None:
                self.problem(
                    key_ref, _("merge keys (`<<:`) are not part of YAML 1.2; write the keys out")
                )
                continue
            if key in first_line:  # (1 and true are the same key to Python)
                shown = repr(key) if isinstance(key, str) else key_node.value
                self.problem(
                    key_ref,
                    _("duplicate key {key} (first defined at line {line})").format(
                        key=shown, line=first_line[key]
                    ),
                )
                continue
            first_line[key] = key_ref.line
            self.doc.key_positions[(*path, key)] = (key_ref.line, key_ref.col)
            result[key] = self.build(value_node, (*path, key))
        return result

    def bad_tag(self, node: _Node) -> None:
        tag = node.tag or ""
        if tag in (_SEQ, _MAP) or (tag in _SCALAR_TAGS and node.kind != "scalar"):
            self.problem(
                node,
                {
                    "seq": _("tag {tag} does not fit this list"),
                    "map": _("tag {tag} does not fit this mapping"),
                }.get(node.kind, _("tag {tag} does not fit this value")).format(tag=_show_tag(tag)),
            )
            return
        self.problem(
            node,
            _(
                "tag {tag} is not allowed; only the YAML 1.2 core tags "
                "!!str, !!int, !!float, !!bool, !!null, !!map and !!seq may be used"
            ).format(tag=_show_tag(tag)),
        )

    def scalar(self, node: _Node) -> Any:
        text, tag = node.value, node.tag
        if tag is None:
            tag = _resolve_plain(text) if node.plain else _STR
        elif tag == "!":
            tag = _STR
        if tag not in _SCALAR_TAGS:
            self.bad_tag(node)
            return None
        try:
            return _convert(tag, text)
        except ValueError as exc:
            self.problem(node, str(exc))
            return None


def _resolve_plain(text: str) -> str:
    if _NULL_RE.match(text):
        return _NULL
    if _BOOL_RE.match(text):
        return _BOOL
    if _INT_RE.match(text):
        return _INT
    if _FLOAT_RE.match(text):
        return _FLOAT
    return _STR


def _convert(tag: str, text: str) -> Any:
    if tag == _STR:
        return text
    if tag == _NULL:
        if not _NULL_RE.match(text):
            raise ValueError(_("{text!r} is not a valid !!null (use null or ~)").format(text=text))
        return None
    if tag == _BOOL:
        if not _BOOL_RE.match(text):
            hint = (
                _(" (in YAML 1.2 only true and false are booleans)")
                if text in _BOOL_WORDS_11
                else ""
            )
            raise ValueError(_("{text!r} is not a valid !!bool{hint}").format(text=text, hint=hint))
        return text.lower() == "true"
    if tag == _INT:
        if not _INT_RE.match(text):
            raise ValueError(_("{text!r} is not a valid !!int").format(text=text[:40]))
        based = text.startswith(("0o", "0x"))
        digits = text[2:] if based else text.lstrip("+-")
        if len(digits) > MAX_INT_DIGITS:  # (checked here: not left to the interpreter)
            raise ValueError(
                _("the number {text}… has too many digits (the limit is {n})").format(
                    text=text[:20], n=MAX_INT_DIGITS
                )
            )
        return int(digits, 8 if text[1] == "o" else 16) if based else int(text, 10)
    if not (_FLOAT_RE.match(text) or _INT_RE.match(text)):
        raise ValueError(_("{text!r} is not a valid !!float").format(text=text))
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    if text.startswith(("0o", "0x")):
        return float(int(text[2:], 8 if text[1] == "o" else 16))
    return float(text)


def _line_col(text: str, index: int) -> Pos:
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _syntax_message(err: MarkedYAMLError) -> str:
    what = yaml_words(err.problem or err.context or "") or _("invalid document")
    if err.problem and err.context:
        where, context = err.context_mark, yaml_words(err.context)
        if where:
            return _(
                "YAML syntax error: {problem} ({context} at line {line}, column {col})"
            ).format(problem=what, context=context, line=where.line + 1, col=where.column + 1)
        return _("YAML syntax error: {problem} ({context})").format(problem=what, context=context)
    return _("YAML syntax error: {problem}").format(problem=what)


def parse_yaml_text(text: str, filename: str = "<string>") -> YamlDocument:
    """Parse one YAML document with the rules above; never raises for bad input."""
    doc = YamlDocument(filename)
    doc.positions[()] = (1, 1)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        doc.problems.append(
            Problem(
                filename,
                1,
                1,
                _("file is too large ({size} bytes; the limit is {limit} bytes)").format(
                    size=size, limit=MAX_FILE_BYTES
                ),
            )
        )
        doc.fatal = True
        return doc
    composer = _Composer(filename)
    try:
        root = composer.compose(yaml.parse(text, Loader=_EVENT_LOADER))
    except _Abort as abort:
        root = None
        doc.problems.append(Problem(filename, abort.line, abort.col, abort.message))
    except MarkedYAMLError as err:
        root = None
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        doc.problems.append(Problem(filename, line, col, _syntax_message(err)))
    except ReaderError as err:
        root = None
        char = err.character if isinstance(err.character, str) else chr(err.character)
        index = text.find(char)  # the reader stops at the first one (libyaml counts bytes)
        line, col = _line_col(text, index if index >= 0 else err.position)
        doc.problems.append(
            Problem(
                filename,
                line,
                col,
                _("the file contains a character that YAML does not allow ({code})").format(
                    code=f"{ord(char):#06x}"
                ),
            )
        )
    except YAMLError as err:  # any other parser failure
        root = None
        doc.problems.append(Problem(filename, 1, 1, _("YAML error: {error}").format(error=err)))
    doc.problems.extend(composer.problems)
    if root is None:
        doc.fatal = bool(doc.problems)
        return doc
    doc.data = _Builder(doc).build(root, ())
    return doc


_KINDS = (
    (stat.S_ISDIR, N_("a folder")),
    (stat.S_ISFIFO, N_("a named pipe (FIFO)")),
    (stat.S_ISCHR, N_("a character device")),
    (stat.S_ISBLK, N_("a block device")),
    (stat.S_ISSOCK, N_("a socket")),
)


def _not_regular(mode: int) -> str | None:
    """Why a file of this mode cannot be read as a playbook file, or None."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _KINDS if test(mode)), N_("not a regular file"))
    return _("{kind}, not a regular file: refusing to read it").format(kind=_(kind))


def read_limited(path: str | FsPath, limit: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Never blocks and never reads without end: anything but a regular file (a FIFO, a
    device such as ``/dev/zero``, a socket) is refused before it is opened (and again,
    from the opened descriptor, in case it was swapped in between), and a file that
    grows past ``limit`` while it is read is refused.  Raises :class:`FileTooLarge`,
    :class:`NotRegularFile` or OSError.
    """
    info = os.stat(path)
    why = _not_regular(info.st_mode)
    if why is not None:
        raise NotRegularFile(why)
    if info.st_size > limit:
        raise FileTooLarge(info.st_size, limit)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as f:
        why = _not_regular(os.fstat(fd).st_mode)
        if why is not None:
            raise NotRegularFile(why)
        raw = f.read(limit + 1)
    if len(raw) > limit:
        raise FileTooLarge(len(raw), limit)
    return raw


def read_yaml_file(path: str | FsPath, filename: str | None = None) -> YamlDocument:
    """Read and parse a file (UTF-8, at most :data:`MAX_FILE_BYTES`, a regular file:
    see :func:`read_limited`); never raises for bad input.

    ``filename`` is the name used in problems (default: the path as given).
    """
    path = FsPath(path)
    name = str(path) if filename is None else filename
    try:
        raw = read_limited(path, MAX_FILE_BYTES)
    except NotRegularFile as exc:
        return _fatal(name, str(exc), 0, 0)
    except FileTooLarge as exc:
        return _fatal(
            name,
            _("file is too large ({size} bytes; the limit is {limit} bytes)").format(
                size=exc.size, limit=exc.limit
            ),
        )
    except OSError as exc:
        return _fatal(
            name, _("cannot read file: {reason}").format(reason=exc.strerror or exc), 0, 0
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        return _fatal(
            name, _("file is not valid UTF-8 (byte 0x{byte})").format(byte=bad), line, col
        )
    return parse_yaml_text(text, name)


def _fatal(name: str, message: str, line: int = 1, col: int = 1) -> YamlDocument:
    return YamlDocument(
        name, positions={(): (1, 1)}, problems=[Problem(name, line, col, message)], fatal=True
    )


def safe_load(text: str, filename: str = "<string>") -> Any:
    """Parse YAML text to plain data, raising :class:`PlaybookError` on any problem."""
    doc = parse_yaml_text(text, filename)
    doc.raise_if_problems()
    return doc.data


def safe_load_file(path: str | FsPath, filename: str | None = None) -> Any:
    """Read a YAML file to plain data, raising :class:`PlaybookError` on any problem."""
    doc = read_yaml_file(path, filename)
    doc.raise_if_problems()
    return doc.data
