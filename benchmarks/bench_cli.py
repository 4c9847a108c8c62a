"""Measure how long the `dashsignal` CLI takes to start and to generate a project.

Each case runs N times as a fresh subprocess of the current interpreter (`sys.executable`),
timed with `time.perf_counter` around `subprocess.run` (wall) and by the child's own user +
system time (cpu, from `resource.getrusage`: steadier than wall on a busy machine); the table
shows the median and the minimum of both in milliseconds. The children run with
PYTHONDONTWRITEBYTECODE unset, so they use the bytecode cache as an installed dashsignal does
(otherwise every run of an edited module would compile it again):

* `python -c pass`: the interpreter's own start-up, the floor for everything else.
* a minimal Typer app (one command, one option) with `--help`: what Typer itself costs.
* `dashsignal --help` (`python -m dashsignal_cli --help`).
* `dashsignal new demo --yes -C TMP`, a fresh temporary directory per run.
* a plain-Python baseline that writes the very same files (read once from a generated project,
  hidden ones included, into a JSON file) with pathlib: the gap to `new` is the cost of the
  imports, rendering and validation.
* the floor of `new`: a Typer app whose one command declares the very parameters of
  `dashsignal new` (its signature, and the module-level `Annotated` aliases it names, copied
  from src/dashsignal_cli/commands/new.py, so it follows every change) and whose body writes
  those same files from the JSON file. It pays what Typer itself costs for such a command
  (parsing, and Typer 0.29's pydantic coercion of each value) and nothing of ours: no Jinja,
  no spec, no rendering, no report.

`new` and its floor then run in turn, pair by pair, and the table ends with the median of the
ratios `new` / floor, wall and cpu (pairing keeps the ratio meaningful when the machine's speed
drifts).

It then runs `python -X importtime -m dashsignal_cli --help` once and lists which heavy modules
(jinja2, tomlkit, dash, pandas) `--help` imports; there should be none.

Nothing is asserted on the times. Run it from the repository root:

    python benchmarks/bench_cli.py [--runs N]     # N defaults to 10
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HEAVY_MODULES = ("jinja2", "tomlkit", "dash", "pandas")

MINIMAL_TYPER_APP = '''\
import typer

app = typer.Typer()


@app.command()
def hello(name: str = typer.Option("world", help="Who to greet.")) -> None:
    """Say hello."""
    print(f"hello {name}")


if __name__ == "__main__":
    app()
'''

BASELINE_WRITER = """\
import json
import sys
from pathlib import Path

files = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
root = Path(sys.argv[2])
for relative, text in files.items():
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
"""

CLI = [sys.executable, "-m", "dashsignal_cli"]


FLOOR_HEAD = """\
import json
from pathlib import Path
from typing import Annotated

import typer
{imports}

FILES = {files!r}

app = typer.Typer()


@app.callback()
def _root() -> None:
    \"\"\"The root group, as dashsignal has one: the command is `floor.py new ...`.\"\"\"


"""

FLOOR_BODY = """\
files = json.loads(Path(FILES).read_text(encoding="utf-8"))
for relative, text in files.items():
    path = directory / name / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
"""

FLOOR_TAIL = """\


app.command(name="new")(new)

if __name__ == "__main__":
    app()
"""


def floor_script(files_json: Path) -> str:
    """A Typer app with `dashsignal new`'s own parameters whose body writes `files_json`'s files.

    The parameters name module-level `Annotated` aliases (`NameArgument`, ...), so those
    assignments are copied too, with the imports they read (the help texts of kinds.py,
    which is cheap: the standard library only); nothing else of the module is.
    """
    # Found, not imported: `new` is read from the installed (or editable) package's own source.
    found = importlib.util.find_spec("dashsignal_cli.commands.new")
    assert found is not None and found.origin is not None
    tree = ast.parse(Path(found.origin).read_text(encoding="utf-8"))
    command = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "new")
    command.body = ast.parse(FLOOR_BODY).body
    command.decorator_list = []
    needed = _names_read(
        [a.annotation for a in command.args.args if a.annotation is not None]
        + [*command.args.defaults]
    )
    copied: list[ast.stmt] = []
    # Walk back from `new`: an alias may read another alias defined above it.
    for statement in reversed(tree.body[: tree.body.index(command)]):
        bound = _names_bound(statement)
        if bound & needed and isinstance(statement, (ast.Assign, ast.AnnAssign)):
            copied.insert(0, statement)
            needed |= _names_read([statement.value] if statement.value is not None else [])
    imports: list[ast.stmt] = []
    for statement in tree.body:
        if isinstance(statement, ast.ImportFrom) and statement.module != "__future__":
            names = [a for a in statement.names if (a.asname or a.name) in needed - FLOOR_BOUND]
            if names:
                imports.append(ast.ImportFrom(statement.module, names, statement.level))
    return (
        FLOOR_HEAD.format(files=str(files_json), imports="\n".join(ast.unparse(i) for i in imports))
        + "\n".join(ast.unparse(s) for s in copied)
        + "\n\n\n"
        + ast.unparse(command)
        + FLOOR_TAIL
    )


# What FLOOR_HEAD binds itself.
FLOOR_BOUND = frozenset({"json", "Path", "Annotated", "typer"})


def _names_read(nodes: list[ast.expr]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def _names_bound(statement: ast.stmt) -> set[str]:
    if isinstance(statement, ast.Assign):
        return {t.id for t in statement.targets if isinstance(t, ast.Name)}
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return {statement.target.id}
    return set()


# The children write and read the bytecode cache, as an installed dashsignal's runs do.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(command: list[str]) -> tuple[float, float]:
    """Run `command` to completion; return its wall and cpu (user + system) time in ms."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall * 1000, cpu * 1000


