"""Durations are parsed once, when the playbook loads (docs/reference.md §5): every duration
field of the playbook models holds a timedelta, the compiled playbook carries seconds,
and what the operator wrote is what actions and messages quote."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engage_rules import Engine
from engage_rules._util.durations import Duration, WrittenDurations
from engage_rules.features.badges import BADGES
from engage_rules.features.flows import FLOWS
from engage_rules.features.levels import LEVELS
from engage_rules.features.messaging import MESSAGING
from engage_rules.features.silence import SILENCE
from engage_rules.lang.action_params import BanParams, MuteParams, TagParams
from engage_rules.testing import T0, event
from helpers import playbook, run

SRC = Path(__file__).resolve().parents[1] / "src" / "engage_rules"


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    d: Duration
    maybe: Duration | None = None


def test_a_duration_field_holds_a_timedelta_and_writes_the_shortest_spelling() -> None:
    m = Model.model_validate({"d": " 7d ", "maybe": "90m"}, strict=True)
    assert (m.d, m.maybe) == (timedelta(days=7), timedelta(minutes=90))
    assert m.model_dump() == {"d": "1w", "maybe": "90m"}
    assert Model.model_validate(m.model_dump(), strict=True) == m  # a round trip
    assert Model(d=timedelta(hours=2)).d == timedelta(hours=2)  # built in Python


def test_a_duration_field_reports_problems_as_before() -> None:
    with pytest.raises(ValidationError) as info:
        Model.model_validate({"d": 60}, strict=True)
    assert str(info.value.errors()[0]["ctx"]["error"]) == (  # a number: which unit?
        "60 is a number; a duration needs its unit: 60s, 60m, 60h or 60d"
    )
    with pytest.raises(ValidationError) as info:
        Model.model_validate({"d": [1]}, strict=True)
    assert info.value.errors()[0]["type"] == "string_type"  # "expected a string"
    with pytest.raises(ValidationError) as info:
        Model.model_validate({"d": "3 days"}, strict=True)
    assert str(info.value.errors()[0]["ctx"]["error"]) == (
        "'3 days' is not a duration; write it like 30s, 10m, 2h, 14d or 2w"
    )


def test_a_duration_is_a_string_in_the_json_schema() -> None:
    schema = Model.model_json_schema()["properties"]
    assert schema["d"]["type"] == "string"
    pattern = re.compile(schema["d"]["pattern"])
    assert pattern.match("14d") and not pattern.match("14 days")
    assert {"type": "string", "pattern": schema["d"]["pattern"]} in schema["maybe"]["anyOf"]


class Written(WrittenDurations):
    wait: Duration = Field(alias="for")


def test_written_durations_remember_the_spelling() -> None:
    m = Written.model_validate({"for": "24h"})
    assert (m.wait, m.written("wait")) == (timedelta(days=1), "24h")
    assert Written(**{"for": timedelta(days=1)}).written("wait") == "1d"  # nothing written
    mute = MuteParams.model_validate({"for": "7d"}, strict=True)
    assert mute.model_dump(by_alias=True, exclude_none=True) == {"for": "7d"}
    assert BanParams.model_validate({}, strict=True).written("for_") is None
    assert TagParams.model_validate({"name": "x", "expires": "60m"}).written("expires") == "60m"


PLAYBOOK = """
currencies: [{name: points, expires_after: 52w}]
levels:
  by: points
  ladder: [{level: 0, name: new, at: 0}, {level: 1, name: regular, at: 10}]
  demotion: {below: 0.5, grace: 14d}
badges:
  b: {name: B, revoke_after: 30d}
moderation:
  strikes:
    expire_after: 90d
    ladder: [{at: 3, do: [{ban: {for: 7d}}]}]
messaging:
  quiet_hours: {from: '22:00', to: '07:00', spread: 90m}
flows:
  f:
    steps:
      - wait_for: {event: message.posted, timeout: 3d}
      - wait: 1d
      - send: {text: hi}
rules:
  - id: burst
    on: message.posted
    cooldown: 60m
    threshold: {count: 2, within: 10m}
    do: [{mute: {for: 24h}}, {tag: {name: noisy, expires: 1w}}]
  - id: quiet
    on: {silent_for: {factor: 3, min: 3d, max: 30d}}
    do: [{tag: quiet}]
  - id: later
    on: {after: member.joined, delay: 2d}
    do: [{start_flow: {flow: f}}]
"""


def test_the_compiled_playbook_holds_seconds_parsed_at_load() -> None:
    pb = playbook(PLAYBOOK)
    burst = next(r for r in pb.rules if r.id == "burst")
    assert (burst.cooldown, burst.threshold) == (3600.0, (2, 600.0))
    mute, tag = burst.do
    assert mute.consts["for__delta"] == timedelta(days=1)
    assert mute.consts["for__text"] == "24h"
    assert tag.consts["expires_delta"] == timedelta(weeks=1)
    assert pb.data(LEVELS).grace == 14 * 86400
    assert pb.data(BADGES)["b"].revoke_after == timedelta(days=30)
    quiet = pb.data(MESSAGING).quiet
    assert quiet is not None and quiet.spread == 5400
    factor = pb.data(SILENCE)["quiet"]
    assert (factor.min, factor.max) == (3 * 86400, 30 * 86400)
    assert pb.loaded is not None
    assert pb.loaded.spec.currency_expiry() == {"points": 52 * 7 * 86400}
    assert pb.data(FLOWS)["f"] is not None


def test_actions_quote_durations_as_written() -> None:
    pb = playbook(PLAYBOOK)
    acts = run(Engine(pb), event("message.posted", "u1", 0), event("message.posted", "u1", 1))
    mute = next(a for a in acts if a.type == "mute")
    assert mute.params["for"] == "24h"  # not "1d"
    assert mute.params["until"] == (T0 + timedelta(seconds=1, days=1)).isoformat()


def test_a_message_quotes_the_duration_as_written() -> None:
    from engage_rules.errors import PlaybookError

    with pytest.raises(PlaybookError, match=r"`spread` \(24h\) is longer than the hours"):
        playbook("messaging:\n  quiet_hours: {from: '22:00', to: '07:00', spread: 24h}\n")


# Where a duration may still be parsed: the one parse of a value that is not a model field.
PARSES_ALLOWED = {
    "_util/durations.py",  # the parser, and the Duration type built on it
    "lang/flow_steps.py",  # `wait: 1d`, a flow step written as a bare value
    "expr/functions.py",  # count(..., within='7d') and the like, at compile time
    "runtime/config.py",  # run config settings: a number of seconds or a duration
    "cli/args.py",  # command-line options
    "cli/report.py",
}


def test_no_consumer_parses_a_duration_again() -> None:
    calls = {
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if re.search(r"\bparse_duration\(", p.read_text(encoding="utf-8"))
    }
    assert calls <= PARSES_ALLOWED, sorted(calls - PARSES_ALLOWED)
