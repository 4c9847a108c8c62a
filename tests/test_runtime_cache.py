"""The shared cache and the frames each process keeps (dashsignal.cache: DataCache, _Memo, the
codecs), on every backend: an entry is decoded once per process and never shared between views,
an entry gone from the shared cache is computed again, and entries expire."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dashsignal import QUERY
from dashsignal.cache import MEMO_ENTRIES, MEMO_SECONDS, PARQUET_MAGIC, PICKLE_MAGIC, _Memo

from runtime_helpers import (
    CACHING,
    Dashboard,
    RedisServer,
    build_dashboard,
    defaults,
    redis_key,
    running_redis,
)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(params=CACHING)
def dashboard(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer
) -> Iterator[Dashboard]:
    """A dashboard on each caching backend, with an empty cache, inside its app's context."""
    redis_server.flush()
    dashboard = build_dashboard(tmp_path, request.param, redis_url=redis_server.url)
    with dashboard.context():
        yield dashboard


@pytest.fixture
def decodes(dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time an entry is decoded from the shared cache."""
    decoded: list[str] = []
    codec = dashboard.cache._codec
    decode = codec.decode

    def counted(stored: Any) -> pd.DataFrame:
        decoded.append("decoded")
        frame: pd.DataFrame = decode(stored)
        return frame

    monkeypatch.setattr(codec, "decode", counted)
    return decoded


def load(dashboard: Dashboard) -> pd.DataFrame:
    frame: pd.DataFrame = dashboard.cache.load(QUERY, defaults())
    return frame


def query_runs(dashboard: Dashboard) -> int:
    return len(dashboard.runs.query_calls())


def another_process(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch, seconds: float = MEMO_SECONDS
) -> None:
    """From now on this test runs as another worker process would: with no frame kept."""
    monkeypatch.setattr(dashboard.cache, "_memo", _Memo(MEMO_ENTRIES, seconds))


def test_the_process_that_computed_a_frame_does_not_decode_it(
    dashboard: Dashboard, decodes: list[str]
) -> None:
    first = load(dashboard)
    again = [load(dashboard) for _ in range(4)]

    assert query_runs(dashboard) == 1
    assert decodes == []
    for frame in again:
        pd.testing.assert_frame_equal(frame, first)


def test_another_process_decodes_an_entry_once_for_all_its_views(
    dashboard: Dashboard, decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load(dashboard)
    another_process(dashboard, monkeypatch)

    frames = [load(dashboard) for _ in range(5)]

    assert query_runs(dashboard) == 1
    assert decodes == ["decoded"]
    for frame in frames:
        pd.testing.assert_frame_equal(frame, first)


def change_in_place(frame: pd.DataFrame) -> None:
    """What a view might do to the frame it was given."""
    frame["region"] = "changed"
    frame.iloc[0, frame.columns.get_loc("units")] = -1
    frame.loc[frame.index[:3], "amount"] = -1.0
    frame["added"] = 1
    frame.pop("day")
    frame.columns = [f"renamed {column}" for column in frame.columns]
    frame.index = frame.index + 100
    frame.attrs["note"] = "changed"


def test_a_view_that_changes_its_frame_changes_no_other_views_frame(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = dashboard.data.expensive_query(defaults())
    for process in ("computed here", "read from the shared cache"):
        if process != "computed here":
            another_process(dashboard, monkeypatch)
        first = load(dashboard)  # computed, or decoded, then kept
        second = load(dashboard)  # from the kept frame
        theirs = load(dashboard)
        assert len({id(first), id(second), id(theirs)}) == 3, process

        change_in_place(first)
        change_in_place(second)
        with pytest.raises(ValueError, match="read-only"):
            theirs["amount"].to_numpy()[0] = -1.0

        pd.testing.assert_frame_equal(theirs, original, obj=process)
        assert theirs.attrs == {}, process
        pd.testing.assert_frame_equal(load(dashboard), original, obj=process)
    assert query_runs(dashboard) == 2  # the call above, and the computation


def test_an_entry_gone_from_the_shared_cache_is_computed_again(dashboard: Dashboard) -> None:
    load(dashboard)

    dashboard.cache.cache.delete(dashboard.key(QUERY, defaults()))  # evicted, expired, flushed
    load(dashboard)
    load(dashboard)
    assert query_runs(dashboard) == 2

    dashboard.cache.cache.clear()  # the shared cache only: this process's memo is not told
    load(dashboard)
    load(dashboard)
    assert query_runs(dashboard) == 3

    dashboard.cache.clear()
    load(dashboard)
    assert query_runs(dashboard) == 4


def test_an_entry_computed_again_elsewhere_is_read_after_memo_seconds(
    dashboard: Dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    another_process(dashboard, monkeypatch, seconds=0.2)
    kept = load(dashboard)
    # Another worker computes the same key again (after a flush, say) from newer data.
    newer = kept.assign(amount=kept["amount"] + 1)
    dashboard.cache.cache.set(
        dashboard.key(QUERY, defaults()), dashboard.cache._codec.encode(newer)
    )

    pd.testing.assert_frame_equal(load(dashboard), kept)
    time.sleep(0.25)
    pd.testing.assert_frame_equal(load(dashboard), newer)
    assert query_runs(dashboard) == 1


def test_an_entry_expires_after_the_cache_timeout(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    # Every caching backend at once: one wait for all three.
    redis_server.flush()
    short = [
        build_dashboard(tmp_path, backend, redis_url=redis_server.url, timeout=1)
        for backend in CACHING
    ]
    for dashboard in short:
        assert dashboard.cache._memo._seconds == 1, "a frame is kept no longer than its entry"
        with dashboard.context():
            load(dashboard)
            load(dashboard)
        assert query_runs(dashboard) == 1, dashboard.backend
    time.sleep(1.1)
    for dashboard in short:
        with dashboard.context():
            load(dashboard)
        assert query_runs(dashboard) == 2, dashboard.backend


def test_kept_frames_are_bounded_in_number_bytes_and_time() -> None:
    now = [100.0]
    frame = pd.DataFrame({"units": list(range(1000))})
    size = int(frame.memory_usage(index=True, deep=False).sum())

    frames = _Memo(2, 5.0, clock=lambda: now[0])
    for key in ("one", "two", "three"):
        assert frames.put(key, frame)
    assert frames.get("one") is None
    assert frames.get("two") is frame
    assert frames.get("three") is frame
    now[0] += 5.0
    assert frames.get("two") is None
    assert frames.get("three") is None

    frames = _Memo(10, 5.0, size=2 * size, clock=lambda: now[0])
    for key in ("one", "two", "three"):
        assert frames.put(key, frame)
    assert [frames.get(key) is frame for key in ("one", "two", "three")] == [False, True, True]
    assert not frames.put("big", pd.concat([frame] * 3))
    assert frames.get("big") is None

    # The most recently used stays: a get moves a frame to the end.
    frames = _Memo(2, 5.0, clock=lambda: now[0])
    frames.put("one", frame)
    frames.put("two", frame)
    assert frames.get("one") is frame
    frames.put("three", frame)
    assert [frames.get(key) is frame for key in ("one", "two", "three")] == [True, False, True]


def test_a_forked_process_starts_with_no_frame_kept(dashboard: Dashboard) -> None:
    load(dashboard)
    key = dashboard.key(QUERY, defaults())
    assert dashboard.cache._memo.get(key) is not None

    child = os.fork()  # as a background job's process is started
    if child == 0:
        os._exit(0 if dashboard.cache._memo.get(key) is None else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert dashboard.cache._memo.get(key) is not None, "the parent keeps its frames"


def test_frames_with_python_objects_in_their_cells_are_not_kept(
    dashboard: Dashboard, decodes: list[str]
) -> None:
    dashboard.data.TAGS = True
    load(dashboard)
    mine = load(dashboard)
    mine["tags"].iloc[0].append("changed in place")

    assert load(dashboard)["tags"].iloc[0] == [0, "tag"]
    assert query_runs(dashboard) == 1
    assert decodes == ["decoded", "decoded"]


def test_redis_entries_are_parquet_or_a_pickle_for_what_arrow_cannot_type(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    redis_server.flush()
    dashboard = build_dashboard(tmp_path, "redis", redis_url=redis_server.url)
    client = redis_server.client()
    with dashboard.context():
        typed = dashboard.cache.load(QUERY, defaults())
        dashboard.data.TAGS = True
        tagged_filters = {**defaults(), "region": "North"}
        tagged = dashboard.cache.load(QUERY, tagged_filters)
        dashboard.cache._memo.clear()
        for filters, frame, magic in (
            (defaults(), typed, PARQUET_MAGIC),
            (tagged_filters, tagged, PICKLE_MAGIC),
        ):
            stored = client.get(redis_key(dashboard, dashboard.key(QUERY, filters)))
            assert stored is not None and stored.startswith(magic)
            pd.testing.assert_frame_equal(dashboard.cache.load(QUERY, filters), frame)
    assert query_runs(dashboard) == 2


def test_nothing_is_kept_when_caching_is_off(tmp_path: Path) -> None:
    dashboard = build_dashboard(tmp_path, "null")
    with dashboard.context():
        for _ in range(3):
            load(dashboard)
        assert dashboard.cache._memo.get(dashboard.key(QUERY, defaults())) is None
    assert query_runs(dashboard) == 3
