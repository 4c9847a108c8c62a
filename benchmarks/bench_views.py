"""Time each demo view's render, before (plotly express) and after (graph_objects), and the variants
weighed for the change (issue 15).

The views are the ones `dashsignal new` writes: `new` is what a view module rendered now from
templates/views/ (in memory) does with a frame, `render(summarise(data))` for a view of the query
(the histogram then bins the amounts in Python and draws 40 bars), `px (before)` a copy of the one
the templates wrote before, kept here as the baseline. The other rows are the alternatives
measured for each choice:

* the figure: `go, template named` (a Figure whose layout names "plotly_white": plotly copies
  and validates the whole template, with its defaults for some 25 trace types, on every call),
  `new` (a Template holding plotly_white's layout, built once at import), `go, default template`
  (no template in the figure, plotly_white set as plotly's default: plotly trusts its default
  and skips validation, but that is a process-wide setting), and `figure dict` (no Figure at all,
  the template's dict built once: the floor, but render() is annotated to return a Figure);
* the month grouping (`dt.to_period` per row, `astype("datetime64[M]")` per row, per day then per
  month, np.bincount per day), the string groupby (on str, on a categorical column) and the table's
  top rows (nlargest, np.argpartition).

The frames are the ones benchmarks/bench_signaling.py serves (region and product str columns, a
datetime64[us] day, units, amount), at `--rows` rows (1,000,000 by default) and at 3 rows; the
live view draws its 60-row feed. Each cell is the median of `--runs` calls after one warm-up; the
`+ JSON` column adds plotly's JSON encoding of the figure, as Dash sends it. Nothing is asserted on
the times. The output is GitHub-flavoured Markdown. Run it from the repository root:

    python benchmarks/bench_views.py [--rows N] [--runs K]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.json import to_json_plotly

from dashsignal_cli.answers import build_spec_data, parse_filter_arg, parse_view_arg
from dashsignal_cli.render import render
from dashsignal_cli.spec import spec_from_data

Render = Callable[[pd.DataFrame], Any]

MARGIN = {"l": 40, "r": 16, "t": 16, "b": 40}
TIMELINE_LABELS = {"day": "Month", "amount": "Amount"}
BAR_LABELS = {"region": "Region", "amount": "Amount"}
LIVE_LABELS = {"day": "Time", "amount": "Amount"}
SPREAD_LABELS = {"amount": "Amount"}
BAR_TITLES = ("Region", "Amount")


# The render functions the templates wrote before issue 15, as they were.


def px_timeline(data: pd.DataFrame) -> go.Figure:
    month = data["day"].dt.to_period("M").dt.to_timestamp()
    monthly = data.groupby(month)["amount"].sum().reset_index()
    figure = px.line(monthly, x="day", y="amount", markers=True, labels=TIMELINE_LABELS)
    figure.update_layout(template="plotly_white", margin=MARGIN)
    return figure


def px_bar(data: pd.DataFrame) -> go.Figure:
    totals = data.groupby("region")["amount"].sum().reset_index()
    figure = px.bar(totals, x="region", y="amount", labels=BAR_LABELS)
    figure.update_layout(template="plotly_white", margin=MARGIN)
    return figure


def px_histogram(data: pd.DataFrame) -> go.Figure:
    figure = px.histogram(data, x="amount", nbins=40, labels=SPREAD_LABELS)
    figure.update_yaxes(title_text="Rows")
    figure.update_layout(template="plotly_white", margin=MARGIN)
    return figure


def px_live(data: pd.DataFrame) -> go.Figure:
    figure = px.line(data, x="day", y="amount", labels=LIVE_LABELS)
    figure.update_layout(template="plotly_white", margin=MARGIN)
    return figure


# The same figures built other ways (the aggregation of the new code).


def monthly_totals(data: pd.DataFrame) -> pd.Series:
    daily = data.groupby("day")["amount"].sum()
    return daily.groupby(daily.index.to_period("M").to_timestamp()).sum()


def go_named(chart: str) -> Render:
    def render_named(data: pd.DataFrame) -> go.Figure:
        drawn = traces_for(chart, data)
        x_title, y_title = drawn["titles"]
        layout = {"template": "plotly_white", "margin": MARGIN}
        return go.Figure([drawn["trace"]], layout=layout | _titles(x_title, y_title))

    return render_named


def go_default(chart: str) -> Render:
    def render_default(data: pd.DataFrame) -> go.Figure:
        drawn = traces_for(chart, data)
        layout = {"margin": MARGIN} | _titles(*drawn["titles"])
        return go.Figure([drawn["trace"]], layout=layout)

    return render_default


WHITE_DICT = pio.templates["plotly_white"].to_plotly_json()


def figure_dict(chart: str) -> Render:
    def render_dict(data: pd.DataFrame) -> dict[str, Any]:
        drawn = traces_for(chart, data)
        x_title, y_title = drawn["titles"]
        layout = {
            "template": WHITE_DICT,
            "margin": MARGIN,
            "xaxis": {"title": {"text": x_title}},
            "yaxis": {"title": {"text": y_title}},
        }
        return {"data": [drawn["trace"]], "layout": layout}

    return render_dict


def traces_for(chart: str, data: pd.DataFrame) -> dict[str, Any]:
    """One chart's trace, computing only its own aggregation."""
    if chart == "timeline":
        monthly = monthly_totals(data)
        trace = {"type": "scatter", "x": monthly.index, "y": monthly, "mode": "lines+markers"}
        return {"trace": trace, "titles": ("Month", "Amount")}
    if chart == "bar":
        totals = data.groupby("region", observed=True)["amount"].sum()
        return {"trace": {"type": "bar", "x": totals.index, "y": totals}, "titles": BAR_TITLES}
    if chart == "histogram":
        trace = {"type": "histogram", "x": data["amount"], "nbinsx": 40}
        return {"trace": trace, "titles": ("Amount", "Rows")}
    trace = {"type": "scatter", "x": data["day"], "y": data["amount"], "mode": "lines"}
    return {"trace": trace, "titles": ("Time", "Amount")}


