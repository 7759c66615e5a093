"""Content classifiers: named scorers of text used by ``score(text, 'toxicity')``.

A classifier is a callable ``scorer(text, label) -> float`` returning a score in
[0, 1] for ``label`` (``toxicity``, ``negative``...); it raises ``ValueError`` for a
label it does not know.  Classifiers are registered by name through the
``register_classifiers`` hook: the core's (:data:`BUILTIN_CLASSIFIERS`) by the built-in
plugin, others by plugins; the plugin manager fills :data:`CLASSIFIERS`.  A classifier
that raises fails the rule that called it for that event, never the stream.
"""

from __future__ import annotations

from collections.abc import Callable

Scorer = Callable[[str, str], float]

#: The core's classifiers (registered by :mod:`engage_rules.builtin_plugin`).
BUILTIN_CLASSIFIERS: dict[str, Scorer] = {}

#: Registered classifiers, by name (filled through the ``register_classifiers`` hook).
CLASSIFIERS: dict[str, Scorer] = {}


def register_classifier(name: str, scorer: Scorer) -> None:
    """Register ``scorer`` under ``name``.  A name may be registered once."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"classifier name {name!r} must be a word (letters, digits, _ and -)")
    if CLASSIFIERS.get(name, scorer) is not scorer:
        raise ValueError(f"classifier {name!r} is registered twice")
    CLASSIFIERS[name] = scorer


def unregister_classifier(name: str) -> None:
    CLASSIFIERS.pop(name, None)
