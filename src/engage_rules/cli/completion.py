"""``engage-rules completion bash|zsh|fish``: shell completion, generated from the parser.

The script completes the command names (plugins' included: it is generated from the
installed registry), each command's options, the choices of an option that has them
(``--template``, ``--status``...), and file names elsewhere.  Install it once::

    engage-rules completion bash > ~/.local/share/bash-completion/completions/engage-rules
    engage-rules completion zsh > "${fpath[1]}/_engage-rules"     # or source it
    engage-rules completion fish > ~/.config/fish/completions/engage-rules.fish
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator

from ..i18n import _

SHELLS = ("bash", "zsh", "fish")


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules completion``."""
    p.add_argument("shell", choices=SHELLS, help=_("the shell to complete for"))


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _helps(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each command's one-line help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or a.dest for a in action._choices_actions}
    return {}


def _options(parser: argparse.ArgumentParser) -> Iterator[tuple[list[str], list[str], str]]:
    """Each option of ``parser``: its spellings, its choices, its help."""
    for action in parser._actions:
        if action.option_strings:
            choices = [str(c) for c in action.choices] if action.choices else []
            yield list(action.option_strings), choices, action.help or ""


def _positional_choices(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if (
            not action.option_strings
            and action.choices
            and not isinstance(action, argparse._SubParsersAction)
        ):
            return [str(c) for c in action.choices]
    return []


def bash_script(parser: argparse.ArgumentParser) -> str:
    """A bash completion function (also loaded by zsh through ``bashcompinit``)."""
    commands = _subparsers(parser)
    cases = []
    for name, sub in commands.items():
        opts = [o for spellings, _choices, _help in _options(sub) for o in spellings]
        choice_cases = "".join(
            f"            {'|'.join(spellings)}) COMPREPLY=($(compgen -W "
            f'{shlex.quote(" ".join(choices))} -- "$cur")); return;;\n'
            for spellings, choices, _help in _options(sub)
            if choices
        )
        positional = _positional_choices(sub)
        rest = (
            f'COMPREPLY=($(compgen -W {shlex.quote(" ".join(positional))} -- "$cur"))'
            if positional
            else 'COMPREPLY=($(compgen -f -- "$cur"))'
        )
        cases.append(
            f"        {shlex.quote(name)})\n"
            f'          case "$prev" in\n{choice_cases}          esac\n'
            f'          if [[ "$cur" == -* ]]; then\n'
            f'            COMPREPLY=($(compgen -W {shlex.quote(" ".join(opts))} -- "$cur"))\n'
            f"            return\n"
            f"          fi\n"
            f"          {rest}; return;;\n"
        )
    top = " ".join([*commands, "--help", "--version"])
    return (
        "# engage-rules completion for bash (engage-rules completion bash)\n"
        "_engage_rules() {\n"
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"\n'
        '    local cmd="" i\n'
        "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
        '        [[ "${COMP_WORDS[i]}" != -* ]] && { cmd="${COMP_WORDS[i]}"; break; }\n'
        "    done\n"
        '    if [[ -z "$cmd" ]]; then\n'
        f'        COMPREPLY=($(compgen -W {shlex.quote(top)} -- "$cur")); return\n'
        "    fi\n"
        '    case "$cmd" in\n' + "".join(cases) + "    esac\n"
        "}\n"
        "complete -o filenames -F _engage_rules engage-rules\n"
    )


def zsh_script(parser: argparse.ArgumentParser) -> str:
    """zsh: the bash function, through zsh's ``bashcompinit``."""
    return (
        "# engage-rules completion for zsh (engage-rules completion zsh)\n"
        "autoload -U +X compinit && compinit\n"
        "autoload -U +X bashcompinit && bashcompinit\n" + bash_script(parser)
    )


def fish_script(parser: argparse.ArgumentParser) -> str:
    """fish: one ``complete`` line per command and per option."""
    lines = ["# engage-rules completion for fish (engage-rules completion fish)"]
    commands = _subparsers(parser)
    helps = _helps(parser)
    for name in commands:
        lines.append(
            f"complete -c engage-rules -n __fish_use_subcommand -a {shlex.quote(name)} "
            f"-d {shlex.quote(helps.get(name, name)[:60])}"
        )
    for name, sub in commands.items():
        when = f"'__fish_seen_subcommand_from {name}'"
        for spellings, choices, help_ in _options(sub):
            flags = " ".join(
                f"-l {s[2:]}" if s.startswith("--") else f"-s {s[1:]}" for s in spellings
            )
            extra = f" -x -a {shlex.quote(' '.join(choices))}" if choices else ""
            lines.append(
                f"complete -c engage-rules -n {when} {flags}{extra} -d {shlex.quote(help_[:60])}"
            )
        positional = _positional_choices(sub)
        if positional:
            lines.append(
                f"complete -c engage-rules -n {when} -x -a {shlex.quote(' '.join(positional))}"
            )
    return "\n".join(lines) + "\n"


def cmd_completion(args: argparse.Namespace) -> int:
    """``engage-rules completion``: print the completion script for a shell."""
    from .main import build_parser

    parser = build_parser(args.registry)
    script = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[args.shell]
    print(script(parser), end="")
    return 0
