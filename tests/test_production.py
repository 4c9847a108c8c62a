"""Production form of generated projects, with real parts only: `gunicorn app:server -w 4` worker
processes, real `redis-server` processes, real HTTP from concurrent threads.

The generated project's data.py belongs to its user, so these tests replace it with a double whose
`expensive_query` appends one line per call to a counter file shared by every worker process: the
number of lines is the number of computations across the whole deployment. Stages and own views
are user files too: their functions get the same counting, in a second file. Everything listens on
127.0.0.1 only; every wait is bounded; every process started here is stopped by its id.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

from dashsignal.testing.loading import split_output
from dashsignal_cli.names import SIGNAL_ID
from dashsignal_cli.spec import Spec
from dashsignal_cli.specfile import parse_spec_text

from project_helpers import generate, make_spec

pytestmark = pytest.mark.e2e

T = TypeVar("T")

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
BACKENDS = ("filesystem", "redis")
DEMO_VIEWS = ("sales:graph", "share:graph", "rows:table", "total:indicator")
DEMO_FILTERS = ("region:dropdown", "product:multi", "year:range")
# The runtime retries a failing cache this often (RETRY_SECONDS in dashsignal/cache.py).
RETRY_SECONDS = 5.0
HTTP_TIMEOUT = 60.0
START_TIMEOUT = 90.0
EMPTY_TEXT = "—"

# Replaces the generated data.py: counts every call in DS_TEST_COUNTER (one short line written
# with O_APPEND is atomic across processes), waits DS_TEST_DELAY seconds like a slow database,
# and returns DS_TEST_ROWS deterministic rows with the columns the demo views draw from.
DATA_DOUBLE = '''"""Test double: counts every computation in a file shared by all workers."""

from __future__ import annotations

import json
import math
import os
import re
import time
from typing import Any

import numpy as np
import pandas as pd

DATA_VERSION = "1"

REGIONS = ("North", "South", "East", "West")
PRODUCTS = ("Basic", "Plus", "Pro")


def expensive_query(filters: dict[str, Any], user: Any = None) -> pd.DataFrame:
    line = f"{os.getpid()} {json.dumps(filters, sort_keys=True)}\\n"
    with open(os.environ["DS_TEST_COUNTER"], "a", encoding="utf-8") as counter:
        counter.write(line)
        counter.flush()
    time.sleep(float(os.environ.get("DS_TEST_DELAY", "0.3")))
    index = np.arange(int(os.environ.get("DS_TEST_ROWS", "48")))
    return pd.DataFrame(
        {
            "region": np.array(REGIONS, dtype=object)[index % len(REGIONS)],
            "product": np.array(PRODUCTS, dtype=object)[index % len(PRODUCTS)],
            "year": 2019 + index % 7,
            "day": pd.Timestamp("2024-01-01") + pd.to_timedelta(index % 730, unit="D"),
            "units": 1 + index % 19,
            "amount": (index % 997) * 1.5 + 10.0,
        }
    )
'''


# Appended to a generated stage (stages/<id>.py) or own view (views/<id>.py): the module's own
# function, counted in calls.txt beside the query's counter and as slow as the query. The cache
# looks the function up by name on every call, so this last definition is the one that runs.
COUNTING = """

import os as _os
import time as _time

_uncounted_{function} = {function}


def {function}(argument):
    folder = _os.path.dirname(_os.environ["DS_TEST_COUNTER"])
    with open(_os.path.join(folder, "calls.txt"), "a", encoding="utf-8") as counter:
        counter.write("{name} " + str(_os.getpid()) + "\\n")
        counter.flush()
    _time.sleep(float(_os.environ.get("DS_TEST_DELAY", "0.3")))
    return _uncounted_{function}(argument)
"""


def counted_modules(spec: Spec) -> dict[str, str]:
    """The generated user modules whose function COUNTING wraps: {path: function name}."""
    stages = {f"stages/{stage.id}.py": "derive" for stage in spec.stages}
    return stages | {f"views/{view.id}.py": "compute" for view in spec.views if view.is_own}


def expected_total(rows: int) -> float:
    """The total the `total` indicator shows for DS_TEST_ROWS=rows (the double ignores the
    filters)."""
    cycles, rest = divmod(rows, 997)
    return sum((i * 1.5 + 10.0) * (cycles + (i < rest)) for i in range(997))


def shown_number(text: str) -> float:
    """The number an indicator shows ("12,345" or "12,345.67", with or without a unit)."""
    found = re.fullmatch(r"\D{0,3}?(\d{1,3}(?:,\d{3})*|\d+)(\.\d+)?\D{0,3}", text.strip())
    assert found is not None, f"not a number: {text!r}"
    return float(found.group(1).replace(",", "") + (found.group(2) or ""))


def shows_total(text: str, rows: int) -> bool:
    """Whether an indicator's text is the demo total of `rows` rows, to the digits it shows."""
    digits = len(text.rsplit(".", 1)[1]) if "." in text else 0
    return shown_number(text) == round(expected_total(rows), digits)


