"""Measure ways to serialise a cached pandas DataFrame for flask-caching in a Dash app.

A generated Dash app runs an expensive query once per change, stores the resulting DataFrame in
a flask-caching backend (FileSystemCache on one host, RedisCache across hosts) and reads it back
in several consumer callbacks. This script builds a deterministic query-like frame (numpy
`default_rng(0)`; by default 1,000,000 rows: `region` (4 values), `product` (3) and `channel`
(2) as plain Python-str columns, so pandas 3 infers its `str` dtype; `day` datetime64[us],
`year` int64, `amount` float64, `units` int64) and compares serialisers:

* `pickle p5`: `pickle.dumps(frame, protocol=5)` / `pickle.loads`.
* `flask-caching default`: what the backends really do. Both delegate to cachelib. RedisCache
  stores `cachelib.serializers.RedisSerializer().dumps(value)`, that is `b"!"` +
  `pickle.dumps(value, pickle.HIGHEST_PROTOCOL)`, and strips the `!` on `get`.
  FileSystemCache writes a 4-byte expiry header, then `pickle.dump(value, f,
  pickle.HIGHEST_PROTOCOL)` to the file, and on `get` it reads the header and runs
  `pickle.load(f)` on the open file. Its in-memory columns time RedisSerializer; its store
  columns time the real `FileSystemCache.get` and `RedisCache.get`. The protocol it uses is
  printed at start-up.
* `arrow ipc`: `pa.Table.from_pandas(frame, preserve_index=False)` written by
  `pa.ipc.new_stream` into a `pa.BufferOutputStream`; read back with
  `pa.ipc.open_stream(data).read_all().to_pandas()`; plus `arrow ipc lz4`/`arrow ipc zstd`
  (IpcWriteOptions compression) for each codec pyarrow was built with.
* `parquet none`/`parquet zstd`/`parquet lz4`: `pyarrow.parquet.write_table` into memory, read
  back with `pq.read_table(...).to_pandas()` (compressed variants only if available);
  `parquet none no stats` also passes `write_statistics=False` (no min/max per column chunk,
  which only readers that skip row groups use), as the generated app's Redis backend does.

For each it reports the serialised size (MB = 10**6 bytes), the median `dumps` and `loads`
times in milliseconds, the median end-to-end read cost of one consumer for each store, and
whether the round trip is exact (`pandas.testing.assert_frame_equal` with `check_dtype=True`
and `check_exact=True`, on the in-memory result and on every store read). A dtype that changes
is named, for example `day: datetime64[s]->datetime64[ms]`.

The store columns: `file get+loads` reads the bytes back from a file in a temporary directory
and deserialises them (`Path.read_bytes` then `loads`; the real `FileSystemCache.get` for the
flask-caching row). The file was just written, so it is read from a warm page cache.
`redis get+loads` runs `GET` then `loads` (the real `RedisCache.get` for the flask-caching row)
against a redis-server this script starts on 127.0.0.1 at a free port with `--save ""
--appendonly no`, and stops on exit. Redis refuses values over 512 MB
(`proto-max-bulk-len`), such rows show `n/a`. Writes to the stores are not timed.

Each timed call runs R times after a `gc.collect()`; the median is shown. Nothing is asserted
on the times. Run it from the repository root with the project's virtualenv:

    python benchmarks/bench_serialization.py [--rows N] [--runs R]   # defaults 1_000_000, 5

`--redis-server PATH` picks the redis-server binary (default: the one on PATH, else
/usr/bin/redis-server); without one the Redis column shows `n/a`.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import os
import pickle
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import redis
from cachelib.serializers import FileSystemSerializer, RedisSerializer
from flask_caching.backends.filesystemcache import FileSystemCache
from flask_caching.backends.rediscache import RedisCache

MB = 1_000_000
REDIS_MAX_VALUE = 512 * 1024 * 1024  # Redis' default proto-max-bulk-len
REGIONS = ("North", "South", "East", "West")
PRODUCTS = ("Widget", "Gadget", "Doohickey")
CHANNELS = ("Online", "Retail")

Frame = Any  # pandas ships no type information: a DataFrame is Any to mypy
Dumps = Callable[[Frame], bytes]
Loads = Callable[[bytes], Frame]


@dataclass(frozen=True)
class Method:
    """One serialiser: how to turn the frame into bytes and back."""

    name: str
    dumps: Dumps
    loads: Loads
    flask_caching: bool = False  # read through the real flask-caching backends


@dataclass
class Row:
    """The measured numbers of one method; None where not measured."""

    name: str
    size_mb: float
    dumps_ms: float
    loads_ms: float
    file_ms: float | None
    redis_ms: float | None
    exact: str


# -- the frame ------------------------------------------------------------------------------


def build_frame(rows: int) -> Frame:
    """A deterministic query-like frame with `rows` rows."""
    rng = np.random.default_rng(0)
    days = pd.date_range("2019-01-01", "2024-12-31", freq="D")  # datetime64[us] in pandas 3
    day = pd.Series(days[rng.integers(0, len(days), rows)])
    return pd.DataFrame(
        {
            # Python str objects, as a database driver returns them: pandas 3 infers `str`.
            "region": [REGIONS[i] for i in rng.integers(0, len(REGIONS), rows)],
            "product": [PRODUCTS[i] for i in rng.integers(0, len(PRODUCTS), rows)],
            "channel": [CHANNELS[i] for i in rng.integers(0, len(CHANNELS), rows)],
            "year": day.dt.year.astype("int64"),
            "day": day,
            "amount": np.round(rng.lognormal(mean=4.0, sigma=1.0, size=rows), 2),
            "units": rng.integers(1, 50, rows, dtype=np.int64),
        }
    )


def dtype_label(dtype: Any) -> str:
    """A dtype's name, with the storage and missing-value marker of string dtypes."""
    if isinstance(dtype, pd.StringDtype):
        return f"{dtype}[{dtype.storage}, na={dtype.na_value}]"
    return str(dtype)