Row = tuple[float, float, float, float]  # wall median, wall min, cpu median, cpu min


def measure(runs: int, make_command: Callable[[Path], list[str]]) -> Row:
    """Time `runs` subprocesses, each given a fresh temporary directory."""
    times: list[tuple[float, float]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            times.append(run(make_command(Path(tmp))))
    walls, cpus = [w for w, _ in times], [c for _, c in times]
    return statistics.median(walls), min(walls), statistics.median(cpus), min(cpus)


def paired_ratios(
    runs: int, first: Callable[[Path], list[str]], second: Callable[[Path], list[str]]
) -> tuple[list[float], list[float]]:
    """Run `first` and `second` in turn `runs` times each; return each pair's wall and cpu
    ratios."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            (wall_a, cpu_a), (wall_b, cpu_b) = run(first(Path(a))), run(second(Path(b)))
            walls.append(wall_a / wall_b)
            cpus.append(cpu_a / cpu_b)
    return walls, cpus


def snapshot_project(tmp: Path) -> dict[str, str]:
    """Generate `demo` once and return every file it wrote, as {relative path: text}."""
    subprocess.run(
        [*CLI, "new", "demo", "--yes", "-C", str(tmp)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=CHILD_ENV,
    )
    root = tmp / "demo"
    return {
        path.relative_to(tmp).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def imported_modules() -> list[tuple[str, int]]:
    """Run `--help` under `-X importtime`; return (module, cumulative microseconds) pairs."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *CLI[1:], "--help"],
        check=True,
        capture_output=True,
        text=True,
        env=CHILD_ENV,
    )
    modules: list[tuple[str, int]] = []
    for line in result.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[1].strip().isdigit():
            modules.append((fields[2].strip(), int(fields[1])))
    return modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="Runs per case (default: 10).")
    runs: int = parser.parse_args().runs

    rows: list[tuple[str, Row]] = []
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        typer_app = work / "minimal_typer_app.py"
        typer_app.write_text(MINIMAL_TYPER_APP, encoding="utf-8")
        writer = work / "baseline_writer.py"
        writer.write_text(BASELINE_WRITER, encoding="utf-8")
        snapshot_dir = work / "snapshot"
        snapshot_dir.mkdir()
        files = snapshot_project(snapshot_dir)
        files_json = work / "files.json"
        files_json.write_text(json.dumps(files), encoding="utf-8")
        # The floor writes the project's own files into DIR/NAME, as `new` does.
        project_json = work / "project.json"
        project_json.write_text(
            json.dumps({path.removeprefix("demo/"): text for path, text in files.items()}),
            encoding="utf-8",
        )
        floor = work / "floor_new.py"
        floor.write_text(floor_script(project_json), encoding="utf-8")

        def new_demo(tmp: Path) -> list[str]:
            return [*CLI, "new", "demo", "--yes", "-C", str(tmp)]

        def floor_demo(tmp: Path) -> list[str]:
            return [sys.executable, str(floor), "new", "demo", "--yes", "-C", str(tmp)]

        cases: list[tuple[str, Callable[[Path], list[str]]]] = [
            ("python -c pass", lambda _: [sys.executable, "-c", "pass"]),
            ("minimal Typer app --help", lambda _: [sys.executable, str(typer_app), "--help"]),
            ("dashsignal --help", lambda _: [*CLI, "--help"]),
            ("dashsignal new demo --yes", new_demo),
            ("floor: Typer `new` writing the same files", floor_demo),
            (
                f"baseline: write {len(files)} files",
                lambda tmp: [sys.executable, str(writer), str(files_json), str(tmp)],
            ),
        ]
        for label, make_command in cases:
            rows.append((label, measure(runs, make_command)))
        wall_ratios, cpu_ratios = paired_ratios(runs, new_demo, floor_demo)

    width = max(len("what"), *(len(label) for label, _ in rows))
    heads = ("wall med", "wall min", "cpu med", "cpu min")
    print(f"{runs} runs each, {sys.executable} (Python {sys.version.split()[0]}), times in ms")
    print(f"{'what':<{width}}" + "".join(f"  {head:>9}" for head in heads))
    print(f"{'-' * width}" + f"  {'-' * 9}" * len(heads))
    for label, row in rows:
        print(f"{label:<{width}}" + "".join(f"  {value:>9.1f}" for value in row))
    for what, ratios in (("wall", wall_ratios), ("cpu", cpu_ratios)):
        print(
            f"new / floor, pair by pair, {what}: median {statistics.median(ratios):.2f}, "
            f"min {min(ratios):.2f}, max {max(ratios):.2f}"
        )

    heavy = sorted({name for name, _ in imported_modules() if name.split(".")[0] in HEAVY_MODULES})
    print(f"heavy modules imported by --help: {', '.join(heavy) if heavy else 'none'}")


if __name__ == "__main__":
    main()
