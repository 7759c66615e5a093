"""What a compiled expression or template uses (:class:`Uses`), recorded while it is
compiled: the counters, windows and calendars the engine must keep for it, and the
regular expressions and segments it refers to."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Uses:
    """What a compiled expression or template needs the engine to keep."""

    #: Event type -> longest window (seconds) passed to ``count``; None: lifetime only.
    counts: dict[str, float | None] = field(default_factory=dict)
    #: Longest window (seconds) passed to ``duplicates``; None: not used.
    duplicates_window: float | None = None
    #: The expression reads ``match``.
    uses_match: bool = False
    #: The expression calls a detector function, which sets ``match``.
    sets_match: bool = False
    #: Event types passed to ``streak``: the engine keeps their calendar days.
    streaks: set[str] = field(default_factory=set)
    #: How many regular expressions ``matches()`` calls compiled (limited per playbook).
    patterns: int = 0
    #: The sum of their RE2 program sizes (limited per playbook: the work per event).
    program_size: int = 0
    #: The segments ``segment()`` calls name (a segment may not refer to itself).
    segments: set[str] = field(default_factory=set)
    #: Event type -> longest window (seconds) ``community.count()`` /
    #: ``community.members_count()`` look at; None: the lifetime total only.
    group: dict[str, float | None] = field(default_factory=dict)
    #: The expression reads ``post`` (the engine follows posts then).
    posts: bool = False

    def count(self, type_: str, window: float | None) -> None:
        if type_ not in self.counts:
            self.counts[type_] = window
        elif window is not None:
            have = self.counts[type_]
            self.counts[type_] = window if have is None else max(have, window)

    def group_count(self, type_: str, window: float | None) -> None:
        """A community-wide count of ``type_`` over ``window`` (None: ever)."""
        if type_ not in self.group:
            self.group[type_] = window
        elif window is not None:
            have = self.group[type_]
            self.group[type_] = window if have is None else max(have, window)

    def duplicates(self, window: float) -> None:
        have = self.duplicates_window
        self.duplicates_window = window if have is None else max(have, window)

    def merge(self, other: Uses) -> None:
        for type_, window in other.counts.items():
            self.count(type_, window)
        if other.duplicates_window is not None:
            self.duplicates(other.duplicates_window)
        self.uses_match = self.uses_match or other.uses_match
        self.sets_match = self.sets_match or other.sets_match
        self.streaks |= other.streaks
        self.patterns += other.patterns
        self.program_size += other.program_size
        self.segments |= other.segments
        for type_, window in other.group.items():
            self.group_count(type_, window)
        self.posts = self.posts or other.posts
