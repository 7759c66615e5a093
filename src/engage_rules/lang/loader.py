"""Load a playbook — one YAML file or a folder of them — into a validated spec
(docs/language.md, "Loading").

Loading reads every file with the safe YAML 1.2 reader (:mod:`engage_rules.lang.yaml_source`),
merges a folder's files into one playbook, validates the result against
:class:`~engage_rules.lang.spec.PlaybookSpec` and every action against its registered
parameter model, and reports *all* problems at once as ``file:line:col: message`` in one
:class:`~engage_rules.errors.PlaybookError`.  It checks structure only: expressions and
templates are compiled later, by :mod:`engage_rules.compile.compiler`.

In the returned spec each action of a rule's ``do:``/``else:`` and of the strike ladder is
an :class:`ActionCall`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from .._util.suggest import did_you_mean
from ..errors import Path, PlaybookError, Problem, SourceMap
from ..i18n import N_, _
from .action_params import ActionSpec
from .event_types import event_type_warnings
from .flow_steps import StepProblems, parse_steps
from .messages import FIELD_EXPECTS, Located, model_keys, show, validation_problems
from .names import check_name
from .spec import (
    TRIGGER_MODELS,
    PlaybookSpec,
    RuleSpec,
    SilenceFactorSpec,
    Strict,
)
from .yaml_source import YamlDocument, parse_yaml_text, read_yaml_file

#: Keys a rule may have, and keys of the playbook's top level.
RULE_FIELDS: tuple[str, ...] = tuple(model_keys(RuleSpec))
TOP_LEVEL_FIELDS: tuple[str, ...] = tuple(model_keys(PlaybookSpec))
#: Sections that a folder's files add to (the others may appear in one file only).
MERGED_SECTIONS = ("rules", "vars", "templates", "flows")
PLAYBOOK_SUFFIXES = (".yaml", ".yml")
TEST_SUFFIXES = (".test.yaml", ".test.yml")
#: Lists whose items are actions (or flow steps), for naming places in messages.
_ACTION_LISTS = ("do", "else", "refused", "steps", "then", "on_timeout")
_STRICT: dict[str, Any] = {"strict": True, "by_alias": True, "by_name": False}


class LoadRegistry(Protocol):
    """What loading needs of the plugin registry (``engage_rules.plugins.Registry``
    provides it): the registered actions' parameter models, the known event types, and
    the top-level sections plugin features own."""

    @property
    def action_specs(self) -> Mapping[str, ActionSpec]: ...

    @property
    def event_types(self) -> Mapping[str, Any]: ...

    @property
    def sections(self) -> Mapping[str, type[BaseModel]]: ...


@dataclass(frozen=True)
class ActionCall:
    """One validated action: its name, its parameters and its path in the playbook."""

    name: str
    params: BaseModel
    path: Path


class PlaybookSourceMap(SourceMap):
    """A :class:`SourceMap` that also knows where each mapping *key* is written."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[Path, tuple[str, int, int]] = {}

    def set_key(self, path: Path, file: str, line: int, col: int) -> None:
        self.keys[path] = (file, line, col)

    def key_pos(self, path: Path) -> tuple[str, int, int]:
        """Where the key naming ``path`` is written (else where its value is)."""
        return self.keys.get(tuple(path)) or self.pos(path)

    def where(self, path: Path, *, key: bool = False) -> str:
        """``file:line:col`` of the value at ``path`` (of its key, with ``key=True``)."""
        file, line, col = self.key_pos(path) if key else self.pos(path)
        return f"{file}:{line}:{col}"


@dataclass
class LoadedPlaybook:
    """A playbook that passed structural validation, with its source positions."""

    spec: PlaybookSpec
    source: SourceMap
    name: str
    files: list[FsPath] = field(default_factory=list)
    base_dir: FsPath = field(default_factory=FsPath.cwd)
    #: Problems that do not stop the playbook loading (``file:line:col: warning: ...``):
    #: a rule's ``on:`` that looks like a misspelt event type (see event_types.py).
    warnings: list[Problem] = field(default_factory=list)


PathArg = str | os.PathLike[str]


