"""Property: whatever data events carry, a replay into SQLite commits (issue 12).

Arbitrary JSON-ish event data — integers up to and beyond 64 bits, floats, odd Unicode,
nesting up to the bound and past it — goes through a playbook that copies it everywhere a
store keeps something: member attributes (`set:`), internal events (`emit:`), the review
queue (`flag_for_review`, which keeps the event), ledger amounts given as templates, rule
traces (condition values and event data), shadow actions and leaderboard scores.
Products of event numbers overflow 64 bits on purpose.  The replay must exit 0 with
everything committed, and the state snapshot must encode as JSON.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage_rules.cli import main
from engage_rules.testing import open_store
from engage_rules.testing import strategies as est

PLAYBOOK = """\
engage_rules: 1
name: copies
community: {name: c, timezone: Pacific/Kiritimati}
moderation: {}
leaderboards:
  products: {measure: "member.attrs.product", period: week}
rules:
  - id: copy-attrs
    on: message.posted
    do:
      - set: {payload: "{{ event.data.payload }}", a: "{{ event.data.a }}"}
      - set: {product: "{{ event.data.a * event.data.b }}"}
  - id: copy-emit
    on: message.posted
    do:
      - emit: {type: custom.copied, data: {payload: "{{ event.data.payload }}",
                                           product: "{{ event.data.a * event.data.b }}"}}
  - id: review-copies
    on: custom.copied
    if: "event.data.product != 0"
    do:
      - flag_for_review: {reason: "{{ event.data.product }}"}
  - id: review-posts
    on: message.posted
    if: "event.data.a * event.data.b > 0"
    do:
      - flag_for_review: {reason: "{{ event.data.payload }}"}
  - id: award
    on: message.posted
    do:
      - award: {points: "{{ event.data.b }}", reason: "{{ event.data.payload }}"}
  - id: shadowed
    on: message.posted
    shadow: true
    do:
      - set: {shadow: "{{ [event.data.payload, event.data.a * event.data.b] }}"}
"""

_ints = est.int64s(beyond=True)
_text = est.valid_text(12)
_json = est.json_values(
    est.json_scalars(
        integers=_ints, floats=st.floats(allow_nan=False, allow_infinity=False), text=_text
    ),
    keys=_text,
    max_size=3,
    max_leaves=10,
)


@st.composite
def _payload(draw: st.DrawFn) -> Any:
    value = draw(_json)
    for _ in range(draw(st.sampled_from([0, 0, 1, 29, 30, 31]))):
        value = [value]  # `payload` is level 3: 30 more levels reach the bound of 32
    return value


_event_data = st.fixed_dictionaries(
    {
        "payload": _payload(),
        "a": st.one_of(_ints, _text),
        "b": st.one_of(st.integers(min_value=0, max_value=1000), _ints),
    }
)


def _committed(db: Path) -> dict[str, Any]:
    store = open_store(f"sqlite:///{db}")
    try:
        snapshot = store.open().snapshot()
    finally:
        store.close()
    return dict(orjson.loads(orjson.dumps(snapshot)))


@pytest.mark.slow
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(_event_data, min_size=1, max_size=4))
def test_a_sqlite_replay_of_any_event_data_commits(
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    data: list[dict[str, Any]],
) -> None:
    tmp = tmp_path_factory.mktemp("replay")
    pb = tmp / "copies.yaml"
    pb.write_text(PLAYBOOK)
    events = tmp / "events.jsonl"
    events.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"e{i}",
                    "type": "message.posted",
                    "at": f"2026-03-02T10:00:{i:02d}Z",
                    "member": {"id": f"u{i % 2}"},
                    "data": d,
                },
                ensure_ascii=False,
            )
            + "\n"
            for i, d in enumerate(data)
        ),
        encoding="utf-8",
    )
    capsys.readouterr()
    db = tmp / "state.db"
    rc = main(
        [
            "replay",
            str(pb),
            str(events),
            "--store",
            f"sqlite:///{db}",
            "--trace",
            "--actions-out",
            str(tmp / "actions.jsonl"),
            "--state-out",
            str(tmp / "state.json"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 0, err
    processed = int(re.search(r"(\d+) processed", err).group(1))  # type: ignore[union-attr]
    quarantined = sum(int(n) for n in re.findall(r"quarantined \w+: (\d+)", err))
    assert processed + quarantined == len(data)
    # What SQLite committed is what the engine held, and it encodes as JSON.
    assert orjson.loads((tmp / "state.json").read_bytes()) == _committed(db)
