"""A small dashboard built on the dashsignal runtime, and what its tests drive it with.

The tests of the runtime (tests/test_runtime_*.py) build the app a generated project builds, from
the library alone: filters of every kind, the query, a stage derived from it, an own computation,
and one view of each kind (graph, table, indicator), wired in the signaling or the memoize
pattern. `Endpoint` calls its callbacks the way the browser does, over HTTP through Flask's test
client; `RunLog` counts every computation, from any process (a background job, another worker).
`RedisServer` is a real redis-server on a free local port.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import requests
from dash import Dash, Input, Output
from flask.testing import FlaskClient
from plotly.graph_objects import Bar, Figure

from dashsignal import QUERY, CacheSettings, Computation, Computations, Filter, Filters, Signaling
from dashsignal.layout import graph_card, indicator_card, page, table_card
from dashsignal.outputs import (
    draw_graph,
    failed_figure,
    failed_table,
    failed_text,
    fill_table,
    show_indicator,
)
from dashsignal.signaling import shows_failures
from dashsignal.testing.endpoint import in_dependency_order, inputs_with_values
from dashsignal.testing.loading import split_output

from test_production import RedisServer, free_port

HOST = "127.0.0.1"
TESTS = Path(__file__).resolve().parent
BACKENDS = ("filesystem", "redis", "simple", "null")
# The backends whose entries outlive a read: every one but null.
CACHING = ("filesystem", "redis", "simple")
# The backends every worker process shares.
SHARED = ("filesystem", "redis")
PATTERNS = ("signal", "memoize")

# One filter of every kind, with a choice of ints next to one of strings.
FILTERS = Filters(
    Filter("region", "dropdown", "Region", options=("North", "South", "East", "West")),
    Filter("store", "dropdown", "Store", options=(1, 2, 3)),
    Filter(
        "channels", "multi", "Channels", options=("web", "shop", "phone"), default=["web", "shop"]
    ),
    Filter(
        "segments",
        "checklist",
        "Segments",
        options=("retail", "business"),
        default=["retail", "business"],
    ),
    Filter("metric", "radio", "Metric", options=("amount", "units"), default="amount"),
    Filter("year", "range", "Year", min=2019, max=2025, step=1, default=[2019, 2025]),
    Filter("discount", "range", "Discount", min=0.0, max=0.5, step=0.05, default=[0.0, 0.5]),
    Filter(
        "period",
        "dates",
        "Period",
        min="2024-01-01",
        max="2024-12-31",
        default=["2024-01-01", "2024-12-31"],
    ),
)
FILTER_PROPS = {(f.id, prop) for f in FILTERS.values() for prop in f.properties}

STAGE = "daily"  # derived from the query
OWN = "mix"  # an own view's computation, from the filters
SIGNAL_ID = "dashsignal-signal"
SIGNALS = {QUERY: SIGNAL_ID, STAGE: "daily-signal"}
RUNNING_ID = "dashsignal-running"
# Each view, and the computation it reads.
VIEWS = {"sales": QUERY, "daily": STAGE, "total": QUERY, "mix": OWN}
# The views whose data comes from the query, directly or through the stage.
QUERY_READERS = ["sales", "daily", "total"]
# Each view's output properties.
VIEW_OUTPUTS = {
    "sales": ("figure",),
    "daily": ("rowData", "columnDefs"),
    "total": ("children",),
    "mix": ("figure",),
}

Prop = tuple[str, str]


# --- counting computations ------------------------------------------------------------------


class RunLog:
    """Every computation run, from any process: one JSON line per run, appended to a file."""

    def __init__(self, path: Path, *, fresh: bool = True) -> None:
        self.path = path
        if fresh or not path.exists():
            path.write_text("")

    def forget(self) -> None:
        """Start counting afresh."""
        self.path.write_text("")

    def record(self, name: str, filters: Any) -> None:
        with self.path.open("a") as log:
            log.write(json.dumps({"name": name, "filters": filters, "pid": os.getpid()}) + "\n")

    def runs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def counts(self) -> Counter[str]:
        """How many times each computation ran."""
        return Counter(run["name"] for run in self.runs())

    def order(self) -> list[str]:
        return [run["name"] for run in self.runs()]

    def query_calls(self) -> list[dict[str, Any]]:
        """The filters of every query run, in order."""
        return [run["filters"] for run in self.runs() if run["name"] == QUERY]


def user_modules(log: RunLog) -> tuple[types.ModuleType, types.ModuleType, types.ModuleType]:
    """The project's data.py, its stage and its own view's module, as modules of their own: each
    function records its runs in `log` and is looked up by the runtime on every call, so that a
    test can replace it."""
    data = types.ModuleType("data")
    data.DATA_VERSION = "1"
    data.TAGS = False  # a column of Python lists, which Copy-on-Write does not protect
    data.DELAY_SECONDS = 0.0
    data.FAILING = None  # the filter state the database refuses

    def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
        log.record(QUERY, filters)
        if data.DELAY_SECONDS:
            time.sleep(data.DELAY_SECONDS)
        if filters == data.FAILING:
            raise RuntimeError("connection refused by db.internal:5432")
        frame = pd.DataFrame(
            {
                "region": ["North", "South", "East", "West"] * 3,
                "day": pd.date_range("2024-01-01", periods=12, freq="D"),
                "units": list(range(12)),
                "amount": [float(n) * 1.5 for n in range(12)],
            }
        )
        if filters.get("region") is not None:
            frame = frame[frame["region"] == filters["region"]].reset_index(drop=True)
        frame["amount"] = frame["amount"] * (filters["year"][1] - filters["year"][0] + 1)
        if data.TAGS:
            frame = frame.assign(tags=[[n, "tag"] for n in range(len(frame))])
        return frame

    data.expensive_query = expensive_query

    stage = types.ModuleType("stages.daily")
    stage.VERSION = "1"

    def derive(frame: pd.DataFrame) -> pd.DataFrame:
        log.record(STAGE, None)
        return frame.groupby("day", as_index=False)[["units", "amount"]].sum()

    stage.derive = derive

    own = types.ModuleType("views.mix")
    own.VERSION = "1"

    def compute(filters: dict[str, Any]) -> pd.DataFrame:
        log.record(OWN, filters)
        return pd.DataFrame({"channel": filters["channels"] or ["none"], "share": 1.0})

    own.compute = compute
    return data, stage, own


def computations_of(
    data: types.ModuleType, stage: types.ModuleType, own: types.ModuleType
) -> Computations:
    return Computations(
        Computation(QUERY, data, "expensive_query", version_name="DATA_VERSION"),
        Computation(STAGE, stage, "derive", source=QUERY),
        Computation(OWN, own, "compute"),
    )


# --- the dashboard ----------------------------------------------------------------------------


def _render_sales(frame: pd.DataFrame) -> Figure:
    return Figure(Bar(x=frame["region"], y=frame["amount"]))


def _render_daily(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def _render_total(frame: pd.DataFrame) -> str:
    return f"{frame['amount'].sum():,.2f}"


def _render_mix(frame: pd.DataFrame) -> Figure:
    return Figure(Bar(x=frame["channel"], y=frame["share"]))


@dataclass
class Dashboard:
    """One app built on the runtime, with the user modules it computes with."""

    app: Dash
    signaling: Signaling
    runs: RunLog
    data: types.ModuleType
    stage: types.ModuleType
    own: types.ModuleType
    views: types.ModuleType
    pattern: str
    background: bool
    # The background-job manager of the compute step (background only).
    manager: Any = None

    @property
    def backend(self) -> str:
        return self.signaling.settings.backend

    @property
    def cache(self) -> Any:
        """The DataCache (signaling.data)."""
        return self.signaling.data

    def context(self) -> Any:
        return self.app.server.app_context()

    def endpoint(self) -> Endpoint:
        """The app's callback endpoint, as one browser page sees it."""
        return Endpoint(self.app.server.test_client(), background=self.background)

    def load(self, name: str, filters: dict[str, Any]) -> pd.DataFrame:
        """DataCache.load inside the server's app context (usable from any thread)."""
        with self.context():
            frame: pd.DataFrame = self.cache.load(name, filters)
            return frame

    def key(self, name: str, filters: dict[str, Any]) -> str:
        key: str = self.cache.key(name, filters)
        return key

    def clear(self) -> None:
        with self.context():
            self.cache.clear()

    def backend_cache(self) -> Any:
        """flask-caching's backend object (EntryFiles, EntryRedis, SimpleCache, NullCache)."""
        with self.context():
            return self.cache.cache.cache

    def runs_per_change(self) -> Counter[str]:
        """How many times each computation runs for one filter change."""
        lineages = {view: self.signaling.computations.lineage(name) for view, name in VIEWS.items()}
        if self.backend == "null":
            # Caching off: every view computes what it reads, and all that it derives from.
            return Counter(c.name for chain in lineages.values() for c in chain)
        return Counter({c.name for chain in lineages.values() for c in chain})