def playbook_files(folder: PathArg) -> list[FsPath]:
    """The playbook files of a folder: ``*.yaml``/``*.yml`` found recursively, without
    test files (``*.test.yaml``) and hidden entries, sorted by relative path.  Entries
    that are not regular files (a FIFO, a device, a dangling link) are listed too, so
    that reading them reports them (``file:0:0``) rather than silently leaving them out."""
    root = FsPath(folder)
    found = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.suffix in PLAYBOOK_SUFFIXES and not p.name.endswith(TEST_SUFFIXES) and not p.is_dir():
            found.append(p)
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def load_playbook(path: PathArg | Sequence[PathArg], *, registry: LoadRegistry) -> LoadedPlaybook:
    """Load a playbook file, a folder of them, or a list of files and folders, with the
    actions, event types and sections ``registry`` knows."""
    items = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not items:
        raise PlaybookError([Problem("<playbook>", 0, 0, _("no playbook path given"))])
    docs: list[YamlDocument] = []
    files: list[FsPath] = []
    seen: set[FsPath] = set()
    problems: list[Problem] = []
    for item in map(FsPath, items):
        if item.is_dir():
            found = playbook_files(item)
            if not found:
                problems.append(
                    Problem(str(item), 0, 0, _("no playbook files (*.yaml, *.yml) in this folder"))
                )
        elif item.exists():
            found = [item]
        else:
            problems.append(Problem(str(item), 0, 0, _("no such file or folder")))
            continue
        for f in found:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                files.append(f)
                docs.append(read_yaml_file(f))
    first = FsPath(items[0])
    fallback = first.resolve().name if first.is_dir() else first.stem
    base_dir = first if first.is_dir() else first.parent
    return _load(docs, problems, fallback, files, base_dir, registry)


def load_playbook_text(
    text: str, filename: str = "<string>", *, registry: LoadRegistry
) -> LoadedPlaybook:
    """Load a playbook from YAML text; ``filename`` is used in problems."""
    pseudo = filename.startswith("<")
    fallback = "playbook" if pseudo else FsPath(filename).stem
    base_dir = FsPath.cwd() if pseudo else FsPath(filename).parent
    files = [] if pseudo else [FsPath(filename)]
    return _load([parse_yaml_text(text, filename)], [], fallback, files, base_dir, registry)


def _load(
    docs: list[YamlDocument],
    problems: list[Problem],
    fallback: str,
    files: list[FsPath],
    base_dir: FsPath,
    registry: LoadRegistry,
) -> LoadedPlaybook:
    loader = _Loader(docs[0].file if docs else "<playbook>", registry)
    loader.problems.extend(problems)
    for doc in docs:
        loader.problems.extend(doc.problems)
        loader.merge(doc)
    loader.incomplete |= bool(problems)
    spec = loader.validate()
    if loader.problems or spec is None:
        raise PlaybookError(sorted(set(loader.problems)))
    community = loader.merged.get("community")
    name = spec.name
    if name is None and isinstance(community, dict) and "name" in community:
        name = spec.community.name
    warnings = event_type_warnings(loader.merged, loader.source, frozenset(registry.event_types))
    return LoadedPlaybook(spec, loader.source, name or fallback, files, base_dir, warnings)


