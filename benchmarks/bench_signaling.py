"""Measure the signaling pattern of a generated dashboard over real HTTP, against two alternatives.

The dashboard has the demo filters (`region` dropdown, `product` multi-select, `year` range) and
five views: `sales`, `share` and `mix` (graphs: amount per month, per region, per product),
`rows` (an AG Grid table of the 500 largest sales) and `total` (an indicator). Each variant is
served by `gunicorn app:server -w 4` on 127.0.0.1 at a free port, and driven the way the browser
drives it, through POST /_dash-update-component:

* A. the project `dashsignal new` generates, cache backend `filesystem` (FileSystemCache): each
  view module's `summarise(data)` runs once per filter change in the compute step, and each
  consumer reads its own small summary for its `render(summary)`;
* B. the same with backend `redis` (RedisCache), on a redis-server this script starts on a free
  port with `--save "" --appendonly no` and stops at the end;
* G and H. the design before summaries (0.3): A and B with every view module made whole again,
  `render(data)` = its `render(summarise(data))`, so the runtime caches the whole frame and every
  consumer reads it (Redis: Parquet bytes) and aggregates it itself. Redis database 2 for H;
* I (only when asked for): A with the summaries computed one after the other
  (DASHSIGNAL_SUMMARY_THREADS=1) rather than on two threads, to measure what the threads save;
* C. a naive app written at run time, same layout ids: every view's callback takes the filters
  as inputs and runs `data.expensive_query` itself, then the same (whole) `views.<id>.render`;
* D. an app written at run time that ships the data to the browser: the compute callback returns
  `frame.to_json(orient="split", date_format="iso")` into the `dcc.Store` (the pattern of Dash's
  "sharing data between callbacks" docs) and every view rebuilds the frame with `pd.read_json`.
  The browser sends the whole store back with every consumer request; so do we.
* E and F (only when asked for, `--variants ABEF`): A and B with the per-process memo of decoded
  frames switched off (`dashsignal.cache.MEMO_ENTRIES = 0`), to measure what it saves:
  every consumer then reads and decodes the entry from the shared cache. F uses Redis database 1.

`data.py` (the user's file) is replaced in every variant by the same stand-in for a slow database:
`expensive_query` appends a line to the file named by BENCH_COUNTER_FILE (so the benchmark counts
the computations across all worker processes), sleeps `--query-seconds`, and returns `--rows`
deterministic rows (seeded by the filter values) with the columns the views need: region, product,
year, day (datetime64), units, amount.

A filter change is: POST the compute callback, wait for its answer, then POST the five consumers at
once with the signal it returned (for C: POST the five views at once with the filters). Every
variant is served at once (idle workers cost no CPU) and the changes are interleaved: each filter
change runs in every variant in turn, in an order that rotates with each change, so that load from
elsewhere on the machine drifting during the run falls on all variants alike. Each variant gets one
warm-up change, then `--changes` measured ones, each with distinct filter values (the same sequence
for every variant; each variant has its own cache). For each change: the computations run (counter
delta), the end-to-end time until the last view has answered, split into the compute answer and the
views after it, the CPU time the gunicorn master and workers used meanwhile (user + system, from
/proc: unlike the times, it hardly depends on other load), the size of the store value as compact
JSON (the signal; for D, the data) and the bytes of the five consumer responses. The table shows
medians. The reference is the query alone: one call of `expensive_query` in this process (median
of three after a warm-up call; its CPU time too). After the run, the bytes each signaling variant
holds in its cache, divided by the filter states it computed. For the signaling variants, a
stampede: 20 sessions at once on filter values not seen before, each posting the compute callback
and then its five consumers; computations run and wall time. To explain the results it also times,
in this process, each view's summarise and render (plus JSON encoding) and the pickled size of
each summary, and the cache write and read of one frame
through the real flask-caching backends (Parquet written as the generated redis backend writes it),
and over HTTP each consumer of the signaling variants alone, cache warm; from those, a floor for
each on this machine: query alone + cache write + the longer of the slowest view alone and the sum
of the views alone divided by the cores. The header gives the 1-minute load average at start and
end: other work on the machine skews every number.

Every response is checked (HTTP 200, the outputs present, views showing real data, the same total
in every variant); nothing is asserted on the times. The output is GitHub-flavoured Markdown.
Run it from the repository root with the project's virtualenv:

    python benchmarks/bench_signaling.py [--rows N] [--query-seconds S] [--changes K]
    # defaults: 1_000_000 rows, 0.3 s, 3 changes; also --workers W (4), --variants ABGH (any of
    # ABCDEFGH)
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import io
import json
import os
import pickle
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import redis
from flask_caching.backends.filesystemcache import FileSystemCache
from flask_caching.backends.rediscache import RedisCache

HOST = "127.0.0.1"
ENDPOINT = "/_dash-update-component"
VIEWS: tuple[tuple[str, str], ...] = (
    ("sales", "graph"),
    ("share", "graph"),
    ("mix", "graph"),
    ("rows", "table"),
    ("total", "indicator"),
)
FILTERS = ("region:dropdown", "product:multi", "year:range")
REGIONS: tuple[str | None, ...] = (None, "North", "South", "East", "West")
PRODUCTS: tuple[list[str], ...] = (
    [],
    ["Basic"],
    ["Plus", "Pro"],
    ["Basic", "Pro"],
    ["Plus"],
    ["Pro"],
    ["Basic", "Plus"],
)
YEARS = [[low, high] for low in range(2019, 2026) for high in range(low, 2026)]
MAX_STATES = 140  # distinct (region, product, year) states the cycle below yields
TABLE_ROWS = 500  # views/rows.py shows the 500 largest sales
SESSIONS = 20
# The cache backend of each signaling variant.
BACKENDS = {
    "A": "filesystem",
    "B": "redis",
    "E": "filesystem",
    "F": "redis",
    "G": "filesystem",
    "H": "redis",
    "I": "filesystem",
}
# Each design before summaries, and the variant of today's design it is measured against.
OLD_DESIGN = {"G": "A", "H": "B"}
# The targets: end to end × the query alone, by backend; bytes cached per filter state;
# the stampede's wall time × the old design's.
TARGET_RATIO = {"filesystem": 1.15, "redis": 1.25}
TARGET_BYTES = 1_000_000
TARGET_STAMPEDE = 0.25
ALONE_RUNS = 3
SENTINEL = "@@bench-value@@"
START_SECONDS = 120.0
LIBRARIES = (
    "dash",
    "dash-ag-grid",
    "flask-caching",
    "plotly",
    "pandas",
    "numpy",
    "pyarrow",
    "redis",
    "gunicorn",
)

Json = Any
Frame = Any  # pandas ships no type information

DATA_PY = '''\
"""expensive_query for benchmarks/bench_signaling.py: a stand-in for a slow database.