def redis_key(dashboard: Dashboard, key: str) -> str:
    """The name in Redis of the entry `key` (flask-caching prefixes it)."""
    prefix: str = dashboard.backend_cache()._get_prefix()
    return prefix + key


def settings_for(
    backend: str, cache_dir: Path, redis_url: str | None, **options: Any
) -> CacheSettings:
    """The settings of the test dashboard (`options` replace any of them)."""
    declared: dict[str, Any] = {
        "app_name": "t",
        "spec_version": "1",
        "backend": backend,
        "cache_dir": cache_dir,
        # Nothing listens on port 1: the redis backend without a server is an outage.
        "redis_url": redis_url or "redis://127.0.0.1:1/0",
    }
    return CacheSettings(**{**declared, **options})


def build_dashboard(
    tmp_path: Path,
    backend: str,
    *,
    redis_url: str | None = None,
    pattern: str = "signal",
    environ: dict[str, str] | None = None,
    data: dict[str, Any] | None = None,
    fresh: bool = True,
    **options: Any,
) -> Dashboard:
    """The app a generated project builds on the runtime, on a cache of its own in `tmp_path`.

    `options` are further CacheSettings; `environ` replaces the process's environment while the
    app starts (the runtime reads DASHSIGNAL_CACHE, REDIS_URL and CACHE_DIR from it); `data`
    sets attributes of the data module (DELAY_SECONDS, FAILING). Another process (a worker)
    builds the same dashboard on the same `tmp_path` with `fresh=False`: it then counts its
    runs into the same log."""
    assert pattern in PATTERNS
    if backend == "redis":
        assert redis_url, "the redis backend needs a server"
    folder = tmp_path / f"dashboard-{backend}-{pattern}"
    folder.mkdir(parents=True, exist_ok=True)
    runs = RunLog(folder / "runs.jsonl", fresh=fresh)
    data_module, stage, own = user_modules(runs)
    for name, value in (data or {}).items():
        assert hasattr(data_module, name), name
        setattr(data_module, name, value)
    computations = computations_of(data_module, stage, own)
    settings = settings_for(backend, folder / "cache", redis_url, **options)
    signaling = Signaling(settings, FILTERS, computations, signals=SIGNALS)
    views = types.ModuleType("views")
    views.sales, views.daily = _render_sales, _render_daily
    views.total, views.mix = _render_total, _render_mix

    app = Dash(__name__)
    with _environment(environ or {}):
        signaling.init_app(app)
    background = settings.background
    app.layout = page(
        "Runtime test",
        FILTERS,
        indicators=[indicator_card("total", "Total")],
        charts=[graph_card("sales", "Sales"), graph_card("mix", "Mix")],
        tables=[table_card("daily", "Daily", money_columns=["amount"])],
        stores=SIGNALS.values() if pattern == "signal" else (),
        running_id=RUNNING_ID if background else None,
    )
    dashboard = Dashboard(app, signaling, runs, data_module, stage, own, views, pattern, background)
    _register_callbacks(dashboard)
    return dashboard


