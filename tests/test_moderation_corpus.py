"""The evasion corpus: the example playbook's detectors on messages members write to get
past filters (spacing, full-width letters, look-alikes, invisible characters, emoji
padding) and on clean messages that come close.  Precision and recall must be >= 0.95."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import orjson
import pytest

from engage_rules import Engine, parse_event
from engage_rules.testing import T0, load
from moderation_helpers import EXAMPLE, PUNITIVE, ROOT

CORPUS = ROOT / "tests" / "data" / "moderation_corpus.jsonl"


def corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def test_the_corpus_is_large_enough_and_bilingual() -> None:
    items = corpus()
    spam = [c for c in items if c["spam"]]
    clean = [c for c in items if not c["spam"]]
    assert len(spam) >= 50 and len(clean) >= 50

    def has_han(text: str) -> bool:
        return any("\u4e00" <= ch <= "\u9fff" for ch in text)

    for group in (spam, clean):
        assert sum(has_han(c["text"]) for c in group) >= 20
        assert sum(not has_han(c["text"]) for c in group) >= 20
    kinds = {c["kind"] for c in spam}
    for evasion in ("spacing", "fullwidth", "homoglyph", "zero-width", "emoji padding"):
        assert evasion in kinds


def test_detector_precision_and_recall(capsys: pytest.CaptureFixture[str]) -> None:
    engine = Engine(load(EXAMPLE))
    tp = fp = fn = tn = 0
    misses: list[str] = []
    for i, item in enumerate(corpus()):
        # One established member per message: only the content decides.
        ev = parse_event(
            orjson.dumps(
                {
                    "id": f"corpus-{i}",
                    "type": "message.posted",
                    "at": (T0 + timedelta(minutes=i)).isoformat(),
                    "community": "photo",
                    "member": {"id": f"c{i}", "created_at": "2020-01-01T00:00:00Z"},
                    "data": {"text": item["text"], "message_id": f"msg-{i}"},
                }
            )
        )
        flagged = any(a.type in PUNITIVE for d in engine.process(ev) for a in d.actions)
        if flagged and item["spam"]:
            tp += 1
        elif flagged:
            fp += 1
            misses.append(f"false positive: {item['text']!r}")
        elif item["spam"]:
            fn += 1
            misses.append(f"missed ({item['kind']}): {item['text']!r}")
        else:
            tn += 1
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    with capsys.disabled():
        print(
            f"\nmoderation corpus: {tp + fn} offending, {fp + tn} clean; "
            f"precision {precision:.3f}, recall {recall:.3f}"
        )
    assert precision >= 0.95, misses
    assert recall >= 0.95, misses
