"""Filter validation and cache keys (dashsignal.filters, dashsignal.cache.DataCache.key): values
a filter does not declare are refused, values that mean the same share one canonical form, and
keys are stable across processes, collision-free and namespaced by everything that gives an entry
its meaning, on every backend."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import pytest
from dash import Input

from dashsignal import QUERY, Computation, Computations, Filter, Filters, InvalidFilters
from dashsignal.cache import DataCache

from runtime_helpers import (
    BACKENDS,
    FILTERS,
    OWN,
    STAGE,
    RunLog,
    computations_of,
    defaults,
    nth_filters,
    run_python,
    settings_for,
    user_modules,
)


def _bad_values(spec: Filter) -> list[Any]:
    common: list[Any] = [{"a": 1}, "x" * 10_000, 10**100]
    if spec.kind in ("dropdown", "radio"):
        return [*common, "not declared", True, [spec.options[0]], 1.0]
    if spec.kind in ("multi", "checklist"):
        return [*common, ["not declared"], spec.options[0], list(spec.options) * 2, [True]]
    if spec.kind == "range":
        below = spec.min - spec.step
        between = spec.min + spec.step / 2  # not on a step
        return [
            *common,
            [below, spec.max],
            [spec.max, spec.min],
            [True, spec.max],
            [spec.min],
            [spec.min, between],
            [spec.min, float("nan")],
            [spec.min, float("inf")],
            [spec.min, str(spec.max)],
            [spec.min, spec.max, spec.max],
        ]
    return [
        *common,
        ["1999-01-01", spec.max],
        [spec.max, spec.min],
        ["tomorrow", None],
        [spec.min],
        [spec.min, "2024-02-30"],
        [spec.min, 20240301],
        [spec.min, "2024-03-01" + " " * 40],
    ]


@pytest.mark.parametrize("spec", list(FILTERS.values()), ids=list(FILTERS))
def test_undeclared_values_are_refused(spec: Filter) -> None:
    for value in _bad_values(spec):
        with pytest.raises(InvalidFilters):
            FILTERS.canonical({**defaults(), spec.id: value})


def test_an_option_of_another_type_is_not_that_option() -> None:
    # True == 1 and 1 == 1.0 in Python, but neither is the store 1 the page offers.
    assert FILTERS.canonical({**defaults(), "store": 1})["store"] == 1
    for value in (True, 1.0, "1"):
        with pytest.raises(InvalidFilters):
            FILTERS.canonical({**defaults(), "store": value})


def test_missing_or_unknown_filters_are_refused() -> None:
    with pytest.raises(InvalidFilters):
        FILTERS.canonical({})
    with pytest.raises(InvalidFilters):
        FILTERS.canonical({**defaults(), "unknown": None})
    missing = defaults()
    del missing["region"]
    with pytest.raises(InvalidFilters):
        FILTERS.canonical(missing)
    for not_a_mapping in (None, "region", [["region", None]], 1):
        with pytest.raises(InvalidFilters):
            FILTERS.canonical(not_a_mapping)


def test_defaults_are_valid_and_canonical() -> None:
    filters = defaults()
    assert FILTERS.canonical(filters) == filters
    assert json.loads(json.dumps(filters)) == filters  # JSON-ready: a signal carries them


def test_values_that_mean_the_same_have_one_canonical_form() -> None:
    same = FILTERS.canonical(
        {
            **defaults(),
            "channels": ["phone", "web", "web"],  # another order, a repeat
            "segments": None,  # a cleared checklist
            "year": [2020.0, 2024],  # a whole number sent as a float
            "discount": [0.1 + 0.2, 0.5],  # 0.30000000000000004, on the step 0.3
            "period": ["2024-03-01T00:00:00", None],  # a datetime, an open end
        }
    )
    assert same["channels"] == ["web", "phone"]  # declaration order
    assert same["segments"] == []
    assert same["year"] == [2020, 2024] and all(type(bound) is int for bound in same["year"])
    assert same["discount"] == [0.3, 0.5] and all(type(b) is float for b in same["discount"])
    assert same["period"] == ["2024-03-01", None]
    assert FILTERS.canonical(same) == same


@pytest.fixture(params=BACKENDS)
def data(request: pytest.FixtureRequest, tmp_path: Path) -> DataCache:
    """A DataCache of the backend (keys need no server: nothing is stored here)."""
    modules = user_modules(RunLog(tmp_path / "runs.jsonl"))
    settings = settings_for(request.param, tmp_path / "cache", None)
    return DataCache(settings, computations_of(*modules))


@pytest.mark.parametrize("spec", ["channels", "segments"])
def test_a_multi_select_in_another_order_shares_one_key(data: DataCache, spec: str) -> None:
    options = list(FILTERS[spec].options)
    forward = FILTERS.canonical({**defaults(), spec: options})
    backward = FILTERS.canonical({**defaults(), spec: options[::-1]})
    assert forward == backward
    assert data.key(QUERY, forward) == data.key(QUERY, backward)


def test_keys_tell_apart_values_that_python_hashes_alike(data: DataCache) -> None:
    values = (1, 1.0, True, "1", None, [1], {"1": 1})
    assert len({data.key(QUERY, {"f": value}) for value in values}) == len(values)
    assert data.key(QUERY, {"a": 1, "b": 2}) == data.key(QUERY, {"b": 2, "a": 1})
    assert data.key(QUERY, {"a": "é"}) != data.key(QUERY, {"a": "e"})


def test_every_computation_has_keys_of_its_own(data: DataCache) -> None:
    keys = {data.key(name, defaults()) for name in data.computations}
    assert len(keys) == len(data.computations) == 3


def test_a_version_bump_changes_the_keys_of_what_derives_from_it(data: DataCache) -> None:
    before = {name: data.key(name, defaults()) for name in data.computations}
    query = data.computations[QUERY]
    query.module.DATA_VERSION = "2"  # the user changed data.expensive_query
    after = {name: data.key(name, defaults()) for name in data.computations}
    assert after[QUERY] != before[QUERY]
    assert after[STAGE] != before[STAGE], "the stage derives from the query"
    assert after[OWN] == before[OWN], "an own view's data does not"
    data.computations[STAGE].module.VERSION = "2"
    assert data.key(STAGE, defaults()) != after[STAGE]
    assert data.key(QUERY, defaults()) == after[QUERY]


def test_keys_are_namespaced_by_app_spec_and_storage(tmp_path: Path) -> None:
    computations = computations_of(*user_modules(RunLog(tmp_path / "runs.jsonl")))

    def key(**options: Any) -> str:
        settings = settings_for(options.pop("backend", "filesystem"), tmp_path, None, **options)
        return DataCache(settings, computations).key(QUERY, defaults())

    base = key()
    assert key(app_name="other") != base
    assert key(spec_version="2") != base
    # Redis holds Parquet, the others a pickle: an entry is read back only by its own codec.
    assert key(backend="redis") != base
    assert ":parquet-" in key(backend="redis") and ":pickle5-" in base
    assert base.startswith("dashsignal:t:1:")


def test_keys_are_the_same_in_another_process(tmp_path: Path) -> None:
    """Python's hash() is salted per process: keys must not depend on it (one child process for
    every backend, since starting one costs a second)."""
    code = """
