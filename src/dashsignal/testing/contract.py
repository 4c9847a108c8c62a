"""The signaling contract of a generated dashboard, driven through its real callback endpoint.

A project's tests/test_signaling.py subclasses `SignalingContract` and declares where each view's
data comes from; every test here then runs against that project's own app, with the plugin's
fixtures (`endpoint`, `computations`, `query_calls`, `signaling`, `dash_app`):

    class TestSignaling(SignalingContract):
        VIEWS = {"sales": "query", "rows": "daily", "target": "own", "ticker": "live"}

It checks what the wiring must do whatever the spec: the callback graph is the spec's, one
filter change runs each computation once (with any number of concurrent sessions), a missing
entry is recomputed, signals are small, forged signals and undeclared values run nothing, and
malformed or oversized requests get 4xx.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from dashsignal.testing.endpoint import CallbackResult, DashEndpoint, Prop, filter_props

if TYPE_CHECKING:
    from dashsignal.signaling import Signaling

__all__ = [
    "CachedContract",
    "LiveViewsContract",
    "SignalingContract",
    "SignalsContract",
    "StagesContract",
    "runs_per_change",
]

FORGED_SIGNALS = [
    "not a signal",
    [1, 2, 3],
    {"cache_key": "dashsignal:someone-else:secret"},
    {"filters": "x"},
    {"filters": {}},
    {"filters": {"unknown": 1}},
]
MALFORMED_BODIES = [
    b"not json",
    {"output": ["a list"]},
    {"output": "no-such-component.children", "inputs": []},
]


class SignalingContract:
    """Tests every generated dashboard passes; subclass it with the project's VIEWS."""

    # Each view's id, and where its data comes from: "query", a stage, "own" or "live".
    VIEWS: ClassVar[dict[str, str]] = {}

    # --- what the wiring declares --------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _wiring(self, signaling: Any) -> None:
        self.signaling = signaling
        self.filters = signaling.filters
        self.computations = signaling.computations
        self.signals: dict[str, str] = signaling.signals
        self.backend: str = signaling.settings.backend

    @property
    def stages(self) -> list[str]:
        return [name for name, c in self.computations.items() if c.source is not None]

    @property
    def live_views(self) -> list[str]:
        return [view for view, source in self.VIEWS.items() if source == "live"]

    @property
    def cached_views(self) -> list[str]:
        return [view for view, source in self.VIEWS.items() if source != "live"]

    @property
    def filter_props(self) -> set[Prop]:
        return {(f.id, p) for f in self.filters.values() for p in f.properties}

    def computation_of(self, view_id: str) -> str:
        """The cached computation a view reads: the query, a stage, or its own."""
        return view_id if self.VIEWS[view_id] == "own" else self.VIEWS[view_id]

    def lineage(self, name: str) -> list[str]:
        return [c.name for c in self.computations.lineage(name)]

    def runs_per_change(self) -> Counter[str]:
        """How many times each computation runs for one filter change (live fetches too)."""
        return runs_per_change(self.signaling, self.VIEWS)

    def changed_filters(self) -> dict[str, Any]:
        """The default filters with one value changed, the way a user changes one control."""
        filters: dict[str, Any] = self.filters.defaults()
        first = next(iter(self.filters.values()))
        current = filters[first.id]
        if first.kind in ("dropdown", "radio"):
            filters[first.id] = next(o for o in first.options if o != current)
        elif first.kind in ("multi", "checklist"):
            options = first.options
            filters[first.id] = [options[0]] if current != [options[0]] else list(options)
        else:
            filters[first.id] = [first.min, first.min]  # range, dates: the narrowest selection
        return filters

    def run_change(self, endpoint: DashEndpoint, filters: dict[str, Any]) -> None:
        """What the browser does after a filter change; every view must answer with content."""
        results = endpoint.change(filters)
        for view_id in self.VIEWS:
            assert view_id in results, f"{view_id} did not run"
            assert results[view_id].status == 200, view_id
            assert _has_content(results[view_id], view_id), view_id

    def expected_inputs(self, view_id: str, endpoint: DashEndpoint) -> set[Prop]:
        """What a view's callback must be triggered by, given where its data comes from."""
        source = self.VIEWS[view_id]
        if source == "live":
            return self.filter_props | {(interval_of(endpoint, view_id), "n_intervals")}
        if self.signals and source != "own":
            return {(self.signals[source], "data")}
        return self.filter_props

    def require_a_shared_cache(self) -> None:
        """Skip a test of the shared cache when the environment switched caching off."""
        if self.backend == "null":
            pytest.skip("DASHSIGNAL_CACHE=null: caching is off, every view computes on its own")

    # --- the tests ------------------------------------------------------------------------------

    def test_callback_graph_matches_the_spec(self, endpoint: DashEndpoint) -> None:
        def inputs_of(component_id: str) -> set[Prop]:
            callback = endpoint.callback_for(component_id)
            return {(d["id"], d["property"]) for d in callback["inputs"]}

        if self.signals:
            assert inputs_of(self.signals["query"]) == self.filter_props
            for stage in self.stages:
                source = self.computations[stage].source
                assert inputs_of(self.signals[stage]) == {(self.signals[source], "data")}
        for view_id in self.VIEWS:
            assert inputs_of(view_id) == self.expected_inputs(view_id, endpoint), view_id
        steps = 1 + len(self.stages) if self.signals else 0
        assert len(endpoint.callbacks) == steps + len(self.VIEWS)

    def test_one_filter_change_runs_each_computation_once(
        self, endpoint: DashEndpoint, computations: Any, query_calls: Any
    ) -> None:
        self.run_change(endpoint, self.filters.defaults())
        assert computations.counts() == self.runs_per_change()

        self.run_change(endpoint, self.changed_filters())
        assert computations.counts() == self.runs_per_change() + self.runs_per_change()
        if self.runs_per_change()["query"]:
            assert query_calls[0] == self.filters.defaults()
            assert query_calls[-1] == self.filters.canonical(self.changed_filters())

    def test_filter_values_outside_the_declared_options_are_refused(
        self, endpoint: DashEndpoint, computations: Any
    ) -> None:
        # Every callback the filters trigger refuses them before computing anything.
        readers = [
            cb
            for cb in endpoint.callbacks
            if self.filter_props & {(d["id"], d["property"]) for d in cb["inputs"]}
        ]
        assert readers
        for filter_id in self.filters:
            forged = {**self.filters.defaults(), filter_id: ["not declared", 10**9]}
            values = filter_props(self.filters, forged)
            for callback in readers:
                first_output = callback["output"].strip(".").split(".")[0]
                status = endpoint.fire(first_output, values).status
                assert status == 204, (filter_id, first_output)
        assert computations.runs() == []

    @pytest.mark.parametrize("body", MALFORMED_BODIES, ids=["not-json", "list", "unknown"])
    def test_malformed_callback_requests_get_400(
        self, endpoint: DashEndpoint, computations: Any, body: Any
    ) -> None:
        if isinstance(body, bytes):
            response = endpoint.client.post(
                "/_dash-update-component", data=body, content_type="application/json"
            )
        else:
            response = endpoint.client.post("/_dash-update-component", json=body)
        assert response.status_code == 400
        assert b"Traceback" not in response.data
        assert computations.runs() == []

    def test_oversized_callback_requests_get_413(self, endpoint: DashEndpoint) -> None:
        oversized = b"x" * (2 * 1024 * 1024)
        response = endpoint.client.post(
            "/_dash-update-component", data=oversized, content_type="application/json"
        )
        assert response.status_code == 413


