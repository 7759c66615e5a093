"""docs/cookbook.md, the operations cookbook: every practice of the list has its section,
in Chinese then English; every YAML snippet is its cited playbook's (verbatim, or loading
equal to a part of it); every cited playbook is valid and passes its tests; and every
command the cookbook shows runs, with what its `grep`s look for in the files it writes."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engage_rules.lang.yaml_source import parse_yaml_text
from engage_rules.testing import run_cli

ROOT = Path(__file__).resolve().parent.parent
COOKBOOK = ROOT / "docs" / "cookbook.md"

#: The practices of issue 18, each with its section, in this order.
PRACTICES = (
    "积分",
    "签到",
    "等级",
    "勋章",
    "抽奖",
    "新手任务",
    "拉新",
    "沉默唤醒",
    "内容节奏",
    "广告与刷屏",
    "负面情绪",
    "数据监测",
)
#: The parts of a section, each in Chinese then English, in this order.
PARTS = (
    ("目标", "Goal"),
    ("剧本", "Playbook"),
    ("测试", "Test it"),
    ("看效果", "See it working"),
    ("注意", "Pitfalls"),
)
CITATION = re.compile(r"# (rules/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\.ya?ml)\s*$")
GREP = re.compile(r"grep '([^']+)' (\S+)(?: \| head -\d+)?$")


@dataclass(frozen=True)
class Block:
    """A fenced block of the markdown: its language, the line of its first content line."""

    lang: str
    line: int
    text: str


def blocks(markdown: str) -> list[Block]:
    found: list[Block] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if fence is None:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```"), None)
        assert end is not None, f"docs/cookbook.md:{i + 1}: a fenced block is never closed"
        found.append(Block(fence.group(1), i + 2, "\n".join(lines[i + 1 : end]) + "\n"))
        i = end + 1
    return found


def sections(markdown: str) -> dict[str, str]:
    """`## ` heading -> its text, up to the next `## ` heading."""
    parts = re.split(r"^## (.+)$", markdown, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def practice_sections(markdown: str) -> dict[str, str]:
    """practice -> the text of the one section whose heading names it."""
    found: dict[str, str] = {}
    for heading, body in sections(markdown).items():
        for practice in PRACTICES:
            if re.match(rf"^\d+\. {practice} · ", heading):
                assert practice not in found, f"two sections for {practice}"
                found[practice] = body
    return found


def is_part(part: Any, whole: Any) -> bool:
    """Whether a snippet's data is a part of the playbook file's: each top-level key of
    the snippet is in the file, a mapping's entries are the file's entries of the same
    keys, a list's items appear in the file's list in the same order, anything else is
    equal."""
    if not isinstance(part, dict) or not isinstance(whole, dict) or not part:
        return False
    for key, value in part.items():
        if key not in whole:
            return False
        full = whole[key]
        if isinstance(value, dict) and isinstance(full, dict):
            if any(k not in full or full[k] != v for k, v in value.items()):
                return False
        elif isinstance(value, list) and isinstance(full, list):
            rest = iter(full)
            if not all(any(item == other for other in rest) for item in value):
                return False
        elif value != full:
            return False
    return True


def snippet_problems(markdown: str, root: Path) -> list[str]:
    """What is wrong with the YAML snippets of a cookbook, as `docs/cookbook.md:LINE:` lines."""
    problems: list[str] = []
    for block in (b for b in blocks(markdown) if b.lang == "yaml"):
        where = f"docs/cookbook.md:{block.line}"
        first, _, body = block.text.partition("\n")
        cited = CITATION.match(first)
        if cited is None:
            problems.append(f"{where}: a snippet starts with '# rules/<playbook>/<file>.yaml'")
            continue
        path = root / cited.group(1)
        if not path.is_file():
            problems.append(f"{where}: {cited.group(1)} does not exist")
            continue
        if not body.strip():
            problems.append(f"{where}: the snippet is empty")
            continue
        text = path.read_text(encoding="utf-8")
        if body in text:
            continue
        snippet = parse_yaml_text(body, where)
        if snippet.problems:
            problems.append(f"{where}: not in {cited.group(1)}, and not YAML on its own")
            continue
        if not is_part(snippet.data, parse_yaml_text(text, str(path)).data):
            problems.append(f"{where}: not in {cited.group(1)}, nor equal to a part of it")
    return problems


def cited_playbooks(markdown: str) -> list[str]:
    return sorted(
        {
            "/".join(m.group(1).split("/")[:2])
            for b in blocks(markdown)
            if b.lang == "yaml" and (m := CITATION.match(b.text.partition("\n")[0]))
        }
    )


def commands(text: str) -> list[str]:
    """The command lines of a section's `sh` blocks (continuation lines joined)."""
    found: list[str] = []
    for block in (b for b in blocks(text) if b.lang == "sh"):
        for line in block.text.replace("\\\n", " ").splitlines():
            line = " ".join(line.split())
            if line and not line.startswith("#"):
                found.append(line)
    return found