import json, sys
from pathlib import Path
from dashsignal.cache import DataCache
from runtime_helpers import BACKENDS, RunLog, computations_of, settings_for, user_modules
folder = Path(sys.argv[1])
computations = computations_of(*user_modules(RunLog(folder / "child-runs.jsonl")))
filters = json.loads(sys.stdin.read())
keys = {}
for backend in BACKENDS:
    data = DataCache(settings_for(backend, folder / "cache", None), computations)
    keys[backend] = [data.key(name, filters) for name in computations]
print(json.dumps(keys))
"""
    filters = nth_filters(12345)
    other = run_python(
        code, str(tmp_path), input=json.dumps(filters), env={"PYTHONHASHSEED": "12345"}
    )
    assert other.returncode == 0, other.stderr
    computations = computations_of(*user_modules(RunLog(tmp_path / "runs.jsonl")))
    here = {}
    for backend in BACKENDS:
        data = DataCache(settings_for(backend, tmp_path / "cache", None), computations)
        here[backend] = [data.key(name, filters) for name in computations]
    assert json.loads(other.stdout) == here


def test_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown filter kind"):
        Filter("f", "slider", "F")
    with pytest.raises(ValueError, match="same id"):
        Filters(Filter("f", "radio", "F", options=(1,)), Filter("f", "radio", "G", options=(1,)))
    module = types.ModuleType("m")
    with pytest.raises(ValueError, match="two computations"):
        Computations(Computation("a", module, "f"), Computation("a", module, "g"))
    with pytest.raises(ValueError, match="unknown source"):
        Computations(Computation("a", module, "f", source="b"))
    cycle = Computations(
        Computation("a", module, "f", source="b"), Computation("b", module, "g", source="a")
    )
    with pytest.raises(ValueError, match="cycle"):
        cycle.lineage("a")


def test_a_callbacks_filter_inputs_and_the_values_it_is_sent() -> None:
    inputs = FILTERS.inputs()
    assert list(inputs) == list(FILTERS)
    assert inputs["period"] == (Input("period", "start_date"), Input("period", "end_date"))
    assert inputs["region"] == Input("region", "value")

    sent = [{"id": "period", "property": "start_date", "value": "2024-01-01"}]
    sent += [{"id": "period", "property": "end_date", "value": None}]
    sent += [
        {"id": f, "property": "value", "value": v} for f, v in defaults().items() if f != "period"
    ]
    assert FILTERS.sent(sent) == {**defaults(), "period": ["2024-01-01", None]}
    # A callback that does not take every filter is not sent filter values.
    assert FILTERS.sent([d for d in sent if d["id"] != "year"]) is None