@contextlib.contextmanager
def _environment(environ: dict[str, str]) -> Iterator[None]:
    names = ("DASHSIGNAL_CACHE", "REDIS_URL", "CACHE_DIR")
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ.pop(name, None)
        os.environ.update(environ)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _register_callbacks(dashboard: Dashboard) -> None:
    app, signaling, views = dashboard.app, dashboard.signaling, dashboard.views

    def view_frame(name: str, argument: Any) -> pd.DataFrame | None:
        if dashboard.pattern == "signal" and name != OWN:
            return signaling.result_for(name, argument)
        return signaling.cached_result(name, argument)

    @shows_failures("sales", failed_figure)
    def update_sales(argument: Any) -> Figure:
        return draw_graph(views.sales, view_frame(QUERY, argument))

    @shows_failures("daily", failed_table)
    def update_daily(argument: Any) -> Any:
        return fill_table(views.daily, view_frame(STAGE, argument))

    @shows_failures("total", failed_text)
    def update_total(argument: Any) -> Any:
        return show_indicator(views.total, view_frame(QUERY, argument))

    @shows_failures("mix", failed_figure)
    def update_mix(filters: Any) -> Figure:
        return draw_graph(views.mix, view_frame(OWN, filters))

    if dashboard.pattern == "signal":
        options: dict[str, Any] = {}
        if dashboard.background:
            dashboard.manager = signaling.background_manager()
            options = {
                "background": True,
                "manager": dashboard.manager,
                "running": [
                    (Output(RUNNING_ID, "style"), {"display": "inline"}, {"display": "none"})
                ],
            }

        def compute_signal(filters: Any) -> dict[str, Any]:
            return signaling.signal(QUERY, filters)

        def derive_daily(signal: Any) -> dict[str, Any]:
            return signaling.derive(STAGE, signal)

        app.callback(Output(SIGNAL_ID, "data"), inputs={"filters": FILTERS.inputs()}, **options)(
            compute_signal
        )
        app.callback(Output(SIGNALS[STAGE], "data"), Input(SIGNAL_ID, "data"))(derive_daily)
        trigger: dict[str, Any] = {
            "sales": Input(SIGNAL_ID, "data"),
            "daily": Input(SIGNALS[STAGE], "data"),
            "total": Input(SIGNAL_ID, "data"),
        }
    else:
        trigger = {"sales": FILTERS.inputs(), "daily": FILTERS.inputs(), "total": FILTERS.inputs()}
    for view_id, update in (("sales", update_sales), ("daily", update_daily)):
        outputs = [Output(view_id, prop) for prop in VIEW_OUTPUTS[view_id]]
        app.callback(*outputs, inputs={"argument": trigger[view_id]})(update)
    app.callback(Output("total", "children"), inputs={"argument": trigger["total"]})(update_total)
    app.callback(Output("mix", "figure"), inputs={"filters": FILTERS.inputs()})(update_mix)


