"""Moderation benchmark (issue: moderation, item 8).

Every message is checked against 1,000 banned words (``contains_any``, one Aho–Corasick
automaton) and 20 regular expressions (``matches`` with a list of 20 RE2 patterns), as a
playbook's rules, through the engine and the in-memory store (``Runner``).  The workload
is deterministic (seeded): 100,000 messages from 5,000 members, Chinese and English,
10 to 120 characters, about 3% carrying a banned word and 2% a pattern match (the
offending posts are deleted and get a strike).

It prints messages/second for

  (a) engine — the whole path: the engine, both checks on every message, the actions of
      the offending ones, the store;
  (b) detectors — the two checks alone on the same texts (no engine);
  (c) naive — the 1,000 words checked by a loop over the words (``word in text`` on the
      normalised text, no whole-word rule), on 5,000 of the texts: what a multi-pattern
      automaton avoids.

Times are the process's CPU time (``time.process_time``): the benchmark is
single-threaded, and CPU time does not count the time other processes take on a shared
machine.  The last line printed is one JSON object with the figures.

    python bench/bench_moderation.py [--messages N] [--members N]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from engage_rules import compile_playbook, parse_event
from engage_rules.expr.detectors import compile_patterns
from engage_rules.shell.interpreter import tune_gc
from engage_rules.shell.runner import Runner
from engage_rules.testing import load_playbook_text, open_store
from engage_rules.text.wordmatch import WordMatcher, match_form

HAN = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会"
LATIN = "abcdefghijklmnopqrstuvwxyz"
PATTERNS = [
    r"(?i)free\s+money",
    r"(?i)click\s+here\s+now",
    r"\b1[3-9]\d{9}\b",
    r"(?i)qq\s*[:：]?\s*\d{6,}",
    r"(?i)v(?:x|信)\s*[:：]?\s*[a-z][\w-]{5,}",
    r"(?i)whats?app\s*\+?\d{8,}",
    r"(?i)t\.me/[a-z0-9_]{4,}",
    r"(?i)discord\.gg/[a-z0-9]+",
    r"(?i)\b(?:btc|eth|usdt)\s+giveaway",
    r"(?i)\bearn\s+\$?\d+\s*(?:k|usd)?\s+(?:a|per)\s+day",
    r"(?i)(?:casino|slots)\s+bonus",
    r"(?i)\bonly\s*fans\b",
    r"(?i)\b(?:viagra|cialis)\b",
    r"(?i)promo\s*code\s*[A-Z0-9]{5,}",
    r"(?i)(?:加|\+)\s*(?:微|v)",
    r"(?i)\bdm\s+me\s+for\s+(?:price|rates)",
    r"(?i)\b\d{3,}\s*(?:元|块)\s*(?:一|每)\s*(?:单|天)",
    r"(?i)bit\.ly/\w+",
    r"(?i)(?:代|刷)(?:单|粉|赞)",
    r"(?i)\bwork\s+from\s+home\b.*\bdaily\b",
]


def make_words(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < 600:  # Chinese, 2-4 characters, one common character at most
        w = [chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(2, 4))]
        w[rng.randrange(len(w))] = rng.choice(HAN)
        if any(ch not in HAN for ch in w):
            words.add("".join(w))
    while len(words) < 1000:  # English, 5-10 letters (some two-word phrases)
        w = "".join(rng.choice(LATIN) for _ in range(rng.randint(5, 10)))
        if rng.random() < 0.2:
            w += " " + "".join(rng.choice(LATIN) for _ in range(rng.randint(3, 6)))
        words.add(w)
    return sorted(words)


def make_texts(rng: random.Random, n: int, words: list[str]) -> list[str]:
    english = [
        "the",
        "light",
        "photo",
        "camera",
        "lens",
        "sunset",
        "great",
        "shot",
        "with",
        "my",
        "new",
        "today",
        "and",
        "really",
        "like",
        "this",
        "one",
        "at",
        "f2.8",
    ]
    texts = []
    for _ in range(n):
        size = rng.randint(10, 120)
        if rng.random() < 0.5:
            text = "".join(rng.choice(HAN + "，。 ") for _ in range(size))
        else:
            parts: list[str] = []
            while sum(map(len, parts)) < size:
                parts.append(rng.choice(english))
            text = " ".join(parts)
        r = rng.random()
        if r < 0.03:
            text += " " + rng.choice(words)
        elif r < 0.05:
            text += " free money"
        texts.append(text)
    return texts


PLAYBOOK = """engage_rules: 1
name: bench-moderation
community: {name: bench, timezone: UTC}
rules:
  - id: banned-words
    on: message.posted
    priority: 10
    if: "contains_any(event.data.text, vars.banned)"
    stop: true
    do: [{delete_message: {reason: "{{ match }}"}}, {strike: {reason: "{{ match }}"}}]
  - id: patterns
    on: message.posted
    if: "matches(event.data.text, vars.patterns)"
    do: [{delete_message: {reason: "{{ match }}"}}, {strike: {reason: "{{ match }}"}}]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=5_000)
    args = parser.parse_args()
    rng = random.Random(11)
    words = make_words(rng)
    texts = make_texts(rng, args.messages, words)
    vars_yaml = "vars:\n  banned:\n" + "".join(f"    - {w}\n" for w in words)
    vars_yaml += "  patterns:\n" + "".join(
        "    - '" + p.replace("'", "''") + "'\n" for p in PATTERNS
    )
    playbook = compile_playbook(load_playbook_text(PLAYBOOK + vars_yaml, "bench.yaml"))
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    lines = [
        json.dumps(
            {
                "id": f"e{i}",
                "type": "message.posted",
                "at": (t0 + timedelta(milliseconds=200 * i)).isoformat(),
                "member": {"id": f"u{rng.randrange(args.members)}"},
                "data": {"text": text, "message_id": f"m{i}"},
            },
            ensure_ascii=False,
        )
        for i, text in enumerate(texts)
    ]
    events = [parse_event(line) for line in lines]

    tune_gc()
    gc.collect()
    runner = Runner(playbook, open_store("memory:"))
    start = time.process_time()
    for ev in events:
        runner.feed(ev)
    runner.flush()
    engine_s = time.process_time() - start
    deleted = runner.stats.actions.get("delete_message", 0)

    matcher = WordMatcher(words)
    regex = compile_patterns(PATTERNS)
    start = time.process_time()
    hits = 0
    for text in texts:
        hits += bool(matcher.search(text) or regex.search(text))
    detect_s = time.process_time() - start

    sample = texts[:5000]
    norms = [match_form(t) for t in sample]
    start = time.process_time()
    naive_hits = 0
    for norm in norms:
        naive_hits += any(w in norm for w in words)
    naive_s = time.process_time() - start

    figures = {
        "messages": len(texts),
        "words": len(words),
        "patterns": len(PATTERNS),
        "engine_mps": round(len(texts) / engine_s),
        "detectors_mps": round(len(texts) / detect_s),
        "naive_loop_mps": round(len(sample) / naive_s),
        "deleted": deleted,
        "detector_hits": hits,
    }
    print(
        f"engine {figures['engine_mps']:,} msg/s | detectors {figures['detectors_mps']:,} "
        f"msg/s | naive word loop {figures['naive_loop_mps']:,} msg/s | "
        f"{deleted:,} of {len(texts):,} deleted"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
