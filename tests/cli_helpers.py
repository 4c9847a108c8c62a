"""Running `dashsignal` as a user does, and reading back what it wrote, for the CLI tests."""

from __future__ import annotations

import ast
import contextlib
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from dashsignal_cli.cli import main
from dashsignal_cli.commands import console


@dataclass(frozen=True)
class CliResult:
    """What one `dashsignal` command did: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path, columns: str = "200") -> CliResult:
    """`dashsignal ARGS` run in this process, in `cwd`: stdin not a terminal, no colour,
    output captured. The same entry point as the console script (`dashsignal_cli.cli.main`),
    so errors become one line and an exit code exactly as there; a run takes milliseconds
    where a fresh interpreter takes half a second. An exception main() does not turn into a
    message propagates and fails the test with its traceback.
    """
    env = {"NO_COLOR": "1", "COLUMNS": columns, "FORCE_COLOR": None, "TERM": "dumb"}
    # The CLI's consoles are made once per process and keep the width and streams they saw.
    console.out.cache_clear()
    console.err.cache_clear()
    returncode = 0
    with contextlib.chdir(cwd), CliRunner().isolation(env=env) as (stdout, stderr, _):
        try:
            main(list(args))
        except SystemExit as stop:
            returncode = _exit_status(stop.code)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            console.out.cache_clear()
            console.err.cache_clear()
        out, err = stdout.getvalue(), stderr.getvalue()
    return CliResult(returncode, out.decode("utf-8"), err.decode("utf-8"))


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def run_cli_process(*args: str, cwd: Path, columns: str = "200") -> CliResult:
    """`python -m dashsignal_cli ARGS` in a fresh interpreter in `cwd`, stdin not a terminal:
    for what only a real process shows (the console script's exit status, signals)."""
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": columns,
        "PYTHONUTF8": "1",
        "PYTHONIOENCODING": "utf-8",
    }
    env.pop("FORCE_COLOR", None)
    result = subprocess.run(
        [sys.executable, "-m", "dashsignal_cli", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
        check=False,
    )
    return CliResult(result.returncode, result.stdout, result.stderr)


def build_tree(root: Path, files: dict[str, str]) -> Path:
    """`root` holding `files` ({relative path: text}), folders made as needed."""
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def tree_snapshot(root: Path) -> dict[str, bytes | None]:
    """Every entry under `root`, hidden ones included: files with their bytes, folders as None."""
    return {
        path.relative_to(root).as_posix(): (None if path.is_dir() else path.read_bytes())
        for path in sorted(root.rglob("*"))
    }


def assert_clean_error(result: CliResult) -> str:
    """A failure reported as `error: ...` plus at most a hint line; return the error line."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "nothing on stderr"
    assert lines[0].startswith("error:"), result.stderr
    assert len(lines) <= 2, result.stderr
    if len(lines) == 2:
        assert lines[1].startswith("hint:"), result.stderr
    return lines[0]


def load_toml(project: Path) -> dict[str, Any]:
    """The project's dashsignal.toml, parsed by the standard library."""
    with (project / "dashsignal.toml").open("rb") as handle:
        return tomllib.load(handle)


def compile_python_files(project: Path) -> list[Path]:
    """Compile every .py file under `project` (raises SyntaxError on the first bad one)."""
    files = sorted(project.rglob("*.py"))
    for path in files:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    return files


def _assigned_value(module: ast.Module, name: str) -> ast.expr:
    for node in module.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return node.value
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
            and node.value is not None
        ):
            return node.value
    raise AssertionError(f"no top-level assignment to {name}")


def module_constant(path: Path, name: str) -> Any:
    """The literal value of the top-level `NAME = <literal>` in a Python file."""
    module = ast.parse(path.read_text(encoding="utf-8"))
    return ast.literal_eval(_assigned_value(module, name))


def generated_filters(project: Path) -> dict[str, dict[str, Any]]:
    """`FILTERS = Filters(Filter(id=..., ...), ...)` of signaling/filters.py as
    {id: {keyword: literal value}}."""
    module = ast.parse((project / "signaling" / "filters.py").read_text(encoding="utf-8"))
    value = _assigned_value(module, "FILTERS")
    assert isinstance(value, ast.Call) and ast.unparse(value.func) == "Filters"
    filters: dict[str, dict[str, Any]] = {}
    for call in value.args:
        assert isinstance(call, ast.Call) and ast.unparse(call.func) == "Filter"
        keywords = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
        filters[keywords["id"]] = keywords
    return filters


def cache_settings(project: Path) -> dict[str, Any]:
    """The literal keywords of `CACHE = CacheSettings(...)` in signaling/settings.py."""
    module = ast.parse((project / "signaling" / "settings.py").read_text(encoding="utf-8"))
    value = _assigned_value(module, "CACHE")
    assert isinstance(value, ast.Call) and ast.unparse(value.func) == "CacheSettings"
    settings: dict[str, Any] = {}
    for kw in value.keywords:
        if kw.arg is None:
            continue
        try:
            settings[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            settings[kw.arg] = ast.unparse(kw.value)  # an expression, such as the cache folder
    return settings


def render_return_annotation(view_file: Path) -> str:
    """The return annotation of `render` in a generated view file, as source text."""
    module = ast.parse(view_file.read_text(encoding="utf-8"))
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == "render":
            assert node.returns is not None
            return ast.unparse(node.returns)
    raise AssertionError(f"no render() in {view_file}")


def top_level_functions(path: Path) -> list[str]:
    """The names of the functions a Python file defines at its top level."""
    module = ast.parse(path.read_text(encoding="utf-8"))
    return [node.name for node in module.body if isinstance(node, ast.FunctionDef)]
