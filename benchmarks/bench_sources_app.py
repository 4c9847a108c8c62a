"""The demo served on each data source under `gunicorn -w 4`: what a filter change costs.

For each source (`dashsignal new shop --data duckdb | sql | pandas --yes`, and `sql` on
PostgreSQL with `--start-postgres`), the generated project is served as it is, its
`DEMO_DELAY_SECONDS` set to 0 so the query's own time shows, by `gunicorn app:server -w 4` on
127.0.0.1. Every round changes the filters to a state nobody computed yet, source after source
(interleaved, so a noisy moment hits every source alike), and times what the browser does: the
compute callback (the query, the summaries, the cache writes), then the four views at once.
Reported: the medians and spread of the compute step and of the whole change, for wide
states (nearly every row of 200,000) and for narrow states (one region, one product, a few
years), and how long the first request took (the demo database made on first use). Nothing
is asserted.

    python benchmarks/bench_sources_app.py [--rounds N] [--start-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench_signaling import (  # noqa: E402
    HOST,
    free_port,
    get,
    post,
    split_output,
    stop,
    tail,
)

WORKERS = 4
SIGNAL = "dashsignal-signal"
REGIONS = ("North", "South", "East", "West")
PRODUCTS = ("Basic", "Plus", "Pro")


def narrow_states(rounds: int) -> list[dict[str, Any]]:
    """Distinct narrow states: one region, one product, a span of years."""
    states = [
        {"region": region, "product": [product], "year": [start, start + span]}
        for span in (0, 1, 2)
        for start in range(2019, 2026 - span)
        for region in REGIONS
        for product in PRODUCTS
    ]
    return states[:rounds]


def wide_states(rounds: int) -> list[dict[str, Any]]:
    """Distinct states of nearly every row: no region, every product or none, years trimmed by
    at most two at either end."""
    states = [
        {"region": None, "product": products, "year": [start, end]}
        for start, end in ((2019, 2025), (2020, 2025), (2019, 2024), (2020, 2024), (2021, 2025))
        for products in ([], list(PRODUCTS))
    ]
    states += [
        {"region": None, "product": [], "year": [start, end]}
        for start in (2019, 2020, 2021)
        for end in (2023, 2022)
    ]
    return states[:rounds]


def generate(parent: Path, source: str) -> Path:
    command = [sys.executable, "-m", "dashsignal_cli", "new", f"shop_{source}", "--data"]
    command += [source.split("_")[0], "--yes", "-C", str(parent)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"dashsignal new failed:\n{done.stdout}{done.stderr}")
    project = parent / f"shop_{source}"
    data = project / "data.py"
    data.write_text(
        data.read_text().replace("DEMO_DELAY_SECONDS = 0.4", "DEMO_DELAY_SECONDS = 0"),
        encoding="utf-8",
    )
    return project


@contextmanager
def served(project: Path, env: dict[str, str], log: Path) -> Iterator[int]:
    port = free_port()
    binary = Path(sys.executable).parent / "gunicorn"
    command = [str(binary), "app:server", "-w", str(WORKERS), "-b", f"{HOST}:{port}"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=project, env=env, stdout=output, stderr=output)
        try:
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited: {tail(log)}")
                try:
                    get(port, "/_dash-layout", 30)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"gunicorn did not answer: {tail(log)}") from None
                    time.sleep(0.2)
            yield port
        finally:
            stop(process)


class App:
    def __init__(self, port: int) -> None:
        self.port = port
        self.callbacks = json.loads(get(port, "/_dash-dependencies", 30))
        self.compute = next(cb for cb in self.callbacks if cb["output"] == f"{SIGNAL}.data")
        self.consumers = [cb for cb in self.callbacks if not cb["output"].startswith(SIGNAL)]

    def body(self, callback: dict[str, Any], values: dict[str, Any]) -> bytes:
        outputs = [{"id": c, "property": p} for c, p in split_output(callback["output"])]
        inputs = [{**dep, "value": values[dep["id"]]} for dep in callback["inputs"]]
        return json.dumps(
            {
                "output": callback["output"],
                "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": inputs,
                "changedPropIds": [f"{d['id']}.{d['property']}" for d in inputs],
                "state": [],
            }
        ).encode()

    def change(self, filters: dict[str, Any], pool: ThreadPoolExecutor) -> tuple[float, float]:
        """(compute step, whole change) in ms."""
        start = time.perf_counter()
        raw = post(self.port, self.body(self.compute, filters), 120)
        computed = time.perf_counter()
        signal = json.loads(raw)["response"][SIGNAL]["data"]
        values = {SIGNAL: signal}
        answers = list(
            pool.map(lambda cb: post(self.port, self.body(cb, values), 120), self.consumers)
        )
        done = time.perf_counter()
        for raw_answer in answers:
            if b"Could not compute" in raw_answer:
                raise RuntimeError(f"a view shows the error state: {raw_answer[:300]!r}")
        return (computed - start) * 1000, (done - start) * 1000


def summary(values: list[float]) -> str:
    values = sorted(values)
    return f"{statistics.median(values):.0f} ({values[0]:.0f}–{values[-1]:.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="at most 16")
    parser.add_argument("--start-postgres", action="store_true")
    args = parser.parse_args()
    sources = ["duckdb", "sql", "pandas"] + (["sql_postgresql"] if args.start_postgres else [])
    with tempfile.TemporaryDirectory(prefix="bench-sources-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        apps: dict[str, App] = {}
        first: dict[str, float] = {}
        for source in sources:
            project = generate(root, source)
            env = {**os.environ, "CACHE_DIR": str(root / f"cache-{source}")}
            env.pop("DATABASE_URL", None)
            env.pop("DUCKDB_DATABASE", None)
            if source == "sql_postgresql":
                from pg_helpers import PostgresCluster, postgres_bin

                bin_dir = postgres_bin()
                if bin_dir is None:
                    raise SystemExit("--start-postgres needs PostgreSQL's initdb")
                cluster = PostgresCluster(bin_dir)
                cluster.start()
                stack.callback(cluster.stop)
                env["DATABASE_URL"] = cluster.url
                subprocess.run(
                    [sys.executable, "-c", "import os; from signaling.source import DEMO; "
                     "DEMO.load(os.environ['DATABASE_URL'])"],
                    cwd=project, env=env, check=True, timeout=300,
                )  # fmt: skip
            started = time.perf_counter()
            port = stack.enter_context(served(project, env, root / f"{source}.log"))
            first[source] = (time.perf_counter() - started) * 1000
            apps[source] = App(port)
        results: dict[str, dict[str, list[tuple[float, float]]]] = {
            s: {"default": [], "narrow": []} for s in sources
        }
        with ThreadPoolExecutor(max_workers=8) as pool:
            for source in sources:  # warm every worker's imports and connections
                for _ in range(2):
                    apps[source].change(
                        {"region": "West", "product": [], "year": [2019, 2019]}, pool
                    )
            rounds = zip(narrow_states(args.rounds), wide_states(args.rounds), strict=True)
            for narrow, wide in rounds:
                for source in sources:
                    results[source]["narrow"].append(apps[source].change(narrow, pool))
                    results[source]["default"].append(apps[source].change(wide, pool))
    print(f"gunicorn -w {WORKERS}, {os.cpu_count()} cores, {args.rounds} rounds, DEMO_DELAY 0\n")
    print(
        "| source | gunicorn start (ms) | compute, wide (ms) | change, wide "
        "| compute, narrow | change, narrow |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for source in sources:
        wide, narrow = results[source]["default"], results[source]["narrow"]
        print(
            f"| {source} | {first[source]:.0f} | {summary([c for c, _ in wide])} | "
            f"{summary([w for _, w in wide])} | {summary([c for c, _ in narrow])} | "
            f"{summary([w for _, w in narrow])} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
