"""Argument types the commands share: times, counts and durations."""

from __future__ import annotations

import argparse
from datetime import datetime

from ..i18n import _


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset, within the event time range (argparse type)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not an ISO 8601 time").format(text=text)
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            _("{text!r} needs a UTC offset (Z or ±HH:MM)").format(text=text)
        )
    from ..model.events import MAX_TIME, MIN_TIME

    try:
        inside = MIN_TIME <= value < MAX_TIME
    except OverflowError:
        inside = False
    if not inside:
        raise argparse.ArgumentTypeError(
            _("{text!r} is outside the times engage_rules handles ({first} to {last}, UTC)").format(
                text=text, first=MIN_TIME.year, last=MAX_TIME.year - 1
            )
        )
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not a whole number").format(text=text)
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(_("must be at least 1"))
    return value


def duration_seconds(text: str) -> float:
    """A duration (``30s``, ``10m``, ``2h``...) or ``0``, in seconds (argparse type)."""
    from .._util.durations import parse_duration

    if text.strip() == "0":
        return 0.0
    try:
        return float(parse_duration(text).total_seconds())
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
