"""Views that summarise (dashsignal.View, DataCache.prepare / load_summary), on real backends.

A view whose module defines `summarise(data)` has it run once per filter state in the step that
computes its source, and reads only its own small summary; the source's result is cached whole
only while something reads it whole. These tests drive the runtime as the generated wiring does
(`Signaling.signal`, `derive`, `summary_for`, `cached_summary`) and count every run of the query,
the stage and each summarise in a file, so that runs in other processes count too.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import threading
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dash import Dash

from dashsignal import QUERY, ComputationFailed, Computations, Signaling, View
from dashsignal import cache as cache_module

from runtime_helpers import (
    CACHING,
    FILTERS,
    SIGNALS,
    STAGE,
    RedisServer,
    RunLog,
    computations_of,
    defaults,
    nth_filters,
    running_redis,
    settings_for,
    user_modules,
)

# The views of the test dashboard: each summarises the query but `stage_total`, which
# summarises the stage.
SUMMARISED = ("sales", "total", "top")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


class Board:
    """A Signaling with summarising views, inside its app's context."""

    def __init__(
        self,
        tmp_path: Path,
        backend: str,
        redis_url: str | None,
        *,
        whole_reader: bool = False,
        stage_view: bool = False,
        declare_views: bool = True,
    ) -> None:
        self.folder = tmp_path / f"board-{backend}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.runs = RunLog(self.folder / "runs.jsonl", fresh=False)
        self.data, self.stage, own = user_modules(self.runs)
        self.modules = {name: self._view_module(name) for name in SUMMARISED}
        views = [View(name, module) for name, module in self.modules.items()]
        if whole_reader:
            # A view generated before summaries: render(data) of the whole result.
            old = types.ModuleType("views.old")
            old.render = lambda frame: frame
            views.append(View("old", old))
        if stage_view:
            self.modules["stage_total"] = self._view_module("stage_total")
            views.append(View("stage_total", self.modules["stage_total"], source=STAGE))
        self.settings = settings_for(backend, self.folder / "cache", redis_url)
        computations = computations_of(self.data, self.stage, own)
        if not stage_view:  # a stage reads the query whole
            computations = Computations(*(c for c in computations.values() if c.name != STAGE))
        self.signaling = Signaling(
            self.settings,
            FILTERS,
            computations,
            signals=SIGNALS,
            views=views if declare_views else None,
        )
        self.app = Dash(__name__)
        self.signaling.init_app(self.app)

    def _view_module(self, name: str) -> types.ModuleType:
        module = types.ModuleType(f"views.{name}")
        runs = self.runs

        def summarise(frame: pd.DataFrame) -> Any:
            runs.record(f"summarise:{name}", None)
            if name == "top":
                return frame.nlargest(2, "amount")
            return float(frame["amount"].sum()) if name != "sales" else len(frame)

        module.summarise = summarise
        module.render = lambda summary: summary
        return module

    @property
    def cache(self) -> Any:
        return self.signaling.data

    def counts(self) -> dict[str, int]:
        return dict(self.runs.counts())

    def summary_keys(self, filters: dict[str, Any]) -> list[str]:
        views = self.signaling.views or {}
        return [self.cache.summary_key(view, filters) for view in views.values() if view.summarises]

    def held(self, key: str) -> bool:
        return bool(self.cache.cache.has(key))


@pytest.fixture(params=CACHING)
def board(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer
) -> Iterator[Board]:
    redis_server.flush()
    made = Board(tmp_path, request.param, redis_server.url)
    with made.app.server.app_context():
        yield made


def make_board(tmp_path: Path, backend: str, redis_server: RedisServer, **options: Any) -> Board:
    redis_server.flush()
    return Board(tmp_path, backend, redis_server.url, **options)


def expected(board: Board, filters: dict[str, Any]) -> dict[str, Any]:
    """Each view's summary, computed here from the query's own frame."""
    frame = board.data.expensive_query(filters)
    return {
        "sales": len(frame),
        "total": float(frame["amount"].sum()),
        "top": frame.nlargest(2, "amount"),
    }


