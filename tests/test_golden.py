"""The golden generated projects: what the templates render for five specs, file by file.

tests/golden/<name>/ holds a project exactly as `dashsignal new` renders it from that folder's
dashsignal.toml (the demo; the signal pattern with stages, an own and a live view; the memoize
pattern on Redis; SQL on Redis; users of a users file, each seeing their own rows).
A change to generated code fails here until `python scripts/refresh_golden.py` writes the new
text, so that the diff of every such change shows in review.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from dashsignal_cli.render import render_project
from dashsignal_cli.specfile import SPEC_FILENAME, load_spec

GOLDEN = Path(__file__).resolve().parent / "golden"
PROJECTS = sorted(p.name for p in GOLDEN.iterdir() if (p / SPEC_FILENAME).is_file())


# What tools leave in a project they run in (ruff, pytest, Python): not generated, not compared.
TOOL_CACHES = {"__pycache__", ".ruff_cache", ".pytest_cache", ".mypy_cache"}


def on_disk(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not TOOL_CACHES.intersection(p.relative_to(folder).parts)
    }


def test_there_are_golden_projects() -> None:
    assert PROJECTS == [
        "auth-basic",
        "demo",
        "memoize-redis",
        "signal-stages-own-live",
        "sql-redis",
    ]


@pytest.mark.parametrize("name", PROJECTS)
def test_the_templates_render_the_golden_project(name: str) -> None:
    folder = GOLDEN / name
    rendered = {
        path: item.text for path, item in render_project(load_spec(folder / SPEC_FILENAME)).items()
    }
    golden = on_disk(folder)
    hint = "generated code changed: review it, then run `python scripts/refresh_golden.py`"
    assert sorted(rendered) == sorted(golden), hint
    changed = [path for path in rendered if rendered[path] != golden[path]]
    diff = "".join(
        line
        for path in changed[:3]
        for line in difflib.unified_diff(
            golden[path].splitlines(keepends=True),
            rendered[path].splitlines(keepends=True),
            f"golden/{name}/{path}",
            f"rendered/{path}",
        )
    )
    assert not changed, f"{hint}\n{diff[:6000]}"