def _titles(x_title: str, y_title: str) -> dict[str, str]:
    return {"xaxis_title": x_title, "yaxis_title": y_title}


# Aggregations alone.


def month_to_period(data: pd.DataFrame) -> pd.Series:
    return data.groupby(data["day"].dt.to_period("M").dt.to_timestamp())["amount"].sum()


def month_astype(data: pd.DataFrame) -> pd.Series:
    return data.groupby(data["day"].to_numpy().astype("datetime64[M]"))["amount"].sum()


def month_bincount(data: pd.DataFrame) -> pd.Series:
    days = data["day"].to_numpy().astype("datetime64[D]")
    first = days.min()
    sums = np.bincount((days - first).astype(np.int64), weights=data["amount"].to_numpy())
    daily = pd.Series(sums, index=pd.date_range(first, periods=len(sums)))
    return daily.groupby(daily.index.to_period("M").to_timestamp()).sum()


def top_argpartition(data: pd.DataFrame) -> pd.DataFrame:
    top = np.argpartition(data["amount"].to_numpy(), -500)[-500:]
    return data.take(top).sort_values("amount", ascending=False, kind="stable")


# The views as the templates write them now.


def generated_views() -> dict[str, Render]:
    """The render function of each demo chart, table and indicator, rendered from the templates."""
    projects = {
        ("region:dropdown", "year:range"): ("sales", "share", "rows", "total", "feed@live"),
        ("year:range",): ("sales", "spread"),
    }
    modules: dict[str, str] = {}
    for filters, views in projects.items():
        view_args = [v.replace("@", ":graph@") if "@" in v else v for v in views]
        kinds = {"rows": "table", "total": "indicator"}
        view_args = [f"{v}:{kinds[v]}" if v in kinds else v for v in view_args]
        spec = spec_from_data(
            build_spec_data(
                name="bench",
                title=None,
                views=[parse_view_arg(v) for v in view_args],
                filters=[parse_filter_arg(f) for f in filters],
                backend="filesystem",
                timeout=300,
                background=False,
            )
        )
        for path, item in render(spec).items():
            if path.startswith("views/") and path != "views/__init__.py":
                modules.setdefault(path.removeprefix("views/").removesuffix(".py"), item.text)
    names = {"sales": "timeline", "share": "bar", "spread": "histogram", "feed": "live"}
    names |= {"rows": "table", "total": "indicator"}
    found: dict[str, Render] = {}
    for module, text in modules.items():
        namespace: dict[str, Any] = {"__name__": f"views.{module}"}
        exec(compile(text, f"views/{module}.py", "exec"), namespace)  # noqa: S102
        found[names[module]] = whole_view(namespace)
        if module == "feed":
            found["live data"] = namespace["compute"]
    return found


