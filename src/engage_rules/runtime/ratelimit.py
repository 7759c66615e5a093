"""Token buckets for the dispatcher's per-platform and per-route rate limits."""

from __future__ import annotations


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst``; time is given, not read."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until a token is available (0 if one is available now)."""
        self._refill(now)
        if self.tokens >= 1.0:
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """Spend a token (call after :meth:`wait_time` returned 0)."""
        self._refill(now)
        self.tokens -= 1.0

    def drain(self, now: float, seconds: float) -> None:
        """Empty the bucket for ``seconds`` (the platform said its window is spent)."""
        self._refill(now)
        self.tokens = min(self.tokens, 1.0 - seconds * self.rate)
