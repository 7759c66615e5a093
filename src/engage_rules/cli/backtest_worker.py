"""The Dask side of ``engage-rules backtest``: one :class:`PartActor` per part of the
stream, living on a worker (a Dask actor), replaying its communities.

Nothing here imports Dask: the actor is a plain class that Dask places on a worker.  It
receives the playbooks as loaded data (their word lists inlined: a worker may not see
the client's files), compiles them with the worker's installed plugins, and is then fed
its part's event lines with the stream's ticks (tools/partition.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..compile.playbook import CompiledPlaybook
    from ..lang.loader import LoadedPlaybook
    from ..tools.partition import PartResult


def portable(playbook: CompiledPlaybook) -> LoadedPlaybook:
    """The loaded form of ``playbook`` with its word-list files' words inlined, so that
    another machine compiles it to the same playbook without reading a file."""
    from dataclasses import replace

    from ..lang.wordlists import is_file_ref

    loaded = playbook.loaded
    if loaded is None:  # built in code, not loaded from files: nothing to send
        raise ValueError(f"playbook {playbook.name!r} was not loaded from files")
    spec = loaded.spec
    inlined = {
        name: playbook.vars[name] if is_file_ref(value) else value
        for name, value in spec.vars.items()
    }
    return replace(loaded, spec=spec.model_copy(update={"vars": inlined}))


class PartActor:
    """One part of a backtest on a Dask worker (see the module doc)."""

    def __init__(
        self,
        playbooks: Sequence[LoadedPlaybook],
        batch_size: int | None,
        dedup_window: float | None,
    ) -> None:
        from ..compile.compiler import compile_playbook
        from ..plugins.manager import default_registry
        from ..tools.partition import PartitionRun
        from .main import bundled_time_zones

        bundled_time_zones()  # the same times on every worker as on the client
        registry = default_registry()
        compiled = [compile_playbook(pb, registry=registry) for pb in playbooks]
        self.part = PartitionRun(compiled, batch_size=batch_size, dedup_window=dedup_window)

    def feed_lines(
        self,
        lines: Sequence[tuple[int, bytes]],
        tick_lines: Sequence[int],
        tick_times: Sequence[int],
    ) -> int:
        """Replay this part's next lines (see PartitionRun.feed_lines); how many."""
        self.part.feed_lines(lines, tick_lines, tick_times)
        return len(lines)

    def finish(self, until: datetime | None, labels: Sequence[str]) -> PartResult:
        """Advance to ``until``, and sum the part up."""
        return self.part.finish(until, labels)
