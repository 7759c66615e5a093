"""`engage-rules completion`: scripts generated from the parser that complete commands,
options and option choices (bash run for real; zsh and fish checked for their shape)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from engage_rules.cli import main


def _script(shell: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["completion", shell]) == 0
    return capsys.readouterr().out


def _complete(script: Path, *words: str) -> list[str]:
    line = " ".join(f'"{w}"' for w in words)
    out = subprocess.run(
        [
            "bash",
            "-c",
            f'source "{script}"; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; '
            '_engage_rules; printf "%s\\n" "${COMPREPLY[@]}"',
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=script.parent,
    )
    return [w for w in out.stdout.splitlines() if w]


@pytest.mark.subprocess
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_commands_options_and_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "engage-rules.bash"
    script.write_text(_script("bash", capsys), encoding="utf-8")
    (tmp_path / "rules.yaml").write_text("", encoding="utf-8")
    assert set(_complete(script, "engage-rules", "re")) == {"replay", "report", "review"}
    assert "--version" in _complete(script, "engage-rules", "--")
    assert _complete(script, "engage-rules", "report", "--st") == ["--store"]
    assert _complete(script, "engage-rules", "init", "x", "--template", "") == [
        "full",
        "moderation",
        "onboarding",
        "points",
    ]
    assert _complete(script, "engage-rules", "validate", "rul") == ["rules.yaml"]
    assert _complete(script, "engage-rules", "completion", "") == ["bash", "zsh", "fish"]


def test_zsh_and_fish_scripts(capsys: pytest.CaptureFixture[str]) -> None:
    zsh = _script("zsh", capsys)
    assert "bashcompinit" in zsh and "complete -o filenames -F _engage_rules engage-rules" in zsh
    fish = _script("fish", capsys)
    assert "complete -c engage-rules -n __fish_use_subcommand -a replay" in fish
    assert "-l template -x -a 'full moderation onboarding points'" in fish
