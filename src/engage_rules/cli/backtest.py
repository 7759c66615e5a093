"""``engage-rules backtest PLAYBOOK EVENTS... [--compare OTHER]``: a replay (or the
comparison of two playbooks) split by community and run on Dask.

This process reads the event files once, as one stream, and sets malformed lines aside
as ``replay`` does.  It sends each well-formed line to the part of its community (a
stable hash of the community's name), with the stream's *ticks* (tools/partition.py),
to a :class:`~.backtest_worker.PartActor` on a Dask worker — the lines themselves, so a
remote worker needs no access to the files.  Parts are fed a chunk at a time; each
holds its own communities' state and actions, and reports only bounded summaries,
which are merged and printed exactly as ``replay --compare`` prints its one part.

Dask is an optional extra (``pip install 'engage-rules[dask]'``), imported only here,
when the command runs.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..features.persons import uses_persons
from ..i18n import N_, _
from .args import duration_seconds, parse_time, positive_int
from .compare import load_all, report_parts

if TYPE_CHECKING:
    from ..compile.playbook import CompiledPlaybook
    from ..tools.partition import Refused, Ticks

#: Lines read before they are sent to the parts (each gets its own, and every tick).
CHUNK_LINES = 20_000
#: How long to wait for a --scheduler to answer.
CONNECT_TIMEOUT = "10s"
MISSING_DASK = N_("error: backtest needs Dask: pip install 'engage-rules[dask]'")


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules backtest``."""
    p.add_argument("playbook", metavar="PLAYBOOK", help=_("the playbook: a file or a folder"))
    p.add_argument(
        "events",
        metavar="EVENTS",
        nargs="+",
        help=_("JSON Lines files, read one after the other as one stream (- for stdin)"),
    )
    p.add_argument(
        "--compare",
        metavar="OTHER",
        help=_(
            "also replay the events with playbook OTHER and print how its actions and "
            "final state differ from PLAYBOOK's, as `replay --compare` does"
        ),
    )
    p.add_argument(
        "--until",
        type=parse_time,
        metavar="ISO",
        help=_("advance the clock to this time at the end, firing due timers"),
    )
    p.add_argument("--json", action="store_true", help=_("the result as one JSON document"))
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=positive_int,
        default=2,
        metavar="N",
        help=_("start a local Dask cluster of N worker processes (default 2)"),
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=_("use the Dask cluster of this scheduler (tcp://host:8786) instead"),
    )
    p.add_argument(
        "--partitions",
        type=positive_int,
        default=None,
        metavar="N",
        help=_("split the communities into N parts (default: one per worker)"),
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=None,
        metavar="N",
        help=_("decisions per commit in each part's memory store"),
    )
    p.add_argument(
        "--dedup-window",
        type=duration_seconds,
        default=30 * 86400.0,
        metavar="DURATION",
        help=_("remember processed event ids this long in event time (default 30d; 0 = forever)"),
    )


