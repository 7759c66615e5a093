"""Content classifiers: named scorers of text used by ``score(text, 'toxicity')``.

A classifier is a callable ``scorer(text, label) -> float`` returning a score in
[0, 1] for ``label`` (``toxicity``, ``negative``...); it raises ``ValueError`` for a
label it does not know.  Classifiers are registered by name: the built-in lexicon
scorer by the moderation module, others by plugins through the
``register_classifiers`` hook.  A classifier that raises fails the rule that called
it for that event, never the stream.
"""

from __future__ import annotations

from collections.abc import Callable

Scorer = Callable[[str, str], float]

#: Registered classifiers, by name.
CLASSIFIERS: dict[str, Scorer] = {}


def register_classifier(name: str, scorer: Scorer) -> None:
    """Register ``scorer`` under ``name``.  A name may be registered once."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"classifier name {name!r} must be a word (letters, digits, _ and -)")
    if name in CLASSIFIERS:
        raise ValueError(f"classifier {name!r} is registered twice")
    CLASSIFIERS[name] = scorer


def unregister_classifier(name: str) -> None:
    CLASSIFIERS.pop(name, None)
