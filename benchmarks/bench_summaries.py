"""Time each demo view's summarise on a large frame and its render of the summary (issue 15).

A view of the query or a stage has two functions in the module `dashsignal new` writes:
`summarise(data)`, run once per filter state in the compute step (its result is what the cache
keeps for the view), and `render(summary)`, run by the view's consumer callback on every request.
The modules are the ones the templates render now (in memory); the frame is the one
benchmarks/bench_views.py times the views on (the shape of the demo's data.py and of
benchmarks/bench_signaling.py's: region and product str columns, a datetime64[us] day, units,
amount), at `--rows` rows (1,000,000 by default).

For each view: the median `summarise` time on the frame, the median `render(summary)` time, the
same with the encoding Dash sends to the browser (plotly's JSON for a figure, AG Grid's rows for
a table), the summary's size as the cache stores it (pickle, highest protocol, as flask-caching
writes it) and its size on a frame with no rows, where every view must still render. The demo's
views (`new --yes`: sales, share, rows, total) are summed against the frame's own pickle, which
is what each of them read from the cache before. Nothing is asserted on the times. The output is
GitHub-flavoured Markdown. Run it from the repository root:

    python benchmarks/bench_summaries.py [--rows N] [--runs K]
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pandas as pd
from bench_views import frame, median_ms
from plotly.graph_objects import Figure
from plotly.io.json import to_json_plotly

from dashsignal.outputs import table_payload
from dashsignal_cli.answers import build_spec_data, parse_filter_arg, parse_view_arg
from dashsignal_cli.render import render
from dashsignal_cli.spec import spec_from_data

# The demo's views, then the ones a project of other filters or more indicators gets: the
# histogram (no category filter left for a bar chart) and the other demo indicator measures.
PROJECTS = {
    ("region:dropdown", "product:multi", "year:range"): (
        "sales",
        "share",
        "rows:table",
        "total:indicator",
        "mean:indicator",
        "top:indicator",
        "count:indicator",
    ),
    ("year:range",): ("trend", "spread"),
}
DEMO = ("sales", "share", "rows", "total")
WHAT = {
    "sales": "graph: amount per month",
    "share": "graph: amount per region",
    "spread": "graph: histogram, 40 bins",
    "rows": "table: 500 largest amounts",
    "total": "indicator: total",
    "mean": "indicator: average",
    "top": "indicator: largest",
    "count": "indicator: rows",
}


def generated_views() -> dict[str, ModuleType]:
    """The module of each demo view of the query, as the templates render it now."""
    modules: dict[str, ModuleType] = {}
    for filters, views in PROJECTS.items():
        spec = spec_from_data(
            build_spec_data(
                name="bench",
                title=None,
                views=[parse_view_arg(v) for v in views],
                filters=[parse_filter_arg(f) for f in filters],
                backend="filesystem",
                timeout=300,
            )
        )
        for view in spec.views:
            if view.id in WHAT and view.id not in modules:
                module = ModuleType(f"views.{view.id}")
                text = render(spec)[f"views/{view.id}.py"].text
                exec(compile(text, f"views/{view.id}.py", "exec"), module.__dict__)  # noqa: S102
                modules[view.id] = module
    return modules


def sent(drawn: Any) -> Callable[[], object]:
    """What Dash encodes for the browser from a render's result."""
    if isinstance(drawn, Figure):
        return lambda: to_json_plotly(drawn)
    if isinstance(drawn, pd.DataFrame):
        return lambda: table_payload(drawn)
    return lambda: str(drawn)


def cached_bytes(value: object) -> int:
    return len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the frame")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per cell (median)")
    args = parser.parse_args()
    modules = generated_views()
    data = frame(args.rows)
    empty = data.iloc[:0]

    print(f"# Demo view summaries ({platform.python_version()}, pandas {pd.__version__})")
    print()
    print(
        f"{args.rows:,} rows; median of {args.runs} calls, ms; "
        f"1-minute load average {os.getloadavg()[0]:.2f}."
    )
    print()
    print("| view | what | summarise | render | render + encode | cached | cached, no rows |")
    print("|---|---|---:|---:|---:|---:|---:|")
    sizes: dict[str, int] = {}
    for view_id, module in modules.items():
        summary = module.summarise(data)
        drawn = module.render(summary)
        no_rows = module.summarise(empty)
        module.render(no_rows)  # a filter state without rows renders too
        summarise_ms = median_ms(lambda: module.summarise(data), args.runs)  # noqa: B023
        render_ms = median_ms(lambda: module.render(summary), args.runs)  # noqa: B023
        encode = sent(drawn)
        encoded_ms = median_ms(lambda: (module.render(summary), encode()), args.runs)  # noqa: B023
        sizes[view_id] = cached_bytes(summary)
        print(
            f"| {view_id} | {WHAT[view_id]} | {summarise_ms:.1f} | {render_ms:.2f} | "
            f"{encoded_ms:.2f} | {sizes[view_id]:,} B | {cached_bytes(no_rows):,} B |"
        )
    demo = sum(sizes[v] for v in DEMO)
    whole = cached_bytes(data)
    print()
    print(
        f"The demo's summaries ({', '.join(DEMO)}) per filter state: {demo:,} B in all, "
        f"against {whole:,} B for the frame they were read from "
        f"({whole / demo:,.0f} times smaller)."
    )


if __name__ == "__main__":
    main()