class _Loader:
    def __init__(self, first_file: str, registry: LoadRegistry) -> None:
        self.registry = registry
        self.actions = registry.action_specs
        self.sections = registry.sections
        self.top_level = (*TOP_LEVEL_FIELDS, *sorted(self.sections))
        self.merged: dict[str, Any] = {}
        self.source = PlaybookSourceMap()
        self.source.default_file = first_file
        self.source.set((), first_file, 1, 1)
        self.problems: list[Problem] = []
        self.suppressed: list[Path] = []  # no more problems are reported under these paths
        self.incomplete = False  # some file's content could not be merged

    def add(self, path: Path, message: str, *, at_key: bool = False) -> None:
        if any(path[: len(s)] == s for s in self.suppressed):
            return  # a problem was already reported here
        file, line, col = self.source.key_pos(path) if at_key else self.source.pos(path)
        self.problems.append(Problem(file, line, col, message))

    # -- merging -----------------------------------------------------------------------

    def merge(self, doc: YamlDocument) -> None:
        data = {} if doc.data is None else doc.data
        self.incomplete |= doc.fatal or not isinstance(data, dict)
        if not isinstance(data, dict):
            line, col = doc.positions.get((), (1, 1))
            self.problems.append(
                Problem(
                    doc.file,
                    line,
                    col,
                    _(
                        "a playbook file is a mapping of sections such as "
                        "`engage_rules:` and `rules:`, got {got}"
                    ).format(got=show(data)),
                )
            )
            return
        moves: dict[Path, Path] = {}  # file path prefix -> merged path prefix
        for key, value in data.items():
            here = doc.key_positions[(key,)]
            if key not in self.top_level:
                hint = did_you_mean(key, self.top_level) or _(" (expected one of: {names})").format(
                    names=", ".join(self.top_level)
                )
                self._at(
                    doc,
                    here,
                    _("unknown top-level key {key!r}{hint}").format(key=key, hint=hint),
                )
            elif key in MERGED_SECTIONS and not isinstance(value, list if key == "rules" else dict):
                line, col = doc.positions[(key,)]
                self._at(
                    doc,
                    (line, col),
                    _("{name!r}: expected {expected}, got {got}").format(
                        name=key, expected=_(FIELD_EXPECTS[key]), got=show(value)
                    ),
                )
            elif key == "rules":
                rules = self.merged.setdefault("rules", [])
                moves.update({("rules", i): ("rules", len(rules) + i) for i in range(len(value))})
                moves.setdefault(("rules",), ("rules",))
                rules.extend(value)
            elif key in ("vars", "templates", "flows"):
                section = self.merged.setdefault(key, {})
                moves.setdefault((key,), (key,))
                for name, item in value.items():
                    if name in section:
                        first = self.source.where((key, name), key=True)
                        self._at(
                            doc,
                            doc.key_positions[(key, name)],
                            _(
                                "duplicate key {name!r} in `{key}:` (first defined at {first})"
                            ).format(name=name, key=key, first=first),
                        )
                        continue
                    section[name] = item
                    moves[(key, name)] = (key, name)
            elif key in self.merged:
                if key == "engage_rules" and value == self.merged[key]:
                    continue
                first = self.source.where((key,), key=True)
                self._at(
                    doc,
                    here,
                    _(
                        "`{key}:` is already defined at {first}; "
                        "a section may appear in only one file"
                    ).format(key=key, first=first),
                )
            else:
                self.merged[key] = value
                moves[(key,)] = (key,)
        self._record(doc, moves)

    def _at(self, doc: YamlDocument, pos: tuple[int, int], message: str) -> None:
        self.problems.append(Problem(doc.file, pos[0], pos[1], message))

    def _record(self, doc: YamlDocument, moves: dict[Path, Path]) -> None:
        """Copy the positions of what was merged, moved to their paths in the merged data.

        ``moves`` maps ``("rules", i)`` and ``("vars"|"templates", name)`` to their merged
        paths, and the header of each section taken from this file to itself."""

        def move(path: Path) -> Path | None:
            if len(path) >= 2 and path[:2] in moves:
                return (*moves[path[:2]], *path[2:])
            if path[:1] in moves and (len(path) == 1 or path[0] not in MERGED_SECTIONS):
                return (*moves[path[:1]], *path[1:])
            return None

        for table, out in (
            (doc.positions, self.source.positions),
            (doc.key_positions, self.source.keys),
        ):
            for path, (line, col) in table.items():
                new = move(path)
                if new is not None:
                    out.setdefault(new, (doc.file, line, col))
        self.suppressed.extend(new for new in map(move, doc.invalid) if new is not None)

    # -- validation --------------------------------------------------------------------

    def validate(self) -> PlaybookSpec | None:
        merged = self.merged
        self._precheck()
        calls = self._actions()
        self._flows()
        sections = self._sections()
        core = {k: v for k, v in merged.items() if k not in self.sections}
        try:
            spec = PlaybookSpec.model_validate(core, **_STRICT)
        except ValidationError as exc:
            for p in validation_problems(exc, merged, PlaybookSpec, (), self._label, self._where):
                if self.incomplete and not p.path and p.missing is not None:
                    continue  # the section may be in a file that could not be read
                self._add_located(p)
            return None
        if self.problems:
            return None
        spec.sections.update(sections)
        for name, flow in spec.flows.items():
            flow.steps = self.flow_steps.get(name, [])
        for i, rule in enumerate(spec.rules):
            rule.do = calls.get(("rules", i, "do"), [])
            if rule.else_ is not None:
                rule.else_ = calls.get(("rules", i, "else"), [])
            if rule.refused is not None:
                rule.refused = calls.get(("rules", i, "refused"), [])
        if spec.moderation is not None and spec.moderation.strikes is not None:
            for j, step in enumerate(spec.moderation.strikes.ladder):
                step.do = calls.get(("moderation", "strikes", "ladder", j, "do"), [])
        for bid, board in spec.leaderboards.items():
            for j, close_step in enumerate(board.on_close):
                close_step.do = calls.get(("leaderboards", bid, "on_close", j, "do"), [])
        for did, draw in spec.draws.items():
            draw.do = calls.get(("draws", did, "do"), [])
        return spec

    def _sections(self) -> dict[str, Any]:
        """Validate the sections plugin features own, each with its feature's model."""
        out: dict[str, Any] = {}
        for name, model in self.sections.items():
            if name not in self.merged:
                continue
            data = self.merged[name]
            try:
                out[name] = model.model_validate(data, strict=True)
            except ValidationError as exc:
                for p in validation_problems(exc, data, model, (name,), self._label, self._where):
                    self._add_located(p)
        return out

    def _add_located(self, p: Located) -> None:
        if p.path == () and p.missing == "engage_rules":
            self.add(
                (),
                _("missing `engage_rules: 1` (the language version) at the top of the playbook"),
            )
            return
        self.add(p.path, p.message, at_key=p.at_key)

    def _precheck(self) -> None:
        rules = self.merged.get("rules", [])
        seen: dict[str, Path] = {}
        for i, rule in enumerate(rules):
            if not isinstance(rule, dict):
                continue
            on = rule.get("on")
            if isinstance(on, dict) and not self._trigger(on, ("rules", i, "on")):
                self.suppressed.append(("rules", i, "on"))
            rid = rule.get("id")
            if isinstance(rid, str):
                if rid in seen:
                    self.add(
                        ("rules", i, "id"),
                        _("duplicate rule id {id!r} (first defined at {first})").format(
                            id=rid, first=self.source.where(seen[rid])
                        ),
                    )
                else:
                    seen[rid] = ("rules", i, "id")

    def _trigger(self, on: dict[str, Any], path: Path) -> bool:
        """Check a trigger map (`on: {silent_for: 14d}`); False after reporting problems."""
        kinds = [k for k in on if k in TRIGGER_MODELS]
        if not kinds:
            keys = ", ".join(map(repr, on)) or _("no keys")
            hint = did_you_mean(next(iter(on), ""), TRIGGER_MODELS)
            self.add(
                path,
                _(
                    "`on:` takes an event type, a list of event types, or a trigger "
                    "map ({triggers}), got a mapping with {keys}{hint}"
                ).format(triggers=", ".join(TRIGGER_MODELS), keys=keys, hint=hint),
            )
            return False
        model = TRIGGER_MODELS[kinds[0]]
        nested = on.get("silent_for")
        if kinds[0] == "silent_for" and isinstance(nested, dict):
            # Checked on its own so that problems name its keys plainly.
            try:
                SilenceFactorSpec.model_validate(nested, **_STRICT)
            except ValidationError as exc:
                self._validation(exc, nested, SilenceFactorSpec, (*path, "silent_for"))
                return False
        try:
            model.model_validate(on, **_STRICT)
        except ValidationError as exc:
            self._validation(exc, on, model, path)
            return False
        return True

    def _validation(self, exc: ValidationError, data: Any, model: type[Strict], path: Path) -> None:
        for p in validation_problems(exc, data, model, path, self._label, self._where):
            self._add_located(p)

    def _flows(self) -> None:
        """Check every flow's steps (flow_steps.parse_steps); keep them by flow name."""
        self.flow_steps: dict[str, list[Any]] = {}
        flows = self.merged.get("flows")
        if not isinstance(flows, dict):
            return
        cb = StepProblems(self.add, self._action, self._validation)
        for name, flow in flows.items():
            try:
                check_name(N_("flow name"), name)
            except ValueError as err:
                self.add(("flows", name), str(err), at_key=True)
                continue
            if isinstance(flow, dict) and isinstance(flow.get("steps"), list):
                self.flow_steps[name] = parse_steps(flow["steps"], ("flows", name, "steps"), cb)

    def _actions(self) -> dict[Path, list[ActionCall]]:
        lists: list[tuple[Path, Any]] = []
        rules = self.merged.get("rules", [])
        for i, rule in enumerate(rules):
            if isinstance(rule, dict):
                lists += [(("rules", i, k), rule.get(k)) for k in ("do", "else", "refused")]
        mod = self.merged.get("moderation")
        strikes = mod.get("strikes") if isinstance(mod, dict) else None
        ladder = strikes.get("ladder") if isinstance(strikes, dict) else None
        for j, step in enumerate(ladder if isinstance(ladder, list) else []):
            if isinstance(step, dict):
                lists.append((("moderation", "strikes", "ladder", j, "do"), step.get("do")))
        boards = self.merged.get("leaderboards")
        for bid, board in boards.items() if isinstance(boards, dict) else ():
            steps = board.get("on_close") if isinstance(board, dict) else None
            for j, step in enumerate(steps if isinstance(steps, list) else []):
                if isinstance(step, dict):
                    lists.append((("leaderboards", bid, "on_close", j, "do"), step.get("do")))
        draws = self.merged.get("draws")
        for did, draw in draws.items() if isinstance(draws, dict) else ():
            if isinstance(draw, dict):
                lists.append((("draws", did, "do"), draw.get("do")))
        calls: dict[Path, list[ActionCall]] = {}
        for path, items in lists:
            if isinstance(items, list):
                checked = [self._action(item, (*path, k)) for k, item in enumerate(items)]
                calls[path] = [c for c in checked if c is not None]
        return calls

    def _action(self, item: Any, path: Path) -> ActionCall | None:
        """Check one action, ``name: params``, and the actions nested in it; None (the
        problems recorded) if it is not valid."""
        if not self._is_one_key_mapping(item, path):
            return None
        ((name, value),) = item.items()
        here = (*path, name)
        spec = self._action_spec(name, here)
        if spec is None:
            return None
        params = self._action_params(spec, name, value, here)
        if params is None:
            return None
        try:
            model = spec.params.model_validate(params, **_STRICT)
        except ValidationError as exc:
            for p in validation_problems(exc, params, spec.params, here, self._label, self._where):
                self._add_located(p)
            return None
        if name == "lottery" and not self._lottery_prizes(model, here):
            return None
        self._on_approve(model, here)
        return ActionCall(name, model, path)

    def _is_one_key_mapping(self, item: Any, path: Path) -> bool:
        """True if the action is a mapping with one key, the action name."""
        if not isinstance(item, dict):
            if isinstance(item, str) and item in self.actions:
                self.add(path, _("write the action as a mapping: `{name}: {{}}`").format(name=item))
            else:
                self.add(
                    path,
                    _(
                        "expected an action (a one-key mapping such as "
                        "`award: {{points: 5}}`), got {got}"
                    ).format(got=show(item)),
                )
            return False
        if len(item) != 1:
            known = [k for k in item if k in self.actions]
            hint = (
                _("; indent the parameters under `{name}:`").format(name=known[0])
                if len(known) == 1
                else ""
            )
            self.add(
                path,
                _(
                    "an action is a mapping with exactly one key, the action name, "
                    "got {n} keys ({keys}){hint}"
                ).format(n=len(item), keys=", ".join(map(repr, item)) or _("none"), hint=hint),
            )
            return False
        return True

    def _action_spec(self, name: Any, here: Path) -> ActionSpec | None:
        """The registered action called ``name``; None (the problem recorded) if none is."""
        spec = self.actions.get(name) if isinstance(name, str) else None
        if spec is None:
            if "." in str(name):
                message = _("unknown action {name!r} (no installed plugin registers it){hint}")
            else:
                message = _("unknown action {name!r}{hint}")
            message = message.format(name=name, hint=did_you_mean(name, self.actions))
            self.add(here, message, at_key=True)
        return spec

    def _action_params(
        self, spec: ActionSpec, name: str, value: Any, here: Path
    ) -> dict[Any, Any] | None:
        """The action's parameters as a mapping (nothing, a mapping, or the shorthand's
        one value); None (the problem recorded) if they are none of these."""
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        if isinstance(value, list) or spec.shorthand is None:
            self.add(
                here,
                _(
                    "action {name!r} takes a mapping of parameters, such as "
                    "`{name}: {{...}}`, got {got}"
                ).format(name=name, got=show(value)),
            )
            return None
        return {spec.shorthand: value}

    def _lottery_prizes(self, model: BaseModel, here: Path) -> bool:
        """Check the actions of each lottery prize's `do:`; True if all are valid."""
        ok = True
        for i, prize in enumerate(model.prizes):  # type: ignore[attr-defined]
            inner = [
                self._action(item, (*here, "prizes", i, "do", k)) for k, item in enumerate(prize.do)
            ]
            ok = ok and all(c is not None for c in inner)
            prize.do = inner
        return ok

    def _on_approve(self, model: BaseModel, here: Path) -> None:
        """Check the actions of an `on_approve:` list (which cannot flag for review)."""
        nested = getattr(model, "on_approve", None)
        if isinstance(nested, list):
            calls = []
            for k, sub in enumerate(nested):
                where = (*here, "on_approve", k)
                if isinstance(sub, dict) and "flag_for_review" in sub:
                    self.add(where, _("`on_approve` cannot flag for review again"), at_key=False)
                    continue
                call = self._action(sub, where)
                if call is not None:
                    calls.append(call)
            model.on_approve = calls  # type: ignore[attr-defined]

    # -- naming places in messages -------------------------------------------------------

    @staticmethod
    def _scope(path: Path) -> int:
        """How many leading segments name the enclosing action or rule (0: none)."""
        for n in range(len(path) - 1, 1, -1):
            if path[n - 2] in _ACTION_LISTS and isinstance(path[n - 1], int):
                return n + 1
        return 2 if len(path) >= 2 and path[0] == "rules" else 0

    def _label(self, path: Path) -> str:
        rel = path[self._scope(path) :] or path
        text = ""
        for seg in rel:
            if isinstance(seg, int) and not isinstance(seg, bool):
                text += f"[{seg}]"
            else:
                text += f".{seg}" if text else str(seg)
        return text

    def _where(self, path: Path) -> str:
        scope = self._scope(path)
        if not path:
            return _("the playbook")
        if scope > 2:  # inside an action
            action = _("action {name!r}").format(name=path[scope - 1])
            if len(path) == scope:
                return action
            return _("{label!r} of {action}").format(label=self._label(path), action=action)
        if path[0] == "rules" and len(path) >= 2 and isinstance(path[1], int):
            rule = self.merged["rules"][path[1]]
            rid = rule.get("id") if isinstance(rule, dict) else None
            name = (
                _("rule {id!r}").format(id=rid)
                if isinstance(rid, str)
                else _("rule #{n}").format(n=path[1] + 1)
            )
            if len(path) == 2:
                return name
            return _("{label!r} in {name}").format(label=self._label(path), name=name)
        if path[0] == "flows" and len(path) >= 2:
            name = _("flow {name!r}").format(name=path[1])
            if len(path) == 2:
                return name
            return _("{label!r} in {name}").format(label=self._label(path[2:]), name=name)
        return repr(self._label(path))


def validate_actions(
    items: Any, path: Path, *, registry: LoadRegistry, source: SourceMap
) -> tuple[list[ActionCall], list[Problem]]:
    """Validate a list of raw action mappings written at ``path`` of a loaded playbook
    (a plugin feature's ``do:``), as rules' actions are: the valid calls, and a problem,
    at its place in ``source``, for each one that is not."""
    loader = _Loader(source.default_file, registry)
    loader.source = source if isinstance(source, PlaybookSourceMap) else loader.source
    if not isinstance(items, list):
        loader.add(path, _("expected a list of actions, got {got}").format(got=show(items)))
        return [], loader.problems
    calls = [loader._action(item, (*path, k)) for k, item in enumerate(items)]
    return [c for c in calls if c is not None], loader.problems
