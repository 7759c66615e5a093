"""docs/reference.md stays true to the implementation, and the docs cite it correctly.

The reference lists every built-in action (with its parameters and the `params` it emits),
every quarantine reason, event type, expression name and function, and every member field
of the state snapshot; the `params` table is checked against what real replays emit (the
example playbooks, and a playbook that uses every built-in action). Every link to a
section of the reference, and every link the reference makes to another doc's section,
resolves; no doc cites a file that is not in the repository.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engage_rules.cli.main import main
from engage_rules.expr.context import EVENT_FIELDS, MEMBER_FIELDS, ROOT_NAMES
from engage_rules.expr.functions import BUILTIN_FUNCTIONS
from engage_rules.model.events import CANONICAL_TYPES, INTERNAL_TYPES, REASONS
from engage_rules.model.state import MemberState
from engage_rules.plugins import build_registry

#: The built-in actions (every feature's), from a registry without installed plugins.
BUILTIN_ACTION_SPECS = [a.spec for a in build_registry(installed=False).actions.values()]

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
REFERENCE = (DOCS / "reference.md").read_text(encoding="utf-8")
#: Quarantine reasons only the live runtime gives (docs/running.md).
RUNTIME_REASONS = ("future_time", "bad_payload", "beyond_dedup_window")


def section(number: str) -> str:
    """The text of reference section ``number`` ("5.3"), up to the next section anchor
    that is not one of its own (§11 holds the anchors of its guarantees, §11.1...)."""
    key = f"s{number.replace('.', '-')}"
    anchor = f'<a id="{key}"></a>'
    start = REFERENCE.index(anchor) + len(anchor)
    for m in re.finditer(r'<a id="(s[\d-]+)"></a>', REFERENCE[start:]):
        if not m.group(1).startswith(key + "-"):
            return REFERENCE[start : start + m.start()]
    return REFERENCE[start:]


def table_rows(text: str) -> dict[str, str]:
    """The rows of the markdown tables in ``text`` whose first cell is one or more
    backticked names (``| `opt_out`, `opt_in` | ... |``), by each name."""
    rows: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        first, _, rest = line[2:].partition(" | ")
        for name in re.findall(r"`([^`]+)`", first):
            rows[name] = rest
    return rows


def backticked(text: str) -> set[str]:
    """The backticked names in ``text``: `title: true` names `title`."""
    return {name.split(":")[0].strip() for name in re.findall(r"`([^`]+)`", text)}


# -- the reference lists everything the implementation has ------------------------------------


def test_every_builtin_action_is_in_the_actions_and_params_tables() -> None:
    actions = table_rows(section("5.3"))
    params = table_rows(section("6.2"))
    for spec in BUILTIN_ACTION_SPECS:
        assert spec.name in actions, f"§5.3 has no row for `{spec.name}`"
        assert spec.name in params, f"§6.2 has no row for `{spec.name}`"
        documented = backticked(actions[spec.name])
        for field, info in spec.params.model_fields.items():
            name = info.alias or field
            assert name in documented or spec.name == "set", (
                f"§5.3 does not name the parameter `{name}` of `{spec.name}`"
            )


def test_every_quarantine_reason_is_listed() -> None:
    listed = table_rows(section("3.7"))
    for reason in (*REASONS, *RUNTIME_REASONS):
        assert reason in listed, f"§3.7 does not list the reason code `{reason}`"


def test_every_registered_event_type_is_listed() -> None:
    canonical = table_rows(section("3.2"))
    internal = table_rows(section("3.4"))
    for t in CANONICAL_TYPES:
        assert t in canonical, f"§3.2 does not list `{t}`"
    for t in INTERNAL_TYPES:
        assert t in internal, f"§3.4 does not list `{t}`"


def test_every_expression_name_and_function_is_listed() -> None:
    text = section("5.2")
    names = table_rows(text)
    for root in ROOT_NAMES:
        assert root in names, f"§5.2 does not list the name `{root}`"
    for field in MEMBER_FIELDS:
        assert f"`{field}`" in names["member"], f"§5.2 does not list `member.{field}`"
    for field in EVENT_FIELDS:
        assert f"`{field}`" in names["event"], f"§5.2 does not list `event.{field}`"
    functions = {re.sub(r"\(.*", "", cell) for cell in backticked(text)}
    for name in BUILTIN_FUNCTIONS:
        assert name in functions, f"§5.2 does not list the function `{name}`"


def test_every_snapshot_member_field_is_listed() -> None:
    fields = table_rows(section("6.6"))
    for key in MemberState(id="u1", community="c").snapshot(None):
        assert key in fields, f"§6.6 does not list the snapshot field `{key}`"


# -- the params table against real output ------------------------------------------------------

#: A playbook that uses every built-in action, and makes the engine act on its own
#: (levels, badge expiry, credit expiry, tag expiry, mute and ban ends, flow ends).
EVERY_ACTION = """
engage_rules: 1
name: every-action
community: {name: Ref, timezone: Asia/Shanghai}
currencies: [{name: points, expires_after: 2d}, coins]
levels:
  by: points
  ladder: [{level: 1, name: L1, at: 0}, {level: 2, name: L2, at: 10}]
