"""Calendar periods (`_util/periods.py`): the period cache answers as `period_key` does,
whatever the order of the instants asked about, across DST changes and in time zones
whose offsets are not whole hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from engage_rules._util.periods import QUARTER_HOUR, PeriodCache, period_key

ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"]
#: Around the 2026 DST changes of New York (March 8, November 1) and Lord Howe (April 5,
#: October 4, a half-hour shift), and a year boundary (ISO weeks).
STARTS = [
    datetime(2026, 3, 7, tzinfo=UTC),
    datetime(2026, 10, 31, tzinfo=UTC),
    datetime(2026, 4, 4, tzinfo=UTC),
    datetime(2026, 10, 3, tzinfo=UTC),
    datetime(2026, 12, 30, tzinfo=UTC),
]


@settings(max_examples=60)
@given(
    zone=st.sampled_from(ZONES),
    per=st.sampled_from(["day", "week", "month"]),
    start=st.sampled_from(STARTS),
    offsets=st.lists(st.integers(0, 3 * 86400), min_size=1, max_size=40),
    ordered=st.booleans(),
)
def test_the_cache_gives_the_period_of_every_instant(
    zone: str, per: str, start: datetime, offsets: list[int], ordered: bool
) -> None:
    tz = ZoneInfo(zone)
    cache = PeriodCache(tz, per)
    for offset in sorted(offsets) if ordered else offsets:
        at = start + timedelta(seconds=offset)
        assert cache.of(at, at.timestamp()) == period_key(at.astimezone(tz), per)
        assert cache.start <= at.timestamp() < cache.end  # the quarter hour it holds


def test_the_last_and_first_instants_of_a_quarter_hour() -> None:
    tz = ZoneInfo("America/New_York")
    cache = PeriodCache(tz, "day")
    midnight = datetime(2026, 3, 9, 4, tzinfo=UTC)  # local midnight (EDT)
    before = midnight - timedelta(microseconds=1)
    assert cache.of(before, before.timestamp()) == "2026-03-08"
    assert cache.end == midnight.timestamp() and cache.end - cache.start == QUARTER_HOUR
    assert cache.of(midnight, midnight.timestamp()) == "2026-03-09"
    assert cache.of(before, before.timestamp()) == "2026-03-08"  # back again: recomputed