# --- filter states ----------------------------------------------------------------------------


def defaults() -> dict[str, Any]:
    return FILTERS.defaults()


def nth_filters(position: int) -> dict[str, Any]:
    """The n-th filter state, counted like an odometer whose wheels are the filters' values:
    distinct states for distinct positions."""
    filters = defaults()
    rest = position % math.prod(_values(spec) for spec in FILTERS.values())
    for spec in FILTERS.values():
        rest, digit = divmod(rest, _values(spec))
        filters[spec.id] = _nth_value(spec, digit)
    return FILTERS.canonical(filters)


def _values(spec: Filter) -> int:
    """How many values the filter can take (at most 100 counted)."""
    if spec.kind == "dropdown":
        return len(spec.options) + 1  # and None, for all
    if spec.kind == "radio":
        return len(spec.options)
    if spec.kind in ("multi", "checklist"):
        return min(100, 2 ** len(spec.options))
    if spec.kind == "range":
        return min(100, round((spec.max - spec.min) / spec.step) + 1)
    return min(100, (dt.date.fromisoformat(spec.max) - dt.date.fromisoformat(spec.min)).days + 1)


def _nth_value(spec: Filter, position: int) -> Any:
    if spec.kind == "dropdown":
        return [None, *spec.options][position]
    if spec.kind == "radio":
        return spec.options[position]
    if spec.kind in ("multi", "checklist"):
        return [option for bit, option in enumerate(spec.options) if position >> bit & 1]
    if spec.kind == "range":
        return [spec.min, spec.min + position * spec.step]
    start = dt.date.fromisoformat(spec.min)
    return [spec.min, (start + dt.timedelta(days=position)).isoformat()]


def filter_props(filters: dict[str, Any]) -> dict[Prop, Any]:
    """The component properties that hold `filters`, as the page sends them."""
    props: dict[Prop, Any] = {}
    for filter_id, spec in FILTERS.items():
        if spec.kind == "dates":
            props[(filter_id, "start_date")], props[(filter_id, "end_date")] = filters[filter_id]
        else:
            props[(filter_id, "value")] = filters[filter_id]
    return props