MARKDOWN = COOKBOOK.read_text(encoding="utf-8")
SECTIONS = practice_sections(MARKDOWN)


def test_every_practice_has_one_section_in_order() -> None:
    assert list(SECTIONS) == list(PRACTICES)


@pytest.mark.parametrize("practice", PRACTICES)
def test_each_section_has_every_part_in_chinese_then_english(practice: str) -> None:
    body = SECTIONS[practice]
    at = 0
    for chinese, english in PARTS:
        zh, en = body.find(f"**{chinese}**", at), body.find(f"**{english}**", at)
        assert 0 <= zh < en, f"{practice}: **{chinese}** then **{english}**"
        at = en
    section_blocks = blocks(body)
    assert any(b.lang == "yaml" for b in section_blocks), f"{practice}: no playbook snippet"
    lines = commands(body)
    assert any(c.startswith("engage-rules test rules/") for c in lines), practice
    assert any(c.startswith("engage-rules replay ") for c in lines), practice


def test_every_snippet_is_its_playbook_s() -> None:
    assert snippet_problems(MARKDOWN, ROOT) == []
    assert len(cited_playbooks(MARKDOWN)) >= 6


def test_a_snippet_that_differs_from_its_playbook_is_reported(tmp_path: Path) -> None:
    (tmp_path / "rules" / "p").mkdir(parents=True)
    (tmp_path / "rules" / "p" / "community.yaml").write_text(
        "engage_rules: 1\nrules:\n  - id: a\n    on: checkin\n    do: [{award: {points: 5}}]\n"
        "  - id: b\n    on: checkin\n    do: [{award: {points: 1}}]\n"
        "badges:\n  x: {name: X}\n  y: {name: Y}\n",
        encoding="utf-8",
    )
    cite = "# rules/p/community.yaml\n"
    rule_b = "rules:\n  - id: b\n    on: checkin\n    do: [{award: {points: %d}}]\n"
    good = [
        cite + "  - id: b\n    on: checkin\n",  # verbatim
        cite + rule_b % 1,  # loads equal to a part
        cite + "badges:\n  y: {name: Y}\n",
    ]
    bad = {
        "rules:\n  - id: b\n    on: checkin\n": "a snippet starts with",
        "# rules/q/community.yaml\nbadges: {}\n": "rules/q/community.yaml does not exist",
        cite: "the snippet is empty",
        cite + rule_b % 2: "nor equal to a part of it",
        cite + "rules:\n  - {id: b, on: checkin, do: [{award: {points: 1}}]}\n"
        "  - {id: a, on: checkin, do: [{award: {points: 5}}]}\n": "nor equal to a part of it",
        cite + "badges:\n  y: {name: Z}\n": "nor equal to a part of it",
        cite + "badges: [y\n": "not YAML on its own",
    }
    for snippet in good:
        assert snippet_problems(f"x\n```yaml\n{snippet}```\n", tmp_path) == [], snippet
    for snippet, message in bad.items():
        problems = snippet_problems(f"x\n\n```yaml\n{snippet}```\n", tmp_path)
        assert len(problems) == 1 and problems[0].startswith("docs/cookbook.md:4: "), problems
        assert message in problems[0], (snippet, problems)


@pytest.mark.parametrize("playbook", cited_playbooks(MARKDOWN))
def test_every_cited_playbook_is_valid_and_passes_its_tests(playbook: str) -> None:
    assert run_cli("validate", "-q", ROOT / playbook).returncode == 0
    result = run_cli("test", ROOT / playbook)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.endswith(" passed, 0 failed\n")


@pytest.mark.parametrize("practice", PRACTICES)
def test_the_commands_of_each_section_run(practice: str, tmp_path: Path) -> None:
    for name in ("rules", "examples", "docs"):
        (tmp_path / name).symlink_to(ROOT / name)
    for line in commands(SECTIONS[practice]):
        if line.startswith("engage-rules "):
            result = run_cli(*shlex.split(line)[1:], cwd=tmp_path)
            assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
            continue
        grep = GREP.match(line)
        assert grep is not None, f"{practice}: only engage-rules and grep commands: {line}"
        written = (tmp_path / grep.group(2)).read_text(encoding="utf-8")
        assert grep.group(1) in written, f"{practice}: nothing matches {line}"


@pytest.mark.parametrize("practice", PRACTICES)
def test_the_test_cases_a_section_names_exist(practice: str) -> None:
    body = SECTIONS[practice]
    test_it = body[body.index("**Test it**") : body.index("**看效果**")]
    named = re.findall(r'"([^"]+)"', test_it)
    cases = "".join(
        p.read_text(encoding="utf-8") for p in sorted((ROOT / "rules").glob("*/*.test.yaml"))
    )
    for name in named:
        assert f"- name: {name}\n" in cases, f"{practice}: no test case named {name!r}"


def test_the_cookbook_is_linked_from_the_readme_and_the_reference() -> None:
    assert "docs/cookbook.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    head = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8").split("Contents:")[0]
    assert "(cookbook.md)" in head
