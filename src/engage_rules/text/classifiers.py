"""Content classifiers: named scorers of text used by ``score(text, 'toxicity')``.

A classifier is a callable ``scorer(text, label) -> float`` returning a score in
[0, 1] for ``label`` (``toxicity``, ``negative``...); it raises ``ValueError`` for a
label it does not know, and may list the labels it knows as a ``labels`` attribute
(checked at load time).  Classifiers are registered by name through the
``register_classifiers`` hook — the core's ``lexicon`` (:mod:`.lexicon`) by the built-in
plugin, others by plugins — and a playbook reaches them through its expression
environment (:class:`engage_rules.expr.env.ExprEnv`).  A classifier that raises fails
the rule that called it for that event, never the stream.
"""

from __future__ import annotations

from collections.abc import Callable

Scorer = Callable[[str, str], float]


def check_classifier_name(name: object) -> None:
    """Raise ValueError if ``name`` cannot name a classifier."""
    if (
        not isinstance(name, str)
        or not name
        or not name.replace("_", "").replace("-", "").isalnum()
    ):
        raise ValueError(f"classifier name {name!r} must be a word (letters, digits, _ and -)")
