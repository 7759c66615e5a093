"""Word lists kept in files next to the playbook (``vars: {banned: {file: banned.txt}}``).

A ``vars`` entry that is a mapping with the single key ``file`` is replaced, at load
time, by the list of words in that file, so ``contains_any(event.data.text,
vars.banned)`` compiles the file's words into one matcher, exactly as if they were
written in the playbook.

The file format is plain UTF-8 text, one word or phrase per line; leading and trailing
whitespace is ignored, as are empty lines and lines starting with ``#``.  The path is
relative to the YAML file that declares the entry and must stay inside that file's
folder (no absolute paths, no ``..`` escaping it, symbolic links resolved), so a
playbook cannot read arbitrary files of the machine that loads it.  Limits:
:data:`MAX_FILE_BYTES` and :data:`MAX_WORDS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import FileTooLarge, NotRegularFile
from ..i18n import _
from .yaml_source import read_limited

__all__ = ["MAX_FILE_BYTES", "MAX_WORDS", "is_file_ref", "read_word_list"]

#: Largest word-list file accepted.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Most words one file may hold.
MAX_WORDS = 200_000


def is_file_ref(value: Any) -> bool:
    """True for a ``vars`` entry naming a word-list file: ``{file: path}``."""
    return isinstance(value, dict) and list(value) == ["file"]


def read_word_list(declared_in: str | Path, ref: Any) -> list[str]:
    """The words of the file ``ref`` names, relative to the YAML file ``declared_in``.

    Raises ValueError with a message for the operator when the reference or the file is
    not acceptable.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise ValueError(_("`file:` takes the path of a word-list file, e.g. `file: banned.txt`"))
    if "\x00" in ref:
        raise ValueError(_("the word-list path contains a NUL character"))
    rel = Path(ref)
    if rel.is_absolute() or ref.startswith(("/", "\\")) or (len(ref) > 1 and ref[1] == ":"):
        raise ValueError(
            _("word-list path {ref!r} must be relative to the playbook file that names it").format(
                ref=ref
            )
        )
    declared = Path(declared_in)
    folder = (declared.parent if not declared.is_dir() else declared).resolve()
    path = (folder / rel).resolve()
    if not path.is_relative_to(folder):
        raise ValueError(
            _("word-list path {ref!r} leads outside the playbook's folder ({folder})").format(
                ref=ref, folder=folder
            )
        )
    try:
        raw = read_limited(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise ValueError(
            _("word-list file {ref!r} not found (looked for {path})").format(ref=ref, path=path)
        ) from None
    except NotRegularFile:
        raise ValueError(_("word-list path {ref!r} is not a file").format(ref=ref)) from None
    except FileTooLarge as err:
        raise ValueError(
            _("word-list file {ref!r} is {size} bytes; the limit is {limit}").format(
                ref=ref, size=f"{err.size:,}", limit=f"{MAX_FILE_BYTES:,}"
            )
        ) from None
    except OSError as err:
        raise ValueError(
            _("word-list file {ref!r} cannot be read: {reason}").format(
                ref=ref, reason=err.strerror or err
            )
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ValueError(
            _("word-list file {ref!r}: line {line} is not valid UTF-8").format(ref=ref, line=line)
        ) from None
    words: list[str] = []
    for row in text.splitlines():
        word = row.strip()
        if word and not word.startswith("#"):
            words.append(word)
    if len(words) > MAX_WORDS:
        raise ValueError(
            _("word-list file {ref!r} holds {n} words; the limit is {limit}").format(
                ref=ref, n=f"{len(words):,}", limit=f"{MAX_WORDS:,}"
            )
        )
    return words
