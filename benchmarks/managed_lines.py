"""Count the lines dashsignal manages in a generated project: its Python wiring, and its tests.

The runtime-library issue set a budget: the demo project's managed Python at most 300 lines, its
managed tests at most 250 (before the runtime became a library, at 0.2.0: 1,644 and 2,018 lines;
with stages, an own and a live view 1,718 and 2,044).
This prints both figures, and the files behind them, for the demo (`dashsignal new demo --yes`) and
for a project with stages, an own view and a live view. Lines are physical lines, blank ones and
comments included, as `wc -l` counts them. Nothing is asserted. From the repository root:

    python benchmarks/managed_lines.py
"""

from __future__ import annotations

import sys

from dashsignal_cli.render import Owner, render
from dashsignal_cli.spec import Spec
from dashsignal_cli.specfile import parse_spec_text

BUDGET = {"python": 300, "tests": 250}

DEMO = """
[app]
name = "demo"
[[filters]]
id = "region"
options = ["North", "South", "East", "West"]
[[filters]]
id = "product"
kind = "multi"
options = ["Basic", "Plus", "Pro"]
[[filters]]
id = "year"
kind = "range"
min = 2019
max = 2025
[[views]]
id = "sales"
[[views]]
id = "share"
[[views]]
id = "rows"
kind = "table"
[[views]]
id = "total"
kind = "indicator"
"""

STAGES_OWN_LIVE = """
[app]
name = "chained"
[[filters]]
id = "region"
options = ["North", "South", "East"]
[[filters]]
id = "period"
kind = "dates"
min = 2024-01-01
max = 2025-12-31
[[stages]]
id = "daily"
[[stages]]
id = "weekly"
source = "daily"
[[views]]
id = "sales"
[[views]]
id = "by_region"
source = "daily"
[[views]]
id = "weekly_rows"
kind = "table"
source = "weekly"
[[views]]
id = "target"
source = "own"
[[views]]
id = "ticker"
kind = "indicator"
source = "live"
interval = 2
"""


def managed_lines(spec: Spec) -> dict[str, dict[str, int]]:
    """Lines of each managed Python file, split into the tests and the rest."""
    counted: dict[str, dict[str, int]] = {"python": {}, "tests": {}}
    for path, item in render(spec).items():
        if item.owner is Owner.MANAGED and path.endswith(".py"):
            group = "tests" if path.startswith("tests/") else "python"
            counted[group][path] = len(item.text.splitlines())
    return counted


def main() -> int:
    for name, text in (("demo", DEMO), ("stages + own + live", STAGES_OWN_LIVE)):
        counted = managed_lines(parse_spec_text(text))
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
