"""Experiments: ``variant('name')`` (docs/language.md, "Experiments").

A playbook declares experiments with weighted variants::

    experiments:
      welcome-copy:
        variants: {warm: 1, short: 1}

A member's variant is a deterministic hash of (experiment, member id): the same member
always gets the same variant, in a replay, after a restart and on another machine, and
the shares follow the weights.  Adding an experiment or changing another one's weights
moves nobody; changing this experiment's weights moves only the members whose hash
falls in the part of [0, 1) that changed hands.

The first time a member's variant is read, the engine records the *exposure*: an
``exposed`` action (``params: {experiment, variant}``) and the variant in the member's
state (``member.variants``); ``engage-rules report`` splits a goal's conversion by the
variants of the members exposed (docs/reports.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from .._util.suggest import did_you_mean
from ..errors import ExpressionError
from ..i18n import _
from ..model import rule_problems as rp
from .context import EvalContext
from .function_spec import CallSite

#: An experiment's variants, each with the upper bound of its share of [0, 1).
Shares = tuple[tuple[str, float], ...]


def shares(variants: Mapping[str, float]) -> Shares:
    """The variants in the order written, each with the cumulative bound of its share."""
    total = float(sum(variants.values()))
    out: list[tuple[str, float]] = []
    running = 0.0
    for name, weight in variants.items():
        running += weight
        out.append((name, running / total))
    if out:  # the last bound is exactly 1, whatever the rounding
        out[-1] = (out[-1][0], 1.0)
    return tuple(out)


def point(experiment: str, member: str) -> float:
    """Where ``member`` falls in [0, 1) for ``experiment`` (a 64-bit hash)."""
    raw = f"{experiment}\x1f{member}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big") / 2.0**64


def assign(experiment: str, member: str, table: Shares) -> str:
    """The variant of ``member`` in ``experiment``."""
    x = point(experiment, member)
    for name, bound in table:
        if x < bound:
            return name
    return table[-1][0]


def fn_variant(c: EvalContext, name: Any) -> str:
    """``variant('name')``: the member's variant, recording the first exposure."""
    table = c.env.experiments.get(name) if isinstance(name, str) else None
    if table is None:
        raise ExpressionError(rp.english(rp.UNKNOWN_EXPERIMENT, name=repr(name)))
    m = c.m
    if m is None:
        raise ExpressionError(rp.english(rp.VARIANT_WITHOUT_MEMBER))
    known = m.variants.get(name)
    if known is not None:
        return known
    chosen = assign(name, m.id, table)
    expose = getattr(c, "expose", None)  # the engine's scope records the exposure
    if expose is not None:
        expose(name, chosen)
    return chosen


def check_variant(site: CallSite) -> Mapping[int | str, Any] | None:
    """Load time: the experiment is named by a quoted string the playbook declares."""
    arg = site.arg(0, "name")
    if arg is None or not arg[1].literal or not isinstance(arg[1].value, str):
        raise ValueError(
            _("variant(): the experiment name must be quoted, e.g. variant('welcome-copy')")
        )
    name = arg[1].value
    known = site.env.experiment_names if site.env is not None else frozenset()
    if name not in known:
        hint = did_you_mean(name, known)
        listed = ", ".join(sorted(known)) or _("none: the playbook has no `experiments:`")
        raise ValueError(
            _("variant(): unknown experiment {name!r}{hint} (experiments: {listed})").format(
                name=name, hint=hint, listed=listed
            )
        )
    return None
