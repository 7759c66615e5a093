"""Scale benchmark (issue 14): costs that grow with history.

Every figure is one whole ``engage-rules`` command run in a fresh subprocess, timed by
the wall clock, with its peak resident memory taken from the kernel (``os.wait4``'s
``ru_maxrss`` for that child alone).  The workload is ``bench/engine.py``'s core one: its
playbook and its seeded event stream (10,000 members, an event every 2 seconds).

- ``rss_growth_memory``: peak RSS of ``replay`` of 2,000,000 events into the memory store
  over that of 200,000 events (``rss_200k_memory_mb``, ``rss_2m_memory_mb``; the times
  ``replay_200k_memory_s``, ``replay_2m_memory_s``).  A replay whose memory follows the
  members, not the history, gives about 1.
- ``rss_growth_sqlite``: the same into a new SQLite store (``--store sqlite:///...``).
- ``open_1m_s``, ``open_1m_rss_mb``: ``replay`` of one more event into a SQLite store that
  holds 1,000,000 members (a copy of it: the store is built once, by replaying 1,000,000
  events of 1,000,000 distinct members, dated before the core stream).
- ``report_1m_s``, ``report_1m_rss_mb``: ``report --json`` on a SQLite store holding the
  core stream's first 1,000,000 events.
- ``sqlite_1m_members_eps``: events per second of the whole ``replay`` of the core stream's
  first 200,000 events into (a copy of) the 1,000,000-member store — opening included.

Event files and the two built stores are cached in ``--workdir`` (default: a temporary
directory, removed at the end); a store is rebuilt when the playbook or any source file of
``engage_rules`` changed.  ``--quick`` divides every size by 100 (a smoke test);
``--only FIELD[,FIELD]`` measures only what those fields need.  Progress lines go to
standard error; the last line on standard output is one JSON object.

    python bench/scale.py [--quick] [--workdir DIR] [--only FIELD[,FIELD]]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import CHANNELS, LANGS, TYPES, WEIGHTS, iter_events, make_rules

ROOT = Path(__file__).resolve().parents[1]

#: The targets of issue 14, printed next to the figures: (comparison, value).
TARGETS: dict[str, tuple[str, float]] = {
    "rss_growth_memory": ("<=", 1.3),
    "rss_growth_sqlite": ("<=", 1.3),
    "open_1m_s": ("<=", 1.0),
    "open_1m_rss_mb": ("<=", 300),
    "report_1m_s": ("<=", 3.0),
    "report_1m_rss_mb": ("<=", 500),
    "sqlite_1m_members_eps": (">=", 30_000),
}

#: What each measurement prints, in order; ``--only`` runs the measurements whose fields
#: it names.
GROUPS: dict[str, list[str]] = {
    "rss_memory": [
        "rss_growth_memory",
        "rss_200k_memory_mb",
        "rss_2m_memory_mb",
        "replay_200k_memory_s",
        "replay_2m_memory_s",
    ],
    "rss_sqlite": [
        "rss_growth_sqlite",
        "rss_200k_sqlite_mb",
        "rss_2m_sqlite_mb",
        "replay_200k_sqlite_s",
        "replay_2m_sqlite_s",
    ],
    "open": ["open_1m_s", "open_1m_rss_mb"],
    "report": ["report_1m_s", "report_1m_rss_mb"],
    "members": ["sqlite_1m_members_eps"],
}
FIELDS = [f for fields in GROUPS.values() for f in fields]


@dataclass(frozen=True)
class Sizes:
    """The sizes of the workloads (``--quick`` divides them all by 100)."""

    small: int = 200_000  # events, the first replay of the RSS growth
    large: int = 2_000_000  # events, the second
    members: int = 10_000  # members of the core stream
    big_members: int = 1_000_000  # members of the store `open` and `members` use
    history: int = 1_000_000  # events in the store `report` reads
    into_big: int = 200_000  # events replayed into the big store (`members`)

    def divided(self, by: int) -> Sizes:
        """Every size divided by ``by``."""
        return Sizes(*(getattr(self, f) // by for f in self.__dataclass_fields__))


@dataclass(frozen=True)
class Measured:
    """One command: wall-clock seconds and peak resident memory."""

    seconds: float
    rss_mb: float


def progress(text: str) -> None:
    """A progress line on standard error."""
    print(text, file=sys.stderr, flush=True)


def cli_env() -> dict[str, str]:
    """The environment of the commands: this checkout's ``src`` first on the path."""
    paths = [str(ROOT / "src")]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def run_cli(args: list[str], stdout: Path | None = None) -> Measured:
    """Run ``engage-rules ARGS`` in a fresh process; fail with its errors if it fails.

    Standard output goes to ``stdout`` (default: nowhere).  The peak RSS is the child's
    own (``os.wait4``), not the largest of all the children so far.
    """
    out_path = stdout if stdout is not None else Path(os.devnull)
    with tempfile.TemporaryFile() as err, out_path.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "engage_rules", *args], stdout=out, stderr=err, env=cli_env()
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            message = err.read().decode("utf-8", "replace").strip()
            raise SystemExit(
                f"engage-rules {' '.join(args)} failed (exit {proc.returncode}):\n{message}"
            )
    return Measured(seconds, usage.ru_maxrss / 1024)  # Linux: kilobytes


