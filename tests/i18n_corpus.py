"""Broken playbooks for the language tests (tests/test_i18n_validation.py): one per kind
of problem an operator meets loading, validating and compiling a playbook, plus the
hostile playbooks of tests/fuzz/seeds/playbooks that must not load and the load-time
template bounds of tests/test_hostile_playbooks.py.  Each case is (name, YAML text)."""

from __future__ import annotations

import json
from pathlib import Path

HEADER = "engage_rules: 1\ncommunity: {name: h, timezone: UTC}\n"
SEEDS = Path(__file__).resolve().parent / "fuzz" / "seeds" / "playbooks"


def rule(body: str, on: str = "message.posted", rid: str = "r") -> str:
    """A playbook with one rule; ``body`` is the rule's keys after ``on:``, indented."""
    return f"{HEADER}rules:\n  - id: {rid}\n    on: {on}\n{body}"


def send(text: str) -> str:
    """A playbook whose one rule sends ``text`` (a template) to the member."""
    return rule(f"    do:\n      - send:\n          text: {json.dumps(text)}\n")


def when(condition: str) -> str:
    """A playbook whose one rule's condition is ``condition``."""
    quoted = condition.replace('"', '\\"')
    return rule(f'    if: "{quoted}"\n    do: [{{tag: newcomer}}]\n')


DO_TAG = "    do: [{tag: newcomer}]\n"

