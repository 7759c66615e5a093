"""One exception hierarchy: every public error of engage_rules is an EngageRulesError and
is drawn, under its real parent, in the tree of the engage_rules.errors docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from datetime import date

import pytest

import engage_rules
from engage_rules import errors
from engage_rules.errors import EngageRulesError


def _package_exceptions() -> dict[str, type[BaseException]]:
    """Every public exception class defined in a module of the package, by name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(engage_rules.__path__, "engage_rules."):
        if info.name.rsplit(".", 1)[-1] == "__main__":  # runs the command line
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseException)
                and obj.__module__ == info.name
                and not name.startswith("_")
            ):
                assert found.setdefault(obj.__qualname__, obj) is obj, f"two {name} classes"
    return found


def _tree() -> dict[str, str | None]:
    """The docstring tree of engage_rules.errors: class name -> parent name."""
    doc = errors.__doc__ or ""
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "EngageRulesError")
    root_col = lines[start].index("EngageRulesError")
    parents: dict[str, str | None] = {"EngageRulesError": None}
    stack = ["EngageRulesError"]
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        m = re.match(r"^[ │]*([├└])── ([A-Za-z]+)( |$)", line)
        if m is None:  # a description continued on its own line
            continue
        depth = (m.start(1) - root_col) // 4 + 1
        name = m.group(2)
        assert name not in parents, f"{name} is drawn twice"
        del stack[depth:]
        parents[name] = stack[depth - 1]
        stack.append(name)
    return parents


EXCEPTIONS = _package_exceptions()
TREE = _tree()


def test_the_walk_finds_the_errors() -> None:
    # A sanity check of the walk itself: errors defined in several layers are found.
    for name in ("PlaybookError", "EventError", "DeliveryError", "UsageError", "ConfigError"):
        assert name in EXCEPTIONS
    assert len(TREE) == len(EXCEPTIONS) > 20


@pytest.mark.parametrize("name", sorted(EXCEPTIONS))
def test_every_error_is_an_engage_rules_error_drawn_in_the_tree(name: str) -> None:
    cls = EXCEPTIONS[name]
    assert issubclass(cls, EngageRulesError), f"{cls.__module__}.{name} is not an EngageRulesError"
    assert name in TREE, f"{name} is missing from the tree in the engage_rules.errors docstring"
    parent = TREE[name]
    if parent is not None:
        assert cls.__bases__[0].__name__ == parent, f"the tree draws {name} under {parent}"


def test_the_tree_names_only_real_errors() -> None:
    assert sorted(TREE) == sorted(EXCEPTIONS)


# Where each error used to be defined: importing it from there keeps working, and gives
# the one class.
OLD_HOMES = [
    ("engage_rules", "EventError"),
    ("engage_rules.model.events", "EventError"),
    ("engage_rules.events", "EventError"),
    ("engage_rules.adapters", "AdapterError"),
    ("engage_rules.adapters.base", "AdapterError"),
    ("engage_rules.adapters.base", "PayloadError"),
    ("engage_rules.adapters.base", "DeliveryError"),
    ("engage_rules.plugin_api", "PayloadError"),
    ("engage_rules.plugin_api", "DeliveryError"),
    ("engage_rules.runtime.intake", "ServiceStopping"),
    ("engage_rules.runtime.intake", "IntakeFull"),
    ("engage_rules.runtime.service", "SetupError"),
    ("engage_rules.runtime.config", "ConfigError"),
    ("engage_rules.features.moderation.review", "ReviewError"),
    ("engage_rules.plugins.manager", "PluginError"),
    ("engage_rules.expr.runtime", "ExprCompileError"),
    ("engage_rules.expr.runtime", "CompileErrors"),
    ("engage_rules.expr.expressions", "ConditionErrors"),
    ("engage_rules.expr.expressions", "ExprCompileError"),
    ("engage_rules.expr.templates", "TemplateCompileError"),
    ("engage_rules.tools.report.data", "ReportDataError"),
    ("engage_rules.tools.report.build", "PeriodError"),
    ("engage_rules.lang.yaml_source", "NotRegularFile"),
    ("engage_rules.lang.yaml_source", "FileTooLarge"),
]


@pytest.mark.parametrize(("module", "name"), OLD_HOMES)
def test_old_imports_give_the_same_class(module: str, name: str) -> None:
    assert getattr(importlib.import_module(module), name) is getattr(errors, name)


def test_built_in_bases_kept_where_callers_catch_them() -> None:
    assert issubclass(errors.EventError, ValueError)
    assert issubclass(errors.NotRegularFile, OSError)
    assert issubclass(errors.FileTooLarge, OSError)
    # And the errors still behave as before.
    too_large = errors.FileTooLarge(10, 5)
    assert str(too_large) == "file is too large (10 bytes; the limit is 5 bytes)"
    assert (too_large.size, too_large.limit) == (10, 5)
    bad = errors.EventError("bad_json", "the line is not valid JSON")
    assert (bad.reason, str(bad)) == ("bad_json", "the line is not valid JSON")


def test_one_except_catches_errors_of_every_layer() -> None:
    from engage_rules import load_text, parse_event
    from engage_rules.tools.report.build import choose_period
    from engage_rules.tools.report.data import ReportData

    no_data = ReportData("p", "UTC", None, frozenset())
    caught = []
    for fail in (
        lambda: parse_event("{not json"),  # a malformed event (once a bare ValueError)
        lambda: load_text("engage_rules: 1\nrules: 5\n"),
        lambda: choose_period(no_data, date(2026, 3, 2), date(2026, 3, 1)),
    ):
        with pytest.raises(EngageRulesError) as info:
            fail()
        caught.append(type(info.value).__name__)
    assert caught == ["EventError", "PlaybookError", "PeriodError"]


def test_records_are_not_exceptions() -> None:
    # A rule that failed for one event is a stored record; RuleError is its old name.
    from engage_rules import RuleError, RuleFailure
    from engage_rules.lang.flow_steps import StepProblems

    assert RuleError is RuleFailure
    assert not issubclass(RuleFailure, BaseException)
    assert not issubclass(StepProblems, BaseException)
