"""Measure how long `dashsignal` takes to generate and regenerate a big project.

The project, `big`, has 50 views (v00..v49, kinds cycling graph, graph, table, indicator) and
10 filters (f0..f9, kinds cycling dropdown, multi, checklist, radio, range, dates). Each case
runs N times as a fresh subprocess of the current interpreter (`sys.executable`), timed with
`time.perf_counter` around `subprocess.run`; the table shows the median and the minimum wall
time in milliseconds:

* `dashsignal new big --yes --view ... --filter ... -C TMP`, a fresh temporary directory per run.
* `dashsignal regenerate --project P` with nothing to do, on the same generated project each
  run (checked once, outside the timing, to print "Nothing to do").
* `dashsignal add-view extra --project P`: regenerating with one view added, on a fresh copy
  of the project each run (the copy is made outside the timing).
* `dashsignal regenerate --project P` after a hand edit of dashsignal.toml that appends one
  [[views]] entry, on a fresh copy each run (copy and edit outside the timing).
* for context, the in-process cost of `dashsignal_cli.sync.plan_sync(P)` with nothing to do:
  no interpreter start-up, no imports (one warm-up call first), no report.

It also prints how many files the project holds, hidden ones included. Nothing is asserted on
the times. Run it from the repository root:

    python benchmarks/bench_regenerate.py [--runs N]     # N defaults to 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

NAME = "big"
VIEW_KINDS = ("graph", "graph", "table", "indicator")
FILTER_KINDS = ("dropdown", "multi", "checklist", "radio", "range", "dates")
VIEWS = [f"v{i:02d}:{VIEW_KINDS[i % len(VIEW_KINDS)]}" for i in range(50)]
FILTERS = [f"f{i}:{FILTER_KINDS[i % len(FILTER_KINDS)]}" for i in range(10)]
EXTRA_VIEW = '\n[[views]]\nid = "extra"\nkind = "graph"\ntitle = "Extra"\n'
NOTHING_TO_DO = "Nothing to do"

CLI = [sys.executable, "-m", "dashsignal_cli"]


def new_command(directory: Path) -> list[str]:
    """`dashsignal new big --yes` with every view and filter, creating `directory`/big."""
    views = [arg for view in VIEWS for arg in ("--view", view)]
    filters = [arg for filter_ in FILTERS for arg in ("--filter", filter_)]
    return [*CLI, "new", NAME, "--yes", *views, *filters, "-C", str(directory)]


def run(command: list[str]) -> float:
    """Run `command` to completion and return its wall time in milliseconds."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def measure(runs: int, prepare: Callable[[Path], list[str]]) -> tuple[float, float]:
    """Time `runs` subprocesses; return (median, min).

    Each run gets a fresh temporary directory; `prepare` sets it up, outside the timing, and
    returns the command to time.
    """
    times: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            command = prepare(Path(tmp))
            times.append(run(command))
    return statistics.median(times), min(times)


def measure_in_process(runs: int, call: Callable[[], object]) -> tuple[float, float]:
    """Time `runs` calls of `call` after one warm-up call; return (median, min) in ms."""
    call()
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def fresh_copy(project: Path, tmp: Path) -> Path:
    """Copy `project` into `tmp` and return the copy's path."""
    return Path(shutil.copytree(project, tmp / project.name))


def hand_edited_copy(project: Path, tmp: Path) -> Path:
    """Copy `project` into `tmp`, append one [[views]] entry to its spec, return the copy."""
    copy = fresh_copy(project, tmp)
    with (copy / "dashsignal.toml").open("a", encoding="utf-8") as spec:
        spec.write(EXTRA_VIEW)
    return copy


def check_nothing_to_do(project: Path) -> None:
    """Exit with an error unless `regenerate` on the fresh project says there is nothing to do."""
    result = subprocess.run(
        [*CLI, "regenerate", "--project", str(project)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or NOTHING_TO_DO not in result.stdout:
        sys.exit(
            f"error: `dashsignal regenerate` on the freshly generated project did not say "
            f"{NOTHING_TO_DO!r} (exit code {result.returncode}):\n{result.stdout}{result.stderr}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="Runs per case (default: 5).")
    runs: int = parser.parse_args().runs

    # dashsignal_cli ships no py.typed marker: outside `src`, mypy sees it as untyped.
    from dashsignal_cli.sync import plan_sync  # type: ignore[import-untyped, unused-ignore]

    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        subprocess.run(
            new_command(work), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        project = work / NAME
        file_count = sum(1 for path in project.rglob("*") if path.is_file())
        check_nothing_to_do(project)

        cases: list[tuple[str, Callable[[Path], list[str]]]] = [
            (f"dashsignal new {NAME} --yes (50 views, 10 filters)", new_command),
            (
                "dashsignal regenerate, nothing to do",
                lambda _: [*CLI, "regenerate", "--project", str(project)],
            ),
            (
                "dashsignal add-view extra (fresh copy)",
                lambda tmp: [*CLI, "add-view", "extra", "--project", str(fresh_copy(project, tmp))],
            ),
            (
                "dashsignal regenerate after a hand-added view",
                lambda tmp: [
                    *CLI,
                    "regenerate",
                    "--project",
                    str(hand_edited_copy(project, tmp)),
                ],
            ),
        ]
        for label, prepare in cases:
            rows.append((label, *measure(runs, prepare)))
        rows.append(
            (
                "in-process plan_sync(P), nothing to do",
                *measure_in_process(runs, lambda: plan_sync(project)),
            )
        )

    width = max(len("what"), *(len(label) for label, _, _ in rows))
    print(f"{runs} runs each, {sys.executable} (Python {sys.version.split()[0]})")
    print(f"files in the project: {file_count} (hidden ones included)")
    print(f"{'what':<{width}}  {'median ms':>9}  {'min ms':>9}")
    print(f"{'-' * width}  {'-' * 9}  {'-' * 9}")
    for label, median_ms, min_ms in rows:
        print(f"{label:<{width}}  {median_ms:>9.1f}  {min_ms:>9.1f}")


if __name__ == "__main__":
    main()
