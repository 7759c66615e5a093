"""The built-in ``lexicon`` classifier: abusive and negative language in Chinese and English.

A small, transparent scorer registered under the name ``lexicon`` (the default of
``score()``), so that the classifier hook works end to end without a model.  Plugins
register better classifiers (a toxicity model, a sentiment API) under their own names
through the same registry (:mod:`engage_rules.text.classifiers`).

Labels:

* ``toxicity`` — insults, slurs, profanity aimed at people, threats;
* ``negative`` — negative sentiment (disappointment, anger, complaints), which includes
  abusive language.

Each lexicon term has a weight in (0, 1); a text's score for a label is the *noisy-or*
of the weights of the distinct terms found in it, ``1 - Π(1 - w)``: one strong insult
scores about 0.9, two mild complaints about 0.6, a clean text 0.  Terms are matched
with the banned-word matcher (:mod:`engage_rules.text.wordmatch`), so the usual evasions
(spacing, full-width letters, look-alikes, invisible characters) do not hide them; it
reads no context or negation ("not stupid" scores as "stupid").
"""

from __future__ import annotations

from functools import lru_cache

from .wordmatch import WordMatcher

__all__ = ["LABELS", "LEXICON", "lexicon_score"]

_STRONG, _MEDIUM, _MILD = 0.9, 0.6, 0.35

#: Abusive terms and their weights (``toxicity``; they count as ``negative`` too).
_TOXIC: dict[str, float] = {
    # Chinese
    "傻逼": _STRONG,
    "傻b": _STRONG,
    "煞笔": _STRONG,
    "沙比": _STRONG,
    "sb": _MEDIUM,
    "脑残": _STRONG,
    "智障": _STRONG,
    "弱智": _STRONG,
    "白痴": _STRONG,
    "蠢货": _STRONG,
    "废物": _STRONG,
    "人渣": _STRONG,
    "贱人": _STRONG,
    "婊子": _STRONG,
    "狗东西": _STRONG,
    "畜生": _STRONG,
    "王八蛋": _STRONG,
    "混蛋": _STRONG,
    "草泥马": _STRONG,
    "操你": _STRONG,
    "你妈": _STRONG,
    "他妈的": _MEDIUM,
    "去死": _STRONG,
    "死全家": _STRONG,
    "滚蛋": _MEDIUM,
    "滚出去": _MEDIUM,
    "神经病": _MEDIUM,
    "闭嘴": _MEDIUM,
    "蠢": _MILD,
    "垃圾人": _STRONG,
    "恶心人": _MEDIUM,
    "丢人现眼": _MEDIUM,
    # English
    "idiot": _STRONG,
    "idiots": _STRONG,
    "moron": _STRONG,
    "stupid": _MEDIUM,
    "dumb": _MEDIUM,
    "retard": _STRONG,
    "retarded": _STRONG,
    "fuck you": _STRONG,
    "fuck": _MEDIUM,
    "fucking": _MEDIUM,
    "shit": _MILD,
    "bullshit": _MEDIUM,
    "asshole": _STRONG,
    "bitch": _STRONG,
    "bastard": _STRONG,
    "cunt": _STRONG,
    "dickhead": _STRONG,
    "scum": _STRONG,
    "loser": _MEDIUM,
    "pathetic": _MEDIUM,
    "worthless": _MEDIUM,
    "shut up": _MEDIUM,
    "kill yourself": _STRONG,
    "kys": _STRONG,
    "go die": _STRONG,
    "jerk": _MILD,
    "clown": _MILD,
}
#: Negative-sentiment terms that are not abusive (``negative`` only).
_NEGATIVE: dict[str, float] = {
    # Chinese
    "失望": _MEDIUM,
    "太失望": _STRONG,
    "难过": _MEDIUM,
    "糟糕": _MEDIUM,
    "讨厌": _MEDIUM,
    "差劲": _MEDIUM,
    "太差": _MEDIUM,
    "后悔": _MEDIUM,
    "生气": _MEDIUM,
    "愤怒": _MEDIUM,
    "无聊": _MILD,
    "垃圾": _MEDIUM,
    "坑人": _MEDIUM,
    "骗子": _MEDIUM,
    "骗人": _MEDIUM,
    "退款": _MILD,
    "投诉": _MILD,
    "恶心": _MEDIUM,
    "烂": _MILD,
    "不满": _MEDIUM,
    "气死": _MEDIUM,
    "崩溃": _MEDIUM,
    # English
    "bad": _MILD,
    "terrible": _MEDIUM,
    "awful": _MEDIUM,
    "horrible": _MEDIUM,
    "hate": _MEDIUM,
    "disappointed": _MEDIUM,
    "disappointing": _MEDIUM,
    "sad": _MILD,
    "angry": _MEDIUM,
    "annoyed": _MILD,
    "annoying": _MILD,
    "worst": _MEDIUM,
    "sucks": _MEDIUM,
    "useless": _MEDIUM,
    "scam": _MEDIUM,
    "refund": _MILD,
    "boring": _MILD,
    "waste of time": _MEDIUM,
    "garbage": _MEDIUM,
    "trash": _MEDIUM,
}

#: label -> term -> weight.
LEXICON: dict[str, dict[str, float]] = {
    "toxicity": dict(_TOXIC),
    "negative": {**{t: min(w, _MEDIUM) for t, w in _TOXIC.items()}, **_NEGATIVE},
}
#: The labels the lexicon scores.
LABELS = frozenset(LEXICON)

_MATCHERS: dict[str, WordMatcher] = {}  # built on first use, not at import


def _matcher(label: str) -> WordMatcher | None:
    matcher = _MATCHERS.get(label)
    if matcher is None and label in LEXICON:
        matcher = _MATCHERS[label] = WordMatcher(LEXICON[label])
    return matcher


@lru_cache(maxsize=256)
def lexicon_score(text: str, label: str) -> float:
    """The noisy-or score of ``text`` for ``label`` (raises ValueError for other labels)."""
    matcher = _matcher(label)
    if matcher is None:
        raise ValueError(
            f"the lexicon classifier has no label {label!r}; its labels are "
            f"{', '.join(sorted(LABELS))}"
        )
    weights = LEXICON[label]
    keep = 1.0
    for term in matcher.findall(text):
        keep *= 1.0 - weights[term]
    return round(1.0 - keep, 6)


lexicon_score.labels = LABELS  # type: ignore[attr-defined]
