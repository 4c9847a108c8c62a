"""Count the lines dashsignal manages in a generated project: its Python wiring, and its tests.

The runtime-library issue set a budget: the demo project's managed Python at most 300 lines, its
managed tests at most 250 (before the runtime became a library, at 0.2.0: 1,644 and 2,018 lines;
the stages + own + live project 1,736 and 2,046). This prints both figures, and the files behind
them, for two of the golden projects in tests/golden/: the demo (`dashsignal new demo --yes`) and
the signal pattern with stages, an own and a live view. Lines are physical lines, blank ones and
comments included, as `wc -l` counts them. Nothing is asserted. From the repository root:

    python benchmarks/managed_lines.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from dashsignal_cli.render import Owner, render
from dashsignal_cli.spec import Spec
from dashsignal_cli.specfile import SPEC_FILENAME, load_spec

BUDGET = {"python": 300, "tests": 250}

# The golden projects' own specs (tests/golden/): the demo, as `dashsignal new demo --yes`
# writes it, and the signal pattern with stages, an own view and a live view.
GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"
PROJECTS = {"demo": "demo", "stages + own + live": "signal-stages-own-live"}


def managed_lines(spec: Spec) -> dict[str, dict[str, int]]:
    """Lines of each managed Python file, split into the tests and the rest."""
    counted: dict[str, dict[str, int]] = {"python": {}, "tests": {}}
    for path, item in render(spec).items():
        if item.owner is Owner.MANAGED and path.endswith(".py"):
            group = "tests" if path.startswith("tests/") else "python"
            counted[group][path] = len(item.text.splitlines())
    return counted


def main() -> int:
    for name, folder in PROJECTS.items():
        counted = managed_lines(load_spec(GOLDEN / folder / SPEC_FILENAME))
        print(f"{name}:")
        for group, files in counted.items():
            total = sum(files.values())
            budget = f" (budget {BUDGET[group]})" if name == "demo" else ""
            print(f"  managed {group}: {total} lines{budget}")
            for path, lines in sorted(files.items()):
                print(f"    {lines:5d}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