# --- the callback endpoint --------------------------------------------------------------------

CALLBACK = "/_dash-update-component"


@dataclass(frozen=True)
class CallbackResult:
    status: int
    outputs: dict[str, dict[str, Any]]

    def value(self, component_id: str, prop: str) -> Any:
        return self.outputs[component_id][prop]

    def shown(self) -> str:
        """Everything the callback sent to the page, as text."""
        return json.dumps(self.outputs, ensure_ascii=False)


@dataclass(frozen=True)
class Pending:
    body: dict[str, Any]
    handles: dict[str, str] | None  # a background job's, to poll with
    result: CallbackResult | None  # the answer, when it came at once


class Endpoint:
    """The callbacks of one app, called over HTTP as the renderer calls them.

    The callback graph is read from the app's own /_dash-dependencies, so this exercises Dash's
    real routing, argument grouping and serialisation; `change` plays the renderer's part after
    a filter change: every callback the change reaches runs once, after those writing its inputs.
    """

    def __init__(self, client: FlaskClient | HttpClient, *, background: bool = False) -> None:
        self.client = client
        response = client.get("/_dash-dependencies")
        assert response.status_code == 200
        self.callbacks: list[dict[str, Any]] = in_dependency_order(response.get_json())
        self.values: dict[Prop, Any] = {}
        self.end_id: str | None = None
        if background:
            # Background jobs are bound to a page load: the page hands the renderer a token.
            html = client.get("/").get_data(as_text=True)
            config = re.search(r'<script id="_dash-config"[^>]*>(.*?)</script>', html, re.DOTALL)
            assert config, "no _dash-config in the page"
            self.end_id = json.loads(config.group(1))["end_id"]

    def callback_for(self, component_id: str) -> dict[str, Any]:
        matches = [cb for cb in self.callbacks if component_id in _output_ids(cb["output"])]
        assert len(matches) == 1, f"expected one callback writing {component_id}"
        return matches[0]

    def change(self, filters: dict[str, Any]) -> dict[str, CallbackResult]:
        """Set the filters and run each callback the change reaches, once, in dependency order;
        each run's result by the first component it writes."""
        return self._run(filter_props(filters))

    def _run(self, changed: dict[Prop, Any]) -> dict[str, CallbackResult]:
        self.values.update(changed)
        dirty = set(changed)
        results: dict[str, CallbackResult] = {}
        for callback in self.callbacks:
            if not dirty.intersection((dep["id"], dep["property"]) for dep in callback["inputs"]):
                continue
            result = self._post(callback, inputs_with_values(callback, self.values))
            results[split_output(callback["output"])[0][0]] = result
            for component_id, props in result.outputs.items():
                for prop, value in props.items():
                    self.values[(component_id, prop)] = value
                    dirty.add((component_id, prop))
        return results

    def body(self, component_id: str, values: dict[Prop, Any]) -> dict[str, Any]:
        """The renderer's request body for the callback writing `component_id`."""
        callback = self.callback_for(component_id)
        return body_for(callback, inputs_with_values(callback, values))

    def fire(self, component_id: str, values: dict[Prop, Any]) -> CallbackResult:
        """Run the callback writing `component_id` once, with the given input values."""
        callback = self.callback_for(component_id)
        return self._post(callback, inputs_with_values(callback, values))

    def compute(self, filters: dict[str, Any]) -> CallbackResult:
        """Fire the compute callback with filter values keyed by filter id."""
        return self.fire(SIGNAL_ID, filter_props(filters))

    def consume(self, view_id: str, signal: Any) -> CallbackResult:
        """Fire a view's callback with a signal, as after its store changed."""
        callback = self.callback_for(view_id)
        return self._post(callback, [{**dep, "value": signal} for dep in callback["inputs"]])

    def start_compute(self, filters: dict[str, Any]) -> Pending:
        """Send the compute callback's request without waiting for a background job's answer."""
        callback = self.callback_for(SIGNAL_ID)
        return self._submit(callback, inputs_with_values(callback, filter_props(filters)))

    def _post(self, callback: dict[str, Any], inputs: list[dict[str, Any]]) -> CallbackResult:
        return self.finish(self._submit(callback, inputs))

    def _submit(self, callback: dict[str, Any], inputs: list[dict[str, Any]]) -> Pending:
        body = body_for(callback, inputs)
        if self.end_id is None:
            return Pending(body, None, _result(self.client.post(CALLBACK, json=body)))
        response = self.client.post(CALLBACK, json=body, query_string={"endId": self.end_id})
        payload = response.get_json(silent=True) or {}
        if "cacheKey" in payload:
            # A background job was started: its answer is collected by finish().
            handles = {"endId": self.end_id, "cacheKey": payload["cacheKey"], "job": payload["job"]}
            return Pending(body, handles, None)
        return Pending(body, None, _result(response))

    def finish(self, pending: Pending) -> CallbackResult:
        """The answer of a request: at once, or by polling its job as the renderer does."""
        if pending.result is not None:
            return pending.result
        deadline = time.monotonic() + 60
        while True:
            time.sleep(0.05)
            response = self.client.post(CALLBACK, json=pending.body, query_string=pending.handles)
            payload = response.get_json(silent=True) or {}
            if response.status_code != 200 or "response" in payload:
                return _result(response)
            assert time.monotonic() < deadline, "the background job never answered"


