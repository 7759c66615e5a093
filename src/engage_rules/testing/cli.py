"""The ``engage-rules`` command line run in the test's own process.

:func:`run_cli` calls :func:`engage_rules.cli.main` with the arguments, standard input
from bytes and standard output and error captured, in a working directory of the test's
choice — what a test of exit codes and output needs, without starting a Python process
for each call::

    result = run_cli("replay", "playbook.yaml", "-", stdin=b'{"id": "e1", ...}\\n')
    assert result.returncode == 0, result.stderr
    actions = result.jsonl()

Keep a real process (``subprocess``) for what only a process shows: signals, a crash
(``kill -9``), the installed console script itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plugins.registry import Registry


@dataclass(frozen=True)
class CliResult:
    """What a command did: its exit code and everything it wrote."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def jsonl(self) -> list[Any]:
        """Standard output as JSON Lines (each line one JSON value)."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


class _Stream(io.TextIOWrapper):
    """A text stream over bytes, with ``buffer`` (the CLI writes actions as bytes)."""

    def __init__(self, data: bytes = b"") -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8", newline="", write_through=True)

    def text(self) -> str:
        self.flush()
        raw = self.buffer
        assert isinstance(raw, io.BytesIO)
        return raw.getvalue().decode("utf-8", "replace")


@contextlib.contextmanager
def _environment(env: Mapping[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in env}
    try:
        for name, value in env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def run_cli(
    *args: str | Path,
    stdin: bytes | str | None = None,
    cwd: str | Path | None = None,
    env: Mapping[str, str | None] | None = None,
    registry: Registry | None = None,
) -> CliResult:
    """Run ``engage-rules ARGS...`` in this process and return what it did.

    ``stdin`` is standard input (default: empty); ``cwd`` the working directory for the
    call; ``env`` environment variables to set (``None`` removes one) for the call;
    ``registry`` the plugins (default: the installed ones, as the command has).  A
    usage error (argparse's exit) is returned as its exit code, 2.  The locale variables
    (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``) are cleared for the call unless
    ``env`` sets them, so the command speaks English unless ``--lang`` or ``env`` asks
    otherwise; the process's language is the same after the call as before it."""
    from .. import i18n  # noqa: PLC0415 (as below)
    from ..cli import main  # noqa: PLC0415 (the CLI loads its commands; the kit stays light)

    argv = [str(a) for a in args]
    data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
    out, err, inp = _Stream(), _Stream(), _Stream(data)
    with contextlib.ExitStack() as stack:
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        stack.enter_context(_environment({**dict.fromkeys(_LOCALE_VARS), **(env or {})}))
        stack.callback(i18n.set_language, i18n.current_language())
        saved = sys.stdin, sys.stdout, sys.stderr
        sys.stdin, sys.stdout, sys.stderr = inp, out, err
        try:
            code = main(argv, registry=registry)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved
    return CliResult(tuple(argv), code, out.text(), err.text())


__all__ = ["CliResult", "run_cli"]