badges:
  b1: {name: B1}
  t1: {name: T1, title: true, revoke_after: 1d}
  helper: {name: Helper, tiers: [{at: 1, name: bronze}], counts: "count('reaction.added')"}
moderation:
  strikes: {expire_after: 30d, ladder: [{at: 1, do: [{warn: {text: "warned"}}]}]}
flows:
  f1:
    steps: [{send: {text: "step"}}, {wait: 1h}, {tag: flowed}]
shop:
  items: {mug: {price: 1, stock: 5, codes: {generate: 5, prefix: M-}}}
draws:
  d1: {winners: 1}
rules:
  - id: join
    on: member.joined
    do:
      - award: {points: 12, reason: join}
      - award: {currency: coins, amount: 3}
      - spend: {currency: coins, amount: 1}
      - set: {tier: gold}
      - grant_badge: b1
      - grant_badge: t1
      - start_flow: f1
      - send: {text: "hi {{ member.name }}"}
      - reply: {text: "welcome"}
      - broadcast: {text: "welcome all", channel: general}
      - emit: {type: custom.hello, data: {x: 1}}
      - lottery:
          prizes: [{name: p1, weight: 1, stock: 1, do: [{tag: {name: winner, expires: 1h}}]}]
      - redeem: mug
      - enter_draw: d1
      - run_draw: d1
      - bind_code: {expires: 1h}
  - id: bind
    on: person.code_issued
    do: [{bind: {code: "{{ event.data.code }}", to: u2}}]
  - id: cmd
    on: message.posted
    do:
      - tag_post: first
      - revoke: {event: "{{ event.data.ref }}"}
      - set_level: 1
      - lock_level: true
      - revoke_badge: b1
      - opt_out: {}
      - opt_in: {}
      - exit_flow: f1
      - untag: winner
      - flag_for_review: {reason: look}
      - delete_message: {reason: spam}
      - strike: {reason: s1}
      - reset_strikes: {reason: rs}
      - mute: {for: 1h, reason: m}
      - unmute: {reason: um}
      - ban: {for: 2h, reason: b}
      - unban: {reason: ub}
      - mute: {for: 1h}
      - kick: {reason: bye}
      - grant_role: {role: vip, reason: r}
      - remove_role: vip
      - pin: {reason: p}
      - unpin: {message: "m0", channel: news}
      - poll: {question: q, options: [a, b], anonymous: true}
  - id: again
    on: checkin
    do:
      - start_flow: f1
      - tag: {name: temp, expires: 1h}
      - ban: {for: 1h}
      - approve_join: {}
      - decline_join: {reason: d}
"""

EVENTS = [
    {
        "id": "e1",
        "type": "member.joined",
        "at": "2026-03-02T09:00:00+08:00",
        "channel": "general",
        "member": {"id": "u1", "name": "A"},
    },
    {
        "id": "e2",
        "type": "reaction.added",
        "at": "2026-03-02T09:10:00+08:00",
        "member": {"id": "u1"},
    },
    {
        "id": "e3",
        "type": "message.posted",
        "at": "2026-03-02T09:30:00+08:00",
        "channel": "general",
        "member": {"id": "u1"},
        "data": {"text": "hello", "message_id": "m1", "ref": "e1"},
    },
    {"id": "e4", "type": "checkin", "at": "2026-03-02T12:00:00+08:00", "member": {"id": "u2"}},
    {
        "id": "e5",
        "type": "member.joined",
        "at": "2026-03-02T12:01:00+08:00",
        "member": {"id": "u2"},
    },
    {
        "id": "e6",
        "type": "member.linked",
        "at": "2026-03-02T12:02:00+08:00",
        "member": {"id": "u3"},
        "data": {"person": "P9"},
    },
]

EXAMPLES = [
    ("rules/starter/community.yaml", "examples/starter-events.jsonl", "2026-05-01T12:00:00+08:00"),
    ("rules/moderation", "examples/moderation-events.jsonl", None),
    ("rules/points-community", "examples/rewards-events.jsonl", None),
]


def replay(
    playbook: Path | str, events: Path | str, until: str | None, out: Path
) -> list[dict[str, object]]:
    argv = ["replay", str(playbook), str(events), "--actions-out", str(out)]
    if until is not None:
        argv += ["--until", until]
    assert main(argv) == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def check_params(actions: list[dict[str, object]]) -> set[str]:
    """Every emitted action's type has a §6.2 row naming each of its params keys."""
    rows = table_rows(section("6.2"))
    seen: set[str] = set()
    for action in actions:
        kind = str(action["type"])
        seen.add(kind)
        assert kind in rows, f"§6.2 has no row for the emitted type `{kind}`"
        params = action["params"]
        assert isinstance(params, dict)
        if kind == "set" or action.get("shadow"):
            continue  # attribute names; shadow actions keep their written parameters (§6.4)
        documented = backticked(rows[kind])
        for key in params:
            assert key in documented, (
                f"§6.2 does not name the key `{key}` that `{kind}` emits: {params}"
            )
    return seen