def body_for(callback: dict[str, Any], inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The renderer's request body for `callback` with these inputs."""
    outputs = [{"id": cid, "property": prop} for cid, prop in split_output(callback["output"])]
    return {
        "output": callback["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs,
        "changedPropIds": [f"{dep['id']}.{dep['property']}" for dep in inputs],
        "state": [],
    }


def _result(response: Any) -> CallbackResult:
    if response.status_code == 204:
        return CallbackResult(204, {})
    payload = response.get_json(silent=True) or {}
    return CallbackResult(response.status_code, payload.get("response", {}))


def _output_ids(output: str) -> set[str]:
    return {component_id for component_id, _ in split_output(output)}


def has_content(result: CallbackResult, view_id: str) -> bool:
    values = result.outputs.get(view_id, {}).values()
    return bool(values) and all(value is not None for value in values)


# --- processes --------------------------------------------------------------------------------


def run_python(code: str, *args: str, timeout: float = 60, **options: Any) -> Any:
    """Run `code` in a Python process of its own that can import this module."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    env.update(options.pop("env", {}))
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        **options,
    )


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    """A redis-server of its own for the length of a `with` block."""
    server = RedisServer(directory, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def logged(records: list[Any], level: int, contains: str = "") -> list[str]:
    """The messages of `records` at `level` or above that contain `contains`."""
    return [
        record.getMessage()
        for record in records
        if record.levelno >= level and contains in record.getMessage()
    ]


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


# --- background jobs on Celery ----------------------------------------------------------------

CELERY_START_SECONDS = 90


def celery_worker_main(folder: str, redis_url: str, data: str) -> None:
    """A Celery worker for the dashboard built on `folder` with background jobs on Redis, as
    `celery -A app:celery_app worker` runs one (two job processes); it counts its runs into
    the dashboard's log."""
    dashboard = build_dashboard(
        Path(folder),
        "redis",
        redis_url=redis_url,
        background=True,
        fresh=False,
        data=json.loads(data),
    )
    dashboard.signaling.celery_app.worker_main(
        [
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=warning",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@contextlib.contextmanager
def celery_worker(folder: Path, redis_url: str, data: dict[str, Any]) -> Iterator[None]:
    """A real Celery worker process (see celery_worker_main) until the block ends."""
    log = (folder / "celery.log").open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, runtime_helpers; runtime_helpers.celery_worker_main(*sys.argv[1:])",
            str(folder),
            redis_url,
            json.dumps(data),
        ],
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        # A job sent before a worker listens is seen by Dash as cancelled: wait for a ping.
        from celery import Celery

        probe = Celery(broker=redis_url)
        deadline = time.monotonic() + CELERY_START_SECONDS
        while not probe.control.ping(timeout=0.5):
            output = (folder / "celery.log").read_text(errors="replace")[-3000:]
            assert worker.poll() is None, "the Celery worker exited: " + output
            assert time.monotonic() < deadline, "no Celery worker answered: " + output
        yield
    finally:
        # The worker and its job processes, at once: nothing of theirs is kept.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        log.close()


def forget_entries(server: RedisServer) -> None:
    """Delete the dashboard's entries, locks and counters, and nothing of Celery's."""
    with server.client() as client:
        names = list(client.scan_iter(match="*dashsignal:*"))
        if names:
            client.delete(*names)


# --- served by gunicorn -----------------------------------------------------------------------


def served_app() -> Any:
    """The test dashboard's Flask server, for `gunicorn 'runtime_helpers:served_app()'`: each
    worker builds it from DASHBOARD_DIR, DASHBOARD_BACKEND and TEST_REDIS_URL, and counts its
    runs into the dashboard's log."""
    dashboard = build_dashboard(
        Path(os.environ["DASHBOARD_DIR"]),
        os.environ["DASHBOARD_BACKEND"],
        redis_url=os.environ.get("TEST_REDIS_URL") or None,
        fresh=False,
        data=json.loads(os.environ.get("DASHBOARD_DATA") or "{}"),
    )
    server = dashboard.app.server

    @server.after_request
    def say_which_worker(response: Any) -> Any:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return server


class HttpResponse:
    """What the tests read of an answer, as Flask's test client gives it."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self.headers = response.headers
        self.data = response.content

    def get_json(self, silent: bool = False) -> Any:
        try:
            return json.loads(self.data)
        except ValueError:
            if silent:
                return None
            raise

    def get_data(self, as_text: bool = False) -> Any:
        return self.data.decode() if as_text else self.data


class HttpClient:
    """The part of Flask's test client that Endpoint uses, over real HTTP to `base`; `workers`
    collects the pids of the workers that answered (served_app says which)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.workers: set[int] = set()

    def _answer(self, response: requests.Response) -> HttpResponse:
        if "X-Worker-Pid" in response.headers:
            self.workers.add(int(response.headers["X-Worker-Pid"]))
        return HttpResponse(response)

    def get(self, path: str) -> HttpResponse:
        return self._answer(self.session.get(self.base + path, timeout=60))

    def post(
        self,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        query_string: dict[str, str] | None = None,
    ) -> HttpResponse:
        headers = {"Content-Type": content_type} if content_type else {}
        response = self.session.post(
            self.base + path,
            json=json,
            data=data,
            headers=headers,
            params=query_string,
            timeout=60,
        )
        return self._answer(response)


@contextlib.contextmanager
def gunicorn(
    folder: Path,
    backend: str,
    *,
    workers: int,
    preload: bool = False,
    redis_url: str | None = None,
    **data: Any,
) -> Iterator[str]:
    """The test dashboard served by a real gunicorn with `workers` worker processes, on a free
    local port, until the block ends; yields its base URL. Each worker builds the app, unless
    `preload`: gunicorn's master then builds it once and forks the workers from it."""
    port = free_port()
    log = (folder / "gunicorn.log").open("wb")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path]),
        "DASHBOARD_DIR": str(folder),
        "DASHBOARD_BACKEND": backend,
        "TEST_REDIS_URL": redis_url or "",
        "DASHBOARD_DATA": json.dumps(data),
    }
    for name in ("DASHSIGNAL_CACHE", "REDIS_URL", "CACHE_DIR"):
        env.pop(name, None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            *("--workers", str(workers), "--bind", f"{HOST}:{port}", "--timeout", "60"),
            *(["--preload"] if preload else []),
            "runtime_helpers:served_app()",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            output = (folder / "gunicorn.log").read_text(errors="replace")[-3000:]
            assert server.poll() is None, "gunicorn exited: " + output
            with contextlib.suppress(requests.RequestException):
                if requests.get(base + "/_dash-dependencies", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, "gunicorn did not answer: " + output
            time.sleep(0.1)
        yield base
    finally:
        # The master and its workers at once (a graceful stop takes seconds, and tests nothing).
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        log.close()


def worker_pids(folder: Path) -> set[int]:
    """The pids of the gunicorn workers that booted, from gunicorn's log."""
    text = (folder / "gunicorn.log").read_text(errors="replace")
    return {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", text)}


@contextlib.contextmanager
def dropping_listener(port: int) -> Iterator[list[float]]:
    """A server on `port` that accepts every connection and closes it at once, as a broken
    Redis host would; yields the times of the connections it was sent."""
    attempts: list[float] = []
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, port))
    listener.listen(64)

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            attempts.append(time.monotonic())
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield attempts
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)