def part_of(community: str, parts: int) -> int:
    """The part a community's events go to: a stable hash of its name."""
    digest = hashlib.blake2b(community.encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") % parts


def stream_lines(paths: Sequence[str]) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of the files, one after the other, numbered as one stream
    (as ``cat`` would join them, each file's last line ended)."""
    from ..shell.reader import binary_lines, numbered_lines

    def lines() -> Iterator[bytes]:
        for path in paths:
            yield from binary_lines(path)

    return numbered_lines(lines())


def cmd_backtest(args: argparse.Namespace) -> int:
    """``engage-rules backtest``: replay (and compare) by community on Dask."""
    paths = [args.playbook] if args.compare is None else [args.playbook, args.compare]
    playbooks = load_all(paths, args.registry)
    if playbooks is None:
        return 1
    if not _splittable(playbooks, args.partitions or 1):
        return 2
    try:
        import distributed
    except ImportError:
        print(_(MISSING_DASK), file=sys.stderr)
        return 2
    from .backtest_worker import PartActor, portable

    client, cluster = _connect(distributed, args)
    if client is None:
        return 2
    try:
        workers = sorted(client.scheduler_info()["workers"])
        count = args.partitions or len(workers)
        if not _splittable(playbooks, count):
            return 2
        loaded = [portable(pb) for pb in playbooks]
        actors = [
            client.submit(
                PartActor,
                loaded,
                args.batch_size,
                args.dedup_window,
                actor=True,
                workers=[workers[i % len(workers)]],
                pure=False,
            ).result()
            for i in range(count)
        ]
        return run_parts(args, paths, playbooks, actors)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _splittable(playbooks: Sequence[CompiledPlaybook], parts: int) -> bool:
    """Whether the playbooks can be backtested in ``parts`` parts: one that uses persons
    (docs/reference.md §4.3) cannot be split by community.  Says why when not."""
    persons = [pb.name for pb in playbooks if uses_persons(pb)]
    if persons and parts > 1:
        print(
            _(
                "error: {name} uses persons: person-wide state crosses communities, "
                "so it cannot be split by community; backtest it with --partitions 1"
            ).format(name=persons[0]),
            file=sys.stderr,
        )
        return False
    return True


def run_parts(
    args: argparse.Namespace,
    paths: Sequence[str],
    playbooks: Sequence[CompiledPlaybook],
    parts: Sequence[Any],
) -> int:
    """Feed the stream to ``parts`` (actors: ``feed_lines`` and ``finish`` return
    futures), merge what they report and print it; the command's exit code."""
    from ..tools.partition import Refused

    refused = Refused()
    try:
        _send(args.events, parts, refused)
        results = [f.result() for f in [part.finish(args.until, paths) for part in parts]]
    except _Unreadable as err:
        print(_("error: cannot read events: {reason}").format(reason=err), file=sys.stderr)
        return 2
    except OSError as err:  # a worker lost, a connection closed
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(_("error: the Dask cluster failed: {reason}").format(reason=reason), file=sys.stderr)
        return 2
    report_parts(args, paths, playbooks, results, refused)
    return 0


class _Unreadable(Exception):
    """An events file could not be read (and not the cluster: both raise OSError)."""


def _readable(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    while True:
        try:
            item = next(lines)
        except StopIteration:
            return
        except OSError as err:
            raise _Unreadable(err.strerror or str(err)) from err
        yield item


def _connect(distributed: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    """A client of the --scheduler, or of a new local cluster; (None, None) after
    printing why there is none."""
    if args.scheduler is None:
        cluster = distributed.LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        return distributed.Client(cluster), cluster
    try:
        return distributed.Client(args.scheduler, timeout=CONNECT_TIMEOUT), None
    except (OSError, TimeoutError, ValueError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(
            _("error: cannot reach the Dask scheduler at {address}: {reason}").format(
                address=args.scheduler, reason=reason
            ),
            file=sys.stderr,
        )
        return None, None


def _send(paths: Sequence[str], actors: Sequence[Any], refused: Refused) -> None:
    """Read the stream and feed each part its lines, a chunk at a time (one call in
    flight per part, so that each part is fed in order)."""
    from ..model.events import Event
    from ..shell.reader import parse_line
    from ..tools.partition import Ticks

    ticks = Ticks()
    count = len(actors)
    pending: list[Any] = [None] * count
    buffers: list[list[tuple[int, bytes]]] = [[] for _actor in actors]
    read = 0
    for line, raw in _readable(stream_lines(paths)):
        item = parse_line(line, raw)
        if isinstance(item, Event):
            ticks.see(line, item)
            buffers[part_of(item.community, count)].append((line, raw))
            read += 1
        else:
            refused.add(item)
        if read == CHUNK_LINES:
            _flush(actors, pending, buffers, ticks)
            read = 0
    _flush(actors, pending, buffers, ticks)
    for future in pending:
        if future is not None:
            future.result()


def _flush(
    actors: Sequence[Any],
    pending: list[Any],
    buffers: list[list[tuple[int, bytes]]],
    ticks: Ticks,
) -> None:
    tick_lines, tick_times = ticks.take()
    for i, actor in enumerate(actors):
        if pending[i] is not None:
            pending[i].result()  # the previous chunk is fed: the part's order holds
        pending[i] = actor.feed_lines(buffers[i], tick_lines, tick_times)
        buffers[i] = []
