"""A new spec file is written without tomlkit, and its text is the one tomlkit writes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import tomlkit
from hypothesis import given
from hypothesis import strategies as st

from dashsignal_cli import specfile
from dashsignal_cli.answers import NewProject
from dashsignal_cli.spec import AppSpec, CacheSpec, FilterSpec, Spec, StageSpec, ViewSpec
from dashsignal_cli.specfile import dump_spec, parse_spec_text, toml_value


def tomlkit_dump_spec(spec: Spec) -> str:
    """What dump_spec wrote with tomlkit before it wrote the text itself: the reference."""
    document = tomlkit.document()
    for line in specfile._HEADER.splitlines():
        document.add(tomlkit.comment(line))
    document.add(tomlkit.nl())
    app = tomlkit.table()
    app.add("name", spec.app.name)
    app.add("title", spec.app.title)
    pattern = tomlkit.item(spec.app.pattern)
    pattern.comment("signal: compute once, signal the views | memoize: views read the cache")
    app.add("pattern", pattern)
    background = tomlkit.item(spec.app.background)
    background.comment("true: compute in a Dash background callback")
    app.add("background", background)
    document.add("app", app)
    cache = tomlkit.table()
    for key, comment in (
        ("backend", "filesystem | redis | simple | null"),
        ("timeout", "seconds an entry is kept"),
        ("lock_timeout", "longest wait for another worker's computation (s)"),
        ("new_per_minute", "cap on new computations a minute; 0: none"),
    ):
        cache.add(key, getattr(spec.cache, key))
        cache[key].comment(comment)
    if spec.cache.version_check != CacheSpec.version_check:
        cache.add("version_check", spec.cache.version_check)
        cache["version_check"].comment("seconds between two runs of data_version() per process")
    document.add("cache", cache)
    data = tomlkit.table()
    for key, comment in specfile.data_comments(spec.data).items():
        data.add(key, getattr(spec.data, key))
        data[key].comment(comment)
    document.add("data", data)
    if spec.filters:
        filters = tomlkit.aot()
        for item in spec.filters:
            filters.append(_filter_table(item))
        document.add("filters", filters)
    if spec.stages:
        stages = tomlkit.aot()
        for stage in spec.stages:
            table = tomlkit.table()
            table.add("id", stage.id)
            table.add("source", stage.source)
            table["source"].comment(specfile._STAGE_SOURCE_COMMENT)
            table.add("title", stage.title)
            stages.append(table)
        document.add("stages", stages)
    views = tomlkit.aot()
    for view in spec.views:
        table = tomlkit.table()
        table.add("id", view.id)
        table.add("kind", view.kind)
        table.add("title", view.title)
        if view.source != "query":
            table.add("source", view.source)
        if view.interval is not None:
            table.add("interval", view.interval)
            table["interval"].comment(specfile._INTERVAL_COMMENT)
        views.append(table)
    document.add("views", views)
    return tomlkit.dumps(document)


def _filter_table(item: FilterSpec) -> Any:
    table = tomlkit.table()
    table.add("id", item.id)
    table.add("kind", item.kind)
    table.add("label", item.label)
    if item.column is not None:
        table.add("column", item.column)
    if item.is_choice:
        table.add("options", list(item.options))
    else:
        table.add("min", item.min)
        table.add("max", item.max)
        if item.step is not None:
            table.add("step", item.step)
    if item.default is not None:
        table.add("default", item.default)
    return table


SPECS = {
    "demo": NewProject.from_flags("demo").spec(),
    "memoize": NewProject.from_flags("memo", pattern="memoize", cache="null").spec(),
    "sql": NewProject.from_flags("shop", data="sql").spec(),
    "pandas": NewProject.from_flags("own", data="pandas").spec(),
    "version_check": dataclasses.replace(
        NewProject.from_flags("fresh").spec(), cache=CacheSpec(version_check=5)
    ),
    "every_kind": NewProject.from_flags(
        "every_kind",
        title='A "quoted" \\ title\twith a tab, é and ✓',
        views=["a:graph", "t:table@own", "i:indicator@live/2.5", "w:graph@weekly"],
        filters=[
            "d:dropdown=1,2,x",
            "m:multi",
            "c2:checklist",
            "r:radio=2023,2024",
            "f:range=0.5..9.5",
            "y:range",
            "p:dates",
        ],
        data="sql",
        stages=["daily", "weekly:daily"],
        cache="redis",
        timeout=0,
        background=True,
    ).spec(),
}


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_a_spec_is_written_as_tomlkit_writes_it(spec: Spec) -> None:
    assert dump_spec(spec) == tomlkit_dump_spec(spec)
    assert parse_spec_text(dump_spec(spec)) == spec


text = st.text(st.characters(codec="utf-8"), max_size=12)
scalar = st.one_of(
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
    st.dates(),
)
value = st.one_of(scalar, st.lists(scalar, max_size=4))


@given(value)
def test_a_value_is_written_as_tomlkit_writes_it(item: Any) -> None:
    assert toml_value(item) == tomlkit.item(item).as_string()


@given(
    name=text,
    title=text,
    label=text,
    options=st.lists(st.one_of(text, st.integers()), min_size=1, max_size=3),
    low=st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.dates()),
    view_title=text,
    interval=st.one_of(st.none(), st.integers(1, 60), st.floats(0.5, 60)),
)
def test_any_spec_is_written_as_tomlkit_writes_it(
    name: str,
    title: str,
    label: str,
    options: list[Any],
    low: Any,
    view_title: str,
    interval: float | None,
) -> None:
    kind = "dates" if isinstance(low, dt.date) else "range"
    spec = Spec(
        AppSpec(name, title),
        CacheSpec(),
        (
            FilterSpec("c", "dropdown", label, options=tuple(options), default=options[0]),
            FilterSpec("m", "multi", label, options=tuple(options), default=[]),
            FilterSpec("r", kind, label, min=low, max=low, default=[low, low]),
        ),
        (ViewSpec("v", "graph", view_title, "live" if interval else "query", interval),),
        (StageSpec("s", "query", title),),
    )
    assert dump_spec(spec) == tomlkit_dump_spec(spec)


def test_a_value_a_spec_cannot_hold_is_a_bug() -> None:
    with pytest.raises(TypeError):
        toml_value(dt.datetime(2025, 1, 1))
    with pytest.raises(TypeError):
        toml_value({"a": 1})