Written by the benchmark into every app it serves, in place of the user's data.py. Each call
appends a line to the file named by BENCH_COUNTER_FILE (when set), sleeps BENCH_QUERY_SECONDS
and returns BENCH_ROWS deterministic rows drawn from the filter values: the same filters give
the same frame in every process.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DATA_VERSION = "bench-1"
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
QUERY_SECONDS = float(os.environ.get("BENCH_QUERY_SECONDS", "0.3"))
REGIONS = ["North", "South", "East", "West"]
PRODUCTS = ["Basic", "Plus", "Pro"]
YEARS = [2019, 2025]


def expensive_query(filters: dict[str, Any]) -> pd.DataFrame:
    """BENCH_ROWS rows for `filters`; an empty selection means "no filter"."""
    counter = os.environ.get("BENCH_COUNTER_FILE")
    if counter:
        with Path(counter).open("a", encoding="utf-8") as file:
            file.write(f"{os.getpid()}\\n")
    time.sleep(QUERY_SECONDS)
    canonical = json.dumps(filters, sort_keys=True, separators=(",", ":"))
    seed = int.from_bytes(hashlib.sha256(canonical.encode("utf-8")).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    region = filters.get("region")
    first, last = filters.get("year") or YEARS
    year = rng.integers(first, last, size=ROWS, endpoint=True)
    offsets = rng.integers(0, 365, size=ROWS).astype("timedelta64[D]")
    day = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + offsets
    return pd.DataFrame(
        {
            "region": _labels([region] if region is not None else REGIONS, rng),
            "product": _labels(filters.get("product") or PRODUCTS, rng),
            "year": year,
            "day": pd.Series(day).astype("datetime64[us]"),
            "units": rng.integers(1, 20, size=ROWS),
            "amount": rng.gamma(2.0, 60.0, size=ROWS).round(2),
        }
    )


def _labels(options: list[str], rng: np.random.Generator) -> pd.Series:
    codes = rng.integers(0, len(options), size=ROWS)
    return pd.Series(options, dtype="str").take(codes).reset_index(drop=True)
'''

_APP_HEAD = """\
from __future__ import annotations

from typing import Any

import pandas as pd
from dash import Dash, Input, Output
from dash.exceptions import PreventUpdate

import data
import views.mix
import views.rows
import views.sales
import views.share
import views.total
from dashsignal import InvalidFilters
from dashsignal.outputs import table_payload
from signaling import ASSETS_FOLDER
from signaling.filters import FILTERS
from signaling.ids import SIGNAL_ID
from signaling.layout import build_layout
from signaling.settings import TITLE

FILTER_INPUTS = {"filters": {f.id: Input(f.id, "value") for f in FILTERS.values()}}

app = Dash(__name__, title=TITLE, assets_folder=str(ASSETS_FOLDER))
app.layout = build_layout()
server = app.server


def query(filters: Any) -> pd.DataFrame:
    try:
        canonical = FILTERS.canonical(filters)
    except InvalidFilters:
        raise PreventUpdate from None
    return data.expensive_query(canonical)
"""

NAIVE_APP_PY = (
    '"""Variant C of benchmarks/bench_signaling.py: every view runs the query itself."""\n\n'
    + _APP_HEAD
    + """

@app.callback(Output("sales", "figure"), inputs=FILTER_INPUTS)
def update_sales(filters: Any) -> Any:
    return views.sales.render(query(filters))


@app.callback(Output("share", "figure"), inputs=FILTER_INPUTS)
def update_share(filters: Any) -> Any:
    return views.share.render(query(filters))


@app.callback(Output("mix", "figure"), inputs=FILTER_INPUTS)
def update_mix(filters: Any) -> Any:
    return views.mix.render(query(filters))


@app.callback(Output("rows", "rowData"), Output("rows", "columnDefs"), inputs=FILTER_INPUTS)
def update_rows(filters: Any) -> Any:
    return table_payload(views.rows.render(query(filters)))


@app.callback(Output("total", "children"), inputs=FILTER_INPUTS)
def update_total(filters: Any) -> Any:
    return views.total.render(query(filters))
"""
)

STORE_APP_PY = (
    '"""Variant D of benchmarks/bench_signaling.py: the data itself travels in the dcc.Store."""'
    + "\n\n"
    + _APP_HEAD.replace("from typing import Any\n", "import io\nfrom typing import Any\n", 1)
    + """

@app.callback(Output(SIGNAL_ID, "data"), inputs=FILTER_INPUTS)
def compute(filters: Any) -> str:
    return query(filters).to_json(orient="split", date_format="iso")


def stored_frame(stored: Any) -> pd.DataFrame:
    if not isinstance(stored, str):
        raise PreventUpdate
    frame = pd.read_json(io.StringIO(stored), orient="split")
    frame["day"] = pd.to_datetime(frame["day"])
    return frame


@app.callback(Output("sales", "figure"), Input(SIGNAL_ID, "data"))
def update_sales(stored: Any) -> Any:
    return views.sales.render(stored_frame(stored))


@app.callback(Output("share", "figure"), Input(SIGNAL_ID, "data"))
def update_share(stored: Any) -> Any:
    return views.share.render(stored_frame(stored))


@app.callback(Output("mix", "figure"), Input(SIGNAL_ID, "data"))
def update_mix(stored: Any) -> Any:
    return views.mix.render(stored_frame(stored))


@app.callback(Output("rows", "rowData"), Output("rows", "columnDefs"), Input(SIGNAL_ID, "data"))
def update_rows(stored: Any) -> Any:
    return table_payload(views.rows.render(stored_frame(stored)))


@app.callback(Output("total", "children"), Input(SIGNAL_ID, "data"))
def update_total(stored: Any) -> Any:
    return views.total.render(stored_frame(stored))
"""
)


# -- what is measured -------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    project: Path
    style: str  # "signaling": compute then consumers; "naive": all views at once; "store": D
    env: dict[str, str]
    counter: Path


@dataclass(frozen=True)
class Change:
    computations: int
    end_to_end: float
    compute: float
    views: float
    signal_bytes: int
    response_bytes: int
    total: str
    cpu: float | None  # CPU seconds of the gunicorn processes during the change


@dataclass
class Outcome:
    variant: Variant
    changes: list[Change] = field(default_factory=list)
    stampede: tuple[int, float, int] | None = None  # computations, wall seconds, sessions ok
    alone: dict[str, float] = field(default_factory=dict)  # view -> median seconds
    cached_bytes: int | None = None  # what its cache holds after the run
    states: int = 0  # the filter states it computed


@dataclass(frozen=True)
class InProcess:
    query: float
    query_cpu: float  # CPU seconds of the query alone (its sleep is not CPU)
    summarise: dict[str, float]  # view -> seconds (0 for a view without summarise)
    render: dict[str, float]  # view -> seconds of render (+ JSON encoding)
    summary_bytes: dict[str, int]  # view -> pickled size of its summary
    cache: dict[str, tuple[float, float]]  # backend -> (write, read) seconds


# -- filter states ----------------------------------------------------------------------------


def filter_states(count: int) -> list[dict[str, Any]]:
    """`count` distinct filter states, each already in canonical form."""
    if count > MAX_STATES:
        raise ValueError(f"at most {MAX_STATES} distinct filter states")
    return [
        {
            "region": REGIONS[i % len(REGIONS)],
            "product": PRODUCTS[i % len(PRODUCTS)],
            "year": YEARS[i % len(YEARS)],
        }
        for i in range(count)
    ]


# -- HTTP ------------------------------------------------------------------------------------


def post(port: int, body: bytes, timeout: float) -> bytes:
    """POST a callback body; the raw response body (HTTP 200 required)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(
            "POST", ENDPOINT, body=body, headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"POST {ENDPOINT}: HTTP {response.status}: {raw[:300]!r}")
    return raw


def get(port: int, path: str, timeout: float) -> bytes:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status}")
    return raw


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def split_output(output: str) -> list[tuple[str, str]]:
    """ "id.prop" for one output, "..id1.prop1...id2.prop2.." for several."""
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    pairs = [part.rsplit(".", 1) for part in parts]
    return [(pair[0], pair[1]) for pair in pairs]


class Endpoint:
    """Request bodies for one served app, built from its /_dash-dependencies."""

    def __init__(self, port: int, timeout: float, signal_id: str, server: int) -> None:
        self.port = port
        self.server = server  # the gunicorn master's pid
        self.timeout = timeout
        self.signal_id = signal_id
        self.callbacks: list[dict[str, Any]] = json.loads(get(port, "/_dash-dependencies", timeout))

    def callback_for(self, component_id: str) -> dict[str, Any]:
        matches = [
            cb
            for cb in self.callbacks
            if component_id in {cid for cid, _ in split_output(cb["output"])}
        ]
        if len(matches) != 1:
            raise RuntimeError(f"expected one callback writing {component_id!r}")
        return matches[0]

    def body(self, component_id: str, values: dict[str, Any]) -> bytes:
        """A body like the renderer's; inputs take their value from `values` by component id."""
        callback = self.callback_for(component_id)
        outputs = [{"id": cid, "property": prop} for cid, prop in split_output(callback["output"])]
        inputs = [{**dep, "value": values[dep["id"]]} for dep in callback["inputs"]]
        return json.dumps(
            {
                "output": callback["output"],
                "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": inputs,
                "changedPropIds": [f"{dep['id']}.{dep['property']}" for dep in inputs],
                "state": [],
            },
            separators=(",", ":"),
        ).encode()

    def compute_body(self, filters: dict[str, Any]) -> bytes:
        return self.body(self.signal_id, filters)

    def consumer_body(self, view: str, value_json: bytes) -> bytes:
        """The body of a view's consumer, carrying the store value (already JSON) as its input."""
        template = self.body(view, {self.signal_id: SENTINEL})
        return template.replace(json.dumps(SENTINEL).encode(), value_json)

    def naive_body(self, view: str, filters: dict[str, Any]) -> bytes:
        return self.body(view, filters)


def store_value(raw: bytes, signal_id: str) -> Json:
    return json.loads(raw)["response"][signal_id]["data"]


def check_view(view: str, kind: str, raw: bytes) -> str:
    """Check that a consumer's answer shows real data; the indicator's text for `total`."""
    response = json.loads(raw)["response"][view]
    if kind == "graph":
        traces = response["figure"]["data"]
        if not traces or not any(len(trace.get("x") or []) for trace in traces):
            raise RuntimeError(f"view {view}: empty figure")
    elif kind == "table":
        if len(response["rowData"]) != TABLE_ROWS or not response["columnDefs"]:
            raise RuntimeError(f"view {view}: {len(response['rowData'])} rows, not {TABLE_ROWS}")
    else:
        text = str(response["children"])
        if not re.fullmatch(r"\d{1,3}(,\d{3})*(\.\d\d)?", text):
            raise RuntimeError(f"view {view}: {text!r} is not a total")
        return text
    return ""


def counted(counter: Path) -> int:
    try:
        return counter.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


# -- one filter change --------------------------------------------------------------------------


def one_change(
    variant: Variant, endpoint: Endpoint, filters: dict[str, Any], pool: ThreadPoolExecutor
) -> Change:
    """What the browser does after one filter change, timed; the counter delta."""
    port, timeout = endpoint.port, endpoint.timeout
    before = counted(variant.counter)
    cpu_before = server_cpu(endpoint.server)

    def answer(view: str, body: bytes) -> tuple[str, bytes]:
        return view, post(port, body, timeout)

    start = time.perf_counter()
    if variant.style == "naive":
        bodies = [(view, endpoint.naive_body(view, filters)) for view, _ in VIEWS]
        computed = start
        signal_bytes = 0
    else:
        value = store_value(post(port, endpoint.compute_body(filters), timeout), endpoint.signal_id)
        computed = time.perf_counter()
        value_json = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        signal_bytes = len(value_json)
        bodies = [(view, endpoint.consumer_body(view, value_json)) for view, _ in VIEWS]
        del value, value_json
    futures = [pool.submit(answer, view, body) for view, body in bodies]
    answers = [future.result(timeout=timeout) for future in futures]
    end = time.perf_counter()
    cpu_after = server_cpu(endpoint.server)
    del bodies, futures

    kinds = dict(VIEWS)
    total = ""
    for view, raw in answers:
        total = check_view(view, kinds[view], raw) or total
    return Change(
        computations=counted(variant.counter) - before,
        end_to_end=end - start,
        compute=computed - start,
        views=end - computed,
        signal_bytes=signal_bytes,
        response_bytes=sum(len(raw) for _, raw in answers),
        total=total,
        cpu=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
    )


def server_cpu(master: int) -> float | None:
    """CPU seconds (user + system) used so far by a gunicorn master and its workers; None
    without /proc. Unlike wall times, this barely depends on what else the machine runs."""
    ticks, found = 0, False
    try:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # a process that ended meanwhile
            pid = int(stat.parent.name)
            if pid == master or int(fields[1]) == master:
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
                found = found or pid == master
    except OSError:
        return None
    return ticks / os.sysconf("SC_CLK_TCK") if found else None


def stampede(
    variant: Variant, endpoint: Endpoint, filters: dict[str, Any]
) -> tuple[int, float, int]:
    """SESSIONS sessions at once on the same new filters: computations, wall seconds, ok."""
    port, timeout = endpoint.port, endpoint.timeout
    before = counted(variant.counter)
    barrier = threading.Barrier(SESSIONS, timeout=timeout)

    def session(_: int) -> bool:
        barrier.wait()
        raw = post(port, endpoint.compute_body(filters), timeout)
        value_json = json.dumps(
            store_value(raw, endpoint.signal_id), separators=(",", ":"), ensure_ascii=False
        ).encode()
        with ThreadPoolExecutor(max_workers=len(VIEWS)) as views_pool:
            futures = [
                views_pool.submit(post, port, endpoint.consumer_body(view, value_json), timeout)
                for view, _ in VIEWS
            ]
            answers = [future.result(timeout=timeout) for future in futures]
        for (view, kind), answer in zip(VIEWS, answers, strict=True):
            check_view(view, kind, answer)
        return True

    with ThreadPoolExecutor(max_workers=SESSIONS) as sessions:
        start = time.perf_counter()
        futures = [sessions.submit(session, number) for number in range(SESSIONS)]
        ok = sum(1 for future in futures if future.result(timeout=timeout * 3))
        wall = time.perf_counter() - start
    return counted(variant.counter) - before, wall, ok


def cached_bytes(variant: Variant) -> int:
    """The bytes a signaling variant's cache holds: its entry files, or its Redis database."""
    redis_url = variant.env.get("REDIS_URL")
    if BACKENDS[variant.key] == "redis" and redis_url:
        client = redis.Redis.from_url(redis_url, socket_timeout=30)
        try:
            lengths: list[Any] = [client.strlen(key) for key in client.scan_iter(count=1000)]
            return sum(int(length) for length in lengths)
        finally:
            client.connection_pool.disconnect()
    folder = Path(variant.env["CACHE_DIR"]) / "data"
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def consumers_alone(endpoint: Endpoint, filters: dict[str, Any]) -> dict[str, float]:
    """Each consumer POSTed on its own, cache warm: median seconds per view."""
    raw = post(endpoint.port, endpoint.compute_body(filters), endpoint.timeout)
    value_json = json.dumps(
        store_value(raw, endpoint.signal_id), separators=(",", ":"), ensure_ascii=False
    ).encode()
    medians: dict[str, float] = {}
    for view, _ in VIEWS:
        body = endpoint.consumer_body(view, value_json)
        times = []
        for _ in range(ALONE_RUNS):
            start = time.perf_counter()
            post(endpoint.port, body, endpoint.timeout)
            times.append(time.perf_counter() - start)
        medians[view] = statistics.median(times)
    return medians


# -- processes --------------------------------------------------------------------------------


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process we started; kill it if it does not stop within 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@contextmanager
def redis_server(binary: str, workdir: Path) -> Iterator[int]:
    """A throw-away redis-server on 127.0.0.1 at a free port, without persistence."""
    port = free_port()
    command = [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    command += ["--dir", str(workdir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(host=HOST, port=port, socket_connect_timeout=1, socket_timeout=5)
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {process.returncode}")
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not answer within 20 s") from None
                time.sleep(0.1)
        client.connection_pool.disconnect()
        yield port
    finally:
        stop(process)


@contextmanager
def gunicorn(
    variant: Variant, workers: int, timeout: float, log: Path
) -> Iterator[tuple[int, int]]:
    """`gunicorn app:server -w WORKERS` for a variant, on 127.0.0.1 at a free port: the port and
    the master's pid."""
    binary = Path(sys.executable).parent / "gunicorn"
    if not binary.exists():
        raise RuntimeError(f"gunicorn must be installed beside this Python ({binary})")
    port = free_port()
    command = [str(binary), "app:server", "-w", str(workers), "-b", f"{HOST}:{port}"]
    command += ["--timeout", str(int(timeout)), "--graceful-timeout", "5"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=variant.project, env=variant.env, stdout=output, stderr=output
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited: {tail(log)}")
                try:
                    get(port, "/", 10)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"gunicorn did not answer: {tail(log)}") from None
                    time.sleep(0.2)
            yield port, process.pid
        except BaseException:
            sys.stderr.write(f"gunicorn log of {variant.key}:\n{tail(log)}\n")
            raise
        finally:
            stop(process)


def tail(log: Path, lines: int = 60) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# -- projects ---------------------------------------------------------------------------------


def generate(parent: Path, name: str, backend: str) -> Path:
    """`dashsignal new NAME --yes` with the five views and the demo filters, then our data.py."""
    command = [sys.executable, "-m", "dashsignal_cli", "new", name, "--yes"]
    command += [arg for view, kind in VIEWS for arg in ("--view", f"{view}:{kind}")]
    command += [arg for spec in FILTERS for arg in ("--filter", spec)]
    command += ["--cache", backend, "-C", str(parent)]
    parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"dashsignal new failed:\n{done.stdout}{done.stderr}")
    project = parent / name
    (project / "data.py").write_text(DATA_PY, encoding="utf-8")
    return project


def variant_copy(source: Path, target: Path, app_py: str) -> Path:
    """The generated project with its app.py replaced: same layout, views, filters, data.py."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".cache", "__pycache__"))
    (target / "app.py").write_text(app_py, encoding="utf-8")
    return target


def unsplit_copy(source: Path, target: Path) -> Path:
    """The generated project with the design before summaries: each view module's `render(data)`
    is its `render(summarise(data))`, run by every consumer on the whole frame."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".cache", "__pycache__"))
    for view, _ in VIEWS:
        module = target / "views" / f"{view}.py"
        text = module.read_text(encoding="utf-8")
        if "def summarise(" not in text:
            continue
        text = text.replace("def summarise(", "def _summarise(").replace(
            "def render(", "def _draw("
        )
        text += "\n\ndef render(data: pd.DataFrame) -> Any:\n    return _draw(_summarise(data))\n"
        if "from typing import Any" not in text:
            text = text.replace(
                "import pandas as pd\n", "from typing import Any\n\nimport pandas as pd\n", 1
            )
        module.write_text(text, encoding="utf-8")
    return target


def memo_off_copy(source: Path, target: Path) -> Path:
    """The generated project with the runtime's per-process memo of decoded frames switched off:
    its app.py sets dashsignal.cache.MEMO_ENTRIES to 0 before the app (and its cache) is made."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".cache", "__pycache__"))
    app_py = target / "app.py"
    switch = "import dashsignal.cache\n\ndashsignal.cache.MEMO_ENTRIES = 0\n"
    app_py.write_text(switch + app_py.read_text(encoding="utf-8"), encoding="utf-8")
    return target


# What the served apps never take from this process's environment: each variant sets its own.
INHERITED_NOT = (
    "CACHE_DIR",
    "REDIS_URL",
    "BENCH_COUNTER_FILE",
    "PYTHONPATH",
    "DASHSIGNAL_SUMMARY_THREADS",
)


def base_env(rows: int, query_seconds: float) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in INHERITED_NOT}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env |= {"BENCH_ROWS": str(rows), "BENCH_QUERY_SECONDS": repr(query_seconds)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


# -- in-process reference -----------------------------------------------------------------------


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def in_process(
    project: Path, states: list[dict[str, Any]], cache_dir: Path, redis_port: int
) -> InProcess:
    """The query alone, each view's render, and cache write/read of one frame."""
    sys.path.insert(0, str(project))
    try:
        data = importlib.import_module("data")
        outputs = importlib.import_module("dashsignal.outputs")
        modules: dict[str, ModuleType] = {
            view: importlib.import_module(f"views.{view}") for view, _ in VIEWS
        }
    finally:
        sys.path.remove(str(project))

    data.expensive_query(states[0])  # warm-up: lazy imports, first allocations
    frame: Frame = None
    times, cpu_times = [], []
    for filters in states[1:4]:
        start, cpu_start = time.perf_counter(), time.process_time()
        frame = data.expensive_query(filters)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)

    summarise: dict[str, float] = {}
    render: dict[str, float] = {}
    summary_bytes: dict[str, int] = {}
    for view, kind in VIEWS:
        module = modules[view]
        split = hasattr(module, "summarise")
        summary = module.summarise(frame) if split else frame
        summarise[view] = (
            statistics.median(timed(partial(module.summarise, frame)) for _ in range(3))
            if split
            else 0.0
        )
        summary_bytes[view] = len(pickle.dumps(summary, protocol=5))

        def draw(module: ModuleType = module, kind: str = kind, summary: Any = summary) -> object:
            result = module.render(summary)
            if kind == "graph":
                return result.to_json()  # plotly's encoder, as Dash uses for its responses
            return json.dumps(outputs.table_payload(result) if kind == "table" else result)

        draw()
        render[view] = statistics.median(timed(draw) for _ in range(3))

    cache: dict[str, tuple[float, float]] = {}
    filesystem = FileSystemCache(str(cache_dir), threshold=500, default_timeout=300)
    write = statistics.median(timed(lambda: filesystem.set("frame", frame)) for _ in range(3))
    read = statistics.median(timed(lambda: filesystem.get("frame")) for _ in range(3))
    cache["filesystem"] = (write, read)

    store = RedisCache(host=HOST, port=redis_port, default_timeout=300, socket_timeout=60)

    def parquet_write() -> None:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, engine="pyarrow", compression=None, write_statistics=False)
        store.set("frame", buffer.getvalue())  # as dashsignal/cache.py does on Redis

    def parquet_read() -> None:
        pd.read_parquet(io.BytesIO(store.get("frame")), engine="pyarrow")

    write = statistics.median(timed(parquet_write) for _ in range(3))
    read = statistics.median(timed(parquet_read) for _ in range(3))
    cache["redis"] = (write, read)
    store.delete("frame")
    return InProcess(
        statistics.median(times),
        statistics.median(cpu_times),
        summarise,
        render,
        summary_bytes,
        cache,
    )


# -- running a variant --------------------------------------------------------------------------


def run_interleaved(
    variants: list[Variant],
    states: list[dict[str, Any]],
    changes: int,
    workers: int,
    timeout: float,
    workdir: Path,
) -> list[Outcome]:
    """Every variant served at once; each filter change in every variant in turn."""
    outcomes = {variant.key: Outcome(variant) for variant in variants}
    with ExitStack() as servers:
        endpoints: dict[str, Endpoint] = {}
        for variant in variants:
            print(f"starting {variant.key} ({variant.label}) ...", file=sys.stderr, flush=True)
            log = workdir / f"gunicorn-{variant.key}.log"
            port, server = servers.enter_context(gunicorn(variant, workers, timeout, log))
            callbacks = json.loads(get(port, "/_dash-dependencies", timeout))
            data_outputs = [cb["output"] for cb in callbacks if cb["output"].endswith(".data")]
            signal_id = data_outputs[0].rsplit(".", 1)[0] if data_outputs else ""
            endpoints[variant.key] = Endpoint(port, timeout, signal_id, server)
        with ThreadPoolExecutor(max_workers=len(VIEWS)) as pool:
            for variant in variants:
                one_change(variant, endpoints[variant.key], states[0], pool)  # warm-up
            for number, filters in enumerate(states[1 : changes + 1]):
                print(f"change {number + 1} of {changes} ...", file=sys.stderr, flush=True)
                turn = number % len(variants)
                for variant in variants[turn:] + variants[:turn]:
                    change = one_change(variant, endpoints[variant.key], filters, pool)
                    outcomes[variant.key].changes.append(change)
        for variant in variants:
            if variant.style == "signaling":
                outcome = outcomes[variant.key]
                outcome.states = counted(variant.counter)
                outcome.cached_bytes = cached_bytes(variant)
        for variant in variants:
            if variant.style == "signaling":
                print(f"stampede on {variant.key} ...", file=sys.stderr, flush=True)
                endpoint = endpoints[variant.key]
                outcome = outcomes[variant.key]
                outcome.stampede = stampede(variant, endpoint, states[changes + 1])
                outcome.alone = consumers_alone(endpoint, states[changes])
    return [outcomes[variant.key] for variant in variants]


# -- report -----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def size(count: float) -> str:
    if count >= 1_000_000:
        return f"{count / 1_000_000:,.1f} MB"
    if count >= 10_000:
        return f"{count / 1_000:,.0f} kB"
    return f"{count:,.0f} B"


def library_versions(redis_binary: str) -> str:
    found = []
    for name in LIBRARIES:
        try:
            label = "redis-py" if name == "redis" else name
            found.append(f"{label} {version(name)}")
        except PackageNotFoundError:
            pass
    try:
        text = subprocess.run(
            [redis_binary, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
        server = next(word[2:] for word in text.split() if word.startswith("v="))
        found.append(f"redis-server {server}")
    except (OSError, StopIteration, subprocess.TimeoutExpired):
        pass
    return ", ".join(found)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def check(ok: bool) -> str:
    return "✅" if ok else "❌"


def report(
    args: argparse.Namespace,
    reference: InProcess,
    outcomes: list[Outcome],
    redis_binary: str,
    load: tuple[float, float],
) -> None:
    query = reference.query
    print(
        f"**Signaling benchmark** — {args.rows:,} rows, query {args.query_seconds} s "
        f"(measured alone: {ms(query)} ms), {args.changes} filter changes (medians), "
        f"`gunicorn app:server -w {args.workers}` (sync), {os.cpu_count()} cores "
        f"({cpu_model()}), Python {platform.python_version()}, {platform.system()}; "
        f"{library_versions(redis_binary)}; load average (1 min) {load[0]:.1f} at start, "
        f"{load[1]:.1f} at end"
    )
    print()
    print(
        "| variant | computations per change | end-to-end ms (min–max) | × query alone "
        "| compute ms | views ms | server CPU ms | signal (store value) | 5 view responses "
        "| cached per filter state |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| query alone (in-process) | 1 | {ms(query)} | 1.00 | {ms(query)} | — "
        f"| {ms(reference.query_cpu)} | — | — | — |"
    )
    for outcome in outcomes:
        changes = outcome.changes
        times = [c.end_to_end for c in changes]
        e2e = statistics.median(times)
        counted_runs = ", ".join(str(c.computations) for c in changes)
        naive = outcome.variant.style == "naive"
        signal = "—" if naive else size(statistics.median(c.signal_bytes for c in changes))
        compute = "—" if naive else ms(statistics.median(c.compute for c in changes))
        cpus = [c.cpu for c in changes if c.cpu is not None]
        cpu = ms(statistics.median(cpus)) if cpus else "—"
        per_state = per_state_bytes(outcome)
        print(
            f"| {outcome.variant.key}. {outcome.variant.label} | {counted_runs} "
            f"| {ms(e2e)} ({ms(min(times))}–{ms(max(times))}) "
            f"| {e2e / query:.2f} | {compute} "
            f"| {ms(statistics.median(c.views for c in changes))} | {cpu} | {signal} "
            f"| {size(statistics.median(c.response_bytes for c in changes))} "
            f"| {'—' if per_state is None else size(per_state)} |"
        )
    print()
    print(f"Stampede: {SESSIONS} sessions at once on the same new filter values.")
    print()
    print("| variant | computations | wall ms | sessions answered |")
    print("| --- | ---: | ---: | ---: |")
    for outcome in outcomes:
        if outcome.stampede is not None:
            stampede_runs, wall, ok = outcome.stampede
            print(
                f"| {outcome.variant.key}. {outcome.variant.label} | {stampede_runs} | {ms(wall)} "
                f"| {ok}/{SESSIONS} |"
            )
    print()
    signaling = [o for o in outcomes if o.stampede is not None]
    by_key = {o.variant.key: o for o in outcomes}
    keys = ", ".join(o.variant.key for o in signaling)
    print(f"Targets ({keys}), query alone {ms(query)} ms:")
    print()
    print("| target | " + " | ".join(o.variant.key for o in signaling) + " |")
    print("| --- |" + " --- |" * len(signaling))
    cells = []
    for o in signaling:
        counts = [c.computations for c in o.changes]
        cells.append(f"{check(all(n == 1 for n in counts))} {', '.join(map(str, counts))}")
    print("| one computation per filter change | " + " | ".join(cells) + " |")
    cells = []
    for o in signaling:
        once = o.stampede[0] if o.stampede else -1
        cells.append(f"{check(once == 1)} {once}")
    print(f"| one computation per stampede ({SESSIONS} sessions) | " + " | ".join(cells) + " |")
    cells = []
    for o in signaling:
        ratio = statistics.median(c.end_to_end for c in o.changes) / query
        limit = TARGET_RATIO[BACKENDS[o.variant.key]]
        cells.append(f"{check(ratio <= limit)} {ratio:.2f}× (≤ {limit}×)")
    print("| end to end × the query alone | " + " | ".join(cells) + " |")
    cells = []
    for o in signaling:
        per_state = per_state_bytes(o)
        ok = per_state is not None and per_state <= TARGET_BYTES
        cells.append(f"{check(ok)} {'—' if per_state is None else size(per_state)}")
    print(f"| cached per filter state ≤ {size(TARGET_BYTES)} | " + " | ".join(cells) + " |")
    cells = []
    for o in signaling:
        old = next((by_key[k] for k, new in OLD_DESIGN.items() if new == o.variant.key), None)
        if old is None or old.stampede is None or o.stampede is None:
            cells.append("—")
            continue
        ratio = o.stampede[1] / old.stampede[1]
        cells.append(f"{check(ratio <= TARGET_STAMPEDE)} {ratio:.2f}× of {old.variant.key}")
    print(
        f"| stampede ≤ {TARGET_STAMPEDE}× the design before summaries | " + " | ".join(cells) + " |"
    )
    cells = []
    for o in signaling:
        biggest = max(c.signal_bytes for c in o.changes)
        cells.append(f"{check(biggest < 300)} {biggest} B")
    print("| signal under 300 bytes | " + " | ".join(cells) + " |")
    print()
    print(
        "Where the time goes: in-process cost of each view's summarise (on the whole frame) and "
        "render (of its summary, + JSON encoding), its summary's pickled size, and over HTTP each "
        f"consumer of {keys} posted alone, cache warm (median of {ALONE_RUNS})."
    )
    print()
    print(
        "| view | summarise ms | render ms | summary | "
        + " | ".join(f"{o.variant.key} alone ms" for o in signaling)
        + " |"
    )
    print("| --- | ---: | ---: | ---: |" + " ---: |" * len(signaling))
    for view, kind in VIEWS:
        alone = " | ".join(ms(o.alone[view]) for o in signaling)
        print(
            f"| {view} ({kind}) | {ms(reference.summarise[view])} | {ms(reference.render[view])} "
            f"| {size(reference.summary_bytes[view])} | {alone} |"
        )
    sums = " | ".join(ms(sum(o.alone.values())) for o in signaling)
    print(
        f"| sum of the 5 | {ms(sum(reference.summarise.values()))} "
        f"| {ms(sum(reference.render.values()))} | {size(sum(reference.summary_bytes.values()))} "
        f"| {sums} |"
    )
    print()
    print("| one frame through the real flask-caching backend, in-process | write ms | read ms |")
    print("| --- | ---: | ---: |")
    write, read = reference.cache["filesystem"]
    print(f"| FileSystemCache (pickle) | {ms(write)} | {ms(read)} |")
    write, read = reference.cache["redis"]
    print(f"| RedisCache (Parquet, uncompressed) | {ms(write)} | {ms(read)} |")
    cores = os.cpu_count() or 1
    print()
    print(
        f"Floor on {cores} cores: query alone + the cache write of the whole frame (designs that "
        f"cache it: {', '.join(OLD_DESIGN)}) + the longer of the slowest view alone and the sum "
        f"of the views alone / {cores}."
    )
    print()
    print("| | " + " | ".join(o.variant.key for o in signaling) + " |")
    print("| --- |" + " ---: |" * len(signaling))
    floors, measured = [], []
    for o in signaling:
        whole = o.variant.key in OLD_DESIGN or o.variant.key in "EF"
        write = reference.cache[BACKENDS[o.variant.key]][0] if whole else 0.0
        views = max(max(o.alone.values()), sum(o.alone.values()) / cores)
        floors.append(f"{ms(query + write + views)} ms")
        measured.append(f"{ms(statistics.median(c.end_to_end for c in o.changes))} ms")
    print("| floor | " + " | ".join(floors) + " |")
    print("| measured end-to-end | " + " | ".join(measured) + " |")
    totals = {c.total for o in outcomes for c in o.changes}
    per_change = [{o.changes[i].total for o in outcomes} for i in range(args.changes)]
    same = all(len(values) == 1 for values in per_change)
    print()
    print(
        f"Same `total` in every variant for each change: {'yes' if same else 'NO'} "
        f"({len(totals)} distinct totals over {args.changes} changes)."
    )


def per_state_bytes(outcome: Outcome) -> float | None:
    if outcome.cached_bytes is None or not outcome.states:
        return None
    return outcome.cached_bytes / outcome.states


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows the query returns")
    parser.add_argument("--query-seconds", type=float, default=0.3, help="the query's sleep")
    parser.add_argument("--changes", type=int, default=3, help="measured filter changes")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument(
        "--timeout", type=float, default=300, help="bound of every HTTP wait, in seconds"
    )
    parser.add_argument(
        "--redis-server",
        default=shutil.which("redis-server") or "/usr/bin/redis-server",
        help="the redis-server binary to start",
    )
    parser.add_argument(
        "--variants",
        default="ABGH",
        help="which variants to run (default ABGH: today's design and the one before summaries, "
        "on filesystem and Redis; C naive, D data in the store, E and F: A and B without the memo, "
        "I: A with one summary thread)",
    )
    args = parser.parse_args(argv)
    if not args.variants or set(args.variants) - set("ABCDEFGHI"):
        parser.error("--variants takes letters among A to I")
    if args.rows < TABLE_ROWS or args.query_seconds < 0 or args.workers < 1:
        parser.error(f"--rows must be at least {TABLE_ROWS}, --query-seconds >= 0, --workers >= 1")
    if not 1 <= args.changes <= MAX_STATES - 2:
        parser.error(f"--changes must be between 1 and {MAX_STATES - 2}")
    if not Path(args.redis_server).exists():
        parser.error(f"no redis-server at {args.redis_server}")

    load_at_start = os.getloadavg()[0]
    states = filter_states(args.changes + 2)  # warm-up, the changes, the stampede
    os.environ.pop("BENCH_COUNTER_FILE", None)
    os.environ["BENCH_ROWS"] = str(args.rows)
    os.environ["BENCH_QUERY_SECONDS"] = repr(args.query_seconds)

    with tempfile.TemporaryDirectory(prefix="bench-signaling-") as tmp:
        workdir = Path(tmp)
        print("generating projects ...", file=sys.stderr, flush=True)
        filesystem = generate(workdir / "a", "bench", "filesystem")
        redis_project = generate(workdir / "b", "bench", "redis")
        filesystem_whole = unsplit_copy(filesystem, workdir / "g" / "bench")
        redis_whole = unsplit_copy(redis_project, workdir / "h" / "bench")
        naive = variant_copy(filesystem_whole, workdir / "c" / "bench", NAIVE_APP_PY)
        store = variant_copy(filesystem_whole, workdir / "d" / "bench", STORE_APP_PY)
        filesystem_off = memo_off_copy(filesystem, workdir / "e" / "bench")
        redis_off = memo_off_copy(redis_project, workdir / "f" / "bench")
        env = base_env(args.rows, args.query_seconds)

        with redis_server(args.redis_server, workdir) as redis_port:
            print("measuring in-process references ...", file=sys.stderr, flush=True)
            reference = in_process(filesystem, states, workdir / "inprocess-cache", redis_port)
            variants = [
                Variant(
                    "A",
                    "signaling, filesystem",
                    filesystem,
                    "signaling",
                    env
                    | {
                        "CACHE_DIR": str(workdir / "cache-a"),
                        "BENCH_COUNTER_FILE": str(workdir / "count-a"),
                    },
                    workdir / "count-a",
                ),
                Variant(
                    "B",
                    "signaling, redis",
                    redis_project,
                    "signaling",
                    env
                    | {
                        "REDIS_URL": f"redis://{HOST}:{redis_port}/0",
                        "BENCH_COUNTER_FILE": str(workdir / "count-b"),
                    },
                    workdir / "count-b",
                ),
                Variant(
                    "C",
                    "naive: every view queries",
                    naive,
                    "naive",
                    env | {"BENCH_COUNTER_FILE": str(workdir / "count-c")},
                    workdir / "count-c",
                ),
                Variant(
                    "D",
                    "data in dcc.Store",
                    store,
                    "store",
                    env | {"BENCH_COUNTER_FILE": str(workdir / "count-d")},
                    workdir / "count-d",
                ),
                Variant(
                    "E",
                    "signaling, filesystem, memo off",
                    filesystem_off,
                    "signaling",
                    env
                    | {
                        "CACHE_DIR": str(workdir / "cache-e"),
                        "BENCH_COUNTER_FILE": str(workdir / "count-e"),
                    },
                    workdir / "count-e",
                ),
                Variant(
                    "F",
                    "signaling, redis, memo off",
                    redis_off,
                    "signaling",
                    env
                    | {
                        "REDIS_URL": f"redis://{HOST}:{redis_port}/1",
                        "BENCH_COUNTER_FILE": str(workdir / "count-f"),
                    },
                    workdir / "count-f",
                ),
                Variant(
                    "G",
                    "before summaries, filesystem",
                    filesystem_whole,
                    "signaling",
                    env
                    | {
                        "CACHE_DIR": str(workdir / "cache-g"),
                        "BENCH_COUNTER_FILE": str(workdir / "count-g"),
                    },
                    workdir / "count-g",
                ),
                Variant(
                    "H",
                    "before summaries, redis",
                    redis_whole,
                    "signaling",
                    env
                    | {
                        "REDIS_URL": f"redis://{HOST}:{redis_port}/2",
                        "BENCH_COUNTER_FILE": str(workdir / "count-h"),
                    },
                    workdir / "count-h",
                ),
                Variant(
                    "I",
                    "signaling, filesystem, one summary thread",
                    filesystem,
                    "signaling",
                    env
                    | {
                        "CACHE_DIR": str(workdir / "cache-i"),
                        "BENCH_COUNTER_FILE": str(workdir / "count-i"),
                        "DASHSIGNAL_SUMMARY_THREADS": "1",
                    },
                    workdir / "count-i",
                ),
            ]
            chosen = [v for v in variants if v.key in args.variants]
            outcomes = run_interleaved(
                chosen, states, args.changes, args.workers, args.timeout, workdir
            )
    load = (load_at_start, os.getloadavg()[0])
    report(args, reference, outcomes, args.redis_server, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
