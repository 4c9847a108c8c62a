"""Random sequences of what users do to a project, with the promises checked after every step.

Steps: add or remove views (of every kind and source), stages and filters through the CLI, hand
edits to dashsignal.toml (the pattern too), to the user's modules and to generated files, and
regenerate. After each step:
- every line the user wrote is still in its file (a clash is reported as a conflict, and the
  user's side stays in the file between the markers);
- the generated app imports, its callback graph matches dashsignal.toml, and the project's own
  one-computation-per-filter-change test passes.
Conflicts are resolved the way a user would: take the generated side, keep their own lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from typer.testing import CliRunner

from dashsignal_cli.cli import app as cli_app
from dashsignal_cli.errors import ConflictError, DashsignalError
from dashsignal_cli.merge import CONFLICT_START
from dashsignal_cli.spec import FILTER_KINDS, VIEW_KINDS

from project_helpers import generate, make_spec

pytestmark = pytest.mark.e2e

MANAGED_PY = ("signaling/layout.py", "signaling/callbacks.py", "signaling/ids.py")
CHECK_APP = Path(__file__).with_name("check_generated_app.py")


class Checker:
    """check_generated_app.py --serve: one process that has imported Dash, pandas and the
    runtime once, and forks a fresh child to check each project state."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None

    def check(self, project: Path, env: dict[str, str], output: Path) -> int:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, str(CHECK_APP), "--serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        assert self.process.stdin is not None and self.process.stdout is not None
        request = {"project": str(project), "env": env, "output": str(output)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, "the checker stopped: " + output.read_text(encoding="utf-8")[-3000:]
        return int(answer)

    def close(self) -> None:
        if self.process is not None:
            self.process.communicate(timeout=60)  # end of input: it exits


CHECKER = Checker()
# Fingerprints of the project trees that passed the check.
CHECKED_TREES: set[str] = set()


@pytest.fixture(scope="module", autouse=True)
def _stop_the_checker() -> Iterator[None]:
    yield
    CHECKER.close()


def tree_fingerprint(root: Path) -> str:
    """A digest of every file of the project (bytecode caches aside): what the check reads."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and ".pytest_cache" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


class ProjectLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.workdir = Path(tempfile.mkdtemp(prefix="dashsignal-stateful-"))
        spec = make_spec("board", views=("sales:graph", "rows:table"), filters=("region:radio",))
        self.root = generate(self.workdir / "board", spec)
        self.user_lines: dict[str, list[str]] = {}
        self.counter = 0

    def teardown(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def spec(self) -> dict[str, list[dict[str, object]]]:
        return tomllib.loads((self.root / "dashsignal.toml").read_text())

    def cli(self, *args: str) -> None:
        result = CliRunner().invoke(cli_app, [*args, "--project", str(self.root)])
        error = result.exception
        if isinstance(error, ConflictError):
            self.resolve(error.paths)
        elif error is not None and not isinstance(error, SystemExit | DashsignalError):
            raise error
        assert result.exit_code in (0, 1, 3), result.output

    def resolve(self, paths: list[str]) -> None:
        """Keep the generated side of each clash, plus the user's own lines from their side."""
        for path in paths:
            file = self.root / path
            resolved: list[str] = []
            side = None
            for line in file.read_text().splitlines(keepends=True):
                if line.startswith(CONFLICT_START):
                    side, mine = "yours", []
                elif line.startswith("=======") and side == "yours":
                    side = "theirs"
                elif line.startswith(">>>>>>> ") and side == "theirs":
                    resolved.extend(m for m in mine if m.startswith("# user line"))
                    side = None
                elif side == "yours":
                    mine.append(line)
                else:
                    resolved.append(line)
            file.write_text("".join(resolved))
        self.cli("regenerate")

    def remember(self, path: str, line: str) -> None:
        self.user_lines.setdefault(path, []).append(line)

    # --- steps -----------------------------------------------------------------------------

    def stage_ids(self) -> list[str]:
        return [str(s["id"]) for s in self.spec().get("stages", [])]

    @rule(kind=st.sampled_from(VIEW_KINDS), data=st.data())
    def add_view(self, kind: str, data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(["query", "own", "live", *self.stage_ids()]))
        self.cli("add-view", self.next_id("view"), "--kind", kind, "--source", source)

    @rule(data=st.data())
    def add_stage(self, data: st.DataObject) -> None:
        source = data.draw(st.sampled_from(["query", *self.stage_ids()]))
        self.cli("add-stage", self.next_id("stage"), "--source", source)

    @precondition(lambda self: bool(self.stage_ids()))
    @rule(data=st.data())
    def remove_stage(self, data: st.DataObject) -> None:
        # A stage something still reads is refused with an error: that is fine to try too.
        self.cli("remove-stage", data.draw(st.sampled_from(self.stage_ids())))

    @precondition(lambda self: len(self.spec()["views"]) > 1)
    @rule(data=st.data())
    def remove_view(self, data: st.DataObject) -> None:
        view = data.draw(st.sampled_from([str(v["id"]) for v in self.spec()["views"]]))
        self.cli("remove-view", view)

    @rule(kind=st.sampled_from(FILTER_KINDS))
    def add_filter(self, kind: str) -> None:
        self.cli("add-filter", self.next_id("filter"), "--kind", kind)

    @precondition(lambda self: len(self.spec()["filters"]) > 1)
    @rule(data=st.data())
    def remove_filter(self, data: st.DataObject) -> None:
        chosen = data.draw(st.sampled_from([str(f["id"]) for f in self.spec()["filters"]]))
        self.cli("remove-filter", chosen)

    @rule(
        edit=st.sampled_from(
            ["retitle", "reorder", "backend", "timeout", "comment", "add_view", "pattern"]
        )
    )
    def edit_spec_by_hand(self, edit: str) -> None:
        import tomlkit

        path = self.root / "dashsignal.toml"
        document = tomlkit.parse(path.read_text())
        views = document["views"]
        if edit == "retitle":
            views[0]["title"] = f'Retitled {self.next_id("")} "quoted"'
        elif edit == "reorder" and len(views) > 1:
            first, second = views[0].unwrap(), views[1].unwrap()
            views[0], views[1] = tomlkit.item(second), tomlkit.item(first)
        elif edit == "backend":
            backend = document["cache"]["backend"]
            document["cache"]["backend"] = "simple" if backend == "filesystem" else "filesystem"
        elif edit == "timeout":
            document["cache"]["timeout"] = 60 + self.counter
        elif edit == "pattern":
            pattern = document["app"].get("pattern", "signal")
            document["app"]["pattern"] = "memoize" if pattern == "signal" else "signal"
        elif edit == "comment":
            document.add(tomlkit.comment(f"a comment by the user {self.next_id('')}"))
        else:
            table = tomlkit.table()
            table.add("id", self.next_id("hand"))
            table.add("kind", "indicator")
            views.append(table)
        path.write_text(tomlkit.dumps(document))

    @rule(data=st.data())
    def edit_user_module(self, data: st.DataObject) -> None:
        candidates = sorted(
            p.relative_to(self.root).as_posix()
            for pattern in ("views/*.py", "stages/*.py")
            for p in self.root.glob(pattern)
        )
        path = data.draw(st.sampled_from([*candidates, "data.py", "app.py"]))
        line = f"# user line {self.next_id('')} in {path}\n"
        with (self.root / path).open("a") as handle:
            handle.write(line)
        self.remember(path, line)

    @rule(path=st.sampled_from(MANAGED_PY), at_end=st.booleans())
    def edit_managed_file(self, path: str, at_end: bool) -> None:
        file = self.root / path
        lines = file.read_text().splitlines(keepends=True)
        line = f"# user line {self.next_id('')} in {path}\n"
        # After the header and docstring, or at the very end where new code is also added.
        lines.insert(len(lines) if at_end else 4, line)
        file.write_text("".join(lines))
        self.remember(path, line)

    @rule()
    def regenerate(self) -> None:
        self.cli("regenerate")

    # --- promises --------------------------------------------------------------------------

    @invariant()
    def every_user_line_survives(self) -> None:
        for path, lines in self.user_lines.items():
            text = (self.root / path).read_text()
            for line in lines:
                assert line in text, f"{line!r} vanished from {path}"

    @invariant()
    def the_app_matches_its_spec_and_computes_once(self) -> None:
        if self.spec_is_stale():
            self.cli("regenerate")
        fingerprint = tree_fingerprint(self.root)
        if fingerprint in CHECKED_TREES:
            return  # this very tree passed already (a refused command, say, changed nothing)
        output = self.workdir / "check.log"
        status = CHECKER.check(self.root, {"CACHE_DIR": str(self.workdir / "cache")}, output)
        assert status == 0, output.read_text(encoding="utf-8")[-6000:]
        CHECKED_TREES.add(fingerprint)

    def spec_is_stale(self) -> bool:
        from dashsignal_cli.sync import plan_sync

        return not plan_sync(self.root).plan.touches_nothing


ProjectLifecycle.TestCase.settings = settings(
    max_examples=int(os.environ.get("DASHSIGNAL_STATEFUL_EXAMPLES", "4")),
    stateful_step_count=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
test_project_lifecycle = ProjectLifecycle.TestCase