CASES: list[tuple[str, str]] = [
    # -- reading YAML ------------------------------------------------------------------------
    ("yaml-syntax", HEADER + "rules: [\n"),
    ("yaml-duplicate-key", HEADER + "rules: []\nrules: []\n"),
    ("yaml-bad-tag", HEADER + "vars: {a: !!python/object x}\n"),
    ("yaml-tag-on-list", HEADER + "vars: {a: !!str [1]}\n"),
    ("yaml-merge-key", HEADER + "vars:\n  base: &b {x: 1}\n  c:\n    <<: *b\n"),
    ("yaml-undefined-alias", HEADER + "vars: {a: *nope}\n"),
    ("yaml-two-documents", HEADER + "---\nrules: []\n"),
    ("yaml-bad-bool", HEADER + "vars: {a: !!bool yes}\n"),
    ("yaml-bad-int", HEADER + "vars: {a: !!int abc}\n"),
    ("yaml-key-is-a-mapping", HEADER + "vars: {{a: 1}: 2}\n"),
    ("yaml-control-character", HEADER + "vars: {a: \x07}\n"),
    ("word-list-missing", HEADER + "vars:\n  banned: {file: no-such-words.txt}\n"),
    ("word-list-absolute", HEADER + "vars:\n  banned: {file: /etc/hostname}\n"),
    ("word-list-not-a-path", HEADER + "vars:\n  banned: {file: ''}\n"),
    # -- the playbook's shape ----------------------------------------------------------------
    ("not-a-mapping", "- a\n- b\n"),
    ("missing-version", "community: {name: x}\nrules: []\n"),
    ("wrong-version", "engage_rules: 2\n"),
    ("unknown-top-level-key", HEADER + "rulez: []\n"),
    ("rules-not-a-list", HEADER + "rules: {a: 1}\n"),
    ("rule-not-a-mapping", HEADER + "rules: [5]\n"),
    ("unknown-rule-key", rule("    doo: []\n" + DO_TAG)),
    ("missing-id-and-on", HEADER + "rules:\n  - do: [{tag: x}]\n"),
    ("duplicate-rule-id", rule(DO_TAG) + "  - id: r\n    on: checkin\n" + DO_TAG),
    ("bad-rule-id", rule(DO_TAG, rid='"my rule"')),
    ("rule-without-actions", rule("    do: []\n")),
    ("do-not-a-list", rule("    do: 5\n")),
    ("cooldown-is-a-number", rule("    cooldown: 5\n" + DO_TAG)),
    ("cooldown-not-a-duration", rule("    cooldown: soon\n" + DO_TAG)),
    ("cooldown-per-without-cooldown", rule("    cooldown_per: community\n" + DO_TAG)),
    ("edits-is-yes", rule("    edits: yes\n" + DO_TAG)),
    ("edits-on-another-event", rule("    edits: true\n" + DO_TAG, on="checkin")),
    ("event-type-with-spaces", rule(DO_TAG, on='"Message Posted"')),
    ("empty-on", rule(DO_TAG, on="[]")),
    ("unknown-trigger", rule(DO_TAG, on="{silent: 3d}")),
    ("bad-cron", rule(DO_TAG, on='{cron: "* *"}')),
    ("unknown-time-zone", "engage_rules: 1\ncommunity: {name: h, timezone: Mars/Base}\n"),
    ("host-time-zone", "engage_rules: 1\ncommunity: {name: h, timezone: localtime}\n"),
    (
        "text-where-a-number-goes",
        HEADER + "leaderboards:\n  w: {measure: points, period: week, size: x}\n",
    ),
    (
        "number-under-its-bound",
        HEADER + "leaderboards:\n  w: {measure: points, period: week, size: 0}\n",
    ),
    ("empty-string", HEADER + "badges:\n  b: {name: ''}\n"),
    ("empty-mapping", HEADER + "shop:\n  items: {}\n"),
    ("empty-list", HEADER + "flows:\n  f: {steps: []}\n"),
    (
        "not-one-of-the-choices",
        HEADER + "leaderboards:\n  w: {measure: points, period: fortnight, size: 3}\n",
    ),
    ("key-not-a-string", HEADER + "vars: {1: a}\n"),
    # -- actions -----------------------------------------------------------------------------
    ("unknown-action", rule("    do: [{awrd: {points: 5}}]\n")),
    ("unknown-plugin-action", rule("    do: [{acme.ping: {}}]\n")),
    ("bare-action-name", rule("    do: [award]\n")),
    ("not-an-action", rule("    do: [5]\n")),
    ("action-with-two-keys", rule("    do: [{award: {}, points: 5}]\n")),
    ("action-parameters-not-a-mapping", rule("    do: [{send: [1]}]\n")),
    ("unknown-action-parameter", rule("    do: [{award: {pints: 5}}]\n")),
    ("negative-award", rule("    do: [{award: {points: -3}}]\n")),
    ("award-not-a-number", rule("    do: [{award: {points: lots}}]\n")),
    ("points-and-currency", rule("    do: [{award: {points: 1, currency: gold}}]\n")),
    ("unknown-currency", rule("    do: [{award: {amount: 1, currency: gold}}]\n")),
    ("send-without-text", rule("    do: [{send: {}}]\n")),
    ("unknown-template", rule("    do: [{send: {template: welcom}}]\n")),
    ("bad-tag-name", rule('    do: [{tag: "two words"}]\n')),
    ("poll-one-option", rule("    do: [{poll: {question: q, options: [a]}}]\n")),
    ("poll-options-repeat", rule("    do: [{poll: {question: q, options: [a, a]}}]\n")),
    ("mute-is-a-number", rule("    do: [{mute: {for: 10}}]\n")),
    ("unknown-flow", rule("    do: [{start_flow: {flow: onboard}}]\n")),
    # -- expressions and templates -----------------------------------------------------------
    ("unknown-name", when("membr.points > 1")),
    ("unknown-attribute", when("member.pionts > 1")),
    ("expression-syntax", when("count('message.posted') > ")),
    ("unknown-function", when("cont('message.posted') > 1")),
    ("too-many-arguments", when("count('message.posted', '1h', 3) > 1")),
    ("unknown-parameter", when("count('message.posted', withn='1h') > 1")),
    ("window-not-quoted", when("count('message.posted', within=event.data.w) > 1")),
    ("unknown-segment", when("segment('core')")),
    ("unknown-combinator", rule("    if: {every: ['true']}\n" + DO_TAG)),
    ("condition-is-a-number", rule("    if: 5\n" + DO_TAG)),
    ("ambiguous-power", when("-2 ** 2 > 1")),
    ("unknown-method", when("event.data.text.explode()")),
    ("regex-look-behind", when("matches(event.data.text, '(?<=a)b')")),
    ("unknown-classifier", when("score(event.data.text, 'toxicity', 'magic') > 0.5")),
    ("unknown-experiment", when("variant('colour') == 'red'")),
    ("match-outside-actions", when("match == 'x'")),
    ("template-unknown-variable", send("hi {{ membr.name }}")),
    ("template-syntax", send("hi {{ member.name ")),
    ("template-unknown-filter", send("{{ member.name|shout }}")),
    ("template-vars-undefined", send("{{ vars.price }}")),
    ("template-statement", send("{% import 'x' as y %}")),
    # -- playbook sections -------------------------------------------------------------------
    (
        "unknown-badge",
        HEADER
        + "badges:\n  silver: {name: S}\n"
        + rule("    do: [{grant_badge: gold}]\n")[len(HEADER) :],
    ),
    (
        "tiers-not-increasing",
        HEADER + "badges:\n  b: {name: B, counts: \"count('checkin')\", "
        "tiers: [{at: 5, name: x}, {at: 3, name: y}]}\n",
    ),
    ("tiers-without-counts", HEADER + "badges:\n  b: {name: B, tiers: [{at: 5, name: x}]}\n"),
    (
        "ladder-not-increasing",
        HEADER + "levels:\n  by: points\n  ladder:\n    - {level: 1, name: a, at: 0}\n"
        "    - {level: 2, name: b, at: 0}\n",
    ),
    (
        "ladder-starts-above-zero",
        HEADER + "levels:\n  by: points\n  ladder:\n    - {level: 1, name: a, at: 5}\n",
    ),
    (
        "levels-by-unknown-currency",
        HEADER + "levels:\n  by: gold\n  ladder:\n    - {level: 1, name: a, at: 0}\n",
    ),
    ("set-level-without-levels", rule("    do: [{set_level: {level: 2}}]\n")),
    (
        "leaderboard-unknown-currency",
        HEADER + "leaderboards:\n  w: {measure: gold, period: week, size: 3}\n",
    ),
    (
        "leaderboard-rank-beyond-size",
        HEADER + "leaderboards:\n  w:\n    measure: points\n    period: week\n    size: 3\n"
        "    on_close: [{rank: 5, do: [{tag: top}]}]\n",
    ),
    (
        "shop-unknown-currency",
        HEADER + "shop:\n  items:\n    mug: {name: M, price: 3, currency: gold}\n",
    ),
    (
        "shop-codes-from-missing-var",
        HEADER + "shop:\n  items:\n    mug: {name: M, price: 3, codes: {var: mug_codes}}\n",
    ),
    (
        "shop-codes-two-sources",
        HEADER + "shop:\n  items:\n    mug: {name: M, price: 3, codes: {}}\n",
    ),
    ("redeem-unknown-item", rule("    do: [{redeem: {item: mugg}}]\n")),
    ("unknown-draw", rule("    do: [{enter_draw: {draw: lucky}}]\n")),
    ("segment-refers-to-itself", HEADER + "segments:\n  a: \"segment('a')\"\n"),
    ("bad-segment-name", HEADER + "segments:\n  'my segment': 'true'\n"),
    ("experiment-with-one-variant", HEADER + "experiments:\n  e: {variants: {a: 1}}\n"),
    (
        "quiet-hours-from-is-to",
        HEADER + 'messaging:\n  quiet_hours: {from: "22:00", to: "22:00"}\n',
    ),
    (
        "strike-ladder-twice-at-one",
        HEADER + "moderation:\n  strikes:\n    ladder:\n      - {at: 1, do: [{warn: {text: a}}]}\n"
        "      - {at: 1, do: [{warn: {text: b}}]}\n",
    ),
    (
        "flow-wait-zero",
        HEADER + "flows:\n  f:\n    steps:\n      - wait: 0s\n      - tag: x\n",
    ),
    (
        "flow-step-extra-key",
        HEADER + "flows:\n  f:\n    steps:\n      - {wait: 1d, then: []}\n",
    ),
    (
        "flows-duplicate-in-one-file",
        HEADER + "flows:\n  f: {steps: [{tag: x}]}\n  f: {steps: [{tag: y}]}\n",
    ),
]


def seed_cases() -> list[tuple[str, str]]:
    """The fuzz seeds that must not load (``# expect: error``)."""
    out = []
    for path in sorted(SEEDS.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if "# expect: error" in text:
            out.append((f"seed-{path.stem}", text))
    return out
