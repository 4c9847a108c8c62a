"""The conditions of every kind of filter (dashsignal.sql, dashsignal.frames) keep exactly the
rows the filter means, on SQLite, DuckDB and PostgreSQL, through SQL text and Core alike, and
in a pandas frame: empty selections and open bounds are no condition, dates are whole days."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashsignal import Filter, Filters, InvalidFilters
from dashsignal.frames import apply_filters
from dashsignal.sql import conditions, filtered_text, where

from sql_helpers import (
    COLUMNS,
    EDGE_DAYS,
    FILTERS,
    NO_CONDITION,
    ONLY_CHOICES_AND_DATES,
    ROWS,
    Source,
    duckdb_source,
    frame,
    pandas_ids,
    reference,
    sqlalchemy_source,
)

SOURCES = ("sqlite", "duckdb", "postgresql")


@pytest.fixture(scope="module", params=SOURCES)
def source(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Source]:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        yield sqlalchemy_source("sqlite", f"sqlite:///{folder / 'sales.db'}")
    elif request.param == "duckdb":
        yield duckdb_source(folder / "sales.duckdb")
    else:
        yield sqlalchemy_source("postgresql", request.getfixturevalue("postgres_url"))


def _values(**changes: Any) -> dict[str, Any]:
    return {**NO_CONDITION, **changes}


def _filter_values() -> st.SearchStrategy[dict[str, Any]]:
    def choice(spec: Filter) -> st.SearchStrategy[Any]:
        if spec.kind == "dropdown":
            return st.none() | st.sampled_from(spec.options)
        if spec.kind == "radio":
            return st.sampled_from(spec.options)
        if spec.kind in ("multi", "checklist"):
            return st.lists(st.sampled_from(spec.options), unique=True)
        if spec.kind == "range":
            steps = round((spec.max - spec.min) / spec.step)
            pair = st.lists(st.integers(0, steps), min_size=2, max_size=2).map(sorted)
            return pair.map(lambda p: [spec.min + p[0] * spec.step, spec.min + p[1] * spec.step])
        day = st.none() | st.sampled_from(EDGE_DAYS)
        return st.tuples(day, day).map(
            lambda p: sorted(p) if None not in p else list(p)  # type: ignore[type-var]
        )

    return st.fixed_dictionaries({spec.id: choice(spec) for spec in FILTERS.values()})


# The cases where a mistake shows most: one kind at a time, on its edges.
CASES = {
    "dropdown": _values(region="North"),
    "dropdown of numbers": _values(store=2),
    "multi": _values(channels=["web", "phone"]),
    "checklist of one": _values(segments=["business"]),
    "radio": _values(tier="silver"),
    "range of integers": _values(year=[2020, 2020]),
    "range of floats": _values(discount=[0.15, 0.35]),
    "one day": _values(period=["2024-03-31", "2024-03-31"]),
    "one day of moments": _values(moment=["2024-03-31", "2024-03-31"]),
    "from a day on": _values(moment=["2024-04-01", None]),
    "until a day": _values(period=[None, "2024-03-31"]),
    "everything at once": _values(
        region="South", channels=["shop"], year=[2019, 2024], period=["2024-01-01", "2024-06-15"]
    ),
}


@pytest.mark.parametrize("core", [False, True], ids=["text", "core"])
@pytest.mark.parametrize("case", CASES)
def test_each_kind_keeps_the_rows_it_means(source: Source, case: str, core: bool) -> None:
    values = CASES[case]
    expected = reference(values)
    assert 0 < len(expected) < len(ROWS), "a case that keeps every row or none shows nothing"
    assert source.ids(values, core=core) == expected


@pytest.mark.parametrize("core", [False, True], ids=["text", "core"])
def test_empty_selections_and_open_bounds_are_no_condition(source: Source, core: bool) -> None:
    assert conditions(FILTERS, NO_CONDITION, ONLY_CHOICES_AND_DATES) == []
    # Every row, those with NULLs too: no condition at all, not one that NULL fails.
    assert source.ids(NO_CONDITION, ONLY_CHOICES_AND_DATES, core=core) == {
        row["id"] for row in ROWS
    }


def test_dates_are_half_open_whole_days(source: Source) -> None:
    values = _values(moment=["2024-03-31", "2024-03-31"])
    kept = source.ids(values, ONLY_CHOICES_AND_DATES, core=False)
    moments = {row["id"]: row["sold_at"] for row in ROWS}
    last_instant = dt.datetime(2024, 3, 31, 23, 59, 59, 999_999)
    assert {i for i, moment in moments.items() if moment == last_instant} <= kept
    assert {i for i, moment in moments.items() if moment == dt.datetime(2024, 3, 31)} <= kept
    assert not {i for i, moment in moments.items() if moment == dt.datetime(2024, 4, 1)} & kept
    last_of_day_before = dt.datetime(2024, 3, 30, 23, 59, 59, 999_999)
    assert not {i for i, moment in moments.items() if moment == last_of_day_before} & kept


@settings(max_examples=40, deadline=None)
@given(values=_filter_values(), core=st.booleans())
def test_any_filter_state_keeps_the_reference_rows(
    source: Source, values: dict[str, Any], core: bool
) -> None:
    assert source.ids(values, core=core) == reference(values)


def test_user_text_keeps_its_own_parameters_and_precedence(source: Source) -> None:
    # The conditions come in parentheses: NOT applies to all of them, and :year is the user's.
    query = filtered_text(
        "SELECT id FROM sales WHERE NOT {conditions} AND year = :year",
        FILTERS,
        _values(store=2, channels=["web"]),
        ONLY_CHOICES_AND_DATES,
    )
    expected = {
        row["id"]
        for row in ROWS
        if row["year"] == 2020 and not (row["store"] == 2 and row["channel"] == "web")
    }
    assert set(source.read(query, {"year": 2020})["id"].tolist()) == expected


# --- the pandas source ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_apply_filters_keeps_the_rows_each_kind_means(case: str) -> None:
    assert pandas_ids(CASES[case]) == reference(CASES[case])


@settings(max_examples=100, deadline=None)
@given(values=_filter_values())
def test_apply_filters_on_any_filter_state(values: dict[str, Any]) -> None:
    assert pandas_ids(values) == reference(values)


def test_apply_filters_keeps_the_order_and_the_index() -> None:
    data = frame().set_index(pd.Index(range(1000, 1000 + len(ROWS)))).iloc[::-1]
    everything = apply_filters(data, FILTERS, NO_CONDITION, ONLY_CHOICES_AND_DATES)
    assert everything.index.equals(data.index)
    some = apply_filters(data, FILTERS, _values(region="West"), ONLY_CHOICES_AND_DATES)
    assert some.index.tolist() == [i for i in data.index if data.loc[i, "region"] == "West"]


@pytest.mark.parametrize(
    "convert",
    [
        lambda s: s.astype(str).where(s.notna(), None),
        lambda s: pd.to_datetime(s),
        lambda s: pd.to_datetime(s).dt.tz_localize("Europe/Paris"),
    ],
    ids=["iso strings", "datetime64", "with a time zone"],
)
def test_apply_filters_reads_dates_in_every_form(convert: Any) -> None:
    data = frame()
    data["sold_at"] = convert(data["sold_at"])
    for day in ("2024-03-31", "2024-04-01"):
        values = _values(moment=[day, day])
        assert pandas_ids(values, data=data) == reference(values)


def test_apply_filters_refuses_a_column_the_frame_lacks() -> None:
    with pytest.raises(ValueError, match="no column sold_on"):
        pandas_ids(_values(), data=frame().drop(columns="sold_on"))


# --- what is refused before any SQL --------------------------------------------------------------


def test_values_are_validated_again() -> None:
    with pytest.raises(InvalidFilters):
        where(FILTERS, _values(region="Atlantis"), COLUMNS)
    with pytest.raises(InvalidFilters):
        pandas_ids(_values(year=[2019, 2099]))


def test_the_placeholder_is_needed_exactly_once() -> None:
    for sql in ("SELECT id FROM sales", "SELECT {conditions} WHERE {conditions}"):
        with pytest.raises(ValueError, match=r"\{conditions\} exactly once"):
            filtered_text(sql, FILTERS, NO_CONDITION, COLUMNS)


def test_columns_of_undeclared_filters_are_refused() -> None:
    with pytest.raises(ValueError, match="not declared: regoin"):
        where(FILTERS, NO_CONDITION, {**COLUMNS, "regoin": "region"})


def test_a_filter_id_that_is_no_column_name_must_be_mapped() -> None:
    filters = Filters(Filter("store-id", "dropdown", "Store", options=(1, 2)))
    with pytest.raises(ValueError, match="filter store-id: invalid column name 'store-id'"):
        where(filters, {"store-id": 1})
    assert where(filters, {"store-id": None}, {"store-id": "store"}) is not None


def test_each_source_imports_only_what_it_needs() -> None:
    code = (
        "import sys, dashsignal; assert 'sqlalchemy' not in sys.modules\n"
        "import dashsignal.frames; assert 'sqlalchemy' not in sys.modules\n"
        "import dashsignal.sql; assert 'duckdb' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