def assert_summaries(board: Board, signal: Any, wanted: dict[str, Any]) -> None:
    for name, value in wanted.items():
        got = board.signaling.summary_for(name, signal)
        if isinstance(value, pd.DataFrame):
            pd.testing.assert_frame_equal(got, value)
        else:
            assert got == value, name


# --- one computation per state -------------------------------------------------------------


def test_the_compute_step_runs_the_query_and_each_summary_once(board: Board) -> None:
    filters = defaults()
    signal = board.signaling.signal(QUERY, filters)
    assert signal == {"filters": FILTERS.canonical(filters)}
    assert board.counts() == {"query": 1, **{f"summarise:{v}": 1 for v in SUMMARISED}}
    board.runs.forget()
    reference = expected(board, filters)
    board.runs.forget()
    for _ in range(3):  # the views read; nothing runs again
        assert_summaries(board, signal, reference)
        board.signaling.signal(QUERY, filters)
    assert board.counts() == {}


def test_a_result_that_only_summarising_views_read_is_not_cached_whole(board: Board) -> None:
    filters = defaults()
    board.signaling.signal(QUERY, filters)
    assert not board.held(board.cache.key(QUERY, filters))
    assert all(board.held(key) for key in board.summary_keys(filters))


@pytest.mark.parametrize("reader", ["old view", "stage", "no views declared"])
def test_a_result_something_reads_whole_is_cached_whole(
    tmp_path: Path, redis_server: RedisServer, reader: str
) -> None:
    options = {
        "old view": {"whole_reader": True},
        "stage": {"stage_view": True},
        "no views declared": {"declare_views": False},
    }[reader]
    board = make_board(tmp_path, "filesystem", redis_server, **options)
    filters = defaults()
    with board.app.server.app_context():
        signal = board.signaling.signal(QUERY, filters)
        assert board.held(board.cache.key(QUERY, filters))
        if reader == "old view":
            frame = board.signaling.summary_for("old", signal)
            pd.testing.assert_frame_equal(frame, board.data.expensive_query(filters))
            assert board.counts()["query"] == 2  # the signal's run, and ours just now
        if reader == "stage":
            stage_signal = board.signaling.derive(STAGE, signal)
            # The stage's own result is read by nobody whole: only its view's summary is kept.
            assert not board.held(board.cache.key(STAGE, filters))
            total = board.signaling.summary_for("stage_total", stage_signal)
            assert total == pytest.approx(
                float(board.data.expensive_query(filters)["amount"].sum())
            )
            counts = board.counts()
            assert (counts["query"], counts[STAGE], counts["summarise:stage_total"]) == (2, 1, 1)


