"""docs/plugins.md documents every hook, and the code it shows is the tested example."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from engage_rules.plugins.manager import hookspecs
from engage_rules.testing.adapter_contract import AdapterContract

ROOT = Path(__file__).parent.parent
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def hook_names() -> list[str]:
    return sorted(
        name
        for name, fn in vars(hookspecs).items()
        if callable(fn) and hasattr(fn, "engage_rules_spec")
    )


def test_the_hooks_are_the_contract() -> None:
    assert hook_names() == sorted(
        [
            "register_adapters",
            "register_actions",
            "register_functions",
            "register_event_types",
            "register_stores",
            "register_commands",
            "register_classifiers",
            "register_features",
        ]
    )


def test_every_hook_has_a_docstring_and_a_section_in_the_guide() -> None:
    sections = re.findall(r"^### (register_\w+)$", GUIDE, flags=re.MULTILINE)
    for name in hook_names():
        doc = inspect.getdoc(getattr(hookspecs, name))
        assert doc and len(doc) > 80, f"hookspec {name} has no real docstring"
        assert "register(" in doc, f"hookspec {name}: document the register() call"
        assert name in sections, f"docs/plugins.md has no '### {name}' section"
        assert f"[`{name}`](#{name})" in GUIDE, f"the hooks table does not list {name}"
    assert sorted(sections) == hook_names(), "a section documents a hook that does not exist"


def test_the_code_shown_is_the_tested_example() -> None:
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w+\n(.*?)```", GUIDE, flags=re.DOTALL)
    assert len(blocks) == 5
    for path, text in blocks:
        assert (ROOT / path).read_text(encoding="utf-8") == text, (
            f"docs/plugins.md shows an outdated copy of {path}"
        )


def test_the_contract_table_lists_every_check() -> None:
    checks = sorted(n for n in dir(AdapterContract) if n.startswith("test_"))
    listed = sorted(re.findall(r"^\| `(test_\w+)` \|", GUIDE, flags=re.MULTILINE))
    assert listed == checks
