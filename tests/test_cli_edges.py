"""Rough edges of the command line a newcomer meets first: `--version`, output piped
into `head`, and a mistyped store path for a command that reads a store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engage_rules.cli import main
from engage_rules.cli.main import version

ROOT = Path(__file__).resolve().parents[1]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"engage-rules {version()}"
    assert version()[0].isdigit()


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "command",
    [
        ["schema"],
        ["plugins", "--json"],
        [
            "replay",
            "rules/starter/community.yaml",
            "examples/starter-events.jsonl",
            "--until",
            "2026-05-01T12:00:00+08:00",
        ],
    ],
)
def test_output_piped_into_head_ends_quietly(command: list[str]) -> None:
    """The reader leaves after one line: no traceback, no error, exit code 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "engage_rules", *command],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # as `head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert first
    assert "Traceback" not in err and "error" not in err.lower(), err


@pytest.mark.parametrize(
    "command",
    [
        ["explain", "--member", "u1"],
        ["audit"],
        ["review"],
        ["report"],
    ],
)
def test_a_mistyped_store_path_is_refused_and_no_store_is_created(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "state.db").write_bytes(b"")
    typo = tmp_path / "stat.db"
    code = main([*command, "--store", f"sqlite:///{typo}"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"no store at {typo}" in err
    assert "did you mean 'state.db'?" in err
    assert not typo.exists()


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("60", "'cooldown': 60 is a number; a duration needs its unit: 60s, 60m, 60h or 60d"),
        ('"60"', "'cooldown': '60' has no unit: write 60s, 60m, 60h or 60d"),
        ("1.5", "'cooldown': 1.5 is a number; a duration is a whole number with its unit"),
    ],
)
def test_a_duration_without_its_unit_says_how_to_write_it(
    written: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "engage_rules: 1\nname: t\nrules:\n  - id: r\n    on: checkin\n"
        f"    cooldown: {written}\n    do: [{{tag: x}}]\n",
        encoding="utf-8",
    )
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"c.yaml:6:15: {message}" in err
    assert "put it in quotes" not in err


def test_explain_refuses_a_rule_nobody_wrote(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "explain",
            str(ROOT / "rules/starter/community.yaml"),
            str(ROOT / "examples/starter-events.jsonl"),
            "--member",
            "u1",
            "--rule",
            "welcom",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "error: no rule is named 'welcom'; did you mean 'welcome'?" in err


def test_playbook_and_events_swapped_are_named_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    events, playbook = ROOT / "examples/starter-events.jsonl", ROOT / "rules/starter/community.yaml"
    assert main(["replay", str(events), str(playbook)]) == 1
    err = capsys.readouterr().err
    assert "this looks like an events file, not a playbook: the playbook comes first" in err
    assert "YAML syntax error" not in err


def test_validate_checks_a_folder_of_playbook_folders_one_by_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(ROOT / "rules")]) == 0
    err = capsys.readouterr().err
    assert err.rstrip().endswith(f"ok: {_count()} playbook(s) valid")
    # A broken one is reported under its own name, the others still checked.
    for name, body in [("good", "rules: []\n"), ("bad", "rules: [{id: x}]\n")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "p.yaml").write_text(f"engage_rules: 1\nname: {name}\n{body}")
    assert main(["validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "bad/p.yaml:3:9:" in err and "good" not in err


def _count() -> int:
    return sum(1 for p in (ROOT / "rules").iterdir() if p.is_dir())


def test_report_help_says_the_period_includes_to(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "the 30 days ending with --to, --to included" in out


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("-5", "`points: -5` must be a number of 0 or more"),
        ("five", "`points: five` is not a number; write a number (5) or a template"),
        ('"-1"', "`points: -1` must be a number of 0 or more"),
    ],
)
def test_an_amount_that_can_never_work_fails_validate(
    written: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        "engage_rules: 1\nname: t\nrules:\n  - id: r\n    on: checkin\n"
        f"    do: [{{award: {{points: {written}}}}}]\n",
        encoding="utf-8",
    )
    assert main(["validate", str(path)]) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("written", ["5", '"5"', '"{{ vars.n }}"', "0"])
def test_amounts_that_can_work_pass(
    written: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        "engage_rules: 1\nname: t\nvars: {n: 3}\nrules:\n  - id: r\n    on: checkin\n"
        f"    do: [{{award: {{points: {written}}}}}]\n",
        encoding="utf-8",
    )
    assert main(["validate", "-q", str(path)]) == 0, capsys.readouterr().err
