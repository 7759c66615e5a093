"""How the CLI tunes the Python interpreter for long replays and live runs.

None of this happens on import: the garbage collector and the thread switch interval
belong to the whole process, so an application embedding the library decides for itself
(docs/performance.md, "What the design does for speed").
"""

from __future__ import annotations

import gc
import sys

#: The interpreter's thread switch interval for replays and live runs (Python's default
#: is 5 ms): see :func:`tune_interpreter`.
SWITCH_INTERVAL = 0.0005

#: How many more container objects may be alive than after the last full collection
#: before a :class:`BatchCollector` runs the next one.
FULL_COLLECTION_GROWTH = 1_000_000


def tune_gc() -> None:
    """Tune Python's cyclic garbage collector for long replays and live runs.

    The engine allocates many small, long-lived objects (ledger entries, member state);
    with the default thresholds the collector rescans them over and over, which costs
    more than the rules themselves.  Objects that exist at start-up are frozen out of
    collection, and young collections run less often.
    """
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def tune_interpreter() -> None:
    """Tune the interpreter for long replays and live runs: the collector
    (:func:`tune_gc`), and a shorter thread switch interval.

    A store's writer thread (SQLite's pipelined commits) gives up the GIL while SQLite
    writes each statement, then asks for it back to bind the next one; with Python's
    default interval it waits up to 5 ms each time for the engine's busy thread to let
    go.  A batch of 50,000 events writes about a hundred statements: its commit then
    takes twice its work in wall time, and the engine ends up waiting for it at the
    next flush.  A thread that no one is waiting for is never interrupted, whatever
    the interval.
    """
    tune_gc()
    sys.setswitchinterval(SWITCH_INTERVAL)


class BatchCollector:
    """Python's cyclic garbage collector, run between a runner's batches rather than
    during them (``Runner(collector=...)``; `engage-rules replay` uses one).

    A replay keeps about ten container objects per event alive until its batch is
    committed (a decision's lists, the batch's rows).  Every collection of the young
    generation scans them all, and finds nothing to free: the engine makes no reference
    cycles.  In a replay of 200,000 events that was 40 collections and 0.37 s of the
    engine thread's 4.2 s, for no object freed.

    From :meth:`start` to :meth:`stop` the collector is disabled.  After each batch,
    everything alive is frozen (``gc.freeze``: in constant time, moved where collections
    do not look; objects are still freed by reference counting when no longer used).
    Python counts the container objects made less those freed since the last freeze
    (``gc.get_count()``); once their sum since the last full collection reaches
    ``growth``, everything is unfrozen and collected.  Garbage in reference cycles is
    never freed by reference counting, so it adds to that sum: at most ``growth``
    objects of it wait for a collection.  A replay whose batches free what they make
    (the engine's) seldom collects at all.  The runner's live service (`run`) does not
    use this: network code makes cycles of its own.
    """

    def __init__(self, growth: int = FULL_COLLECTION_GROWTH) -> None:
        self.growth = growth
        self._grown = 0
        self._was_enabled: bool | None = None

    def start(self) -> None:
        """Stop automatic collections (until :meth:`stop`), and freeze what is alive
        now, as after a batch (the count of objects made starts from here)."""
        if self._was_enabled is None:
            self._was_enabled = gc.isenabled()
        gc.disable()
        gc.freeze()

    def batch_done(self) -> None:
        """A batch was handed to the store: freeze what is alive, or collect everything
        once what is alive has grown by ``growth`` objects since the last time."""
        self._grown += gc.get_count()[0]  # made less freed since the last freeze
        if self._grown >= self.growth:
            self._grown = 0
            gc.unfreeze()
            gc.collect()
        gc.freeze()  # (which starts the count again)

    def stop(self) -> None:
        """Let the collector run by itself again, as it did before :meth:`start`.  What
        was frozen stays frozen (as :func:`tune_gc` leaves start-up objects)."""
        if self._was_enabled:
            gc.enable()
        self._was_enabled = None