# -- the serialisers --------------------------------------------------------------------------


def pickle_dumps(frame: Frame) -> bytes:
    return pickle.dumps(frame, protocol=5)


def pickle_loads(data: bytes) -> Frame:
    return pickle.loads(data)


REDIS_SERIALIZER = RedisSerializer()


def cachelib_dumps(frame: Frame) -> bytes:
    """What RedisCache.set sends to Redis."""
    return REDIS_SERIALIZER.dumps(frame)


def cachelib_loads(data: bytes) -> Frame:
    """What RedisCache.get does with the bytes Redis returns."""
    return REDIS_SERIALIZER.loads(data)


def to_table(frame: Frame) -> Any:
    return pa.Table.from_pandas(frame, preserve_index=False)


def ipc_dumper(compression: str | None) -> Dumps:
    options = pa.ipc.IpcWriteOptions(compression=compression)

    def dumps(frame: Frame) -> bytes:
        table = to_table(frame)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
            writer.write_table(table)
        return bytes(sink.getvalue().to_pybytes())

    return dumps


def ipc_loads(data: bytes) -> Frame:
    return pa.ipc.open_stream(data).read_all().to_pandas()


def parquet_dumper(compression: str, with_statistics: bool = True) -> Dumps:
    def dumps(frame: Frame) -> bytes:
        sink = pa.BufferOutputStream()
        pq.write_table(
            to_table(frame), sink, compression=compression, write_statistics=with_statistics
        )
        return bytes(sink.getvalue().to_pybytes())

    return dumps


def parquet_loads(data: bytes) -> Frame:
    return pq.read_table(pa.BufferReader(data)).to_pandas()


def methods() -> list[Method]:
    """Every serialiser to measure; the compressed ones only if pyarrow has the codec."""
    found = [
        Method("pickle p5", pickle_dumps, pickle_loads),
        Method("flask-caching default", cachelib_dumps, cachelib_loads, flask_caching=True),
        Method("arrow ipc", ipc_dumper(None), ipc_loads),
    ]
    for codec in ("lz4", "zstd"):
        if pa.Codec.is_available(codec):
            found.append(Method(f"arrow ipc {codec}", ipc_dumper(codec), ipc_loads))
    found.append(Method("parquet none", parquet_dumper("none"), parquet_loads))
    found.append(
        Method(
            "parquet none no stats", parquet_dumper("none", with_statistics=False), parquet_loads
        )
    )
    for codec in ("zstd", "lz4"):
        if pa.Codec.is_available(codec):
            found.append(Method(f"parquet {codec}", parquet_dumper(codec), parquet_loads))
    return found


# -- measuring --------------------------------------------------------------------------------