def demo_spec(backend: str, name: str = "demo") -> Spec:
    return make_spec(name, views=DEMO_VIEWS, filters=DEMO_FILTERS, backend=backend)


# The demo filters, as spec text.
PATTERN_FILTERS = """
[[filters]]
id = "region"
kind = "dropdown"
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
"""
# Projects of the other shapes: {name: (pattern, {stage: source}, {view: (kind, source)})}.
PATTERN_PROJECTS: dict[str, tuple[str, dict[str, str], dict[str, tuple[str, str]]]] = {
    # Four views on the query, each calling the cache itself: the seed's @cache.memoize runs
    # the query once per view here.
    "memoize": (
        "memoize",
        {},
        {
            "sales": ("graph", "query"),
            "share": ("graph", "query"),
            "rows": ("table", "query"),
            "total": ("indicator", "query"),
        },
    ),
    # A chain query -> daily -> weekly with a view on each, and a view with its own data (few
    # graphs: drawing them is what costs a stampede its time).
    "stages": (
        "signal",
        {"daily": "query", "weekly": "daily"},
        {
            "total": ("indicator", "query"),
            "daily_chart": ("graph", "daily"),
            "weekly_rows": ("table", "weekly"),
            "targets": ("indicator", "own"),
        },
    ),
}


def pattern_spec(project: str, backend: str) -> Spec:
    """The spec of one of PATTERN_PROJECTS, written as a user writes dashsignal.toml."""
    pattern, stages, views = PATTERN_PROJECTS[project]
    text = f'[app]\nname = "{project}"\npattern = "{pattern}"\n\n[cache]\nbackend = "{backend}"\n'
    text += PATTERN_FILTERS
    for stage, source in stages.items():
        text += f'\n[[stages]]\nid = "{stage}"\nsource = "{source}"\n'
    for view, (kind, source) in views.items():
        text += f'\n[[views]]\nid = "{view}"\nkind = "{kind}"\nsource = "{source}"\n'
    return parse_spec_text(text)


# Distinct filter states, so that every test starts from entries nobody computed yet. None of
# them selects all three products: LARGEST below stays apart.
_FRESH_STATES = (
    {"region": region, "product": products, "year": [start, end]}
    for start in range(2019, 2026)
    for end in range(start, 2026)
    for region in ("North", "South", "East", "West", None)
    for products in ([], ["Pro"], ["Basic", "Plus"])
)
_FRESH_LOCK = threading.Lock()
LARGEST = {"region": "North", "product": ["Basic", "Plus", "Pro"], "year": [2019, 2025]}


def fresh_filters() -> dict[str, Any]:
    with _FRESH_LOCK:
        return dict(next(_FRESH_STATES))


# --- HTTP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def describe(self) -> str:
        return f"HTTP {self.status}: {self.body[:600]!r}"


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request; `headers` are sent besides the content type (credentials, say)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT)
    try:
        sent = dict(headers or {})
        if body is not None:
            sent["Content-Type"] = content_type
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return Reply(response.status, response.read())
    finally:
        connection.close()


