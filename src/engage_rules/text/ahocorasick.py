"""Aho–Corasick multi-pattern string matching, in pure Python.

An :class:`Automaton` is built once (at playbook load time) from a set of keys and then
finds every occurrence of every key in a text in one left-to-right pass: the cost is
linear in the length of the text plus the number of occurrences reported, whatever the
number of keys.  This is what keeps a list of thousands of banned words as cheap to check
as a list of ten (docs/reference.md §5.9): there is no loop over the words.

The automaton is a trie of the keys with *failure links* (the state for the longest
proper suffix of the current match that is also a trie path) and *output links* (the
nearest state on the failure chain that ends a key), built breadth-first as in Aho and
Corasick (1975).  Transitions are dictionaries; a character that occurs in no key sends
the scan straight back to the root, and transitions found by walking failure links are
memoised (up to a bound), so after a short warm-up each character costs one dictionary
look-up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

__all__ = ["Automaton"]

#: Most memoised transitions one automaton keeps (bounds memory on adversarial input).
MAX_MEMO = 200_000


class Automaton:
    """Finds occurrences of a fixed set of keys in texts.

    ``keys`` are non-empty strings; duplicates are ignored.  Each key gets an index
    (its position among the distinct keys, in the order given) reported with each
    occurrence, so callers can map occurrences back to what the key stands for.
    """

    __slots__ = (
        "_alphabet",
        "_depth",
        "_fail",
        "_first_out",
        "_goto",
        "_key_at",
        "_memo",
        "_next_out",
        "keys",
    )

    def __init__(self, keys: Iterable[str]) -> None:
        distinct: dict[str, int] = {}
        for key in keys:
            if not isinstance(key, str) or not key:
                raise ValueError(f"automaton keys must be non-empty strings, got {key!r}")
            distinct.setdefault(key, len(distinct))
        self.keys: tuple[str, ...] = tuple(distinct)
        goto: list[dict[str, int]] = [{}]
        depth = [0]
        key_at: list[int] = [-1]  # the key ending at a state, or -1
        for index, key in enumerate(self.keys):
            s = 0
            for ch in key:
                nxt = goto[s].get(ch)
                if nxt is None:
                    nxt = len(goto)
                    goto[s][ch] = nxt
                    goto.append({})
                    depth.append(depth[s] + 1)
                    key_at.append(-1)
                s = nxt
            key_at[s] = index
        fail = [0] * len(goto)
        next_out = [0] * len(goto)  # nearest proper suffix state ending a key (0: none)
        queue: deque[int] = deque(goto[0].values())
        while queue:
            s = queue.popleft()
            for ch, t in goto[s].items():
                queue.append(t)
                f = fail[s]
                while f and ch not in goto[f]:
                    f = fail[f]
                target = goto[f].get(ch, 0)
                fail[t] = target if target != t else 0
                fo = fail[t]
                next_out[t] = fo if key_at[fo] >= 0 else next_out[fo]
        self._goto = goto
        self._fail = fail
        self._depth = depth
        self._key_at = key_at
        self._next_out = next_out
        self._alphabet = frozenset(ch for key in self.keys for ch in key)
        #: The first state ending a key on the output chain of each state (0: none).
        self._first_out = [t if key_at[t] >= 0 else next_out[t] for t in range(len(goto))]
        self._memo = 0

    def __len__(self) -> int:
        return len(self.keys)

    def _step(self, s: int, ch: str) -> int:
        """The state after reading ``ch`` in state ``s`` (``ch`` is in the alphabet)."""
        goto = self._goto
        start = s
        while True:
            nxt = goto[s].get(ch)
            if nxt is not None:
                break
            if s == 0:
                nxt = 0
                break
            s = self._fail[s]
        if self._memo < MAX_MEMO:
            goto[start][ch] = nxt  # memoise the walk along the failure links
            self._memo += 1
        return nxt

    def finditer(self, text: str) -> Iterator[tuple[int, int, int]]:
        """Every occurrence as ``(start, end, key index)``, by increasing ``end``; at one
        end position, longer keys come first."""
        goto = self._goto
        root = goto[0]
        alphabet = self._alphabet
        first_out = self._first_out
        next_out = self._next_out
        s = 0
        for end, ch in enumerate(text, 1):
            if s:
                nxt = goto[s].get(ch)
                if nxt is None:
                    nxt = self._step(s, ch) if ch in alphabet else 0
                s = nxt
            else:
                s = root.get(ch, 0)
            if s:
                o = first_out[s]
                while o:
                    yield end - self._depth[o], end, self._key_at[o]
                    o = next_out[o]

    def search(self, text: str) -> tuple[int, int, int] | None:
        """The first occurrence (the one ending first, the longest at that end), or None."""
        for found in self.finditer(text):
            return found
        return None