def iter_member_events(n: int) -> Iterator[str]:
    """``n`` events of ``n`` distinct members (``u0``, ``u1``...), one second apart from
    2026-01-01: before the core stream, which starts on 2026-03-01 with members ``u0``
    to ``u9999`` — so replaying it into the store finds its members there."""
    rng = random.Random(1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        yield json.dumps(
            {
                "id": f"m{i}",
                "type": rng.choices(TYPES, WEIGHTS)[0],
                "at": (start + timedelta(seconds=i)).isoformat(),
                "community": "bench",
                "channel": rng.choice(CHANNELS),
                "member": {"id": f"u{i}"},
                "data": {"size": rng.randint(0, 200), "lang": rng.choice(LANGS)},
            }
        )


def remove_db(path: Path) -> None:
    """Remove a SQLite store's files (the database, its WAL, shared memory and lock)."""
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def copy_db(source: Path, dest: Path) -> None:
    """Copy a closed SQLite store (with its WAL, if one was left), written to disk
    before this returns: the command measured next must not pay for writing the copy
    back (its first fsync would)."""
    remove_db(dest)
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{dest}{suffix}")
            fd = os.open(f"{dest}{suffix}", os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def source_fingerprint(playbook: str) -> str:
    """A hash of the playbook and of every source file of ``engage_rules``: a store
    built by other code (another store format) is not reused."""
    h = hashlib.blake2b(playbook.encode(), digest_size=8)
    for path in sorted((ROOT / "src" / "engage_rules").rglob("*.py")):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


class Work:
    """The work directory: event files and built stores, cached between runs."""

    def __init__(self, directory: Path, sizes: Sizes) -> None:
        self.dir = directory
        self.sizes = sizes
        self.dir.mkdir(parents=True, exist_ok=True)
        text, _ = make_rules()
        self.playbook = self.dir / "core.yaml"
        if not self.playbook.exists() or self.playbook.read_text() != text:
            self.playbook.write_text(text)
        self.fingerprint = source_fingerprint(text)
        self.scratch = self.dir / "scratch.db"

    def core_events(self, *counts: int) -> list[Path]:
        """Files of the core stream's first N events, for each N (written in one pass)."""
        members = self.sizes.members
        paths = [self.dir / f"core-{n}-{members}.jsonl" for n in counts]
        missing = {n: p for n, p in zip(counts, paths, strict=True) if not p.exists()}
        if missing:
            top = max(missing)
            progress(f"writing the core stream: {', '.join(f'{n:,}' for n in missing)} events")
            partial = {n: Path(f"{p}.partial") for n, p in missing.items()}
            files = {n: p.open("w") for n, p in partial.items()}
            try:
                for i, line in enumerate(iter_events(top, members)):
                    for n, f in files.items():
                        if i < n:
                            f.write(line + "\n")
            finally:
                for f in files.values():
                    f.close()
            for n, p in partial.items():
                p.replace(missing[n])
        return paths

    def member_events(self) -> Path:
        """The file of one event for each of ``big_members`` members."""
        n = self.sizes.big_members
        path = self.dir / f"members-{n}.jsonl"
        if not path.exists():
            progress(f"writing {n:,} events of {n:,} members")
            partial = Path(f"{path}.partial")
            with partial.open("w") as f:
                for line in iter_member_events(n):
                    f.write(line + "\n")
            partial.replace(path)
        return path

    def one_event(self) -> Path:
        """One more event, after everything else (member ``u0``)."""
        path = self.dir / "one-event.jsonl"
        event = {
            "id": "one-more",
            "type": "message.posted",
            "at": "2026-06-01T12:00:00+00:00",
            "community": "bench",
            "channel": "general",
            "member": {"id": "u0"},
            "data": {"size": 100, "lang": "en"},
        }
        path.write_text(json.dumps(event) + "\n")
        return path

    def store(self, name: str, events: Path) -> Path:
        """A SQLite store built by replaying ``events`` (cached under the fingerprint)."""
        path = self.dir / f"{name}-{self.fingerprint}.db"
        if path.exists():
            progress(f"{name} store: cached ({path.stat().st_size / 1e6:,.0f} MB)")
            return path
        building = self.dir / f"{name}.building.db"
        remove_db(building)
        m = run_cli(self.replay_args(events, building))
        for suffix in ("-wal", ""):  # the database last: its presence means complete
            if Path(f"{building}{suffix}").exists():
                Path(f"{building}{suffix}").replace(f"{path}{suffix}")
        remove_db(building)
        progress(
            f"{name} store: built in {m.seconds:.1f} s, {m.rss_mb:,.0f} MB peak RSS "
            f"({path.stat().st_size / 1e6:,.0f} MB)"
        )
        return path

    def replay_args(self, events: Path, db: Path | None) -> list[str]:
        """``replay`` of ``events`` into the SQLite store ``db`` (None: memory)."""
        url = "memory:" if db is None else f"sqlite:///{db}"
        return ["replay", str(self.playbook), str(events), "--store", url]


def label(n: int) -> str:
    """200000 -> 200k, 2000000 -> 2m."""
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


def measure_rss(work: Work, kind: str) -> dict[str, Any]:
    """Peak RSS of replaying 200k and 2M events (``kind``: memory or sqlite)."""
    s = work.sizes
    files = work.core_events(s.small, s.large)
    out: dict[str, Any] = {}
    runs: list[Measured] = []
    for n, events in zip((s.small, s.large), files, strict=True):
        remove_db(work.scratch)
        m = run_cli(work.replay_args(events, None if kind == "memory" else work.scratch))
        remove_db(work.scratch)
        progress(
            f"replay {n:,} events into {kind}: {m.seconds:.1f} s "
            f"({n / m.seconds:,.0f} events/s), {m.rss_mb:,.0f} MB peak RSS"
        )
        runs.append(m)
    small, large = runs
    # The field names are those of the full sizes, whatever the sizes.
    out[f"rss_growth_{kind}"] = round(large.rss_mb / small.rss_mb, 2)
    out[f"rss_200k_{kind}_mb"] = round(small.rss_mb)
    out[f"rss_2m_{kind}_mb"] = round(large.rss_mb)
    out[f"replay_200k_{kind}_s"] = round(small.seconds, 2)
    out[f"replay_2m_{kind}_s"] = round(large.seconds, 2)
    return out


def big_store(work: Work) -> Path:
    """The store of ``big_members`` members."""
    return work.store(f"members-{work.sizes.big_members}", work.member_events())


def measure_open(work: Work) -> dict[str, Any]:
    """One more event into the store of 1M members, against one into a new store."""
    one = work.one_event()
    remove_db(work.scratch)
    empty = run_cli(work.replay_args(one, work.scratch))
    progress(f"one event into a new store: {empty.seconds:.2f} s, {empty.rss_mb:,.0f} MB peak RSS")
    copy_db(big_store(work), work.scratch)
    m = run_cli(work.replay_args(one, work.scratch))
    remove_db(work.scratch)
    progress(
        f"one event into the store of {work.sizes.big_members:,} members: {m.seconds:.2f} s, "
        f"{m.rss_mb:,.0f} MB peak RSS"
    )
    return {"open_1m_s": round(m.seconds, 2), "open_1m_rss_mb": round(m.rss_mb)}


def measure_report(work: Work) -> dict[str, Any]:
    """``report --json`` on the store of the core stream's first 1M events."""
    (events,) = work.core_events(work.sizes.history)
    db = work.store(f"history-{work.sizes.history}", events)
    out = work.dir / "report.json"
    m = run_cli(["report", "--store", f"sqlite:///{db}", "--json"], stdout=out)
    json.loads(out.read_text())  # a report, not an error
    progress(
        f"report on {work.sizes.history:,} events: {m.seconds:.2f} s, {m.rss_mb:,.0f} MB peak RSS"
    )
    return {"report_1m_s": round(m.seconds, 2), "report_1m_rss_mb": round(m.rss_mb)}


def measure_members(work: Work) -> dict[str, Any]:
    """The core stream's first 200k events into (a copy of) the store of 1M members."""
    n = work.sizes.into_big
    (events,) = work.core_events(n)
    copy_db(big_store(work), work.scratch)
    m = run_cli(work.replay_args(events, work.scratch))
    remove_db(work.scratch)
    eps = n / m.seconds
    progress(
        f"replay {n:,} events into the store of {work.sizes.big_members:,} members: "
        f"{m.seconds:.1f} s ({eps:,.0f} events/s, opening included), "
        f"{m.rss_mb:,.0f} MB peak RSS"
    )
    return {"sqlite_1m_members_eps": round(eps)}


def measure(work: Work, group: str) -> dict[str, Any]:
    """Run one measurement."""
    if group == "rss_memory":
        return measure_rss(work, "memory")
    if group == "rss_sqlite":
        return measure_rss(work, "sqlite")
    if group == "open":
        return measure_open(work)
    if group == "report":
        return measure_report(work)
    return measure_members(work)


def meets(field: str, value: float) -> str:
    """``value`` against the field's target, as a few words."""
    op, target = TARGETS[field]
    ok = value <= target if op == "<=" else value >= target
    return f"target {op} {target:,}: {'met' if ok else 'NOT met'}"


def parse_only(ap: argparse.ArgumentParser, only: str | None) -> list[str]:
    """The measurements ``--only`` asks for (all when not given)."""
    if only is None:
        return list(GROUPS)
    wanted = [f.strip() for f in only.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FIELDS]
    if unknown or not wanted:
        named = ", ".join(unknown) or "(none)"
        ap.error(f"--only: unknown field {named}; fields: {', '.join(FIELDS)}")
    return [g for g, fields in GROUPS.items() if any(f in fields for f in wanted)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="every size divided by 100")
    ap.add_argument(
        "--workdir", type=Path, help="cache event files and stores here (default: a temp dir)"
    )
    ap.add_argument("--only", metavar="FIELD[,FIELD]", help="measure only these fields")
    args = ap.parse_args()
    groups = parse_only(ap, args.only)
    sizes = Sizes().divided(100) if args.quick else Sizes()
    if args.quick:
        progress(f"--quick: {sizes}")
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Work(args.workdir or Path(tmp), sizes)
        for group in groups:
            figures.update(measure(work, group))
    for field, value in figures.items():
        target = f"  ({meets(field, value)})" if field in TARGETS else ""
        progress(f"{field:24} {value:>12,}{target}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