def test_every_action_emits_the_params_the_reference_lists(tmp_path: Path) -> None:
    pb = tmp_path / "every.yaml"
    pb.write_text(EVERY_ACTION, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in EVENTS), encoding="utf-8")
    actions = replay(pb, events, "2026-03-06T12:00:00+08:00", tmp_path / "actions.jsonl")
    seen = check_params(actions)
    missing = {spec.name for spec in BUILTIN_ACTION_SPECS} - seen
    assert not missing, f"the playbook should emit every built-in action: {missing}"
    bookkeeping = {"level_changed", "expire", "complete_flow", "link"}
    assert bookkeeping <= seen, bookkeeping - seen
    timers = {str(a["cause"]).split(":")[0] for a in actions if ":" in str(a["cause"])}
    assert {"untag", "unban", "badge_revoke", "expire", "flow"} <= timers, timers


@pytest.mark.parametrize(("playbook", "events", "until"), EXAMPLES)
def test_the_examples_emit_the_params_the_reference_lists(
    tmp_path: Path, playbook: str, events: str, until: str | None
) -> None:
    check_params(replay(ROOT / playbook, ROOT / events, until, tmp_path / "actions.jsonl"))


# -- links ------------------------------------------------------------------------------------


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    found = set(re.findall(r'<a id="([^"]+)"></a>', text))
    found |= {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}
    return found


DOC_FILES = [*sorted(DOCS.glob("*.md")), ROOT / "README.md", ROOT / "plugins" / "README.md"]


def test_links_to_sections_resolve() -> None:
    """Links to reference sections from every doc, and every section link the reference
    makes, point at an existing anchor."""
    checked = 0
    for doc in DOC_FILES:
        text = doc.read_text(encoding="utf-8")
        for target, anchor in re.findall(r"\]\(([\w./-]*\.md)?#([^)\s]+)\)", text):
            if doc.name != "reference.md" and "reference.md" not in target:
                continue
            path = doc if not target else (doc.parent / target).resolve()
            assert path.exists(), f"{doc.name} links to a missing file {target}"
            assert anchor in anchors(path), f"{doc.name}: no anchor #{anchor} in {path.name}"
            checked += 1
    assert checked > 40


def test_section_anchors_are_numbered_one_to_eleven() -> None:
    ids = re.findall(r'<a id="s([\d-]+)"></a>', REFERENCE)
    assert [i for i in ids if "-" not in i] == [str(n) for n in range(1, 12)]
    assert [f"5-{n}" for n in range(1, 14)] == [i for i in ids if i.startswith("5-")]
    assert [f"11-{n}" for n in range(1, 9)] == [i for i in ids if i.startswith("11-")]
    assert len(ids) == len(set(ids))


def test_no_doc_cites_a_design_file_outside_the_repository() -> None:
    for doc in DOC_FILES:
        assert "DESIGN" not in doc.read_text(encoding="utf-8"), doc


def test_the_tests_named_for_each_guarantee_exist() -> None:
    text = section("11")
    files = set(re.findall(r"`(test_\w+\.py)`", text))
    assert len(files) >= 10
    sources = ""
    for name in sorted(files):
        path = ROOT / "tests" / name
        assert path.exists(), f"§11 names a missing test file {name}"
        sources += path.read_text(encoding="utf-8")
    for function in re.findall(r"`(test_\w+)`", text):
        assert f"def {function}(" in sources, f"§11 names a missing test {function}"
