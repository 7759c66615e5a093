"""Regenerate store.db: a schema-3 SQLite store written by engage_rules as it was before
schema 4 (commit 054d51a), for tests/test_store_upgrade.py.

    python tests/data/schema3/make_store.py

It extracts that commit's ``src/`` with ``git archive`` into a temporary folder and runs
its ``engage-rules replay`` of events.jsonl with playbook.yaml into store.db (one commit
per event, then the clock moved to UNTIL), so the fixture is always written by the old
code, whatever the working tree holds.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

COMMIT = "054d51a"  # the last commit writing store schema 3
HERE = Path(__file__).resolve().parent
UNTIL = "2026-04-01T10:15:00+00:00"


def main() -> None:
    root = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=HERE,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "archive", COMMIT, "src"], cwd=root, check=True, capture_output=True
    ).stdout
    target = HERE / "store.db"
    for leftover in HERE.glob("store.db*"):
        leftover.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        code = (
            "import sys; sys.path.insert(0, sys.argv.pop(1)); "
            "from engage_rules.cli import main; sys.exit(main())"
        )
        subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                f"{tmp}/src",
                "replay",
                str(HERE / "playbook.yaml"),
                str(HERE / "events.jsonl"),
                "--store",
                f"sqlite:///{target}",
                "--batch-size",  # one commit per event: reversals re-write their originals
                "1",
                "--until",  # the coins of the first posts expire
                UNTIL,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    for extra in HERE.glob("store.db?*"):  # the WAL is checkpointed on close; the lock file
        extra.unlink()
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
