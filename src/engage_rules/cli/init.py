"""``engage-rules init DIR``: a playbook to start from, with its tests and sample events.

The playbook is a folder (docs/language.md, "Loading": its files are merged) made of a
base file (the community, the currency) and one file per part — points and check-ins,
moderation, onboarding — each with its playbook tests, from the ``cli/scaffold``
package data.  ``--template`` picks the parts (``full``: all of them).  Next to the folder go
sample events that exercise every part and the playbook language's JSON Schema for
editors.  Everything written passes ``engage-rules test`` and ``replay`` as it is
(tests/test_init.py checks each template); an existing file is never overwritten.
In Chinese (``--lang zh_CN`` or the locale) the files come from ``cli/scaffold/zh_CN``:
the same playbook, with Chinese comments, rule descriptions and test names.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..i18n import _, current_language, ngettext

#: Template -> the parts it is made of.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "points": ("points",),
    "moderation": ("moderation",),
    "onboarding": ("onboarding",),
    "full": ("points", "moderation", "onboarding"),
}
#: The first sample event (Monday 2026-03-02, 09:00 in Shanghai).
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def configure(p: argparse.ArgumentParser) -> None:
    """The options of ``engage-rules init``."""
    p.add_argument("dir", metavar="DIR", help=_("the folder to write into (created if missing)"))
    p.add_argument(
        "--template",
        choices=sorted(TEMPLATES),
        default="full",
        help=_(
            "which parts: points and check-ins, moderation, onboarding, or all of them "
            "(default: full)"
        ),
    )
    p.add_argument("--community", default="我的社群", help=_("the community's display name"))


def _scaffold(name: str) -> str:
    """A scaffold file: its variant in the current language (``scaffold/zh_CN/``: Chinese
    comments, descriptions and test names), else the bilingual one."""
    folder = files("engage_rules.cli").joinpath("scaffold")
    variant = folder.joinpath(current_language(), name)
    return (variant if variant.is_file() else folder.joinpath(name)).read_text(encoding="utf-8")


def _sample_events(parts: tuple[str, ...]) -> list[dict[str, Any]]:
    """Events that exercise each part: a few members over a week."""
    out: list[dict[str, Any]] = []

    def add(minutes: float, type_: str, member: str, **data: Any) -> None:
        event: dict[str, Any] = {
            "id": f"e{len(out) + 1}",
            "type": type_,
            "at": (START + timedelta(minutes=minutes)).isoformat(),
            "member": {"id": member},
        }
        if data:
            event["data"] = data
        out.append(event)

    add(0, "member.joined", "小明")
    add(1, "member.joined", "小红")
    add(5, "message.posted", "小明", text="大家好，我是小明，喜欢读书和摄影，请多指教！")
    day = 24 * 60
    for d in range(7):
        add(d * day + 30, "checkin", "小红")
    if "moderation" in parts:
        add(2 * day + 60, "message.posted", "路人甲", text="加微信领福利，兼职日结")
        add(2 * day + 61, "message.posted", "路人甲", text="代刷好评")
    add(6 * day + 120, "redeem.requested", "小明")
    out.sort(key=lambda e: str(e["at"]))
    for n, e in enumerate(out, 1):
        e["id"] = f"e{n}"
    return out


def cmd_init(args: argparse.Namespace) -> int:
    """``engage-rules init``: write the playbook folder, its tests, sample events and the
    schema into ``DIR``."""
    from ..lang.schema import playbook_json_schema

    root = Path(args.dir)
    folder = root / "playbook"
    events = root / "events.jsonl"
    parts = TEMPLATES[args.template]
    name = (
        "".join(c if c.isalnum() or c in "-_" else "-" for c in root.resolve().name) or "community"
    )
    base = _scaffold("base.yaml")
    base = (
        base.replace("{community}", args.community)
        .replace("{name}", name)
        .replace("{folder}", str(folder))
        .replace("{events}", str(events))
    )
    wanted: dict[Path, str] = {folder / "community.yaml": base}
    for part in parts:
        wanted[folder / f"{part}.yaml"] = _scaffold(f"{part}.yaml")
        wanted[folder / f"{part}.test.yaml"] = _scaffold(f"{part}.test.yaml")
    wanted[events] = "".join(
        json.dumps(e, ensure_ascii=False) + "\n" for e in _sample_events(parts)
    )
    # In the --lang language, else in English and Chinese (as `engage-rules schema`).
    schema = playbook_json_schema(args.registry, language=getattr(args, "lang", None))
    wanted[root / "playbook.schema.json"] = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    taken = [p for p in wanted if p.exists()]
    if taken:
        for p in taken:
            print(
                _("error: {path} exists; init never overwrites a file").format(path=p),
                file=sys.stderr,
            )
        return 1
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, text in wanted.items():
            path.write_text(text, encoding="utf-8")
    except OSError as err:
        print(
            _("error: cannot write into {folder}: {reason}").format(
                folder=root, reason=err.strerror or err
            ),
            file=sys.stderr,
        )
        return 2
    print(
        ngettext(
            "wrote {n} file into {folder} ({template}: {parts})",
            "wrote {n} files into {folder} ({template}: {parts})",
            len(wanted),
        ).format(n=len(wanted), folder=root, template=args.template, parts=", ".join(parts))
    )
    print(_("next:"))
    print(f"  engage-rules validate {folder}")
    print(f"  engage-rules test {folder}")
    print(f"  engage-rules replay {folder} {events}")
    return 0
