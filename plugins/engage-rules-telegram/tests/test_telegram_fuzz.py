"""Hypothesis: recorded updates, damaged (a field deleted or replaced by any JSON value,
anywhere in the tree), fed one after another through one adapter — its memory of
authors, albums and migrations included — map to events or raise ``PayloadError``, the
adapter's documented error; never anything else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engage_rules_telegram.plugin import TelegramAdapter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.adapters import PayloadError
from engage_rules.model.events import Event
from engage_rules.testing import strategies as est

DATA = Path(__file__).parent / "data"
UPDATES = [
    json.loads(p.read_text("utf-8"))
    for p in sorted(DATA.glob("*.json"))
    if p.name != "telegram_export.json"
]


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(est.damaged_payloads(UPDATES), st.sampled_from(UPDATES)), min_size=1, max_size=6
    )
)
def test_damaged_updates_map_or_raise_payload_error(updates: list[dict[str, Any]]) -> None:
    adapter = TelegramAdapter({"token": "1:x", "chats": {"-1001234567890": "fans"}})
    for update in updates:
        try:
            events = adapter.parse(update)
        except PayloadError:
            continue
        assert all(isinstance(e, Event) for e in events)
        for e in events:
            links = e.data.get("links", [])
            assert isinstance(links, list) and all(isinstance(u, str) for u in links)
            assert len(links) <= 32