def whole_view(namespace: dict[str, Any]) -> Render:
    """What a view does with one frame: render(summarise(data)) when its module summarises (a
    view of the query: benchmarks/bench_summaries.py times the two apart), else render(data)."""
    render_view: Render = namespace["render"]
    summarise: Render | None = namespace.get("summarise")
    if summarise is None:
        return render_view
    return lambda data: render_view(summarise(data))


def frame(rows: int) -> pd.DataFrame:
    """Rows shaped as benchmarks/bench_signaling.py's data.py returns them."""
    rng = np.random.default_rng(7)
    year = rng.integers(2019, 2025, size=rows, endpoint=True)
    offsets = rng.integers(0, 365, size=rows).astype("timedelta64[D]")
    day = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + offsets

    def labels(options: list[str]) -> pd.Series:
        codes = rng.integers(0, len(options), size=rows)
        return pd.Series(options, dtype="str").take(codes).reset_index(drop=True)

    return pd.DataFrame(
        {
            "region": labels(["North", "South", "East", "West"]),
            "product": labels(["Basic", "Plus", "Pro"]),
            "year": year,
            "day": pd.Series(day).astype("datetime64[us]"),
            "units": rng.integers(1, 20, size=rows),
            "amount": rng.gamma(2.0, 60.0, size=rows).round(2),
        }
    )


def median_ms(call: Callable[[], object], runs: int) -> float:
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def encoded(render_view: Render, data: pd.DataFrame) -> Callable[[], object]:
    return lambda: to_json_plotly(render_view(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the large frame")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per cell (median)")
    args = parser.parse_args()
    new = generated_views()
    feed = new["live data"]({})
    big, small = frame(args.rows), frame(3)
    categorical = big.assign(region=big["region"].astype("category"))
    before = {"timeline": px_timeline, "bar": px_bar, "histogram": px_histogram, "live": px_live}

    print(f"# Demo view render times ({platform.python_version()}, pandas {pd.__version__})")
    print()
    print(f"Median of {args.runs} calls, ms; 1-minute load average {os.getloadavg()[0]:.2f}.")
    print()
    print("| view | rows | variant | render | + JSON | JSON bytes |")
    print("|---|---:|---|---:|---:|---:|")
    for chart, old in before.items():
        variants: dict[str, Render] = {
            "px (before)": old,
            "go, template named": go_named(chart),
            "go, default template": go_default(chart),
            "figure dict": figure_dict(chart),
            "**new**": new[chart],
        }
        sizes = [(feed, len(feed))] if chart == "live" else [(small, 3), (big, args.rows)]
        for data, rows in sizes:
            for variant, render_view in variants.items():
                if variant == "go, default template":
                    pio.templates.default = "plotly_white"
                try:
                    ms = median_ms(lambda: render_view(data), args.runs)  # noqa: B023
                    with_json = median_ms(encoded(render_view, data), args.runs)
                    size = len(to_json_plotly(render_view(data)))
                finally:
                    pio.templates.default = "plotly"
                print(f"| {chart} | {rows:,} | {variant} | {ms:.1f} | {with_json:.1f} | {size:,} |")
    rows = f"{args.rows:,}"
    aggregations: list[tuple[str, str, Callable[[], object]]] = [
        ("month", "dt.to_period per row (before)", lambda: month_to_period(big)),
        ("month", 'astype("datetime64[M]") per row', lambda: month_astype(big)),
        ("month", "per day, then per month (new)", lambda: monthly_totals(big)),
        ("month", "np.bincount per day, then per month", lambda: month_bincount(big)),
        ("region", "groupby on str (before)", lambda: big.groupby("region")["amount"].sum()),
        (
            "region",
            "groupby on str, observed=True (new)",
            lambda: big.groupby("region", observed=True)["amount"].sum(),
        ),
        (
            "region",
            "groupby on category, observed=True",
            lambda: categorical.groupby("region", observed=True)["amount"].sum(),
        ),
        ("region", 'astype("category") alone', lambda: big["region"].astype("category")),
        ("table", "nlargest(500) (before, new)", lambda: new["table"](big)),
        ("table", "np.argpartition, then sort 500", lambda: top_argpartition(big)),
        ("indicator", "sum (before, new)", lambda: new["indicator"](big)),
    ]
    print()
    print(f"Aggregations alone on {rows} rows:")
    print()
    print("| what | variant | ms |")
    print("|---|---|---:|")
    for what, variant, call in aggregations:
        print(f"| {what} | {variant} | {median_ms(call, args.runs):.1f} |")


if __name__ == "__main__":
    main()