class CachedContract(SignalingContract):
    """What a cache shared by the workers guarantees (every backend but null)."""

    def test_a_missing_cache_entry_is_recomputed_not_an_error(
        self, endpoint: DashEndpoint, computations: Any, dash_app: Any
    ) -> None:
        self.require_a_shared_cache()
        self.run_change(endpoint, self.filters.defaults())
        with endpoint.as_a_request():
            self.signaling.data.clear()  # expired, evicted, or another worker's memory
        for view_id in self.cached_views:
            result = endpoint.fire(view_id, endpoint.values)
            assert result.status == 200, view_id
            assert _has_content(result, view_id), view_id
        recomputed = Counter(
            {n for view in self.cached_views for n in self.lineage(self.computation_of(view))}
        )
        assert computations.counts() == self.runs_per_change() + recomputed

    def test_each_view_has_its_summary_and_a_result_is_kept_whole_only_when_read_whole(
        self, endpoint: DashEndpoint, dash_app: Any
    ) -> None:
        """After a change every view that summarises finds its own summary in the cache, and
        the query's and stages' results are cached whole exactly when something reads them
        whole (a stage derived from them, a view without summarise): a 1M-row frame is not
        written for nothing."""
        self.require_a_shared_cache()
        self.run_change(endpoint, self.filters.defaults())
        filters = self.filters.canonical(self.filters.defaults())
        data = self.signaling.data
        # In a request of the endpoint's: a user's or a session's keys are derived from it.
        with endpoint.as_a_request():
            for view in (self.signaling.views or {}).values():
                if view.summarises:
                    assert data.cache.has(data.summary_key(view, filters)), view.id
            for name in ["query", *self.stages]:
                kept = bool(data.cache.has(data.key(name, filters)))
                assert kept == data.read_whole(name), name

    def test_concurrent_sessions_on_the_same_filters_compute_once(
        self,
        endpoint: DashEndpoint,
        computations: Any,
        dash_app: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.require_a_shared_cache()
        query = self.computations["query"]
        counted = query.function

        def slow_query(filters: dict[str, Any], *scope: Any) -> Any:
            time.sleep(0.3)  # long enough for every session to miss the cache at the same time
            return counted(filters, *scope)

        monkeypatch.setattr(query.module, query.function_name, slow_query)
        if self.signaling.settings.background:
            # Each request starts a job in a process of its own, so sending them one after the
            # other already makes eight computations race; threads would fork holding locks.
            pending = [endpoint.start_compute(self.changed_filters()) for _ in range(8)]
            assert [endpoint.finish(request).status for request in pending] == [200] * 8
            assert computations.counts()["query"] == 1
            return

        # With a session scope each browser session has results of its own: there, the tabs of
        # one session are what must share one computation.
        per_session = "session" in self.computations.scopes()

        def session(_: int) -> list[int]:
            other = endpoint.another_tab() if per_session else endpoint.another_session()
            results = other.change(self.changed_filters())
            return [result.status for result in results.values()]

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = [status for answer in pool.map(session, range(8)) for status in answer]
        assert set(statuses) == {200}
        counts = computations.counts()
        expected = {
            n: runs for n, runs in self.runs_per_change().items() if n not in self.live_views
        }
        assert {name: counts[name] for name in expected} == expected


class SignalsContract(SignalingContract):
    """The signal pattern: small signals, an empty first load, forged signals refused."""

    def test_signals_are_small_and_hold_no_data(self, endpoint: DashEndpoint) -> None:
        endpoint.change(self.filters.defaults())
        for store_id in self.signals.values():
            assert endpoint.values[(store_id, "data")] == {"filters": self.filters.defaults()}

    def test_first_load_shows_an_empty_state_without_a_computation(
        self, endpoint: DashEndpoint, computations: Any
    ) -> None:
        for view_id, source in self.VIEWS.items():
            if source not in ("own", "live"):
                result = endpoint.consume(view_id, None)
                assert result.status == 200, view_id
                assert _has_content(result, view_id), view_id
        assert computations.runs() == []

    @pytest.mark.parametrize("signal", FORGED_SIGNALS)
    def test_a_forged_signal_reads_nothing_and_runs_nothing(
        self, endpoint: DashEndpoint, computations: Any, signal: Any
    ) -> None:
        for view_id, source in self.VIEWS.items():
            if source not in ("own", "live"):
                assert endpoint.consume(view_id, signal).status == 200, view_id
        for stage in self.stages:
            source_store = self.signals[self.computations[stage].source]
            forged = {(source_store, "data"): signal}
            assert endpoint.fire(self.signals[stage], forged).status == 204
        assert computations.runs() == []


class StagesContract(SignalingContract):
    """Stages derive once, after their source, reading it from the cache."""

    def test_stages_run_in_order_reading_their_source_from_the_cache(
        self, endpoint: DashEndpoint, computations: Any
    ) -> None:
        self.require_a_shared_cache()
        self.run_change(endpoint, self.filters.defaults())
        order = [run["name"] for run in computations.runs()]
        for stage in self.stages:
            source = self.computations[stage].source
            assert order.count(stage) == 1
            assert order.index(source) < order.index(stage), f"{stage} ran before {source}"


class LiveViewsContract(SignalingContract):
    """Live views refresh on their interval without recomputing what is cached."""

    def test_live_views_keep_updating_without_recomputing_the_cached_data(
        self, endpoint: DashEndpoint, computations: Any
    ) -> None:
        self.run_change(endpoint, self.filters.defaults())
        before = computations.counts()
        for view_id in self.live_views:
            for _ in range(3):
                results = endpoint.tick(interval_of(endpoint, view_id))
                assert set(results) == {view_id}
                assert results[view_id].status == 200
                assert _has_content(results[view_id], view_id)
        after = computations.counts()
        for view_id in self.live_views:
            assert after[view_id] == before[view_id] + 3, "a live view fetches on every tick"
        cached = [name for name, c in self.computations.items() if not c.live]
        assert {n: after[n] for n in cached} == {n: before[n] for n in cached}


def interval_of(endpoint: DashEndpoint, view_id: str) -> str:
    """The one dcc.Interval whose ticks trigger a live view's callback."""
    intervals = [
        d["id"] for d in endpoint.callback_for(view_id)["inputs"] if d["property"] == "n_intervals"
    ]
    assert len(intervals) == 1, f"{view_id}: expected one interval among its inputs: {intervals}"
    return str(intervals[0])


def runs_per_change(signaling: Signaling, views: Mapping[str, str]) -> Counter[str]:
    """How many times each computation of `signaling` runs for one filter change (a live view's
    fetch too), when each view reads what `views` says: "query", a stage, "own" or "live"."""
    computations = signaling.computations

    def lineage(name: str) -> list[str]:
        return [c.name for c in computations.lineage(name)]

    readers = [view if source == "own" else source for view, source in views.items()]
    readers = [
        reader for reader, source in zip(readers, views.values(), strict=True) if source != "live"
    ]
    live = Counter(view for view, source in views.items() if source == "live")
    if signaling.settings.backend == "null":
        # Caching off: every view computes what it reads, and all that derives from.
        return Counter(n for reader in readers for n in lineage(reader)) + live
    if signaling.signals:
        # The compute step and every stage's step read their results too.
        readers += ["query", *(n for n, c in computations.items() if c.source is not None)]
    return Counter({n for reader in readers for n in lineage(reader)}) + live


def _has_content(result: CallbackResult, view_id: str) -> bool:
    values = result.outputs.get(view_id, {}).values()
    return bool(values) and all(value is not None for value in values)