def all_at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call in its own thread, released together; results in order."""
    barrier = threading.Barrier(len(calls), timeout=30)

    def released(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(released, call) for call in calls]
        return [future.result(timeout=3 * HTTP_TIMEOUT) for future in futures]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def callback_body(callback: dict[str, Any], values: list[Any]) -> dict[str, Any]:
    """The body Dash's renderer POSTs to /_dash-update-component for `callback`."""
    outputs = [{"id": cid, "property": prop} for cid, prop in split_output(callback["output"])]
    inputs = [
        {"id": dep["id"], "property": dep["property"], "value": value}
        for dep, value in zip(callback["inputs"], values, strict=True)
    ]
    return {
        "output": callback["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs,
        "changedPropIds": [f"{dep['id']}.{dep['property']}" for dep in inputs],
        "state": [],
    }


# --- a generated project served by gunicorn ---------------------------------------------------


@dataclass
class App:
    """One generated project under gunicorn, seen from its HTTP port, log and counter file."""

    port: int
    log: Path
    counter: Path
    cache_dir: Path
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    # True when every log line of the app names its worker process ("[pid] [LEVEL] message").
    pid_logs: bool = False
    # The stages and own views whose functions count their calls (COUNTING).
    counted: tuple[str, ...] = ()
    # Sent with every request: the credentials of an app with users.
    headers: dict[str, str] = field(default_factory=dict)

    def computations(self) -> int:
        """How many times expensive_query ran, in every worker, since the server started."""
        try:
            text = self.counter.read_text(encoding="utf-8")
        except FileNotFoundError:
            return 0
        return sum(1 for line in text.splitlines() if line.strip())

    @property
    def calls_file(self) -> Path:
        return self.counter.with_name("calls.txt")

    def counts(self) -> Counter[str]:
        """Runs of the query (as "query") and of each counted function, in every worker."""
        try:
            text = self.calls_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        counts = Counter(line.split()[0] for line in text.splitlines() if line.strip())
        counts["query"] = self.computations()
        return counts

    def each_once(self) -> Counter[str]:
        """What `counts` grows by when one new filter state is shown: everything ran once."""
        return Counter(dict.fromkeys(("query", *self.counted), 1))

    def describe_counts(self) -> str:
        """Every counted run, one line each: the function (or the query's filters) and its pid."""
        files = (self.counter, self.calls_file)
        query, calls = (path.read_text() if path.exists() else "" for path in files)
        return f"query:\n{query}\ncalls:\n{calls}"

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_text(self, since: int = 0) -> str:
        with self.log.open("rb") as handle:
            handle.seek(since)
            return handle.read().decode("utf-8", errors="replace")

    def assert_no_errors(self, since: int = 0) -> None:
        text = self.log_text(since)
        assert "Traceback" not in text and "Exception on" not in text, text[-4000:]

    @property
    def compute_callback(self) -> dict[str, Any]:
        return next(cb for cb in self.callbacks if cb["output"] == f"{SIGNAL_ID}.data")

    @property
    def stage_callbacks(self) -> list[dict[str, Any]]:
        """Each stage's step: from its source's signal store to its own."""
        return [cb for cb in self.callbacks if cb["output"].startswith(f"{SIGNAL_ID}-")]

    @property
    def consumer_callbacks(self) -> list[dict[str, Any]]:
        """Every view's callback: all but those that write a signal store."""
        return [cb for cb in self.callbacks if not cb["output"].startswith(SIGNAL_ID)]

    def consumer(self, view_id: str) -> dict[str, Any]:
        return next(
            cb for cb in self.consumer_callbacks if split_output(cb["output"])[0][0] == view_id
        )

    def post(self, body: Any, content_type: str = "application/json") -> Reply:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        return http_request(
            self.port, "POST", "/_dash-update-component", raw, content_type, self.headers
        )

    def compute(self, filters: dict[str, Any]) -> Reply:
        callback = self.compute_callback
        assert all(dep["property"] == "value" for dep in callback["inputs"])
        return self.post(callback_body(callback, [filters[d["id"]] for d in callback["inputs"]]))

    def consume(self, callback: dict[str, Any], signal_value: Any) -> Reply:
        return self.post(callback_body(callback, [signal_value]))

    def consume_all(self, signal_value: Any) -> list[tuple[dict[str, Any], Reply]]:
        """Every view's consumer at once, as the browser fires them when the store changes."""
        callbacks = self.consumer_callbacks
        replies = all_at_once(
            [functools.partial(self.consume, cb, signal_value) for cb in callbacks]
        )
        return list(zip(callbacks, replies, strict=True))

    def fire(self, callback: dict[str, Any], values: dict[str, Any]) -> Reply:
        """POST `callback` with the value of each of its inputs, found by component id."""
        return self.post(callback_body(callback, [values[dep["id"]] for dep in callback["inputs"]]))

    def change_filters(self, filters: dict[str, Any]) -> tuple[Any, list[tuple[Any, Reply]]]:
        """What the browser does on a filter change: the compute step, each stage's step once its
        source has signalled, then every view at once, each with its inputs (a signal store or
        the filters themselves). A memoize project has no steps: its views take the filters.
        """
        values = dict(filters)  # component id -> value, the filters' and then the stores'
        signal_value = None
        if any(cb["output"] == f"{SIGNAL_ID}.data" for cb in self.callbacks):
            computed = self.compute(filters)
            assert computed.status == 200, computed.describe()
            values[SIGNAL_ID] = signal_value = signal_of(computed)
        pending = self.stage_callbacks
        while pending:
            ready = [cb for cb in pending if cb["inputs"][0]["id"] in values]
            assert ready, f"no stage step can run: {pending}"
            for callback in ready:
                store = split_output(callback["output"])[0][0]
                reply = self.fire(callback, values)
                assert reply.status == 200, f"{store}: {reply.describe()}"
                values[store] = reply.json()["response"][store]["data"]
                pending.remove(callback)
        callbacks = self.consumer_callbacks
        replies = all_at_once([functools.partial(self.fire, cb, values) for cb in callbacks])
        return signal_value, list(zip(callbacks, replies, strict=True))


def signal_of(reply: Reply) -> Any:
    return reply.json()["response"][SIGNAL_ID]["data"]


def assert_view_content(callback: dict[str, Any], reply: Reply) -> None:
    """A consumer's answer that shows data: not an error, not an empty state."""
    assert reply.status == 200, f"{callback['output']}: {reply.describe()}"
    assert b"Traceback" not in reply.body
    response = reply.json()["response"]
    for component_id, prop in split_output(callback["output"]):
        value = response[component_id][prop]
        if prop == "figure":
            assert value["data"], f"{component_id}: a figure without traces: {value['layout']}"
        elif prop in ("rowData", "columnDefs"):
            assert isinstance(value, list) and value, f"{component_id}.{prop} is empty"
        else:
            assert isinstance(value, str), f"{component_id}: {value!r}"
            shown_number(value)


def assert_empty_state(callback: dict[str, Any], reply: Reply) -> None:
    """A consumer's answer to a signal it refuses: no update, or the first-load empty state."""
    assert reply.status in (200, 204), f"{callback['output']}: {reply.describe()}"
    if reply.status == 204:
        return
    response = reply.json()["response"]
    for component_id, prop in split_output(callback["output"]):
        value = response[component_id][prop]
        if prop == "figure":
            assert value["data"] == [], f"{component_id} shows data for a forged signal"
        elif prop in ("rowData", "columnDefs"):
            assert value == [], f"{component_id}.{prop} shows data for a forged signal"
        else:
            assert value == EMPTY_TEXT, f"{component_id} shows {value!r} for a forged signal"


@functools.cache
def gunicorn_command() -> tuple[str, str]:
    """gunicorn, and the text of its --help (the options differ between versions)."""
    gunicorn = shutil.which("gunicorn", path=str(BIN))
    assert gunicorn, "gunicorn must be installed beside this Python"
    help_text = subprocess.run(
        [gunicorn, "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    return gunicorn, help_text


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started here in its own session; if it hangs, its whole process group."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        # gunicorn's workers share the master's group; the master is not reaped yet, so the
        # group id is still ours.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def start_app(
    tmp: Path,
    spec: Spec,
    *,
    workers: int = 4,
    redis_url: str | None = None,
    delay: float = 0.3,
    rows: int | None = None,
    pid_logs: bool = False,
    real_data: bool = False,
    environ: dict[str, str] | None = None,
    existing: Path | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[App, subprocess.Popen[bytes]]:
    """Generate `spec` into `tmp` with its counting doubles (DATA_DOUBLE, COUNTING), run it under
    gunicorn.

    With `real_data` the generated data.py stays (its demo database, its delay): the database
    itself is then what counts the queries, if anything. `environ` adds to the environment.
    `existing` serves that project as it is instead (made by the CLI, say): no doubles.
    `headers` go with every request the App sends (the credentials of an app with users).

    With `pid_logs`, gunicorn's own logging configuration (its defaults, switched on by a JSON
    log config) also formats the app's log lines, so each line names its worker's pid.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    project = existing or generate(tmp / spec.app.name, spec)
    if not real_data and existing is None:
        (project / "data.py").write_text(DATA_DOUBLE, encoding="utf-8")
    modules = counted_modules(spec) if existing is None else {}
    for path, function in modules.items():
        with (project / path).open("a", encoding="utf-8") as module:
            module.write(COUNTING.format(name=Path(path).stem, function=function))
    app = App(
        port=free_port(),
        log=tmp / "gunicorn.log",
        counter=tmp / "computations.txt",
        cache_dir=tmp / "cache",
        counted=tuple(Path(path).stem for path in modules),
        headers=dict(headers or {}),
    )
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CACHE_DIR": str(app.cache_dir),
        "DS_TEST_COUNTER": str(app.counter),
        "DS_TEST_DELAY": str(delay),
    }
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    if rows is not None:
        env["DS_TEST_ROWS"] = str(rows)
    env.update(environ or {})
    gunicorn, help_text = gunicorn_command()
    command = [
        *(gunicorn, "app:server", "-w", str(workers), "-b", f"{HOST}:{app.port}"),
        *("--timeout", "90", "--graceful-timeout", "5"),
    ]
    if "--no-control-socket" in help_text:  # recent gunicorn opens one in $HOME otherwise
        command.append("--no-control-socket")
    if pid_logs and "--log-config-json" in help_text:
        config = tmp / "logging.json"
        config.write_text(json.dumps({"version": 1, "disable_existing_loggers": False}))
        command += ["--log-config-json", str(config)]
        app.pid_logs = True
    with app.log.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, "gunicorn exited:\n" + app.log_text()[-4000:]
            assert time.monotonic() < deadline, "gunicorn did not start:\n" + app.log_text()
            try:
                reply = http_request(app.port, "GET", "/_dash-dependencies", headers=app.headers)
            except OSError:
                time.sleep(0.2)
                continue
            assert reply.status == 200, reply.describe()
            app.callbacks = reply.json()
            break
        # Give the other workers time to import the app: a burst they share.
        for _ in range(2):
            layout = functools.partial(
                http_request, app.port, "GET", "/_dash-layout", headers=app.headers
            )
            all_at_once([layout] * workers * 2)
    except BaseException:
        stop_process(process)
        raise
    return app, process


@contextlib.contextmanager
def serve(tmp: Path, spec: Spec, **options: Any) -> Iterator[App]:
    """`start_app` for the length of a `with` block."""
    app, process = start_app(tmp, spec, **options)
    try:
        yield app
    finally:
        stop_process(process)


# --- redis-server ---------------------------------------------------------------------------


class RedisServer:
    """A redis-server on 127.0.0.1 that can be stopped and started again on the same port."""

    def __init__(self, directory: Path, port: int) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail("these tests need redis-server (apt-get install redis-server)")
        self.executable = executable
        self.directory = directory
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.port, socket_timeout=5, socket_connect_timeout=1)

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                self.executable,
                *("--port", str(self.port), "--bind", HOST),
                *("--save", "", "--appendonly", "no"),
                *("--dir", str(self.directory), "--logfile", str(self.directory / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while True:
            assert self.process.poll() is None, "redis-server exited: " + self._log_tail()
            try:
                with self.client() as client:
                    if client.ping():
                        return
            except redis.RedisError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start: " + self._log_tail()
            time.sleep(0.05)

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        stop_process(process)
        deadline = time.monotonic() + 10
        while True:  # the port refuses connections before we go on
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
            except OSError:
                return
            assert time.monotonic() < deadline, f"port {self.port} still answers"
            time.sleep(0.05)

    def _log_tail(self) -> str:
        log = self.directory / "redis.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis port of the test's own, not started yet: start() and stop() it at will."""
    server = RedisServer(tmp_path / "redis", free_port())
    try:
        yield server
    finally:
        server.stop()


# --- shared servers ---------------------------------------------------------------------------


class Fleet:
    """Servers shared by the tests of this module, started on first use, stopped at its end."""

    def __init__(self, tmp_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_factory
        self._apps: dict[str, App] = {}
        self._processes: list[subprocess.Popen[bytes]] = []
        self._redis: RedisServer | None = None

    @property
    def redis(self) -> RedisServer:
        if self._redis is None:
            self._redis = RedisServer(self._tmp.mktemp("redis"), free_port())
            self._redis.start()
        return self._redis

    def app(self, backend: str) -> App:
        url = self.redis.url if backend == "redis" else None
        return self.custom(f"app-{backend}", demo_spec(backend), redis_url=url)

    def project(self, project: str, backend: str) -> App:
        """One of PATTERN_PROJECTS on `backend`."""
        url = self.redis.url if backend == "redis" else None
        return self.custom(f"{project}-{backend}", pattern_spec(project, backend), redis_url=url)

    def custom(self, name: str, spec: Spec, **options: Any) -> App:
        if name not in self._apps:
            app, process = start_app(self._tmp.mktemp(name), spec, **options)
            self._apps[name] = app
            self._processes.append(process)
        return self._apps[name]

    def close(self) -> None:
        """Stop every server at once (gunicorn takes a second or two to stop), then Redis."""
        try:
            with ThreadPoolExecutor(max_workers=max(1, len(self._processes))) as pool:
                list(pool.map(stop_process, self._processes))
        finally:
            if self._redis is not None:
                self._redis.stop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    servers = Fleet(tmp_path_factory)
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as exit_stack:
        yield exit_stack


def flush_cache(fleet: Fleet, backend: str, app: App) -> None:
    """Empty the shared cache behind the app's back (the lock files stay, as they would)."""
    if backend == "redis":
        with fleet.redis.client() as client:
            client.flushall()
            assert client.dbsize() == 0
        return
    # Every file under CACHE_DIR (wherever the backend keeps its entries) but the lock files.
    entries = [
        path
        for path in app.cache_dir.rglob("*")
        if path.is_file() and path.relative_to(app.cache_dir).parts[0] != "locks"
    ]
    assert entries, f"nothing was cached in {app.cache_dir}"
    for path in entries:
        path.unlink()


# --- 1 to 3: one computation per filter state, whatever the concurrency ----------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_filter_change_runs_the_query_once_for_every_view(fleet: Fleet, backend: str) -> None:
    app = fleet.app(backend)
    offset, before = app.log_size(), app.computations()

    signal_value, replies = app.change_filters(fresh_filters())

    assert len(replies) == len(DEMO_VIEWS)
    for callback, reply in replies:
        assert_view_content(callback, reply)
    assert app.computations() - before == 1, app.counter.read_text()
    assert set(signal_value) == {"filters"}
    app.assert_no_errors(offset)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stampede_of_sessions_runs_the_query_once(fleet: Fleet, backend: str) -> None:
    app = fleet.app(backend)
    offset, before = app.log_size(), app.computations()
    filters = fresh_filters()

    computed = all_at_once([functools.partial(app.compute, filters)] * 20)

    assert [reply.status for reply in computed] == [200] * 20, computed[0].describe()
    signals = [signal_of(reply) for reply in computed]
    assert all(value == signals[0] for value in signals)
    assert app.computations() - before == 1, app.counter.read_text()

    sessions = all_at_once([functools.partial(app.change_filters, filters)] * 20)

    for _, replies in sessions:
        assert len(replies) == len(DEMO_VIEWS)
        for callback, reply in replies:
            assert_view_content(callback, reply)
    assert app.computations() - before == 1, app.counter.read_text()
    app.assert_no_errors(offset)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_entry_gone_before_the_consumers_is_recomputed_once(fleet: Fleet, backend: str) -> None:
    app = fleet.app(backend)
    offset, before = app.log_size(), app.computations()
    computed = app.compute(fresh_filters())
    assert computed.status == 200, computed.describe()
    assert app.computations() - before == 1

    flush_cache(fleet, backend, app)
    replies = app.consume_all(signal_of(computed))

    for callback, reply in replies:
        assert_view_content(callback, reply)
    assert app.computations() - before == 2, app.counter.read_text()
    app.assert_no_errors(offset)


def damage_every_entry(fleet: Fleet, backend: str, app: App) -> int:
    """Truncate every stored entry behind the app's back, as a crash mid-write or a full disk
    would; return how many were damaged."""
    if backend == "redis":
        with fleet.redis.client() as client:
            # Entries only: a lock, or the generation and versions every key holds (a changed
            # one is new keys, not a damaged entry: test_runtime_freshness), are not entries.
            keys = [
                key
                for key in client.keys("*")
                if not any(part in key for part in (b":lock", b":generation", b":version:"))
            ]
            for key in keys:
                stored = client.get(key)
                if stored is not None and len(stored) > 8:
                    client.set(key, stored[: len(stored) // 2], keepttl=True)
            return len(keys)
    entries = list((app.cache_dir / "data").glob("*"))
    for path in entries:
        path.write_bytes(path.read_bytes()[:3])
    return len(entries)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_damaged_entry_is_recomputed_once_and_logged_once(fleet: Fleet, backend: str) -> None:
    app = fleet.app(backend)
    computed = app.compute(fresh_filters())
    assert computed.status == 200, computed.describe()
    # Past the per-process memo's few seconds, so every worker reads the shared entry again.
    time.sleep(RETRY_SECONDS + 0.5)
    offset, before = app.log_size(), app.computations()
    assert damage_every_entry(fleet, backend, app) > 0

    replies = app.consume_all(signal_of(computed))

    log = app.log_text(offset)
    for callback, reply in replies:
        assert reply.status == 200, reply.describe() + log
        assert_view_content(callback, reply)
    assert app.computations() - before == 1, app.describe_counts() + log
    assert [line for line in log.splitlines() if "damaged cache entry" in line] != [], log
    assert len([line for line in log.splitlines() if "damaged cache entry" in line]) == 1, log
    app.assert_no_errors(offset)


def test_gunicorn_reads_a_worker_timeout_above_the_lock_wait(tmp_path: Path) -> None:
    """`gunicorn app:server` in the project picks up gunicorn.conf.py: its timeout is the spec's
    lock wait plus the margin, so a worker waiting for another's computation is never killed."""
    spec = demo_spec("filesystem")
    project = generate(tmp_path / "demo", spec)
    gunicorn, _ = gunicorn_command()
    printed = subprocess.run(
        [gunicorn, "--print-config", "app:server"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert printed.returncode == 0, printed.stderr
    settings = {
        name.strip(): value.strip()
        for name, _, value in (line.partition(" = ") for line in printed.stdout.splitlines())
    }
    assert int(settings["timeout"]) == spec.cache.worker_timeout
    assert spec.cache.worker_timeout > spec.cache.lock_timeout == 20


# --- 4: Redis outages ---------------------------------------------------------------------------


def unavailable_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "cache unavailable" in line]


def available_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "cache available again" in line]


def assert_served(app: App, filters: dict[str, Any], rounds: int) -> None:
    """Filter changes, as the browser makes them, that every view answers with content."""
    for _ in range(rounds):
        _, replies = app.change_filters(filters)
        for callback, reply in replies:
            assert_view_content(callback, reply)


def assert_cache_used_again(app: App, since: int) -> None:
    """After RETRY_SECONDS the workers use Redis again: repeated requests stop computing."""
    filters = fresh_filters()
    first = app.computations()
    assert_served(app, filters, rounds=1)
    second = app.computations()
    assert_served(app, filters, rounds=3)
    assert second - first == 1, app.counter.read_text()
    assert app.computations() == second, "the cache is still bypassed:\n" + app.log_text(since)
    back = available_lines(app.log_text(since))
    assert 1 <= len(back) <= 4, app.log_text(since)


def assert_warned_once_per_worker_at_most(app: App, since: int, workers: int = 4) -> None:
    """At least one "cache unavailable" line since `since`, and at most one per worker."""
    warnings = unavailable_lines(app.log_text(since))
    report = "one warning per worker and outage:\n" + "\n".join(warnings)
    assert 1 <= len(warnings) <= workers, report
    if app.pid_logs:
        pids = [re.search(r"\[(\d+)\] \[WARNING\]", line) for line in warnings]
        assert all(pids), report
        assert len({pid.group(1) for pid in pids if pid}) == len(warnings), report


def test_redis_unreachable_at_start_is_bypassed_then_used_again(
    stack: contextlib.ExitStack, tmp_path: Path, redis_server: RedisServer
) -> None:
    app = stack.enter_context(
        serve(
            tmp_path / "app",
            demo_spec("redis"),
            redis_url=redis_server.url,
            delay=0.1,
            pid_logs=True,
        )
    )

    assert_served(app, fresh_filters(), rounds=3)
    assert_warned_once_per_worker_at_most(app, 0)
    assert all(
        "Is a Redis server running at REDIS_URL?" in w for w in unavailable_lines(app.log_text())
    )

    redis_server.start()
    time.sleep(RETRY_SECONDS + 0.5)
    offset = app.log_size()
    assert_cache_used_again(app, offset)
    assert not unavailable_lines(app.log_text(offset))
    app.assert_no_errors()


def test_redis_stopped_mid_run_is_bypassed_then_used_again(
    stack: contextlib.ExitStack, tmp_path: Path, redis_server: RedisServer
) -> None:
    redis_server.start()
    app = stack.enter_context(
        serve(
            tmp_path / "app",
            demo_spec("redis"),
            redis_url=redis_server.url,
            delay=0.1,
            pid_logs=True,
        )
    )
    filters = fresh_filters()
    before = app.computations()
    app.change_filters(filters)
    app.change_filters(filters)
    assert app.computations() - before == 1
    assert not unavailable_lines(app.log_text())

    redis_server.stop()
    stopped = app.log_size()
    assert_served(app, filters, rounds=3)
    time.sleep(RETRY_SECONDS + 0.5)  # the workers try Redis again and fail again: no new warning
    assert_served(app, filters, rounds=2)
    assert_warned_once_per_worker_at_most(app, stopped)

    redis_server.start()  # the same port, an empty Redis
    time.sleep(RETRY_SECONDS + 0.5)
    offset = app.log_size()
    assert_cache_used_again(app, offset)
    assert not unavailable_lines(app.log_text(offset))
    app.assert_no_errors()


# --- 5: hostile clients -----------------------------------------------------------------------
# The table of hostile requests, against every backend, is tests/test_hostile.py.

HOSTILE_FILTERS = (*DEMO_FILTERS, "price:range=0.0..99.0")  # price: a float range, step 0.99
VALID = {"region": "North", "product": ["Pro"], "year": [2020, 2023], "price": [0.0, 99.0]}
FOREIGN_KEY = "dashsignal:other_app:0123456789ab:1:pickle5:" + "0" * 64


@pytest.fixture(scope="module")
def hostile_app(fleet: Fleet) -> App:
    spec = make_spec("shop", views=DEMO_VIEWS, filters=HOSTILE_FILTERS, backend="filesystem")
    return fleet.custom("hostile", spec, workers=2)


def test_a_forged_signal_shows_the_empty_state_in_every_view(hostile_app: App) -> None:
    app = hostile_app
    before = app.computations()
    for callback, reply in app.consume_all({"cache_key": FOREIGN_KEY}):
        assert_empty_state(callback, reply)
    assert app.computations() == before


def test_values_on_the_slider_steps_are_accepted_and_share_one_entry(hostile_app: App) -> None:
    """The control for the refusals above: on-step values compute once, equal forms share it."""
    app = hostile_app
    before = app.computations()
    on_steps = {**VALID, "year": [2020, 2023], "price": [0.99 * 3, 99.0]}
    same_values = {**on_steps, "year": [2020.0, 2023.0], "price": [2.97, 99]}

    first, second = app.compute(on_steps), app.compute(same_values)

    assert first.status == second.status == 200, first.describe() + second.describe()
    assert signal_of(first) == signal_of(second)
    assert signal_of(first)["filters"]["year"] == [2020, 2023]
    assert signal_of(first)["filters"]["price"] == [2.97, 99.0]
    assert app.computations() - before == 1


# --- 6: the simple backend under several workers -------------------------------------------------


def test_simple_cache_under_several_gunicorn_workers_warns_at_start(
    stack: contextlib.ExitStack, tmp_path: Path
) -> None:
    app = stack.enter_context(serve(tmp_path, demo_spec("simple"), workers=2))
    expected = "cache backend 'simple' under 2 gunicorn workers"
    deadline = time.monotonic() + 30
    while expected not in app.log_text():
        assert time.monotonic() < deadline, "no warning in the log:\n" + app.log_text()
        time.sleep(0.2)
    _, replies = app.change_filters(fresh_filters())
    for callback, reply in replies:
        assert_view_content(callback, reply)
    # Once, by gunicorn's master (gunicorn.conf.py), in gunicorn's own format with its timestamp.
    warnings = [line for line in app.log_text().splitlines() if expected in line]
    assert len(warnings) == 1, warnings
    assert re.match(r"\[\d{4}-\d\d-\d\d [\d:]+ [+-]\d{4}\] \[\d+\] \[WARNING\] ", warnings[0])


# --- 7: the signal stays small whatever the data ----------------------------------------------


def test_the_signal_is_small_and_does_not_grow_with_the_data(
    fleet: Fleet, stack: contextlib.ExitStack, tmp_path: Path
) -> None:
    small = fleet.app("filesystem")
    rows = 1_000_000
    big = stack.enter_context(
        serve(tmp_path, demo_spec("filesystem"), workers=2, delay=0, rows=rows)
    )

    small_reply, big_reply = small.compute(LARGEST), big.compute(LARGEST)

    assert small_reply.status == big_reply.status == 200
    small_signal, big_signal = signal_of(small_reply), signal_of(big_reply)
    assert len(json.dumps(small_signal)) < 300, small_signal
    assert big_signal == small_signal
    assert big_reply.body == small_reply.body
    assert big.computations() == 1

    for app, count in ((small, 48), (big, rows)):
        replies = {cb["output"]: reply for cb, reply in app.consume_all(big_signal)}
        for callback in app.consumer_callbacks:
            assert_view_content(callback, replies[callback["output"]])
        total = replies["total.children"].json()["response"]["total"]["children"]
        assert shows_total(total, count), (total, expected_total(count))
    assert big.computations() == 1
    big.assert_no_errors()


# --- 8: the memoize pattern, chained stages and own views ---------------------------------------

PATTERN_CASES = [(project, backend) for project in PATTERN_PROJECTS for backend in BACKENDS]


def expected_inputs(project: str) -> dict[str, set[str]]:
    """The component ids each view's callback takes: its source's signal store, or the filters."""
    pattern, _, views = PATTERN_PROJECTS[project]

    def inputs(source: str) -> set[str]:
        if pattern == "memoize" or source == "own":
            return {"region", "product", "year"}
        return {SIGNAL_ID if source == "query" else f"{SIGNAL_ID}-{source}"}

    return {view: inputs(source) for view, (_, source) in views.items()}


@pytest.mark.parametrize(("project", "backend"), PATTERN_CASES)
def test_one_filter_change_computes_each_result_once(
    fleet: Fleet, project: str, backend: str
) -> None:
    app = fleet.project(project, backend)
    offset, before = app.log_size(), app.counts()
    filters = fresh_filters()

    _, replies = app.change_filters(filters)

    views = {split_output(cb["output"])[0][0]: {d["id"] for d in cb["inputs"]} for cb, _ in replies}
    assert views == expected_inputs(project)
    for callback, reply in replies:
        assert_view_content(callback, reply)
    assert app.counts() - before == app.each_once(), app.describe_counts()
    app.change_filters(filters)  # the same state again: everything is read from the cache
    assert app.counts() - before == app.each_once(), app.describe_counts()
    app.assert_no_errors(offset)


@pytest.mark.parametrize(("project", "backend"), PATTERN_CASES)
def test_a_stampede_of_sessions_computes_each_result_once(
    fleet: Fleet, project: str, backend: str
) -> None:
    app = fleet.project(project, backend)
    offset, before = app.log_size(), app.counts()

    sessions = all_at_once([functools.partial(app.change_filters, fresh_filters())] * 20)

    for _, replies in sessions:
        assert len(replies) == len(PATTERN_PROJECTS[project][2])
        for callback, reply in replies:
            assert_view_content(callback, reply)
    assert app.counts() - before == app.each_once(), app.describe_counts()
    app.assert_no_errors(offset)