def test_sessions_in_other_processes_compute_a_state_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """Eight processes (forked, as gunicorn forks its workers) signal the same new state at once,
    then read every view: the query and each summarise run once in all."""
    for backend in ("filesystem", "redis"):
        board = make_board(tmp_path, backend, redis_server)
        board.data.DELAY_SECONDS = 0.3  # every process misses the cache at the same time
        filters = nth_filters(5)
        barrier = multiprocessing.get_context("fork").Barrier(8)

        def session(board: Board = board, barrier: Any = barrier, filters: Any = filters) -> None:
            with board.app.server.app_context():
                barrier.wait(10)
                signal = board.signaling.signal(QUERY, filters)
                for name in SUMMARISED:
                    board.signaling.summary_for(name, signal)

        processes = [multiprocessing.get_context("fork").Process(target=session) for _ in range(8)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(30)
        assert [process.exitcode for process in processes] == [0] * 8, backend
        assert board.counts() == {"query": 1, **{f"summarise:{v}": 1 for v in SUMMARISED}}, backend


def test_the_memoize_pattern_summarises_once_for_every_view(board: Board) -> None:
    filters = defaults()
    with ThreadPoolExecutor(3) as pool:
        list(
            pool.map(
                lambda name: _in_context(
                    board, lambda: board.signaling.cached_summary(name, filters)
                ),
                SUMMARISED,
            )
        )
    assert board.counts() == {"query": 1, **{f"summarise:{v}": 1 for v in SUMMARISED}}


def _in_context(board: Board, call: Callable[[], Any]) -> Any:
    with board.app.server.app_context():
        return call()


# --- misses, damage, failures ----------------------------------------------------------------


def test_views_that_miss_together_run_the_query_once(board: Board) -> None:
    filters = defaults()
    signal = board.signaling.signal(QUERY, filters)
    board.cache.clear()  # expired, evicted, flushed
    board.runs.forget()
    board.data.DELAY_SECONDS = 0.2

    def read(name: str) -> Any:
        return _in_context(board, lambda: board.signaling.summary_for(name, signal))

    with ThreadPoolExecutor(len(SUMMARISED)) as pool:
        got = dict(zip(SUMMARISED, pool.map(read, SUMMARISED), strict=True))
    board.data.DELAY_SECONDS = 0.0
    assert board.counts() == {"query": 1, **{f"summarise:{v}": 1 for v in SUMMARISED}}
    board.runs.forget()
    reference = expected(board, filters)
    assert got["sales"] == reference["sales"] and got["total"] == reference["total"]


def test_a_damaged_summary_is_summarised_again_once(
    board: Board, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    filters = defaults()
    signal = board.signaling.signal(QUERY, filters)
    key = board.cache.summary_key(board.signaling.views["total"], filters)
    damage(board, redis_server, key)
    board.runs.forget()
    with caplog.at_level(logging.WARNING, logger="dashsignal.cache"):
        for _ in range(3):
            total = board.signaling.summary_for("total", signal)
    assert total == pytest.approx(expected(board, filters)["total"])
    # Made again from the query (its result is not cached whole), the other summaries kept.
    assert board.counts() == {"query": 2, "summarise:total": 1}
    assert [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()] == [
        "damaged cache entry of the summaries of total deleted; summarising again"
    ]


def damage(board: Board, redis_server: RedisServer, key: str) -> None:
    """Replace the entry under `key` with bytes no runtime wrote."""
    backend = board.settings.backend
    if backend == "filesystem":
        path = Path(board.cache.cache.cache._get_filename(key))
        assert path.exists()
        path.write_bytes(path.read_bytes()[:4] + b"\x80\x05garbage")
    elif backend == "redis":
        with redis_server.client() as client:
            name = board.cache.cache.cache._get_prefix() + key
            assert client.exists(name)
            client.set(name, b"\x80\x05not a pickle")
    else:
        board.cache.cache.set(key, pd.DataFrame({"foreign": [1]}))  # not a summary envelope


def test_a_failing_summarise_fails_its_own_view_and_runs_once(
    board: Board, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(frame: pd.DataFrame) -> Any:
        board.runs.record("summarise:total", None)
        return frame["no such column"]

    board.modules["total"].summarise = broken
    filters = defaults()
    with caplog.at_level(logging.ERROR, logger="dashsignal.cache"):
        signal = board.signaling.signal(QUERY, filters)
        assert "failed" not in signal  # the data is fine: the other views draw it
        for _ in range(3):
            with pytest.raises(ComputationFailed) as failure:
                board.signaling.summary_for("total", signal)
            assert (failure.value.kind, failure.value.view) == ("KeyError", "total")
        assert board.signaling.summary_for("sales", signal) == expected(board, filters)["sales"]
    counts = board.counts()
    assert (counts["query"], counts["summarise:total"]) == (2, 1)  # ours in expected() is the 2nd
    tracebacks = [r for r in caplog.records if r.exc_info and "summarise failed" in r.getMessage()]
    assert len(tracebacks) == 1


def test_a_summarise_that_returns_none_is_a_failure(board: Board) -> None:
    board.modules["sales"].summarise = lambda frame: None
    signal = board.signaling.signal(QUERY, defaults())
    with pytest.raises(ComputationFailed) as failure:
        board.signaling.summary_for("sales", signal)
    assert failure.value.view == "sales"


def test_a_failing_query_is_signalled_and_no_view_summarises(board: Board) -> None:
    board.data.FAILING = FILTERS.canonical(defaults())
    signal = board.signaling.signal(QUERY, defaults())
    assert signal["failed"] == "RuntimeError"
    with pytest.raises(ComputationFailed) as failure:
        board.signaling.summary_for("sales", signal)
    assert failure.value.view is None
    assert board.counts() == {"query": 1}


def test_before_the_first_signal_a_view_has_nothing_to_draw(board: Board) -> None:
    assert board.signaling.summary_for("sales", None) is None
    assert board.signaling.summary_for("sales", {"filters": {"region": "Atlantis"}}) is None
    assert board.counts() == {}


def test_a_cache_outage_still_draws_every_view(tmp_path: Path) -> None:
    board = Board(tmp_path, "redis", None)  # nothing listens on port 1
    filters = defaults()
    with board.app.server.app_context():
        signal = board.signaling.signal(QUERY, filters)
        assert "failed" not in signal
        assert board.signaling.summary_for("total", signal) == pytest.approx(
            float(board.data.expensive_query(filters)["amount"].sum())
        )


def test_with_caching_off_each_view_summarises_only_itself(tmp_path: Path) -> None:
    board = Board(tmp_path, "null", None)
    filters = defaults()
    with board.app.server.app_context():
        signal = board.signaling.signal(QUERY, filters)
        assert board.counts() == {}  # nothing to share: the compute step runs nothing
        board.signaling.summary_for("total", signal)
    assert board.counts() == {"query": 1, "summarise:total": 1}


# --- keys, threads ------------------------------------------------------------------------------


def test_editing_a_view_module_changes_its_summary_keys(tmp_path: Path) -> None:
    def module_from(text: str, name: str) -> types.ModuleType:
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    source = (
        "def summarise(data):\n    return len(data)\n\n\ndef render(summary):\n    return summary\n"
    )
    first = View("v", module_from(source, "first"))
    same = View("v", module_from(source, "same"))
    edited = View("v", module_from(source.replace("len(data)", "len(data) + 1"), "edited"))
    bumped = View("v", module_from('VERSION = "2"\n' + source, "bumped"))
    assert first.version == same.version
    assert len({first.version, edited.version, bumped.version}) == 3


def test_summaries_run_on_threads_at_once(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two summarise functions that each wait for the other can only finish on two threads."""
    monkeypatch.setattr(cache_module, "SUMMARY_THREADS", 2)
    board = make_board(tmp_path, "filesystem", redis_server)
    meeting = threading.Barrier(2, timeout=5)
    for name in ("sales", "total"):
        summarise = board.modules[name].summarise

        def waiting(
            frame: pd.DataFrame, summarise: Callable[[pd.DataFrame], Any] = summarise
        ) -> Any:
            meeting.wait()
            return summarise(frame)

        board.modules[name].summarise = waiting
    del board.modules["top"].summarise  # an unsplit view: two summarise functions in all
    board.modules["top"].render = lambda frame: frame
    with board.app.server.app_context():
        signal = board.signaling.signal(QUERY, defaults())
        assert board.signaling.summary_for("total", signal) == pytest.approx(
            float(board.data.expensive_query(defaults())["amount"].sum())
        )


def test_one_thread_summarises_in_order(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "SUMMARY_THREADS", 1)
    board = make_board(tmp_path, "filesystem", redis_server)
    threads: set[str] = set()
    for name in SUMMARISED:
        summarise = board.modules[name].summarise

        def noted(frame: pd.DataFrame, summarise: Callable[[pd.DataFrame], Any] = summarise) -> Any:
            threads.add(threading.current_thread().name)
            return summarise(frame)

        board.modules[name].summarise = noted
    with board.app.server.app_context():
        board.signaling.signal(QUERY, defaults())
    assert threads == {threading.current_thread().name}


def test_a_redis_summary_is_a_small_pickle(tmp_path: Path, redis_server: RedisServer) -> None:
    board = make_board(tmp_path, "redis", redis_server)
    with board.app.server.app_context():
        board.signaling.signal(QUERY, defaults())
        keys = board.summary_keys(FILTERS.canonical(defaults()))
    with redis_server.client() as client:
        sizes = [
            len(client.get(board.cache.cache.cache._get_prefix() + key) or b"") for key in keys
        ]
    assert all(0 < size < 4096 for size in sizes), sizes