def timed(call: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """The median wall time of `call` over `runs` runs in ms, and the last result."""
    times: list[float] = []
    result: Any = None
    for _ in range(runs):
        result = None
        gc.collect()
        start = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def mismatch(expected: Frame, actual: Frame) -> str | None:
    """None if `actual` equals `expected` exactly, dtypes included, else what differs."""
    try:
        pd.testing.assert_frame_equal(expected, actual, check_dtype=True, check_exact=True)
    except AssertionError as error:
        changed = [
            f"{column}: {dtype_label(expected[column].dtype)}->{dtype_label(actual[column].dtype)}"
            for column in expected.columns
            if column in actual.columns and expected[column].dtype != actual[column].dtype
        ]
        if changed:
            return "; ".join(changed)
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        return " ".join(lines[:3])
    return None


def redis_bytes(client: redis.Redis, key: str) -> bytes:
    value = client.get(key)
    if not isinstance(value, bytes):
        raise RuntimeError(f"redis GET {key!r} returned {type(value).__name__}, not bytes")
    return value


def measure(
    method: Method,
    frame: Frame,
    runs: int,
    workdir: Path,
    client: redis.Redis | None,
    port: int | None,
) -> Row:
    dumps_ms, data = timed(lambda: method.dumps(frame), runs)
    loads_ms, loaded = timed(lambda: method.loads(data), runs)
    problems = {problem for problem in [mismatch(frame, loaded)] if problem}
    del loaded

    key = f"bench:{method.name}"
    file_ms: float | None
    if method.flask_caching:
        file_cache = FileSystemCache(str(workdir / "flask-caching"), threshold=0, default_timeout=0)
        file_cache.set(key, frame)
        file_ms, from_file = timed(lambda: file_cache.get(key), runs)
        file_cache.clear()
    else:
        path = workdir / "payload.bin"
        path.write_bytes(data)
        file_ms, from_file = timed(lambda: method.loads(path.read_bytes()), runs)
        path.unlink()
    if problem := mismatch(frame, from_file):
        problems.add(f"file: {problem}")
    del from_file

    redis_ms: float | None = None
    if client is not None and port is not None and len(data) <= REDIS_MAX_VALUE:
        if method.flask_caching:
            redis_cache = RedisCache(host="127.0.0.1", port=port, default_timeout=0)
            redis_cache.set(key, frame)
            redis_ms, from_redis = timed(lambda: redis_cache.get(key), runs)
        else:
            client.set(key, data)
            redis_ms, from_redis = timed(lambda: method.loads(redis_bytes(client, key)), runs)
        client.delete(key)
        if problem := mismatch(frame, from_redis):
            problems.add(f"redis: {problem}")
        del from_redis

    exact = "yes" if not problems else "NO: " + " | ".join(sorted(problems))
    return Row(method.name, len(data) / MB, dumps_ms, loads_ms, file_ms, redis_ms, exact)


# -- redis-server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(binary: str, workdir: Path) -> Iterator[tuple[redis.Redis, int]]:
    """A throw-away redis-server on 127.0.0.1 without persistence, stopped on exit."""
    port = free_port()
    command = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=120)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {process.returncode}")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield client, port
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- report -----------------------------------------------------------------------------------


def cachelib_protocols() -> str:
    """The pickle protocol cachelib's serializers default to, read from their signatures."""
    parts = []
    for serializer in (FileSystemSerializer, RedisSerializer):
        for name in ("dump", "dumps"):
            parameter = inspect.signature(getattr(serializer, name)).parameters.get("protocol")
            default = "?" if parameter is None else parameter.default
            parts.append(f"{serializer.__name__}.{name}={default}")
    return ", ".join(parts)


def print_header(frame: Frame, rows: int, runs: int) -> None:
    packages = ("pandas", "pyarrow", "numpy", "redis", "flask-caching", "cachelib")
    versions = " ".join(f"{name} {version(name)}" for name in packages)
    print(f"Python {platform.python_version()} {versions}; {os.cpu_count()} CPUs")
    print(
        f"pickle.HIGHEST_PROTOCOL={pickle.HIGHEST_PROTOCOL} "
        f"DEFAULT_PROTOCOL={pickle.DEFAULT_PROTOCOL}; cachelib default protocol: "
        f"{cachelib_protocols()}"
    )
    memory = frame.memory_usage(deep=True).sum() / MB
    dtypes = ", ".join(f"{column} {dtype_label(frame[column].dtype)}" for column in frame)
    print(f"{rows:,} rows, {memory:.1f} MB in memory; {dtypes}")
    print(f"median of {runs} runs; MB = 10**6 bytes; times in ms")
    print()


def print_table(rows: list[Row]) -> None:
    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1f}"

    header = ("what", "size MB", "dumps ms", "loads ms", "file get+loads", "redis get+loads")
    cells = [
        (
            row.name,
            f"{row.size_mb:.1f}",
            ms(row.dumps_ms),
            ms(row.loads_ms),
            ms(row.file_ms),
            ms(row.redis_ms),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]

    def line(values: tuple[str, ...], last: str) -> str:
        first = values[0].ljust(widths[0])
        pairs = zip(values[1:], widths[1:], strict=True)
        rest = "  ".join(value.rjust(width) for value, width in pairs)
        return f"{first}  {rest}  {last}"

    print(line(header, "round-trip exact?"))
    print("-" * len(line(header, "round-trip exact?")))
    for row, values in zip(rows, cells, strict=True):
        print(line(values, row.exact))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the frame")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement")
    parser.add_argument(
        "--redis-server",
        default=shutil.which("redis-server") or "/usr/bin/redis-server",
        help="the redis-server binary to start",
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.runs < 1:
        parser.error("--rows and --runs must be at least 1")

    frame = build_frame(args.rows)
    print_header(frame, args.rows, args.runs)
    results: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-serialization-") as temp:
        workdir = Path(temp)
        if Path(args.redis_server).is_file():
            redis_dir = workdir / "redis"
            redis_dir.mkdir()
            with redis_server(args.redis_server, redis_dir) as (client, port):
                for method in methods():
                    results.append(measure(method, frame, args.runs, workdir, client, port))
        else:
            print(f"no redis-server at {args.redis_server}: the Redis column is n/a\n")
            for method in methods():
                results.append(measure(method, frame, args.runs, workdir, None, None))
    print_table(results)
    print()
    print(
        "flask-caching default: in-memory columns time cachelib's RedisSerializer "
        "(b'!' + pickle); store columns time FileSystemCache.get and RedisCache.get."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
