"""Spec validation: what a valid spec becomes, and a named, one-line error for everything else."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from dashsignal_cli.errors import SpecError, SpecSyntaxError
from dashsignal_cli.spec import (
    DEFAULT_INTERVAL,
    MAX_INTERVAL,
    MIN_INTERVAL,
    check_project_name,
    humanize,
    spec_from_data,
)
from dashsignal_cli.specfile import dump_spec, parse_spec_text

VALID: dict[str, Any] = {
    "app": {"name": "shop", "title": "Shop"},
    "cache": {"backend": "redis", "timeout": 60},
    "filters": [
        {"id": "region", "kind": "dropdown", "label": "Region", "options": ["North", "South"]},
        {"id": "tags", "kind": "multi", "options": ["a", "b", 3]},
        {"id": "flags", "kind": "checklist", "options": ["x", "y"]},
        {"id": "year", "kind": "radio", "options": [2024, 2025], "default": 2025},
        {"id": "price", "kind": "range", "min": 0, "max": 10.5},
        {"id": "period", "kind": "dates", "min": dt.date(2025, 1, 1), "max": "2025-12-31"},
    ],
    "views": [
        {"id": "sales", "kind": "graph", "title": "Sales"},
        {"id": "rows", "kind": "table"},
        {"id": "total", "kind": "indicator"},
    ],
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    """VALID with the value at a dotted path (`filters.0.kind`) replaced; `...` deletes it."""
    data = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return data


def test_a_valid_spec_gets_its_defaults() -> None:
    spec = spec_from_data(VALID)
    filters = {f.id: f for f in spec.filters}
    assert filters["region"].default is None
    assert filters["tags"].default == []
    assert filters["flags"].default == ["x", "y"]
    assert filters["year"].default == 2025
    assert filters["price"].default == [0, 10.5] and filters["price"].step == 0.105
    assert filters["period"].default == [dt.date(2025, 1, 1), dt.date(2025, 12, 31)]
    assert filters["tags"].label == "Tags"
    assert [v.title for v in spec.views] == ["Sales", "Rows", "Total"]


def test_the_spec_file_round_trips() -> None:
    spec = spec_from_data(VALID)
    assert parse_spec_text(dump_spec(spec)) == spec


def test_the_written_spec_file_explains_itself() -> None:
    text = dump_spec(spec_from_data(VALID))
    assert text.startswith("# dashsignal project spec")
    assert "filesystem | redis | simple | null" in text


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("app.name", "my-app", "app.name: name 'my-app' is not a valid identifier"),
        ("app.name", "class", "is a Python keyword"),
        ("app.title", "   ", "app.title: must not be empty"),
        ("app.title", 3, "app.title: must be a string"),
        ("app.colour", "red", "app.colour: unknown key; allowed here: name, title, pattern"),
        ("cache.backend", "memcached", "allowed: filesystem, redis, simple, null"),
        ("cache.backend", "filesystemcache", "unknown cache backend"),
        ("cache.timeout", -1, "cache.timeout: must be a whole number of seconds"),
        ("cache.timeout", True, "cache.timeout"),
        ("cache.lock_timeout", 0, "cache.lock_timeout: must be a whole number of seconds"),
        ("cache.new_per_minute", -1, "cache.new_per_minute: must be a whole number from 0"),
        ("cache.new_per_minute", 1.5, "cache.new_per_minute"),
        ("cache.new_per_minute", True, "cache.new_per_minute"),
        ("filters.0.kind", "slider", "filters[0].kind: unknown filter kind 'slider'; allowed: "),
        ("filters.0.id", "2x", "filters[0].id: id '2x' is not a valid identifier"),
        ("filters.0.id", "sales", "duplicate id 'sales'"),
        ("filters.0.id", "Sales", "duplicate id 'sales' (same as 'Sales' ignoring case)"),
        ("filters.0.options", [], "filters[0].options: a dropdown filter needs a non-empty list"),
        ("filters.0.options", ["a", "a"], "filters[0].options[1]: duplicate option 'a'"),
        ("filters.0.options", [1.5], "options must be strings or whole numbers"),
        ("filters.0.options", [True], "options must be strings or whole numbers"),
        ("filters.0.default", "East", "filters[0].default: 'East' is not one of the options"),
        ("filters.1.default", ["zzz"], "filters[1].default: must be a list of some of the options"),
        ("filters.3.default", "2025", "filters[3].default: '2025' is not one of the options"),
        ("filters.4.min", 20, "filters[4]: min (20) must be less than max (10.5)"),
        ("filters.4.max", "ten", "filters[4].max: a range filter needs a number here"),
        ("filters.4.step", 0, "filters[4].step: must be greater than 0"),
        ("filters.4.default", [5, 1], "filters[4].default: from must not be after to"),
        ("filters.4.default", [-1, 1], "filters[4].default: -1 must be a number from 0 to 10.5"),
        ("filters.5.max", "2025-13-01", "filters[5].max: '2025-13-01' is not a date"),
        ("filters.5.max", "2024-01-01", "must be before max"),
        ("filters.5.options", ["a"], "filters[5].options: unknown key"),
        ("filters", [], "filters: a project needs at least one filter"),
        ("views", [], "views: a project needs at least one view"),
        ("views.0.kind", "pie", "views[0].kind: unknown view kind 'pie'; allowed: graph, table"),
        ("views.1.id", "sales", "duplicate id 'sales'"),
        ("views.1.id", "for", "views[1].id: id 'for' is a Python keyword"),
        ("views.1.title", "x" * 201, "views[1].title: at most 200 characters"),
        ("views", {"id": "x"}, "views: must be an array of tables"),
        ("app", ..., "app: missing [app] table"),
    ],
)
def test_invalid_specs_name_the_key_and_what_is_allowed(
    path: str, value: Any, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_data(with_change(path, value))
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_unknown_top_level_keys_are_refused() -> None:
    with pytest.raises(SpecError, match="pages: unknown key"):
        spec_from_data({**VALID, "pages": []})


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ('[app]\nname = "x"\ntitle = \n', "dashsignal.toml:3:9: "),
        ("[app\n", "dashsignal.toml:1:5: "),
        ('[app]\nname = "x"\n[app]\n', "dashsignal.toml:3:"),
    ],
)
def test_toml_syntax_errors_are_located_as_file_line_col(text: str, location: str) -> None:
    with pytest.raises(SpecSyntaxError) as caught:
        parse_spec_text(text)
    assert caught.value.message.startswith(location)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is empty"),
        ("  ", "is empty"),
        ("a/b", "contains a path separator"),
        ("a\\b", "contains a path separator"),
        ("..", "starts with a dot"),
        (".hidden", "starts with a dot"),
        ("/abs/app", "is an absolute path"),
        ("C:app", "is an absolute path"),
        ("1app", "starts with a digit"),
        ("class", "is a Python keyword"),
        ("match", "is a Python keyword"),
        ("my-app", "is not a valid identifier"),
        ("café", "is not a valid identifier"),
    ],
)
def test_unusable_project_names_say_why(name: str, problem: str) -> None:
    with pytest.raises(SpecError, match=problem):
        check_project_name(name)


@pytest.mark.parametrize(
    ("raw", "human"), [("sales", "Sales"), ("sales_by_month", "Sales by month")]
)
def test_humanize(raw: str, human: str) -> None:
    assert humanize(raw) == human


# --- issue 4: the pattern, computed stages, and where each view's data comes from -----------

STAGED: dict[str, Any] = {
    **VALID,
    "stages": [
        {"id": "daily", "source": "query", "title": "Daily totals"},
        {"id": "weekly", "source": "daily"},
    ],
    "views": [
        {"id": "sales", "kind": "graph", "title": "Sales"},
        {"id": "by_day", "kind": "table", "source": "daily"},
        {"id": "by_week", "kind": "graph", "source": "weekly"},
        {"id": "forecast", "kind": "graph", "source": "own"},
        {"id": "ticker", "kind": "indicator", "source": "live", "interval": 10},
        {"id": "pulse", "kind": "indicator", "source": "live"},
    ],
}


def staged_with(path: str, value: Any) -> dict[str, Any]:
    """STAGED with the value at a dotted path replaced (`...` deletes it)."""
    data = copy.deepcopy(STAGED)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    key: Any = int(last) if last.isdigit() else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return data


def test_the_pattern_defaults_to_signal_and_memoize_is_accepted() -> None:
    assert spec_from_data(VALID).app.pattern == "signal"
    memoize = spec_from_data(with_change("app.pattern", "memoize"))
    assert memoize.app.pattern == "memoize" and memoize.app.background is False


def test_stages_and_view_sources_get_their_defaults() -> None:
    spec = spec_from_data(STAGED)
    assert [(s.id, s.source, s.title) for s in spec.stages] == [
        ("daily", "query", "Daily totals"),
        ("weekly", "daily", "Weekly"),
    ]
    views = {v.id: v for v in spec.views}
    assert (views["sales"].source, views["sales"].interval) == ("query", None)
    assert views["sales"].reads_cache and not views["sales"].is_own
    assert views["by_week"].source == "weekly" and views["by_week"].reads_cache
    assert views["forecast"].is_own and not views["forecast"].reads_cache
    assert views["ticker"].is_live and views["ticker"].interval == 10
    assert views["pulse"].interval == DEFAULT_INTERVAL
    assert spec.stage("weekly") == spec.stages[1] and spec.stage("nope") is None


def test_a_stage_without_source_derives_from_the_query() -> None:
    spec = spec_from_data(staged_with("stages.0.source", ...))
    assert spec.stages[0].source == "query"


@pytest.mark.parametrize(
    "declared",
    [
        [("c", "b"), ("b", "a"), ("a", "query")],
        [("b", "a"), ("c", "b"), ("a", "query")],
        [("a", "query"), ("c", "b"), ("b", "a")],
    ],
    ids=["child-first", "middle-first", "root-first"],
)
def test_ordered_stages_puts_each_stage_after_its_source(
    declared: list[tuple[str, str]],
) -> None:
    data = {**VALID, "stages": [{"id": i, "source": s} for i, s in declared]}
    spec = spec_from_data(data)
    assert [s.id for s in spec.stages] == [i for i, _ in declared]  # the file's order is kept
    assert [s.id for s in spec.ordered_stages()] == ["a", "b", "c"]


def test_ordered_stages_keeps_independent_branches_in_declared_order() -> None:
    data = {
        **VALID,
        "stages": [
            {"id": "leaf", "source": "left"},
            {"id": "right", "source": "query"},
            {"id": "left", "source": "query"},
        ],
    }
    assert [s.id for s in spec_from_data(data).ordered_stages()] == ["left", "leaf", "right"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("app.pattern", "signals", "app.pattern: unknown pattern 'signals'; allowed: signal, "),
        ("app.pattern", "Signal", "unknown pattern 'Signal'"),
        ("app.pattern", True, "app.pattern: unknown pattern True"),
        ("stages.0.source", "monthly", "stages[0].source: unknown stage 'monthly'; allowed: query"),
        ("stages.0.source", "own", "stages[0].source: unknown stage 'own'"),
        ("stages.0.source", 3, "stages[0].source: must be a non-empty string"),
        ("stages.0.source", "", "stages[0].source: must be a non-empty string"),
        ("stages.0.source", "daily", "stages: cycle daily -> daily"),
        ("stages.0.id", "query", "stages[0].id: 'query' is reserved"),
        ("stages.0.id", "own", "stages[0].id: 'own' is reserved"),
        ("stages.1.id", "live", "stages[1].id: 'live' is reserved"),
        ("stages.0.id", "2x", "stages[0].id: id '2x' is not a valid identifier"),
        ("stages.1.id", "daily", "duplicate id 'daily'"),
        ("stages.1.id", "Daily", "duplicate id 'Daily' (same as 'daily' ignoring case)"),
        ("stages.1.id", "region", "duplicate id 'region'"),
        ("stages.1.id", "sales", "duplicate id 'sales'"),
        ("views.0.id", "weekly", "duplicate id 'weekly'"),
        ("stages.0.title", "", "stages[0].title: must not be empty"),
        ("stages.0.kind", "graph", "stages[0].kind: unknown key; allowed here: id, source, title"),
        ("stages", {"id": "x"}, "stages: must be an array of tables"),
        ("stages.0", "daily", "stages[0]: must be a table"),
        ("views.1.source", "monthly", "views[1].source: unknown source 'monthly'; allowed: "),
        ("views.1.source", "Daily", "unknown source 'Daily'"),
        ("views.1.source", 1, "views[1].source: must be a non-empty string"),
        ("views.1.interval", 5, "views[1].interval: only a live view refreshes on an interval"),
        ("views.3.interval", 5, "views[3].interval: only a live view"),
        ("views.4.interval", 0, "views[4].interval: seconds between refreshes, from 0.5"),
        ("views.4.interval", 0.4, "views[4].interval: seconds between refreshes"),
        ("views.4.interval", -5, "views[4].interval"),
        ("views.4.interval", MAX_INTERVAL + 1, "views[4].interval"),
        ("views.4.interval", True, "views[4].interval: seconds between refreshes"),
        ("views.4.interval", "10", "views[4].interval"),
        ("views.4.interval", float("nan"), "views[4].interval"),
        ("views.4.interval", float("inf"), "views[4].interval"),
        ("views.4.interval", [10], "views[4].interval"),
    ],
)
def test_invalid_stages_and_sources_name_the_key_and_what_is_allowed(
    path: str, value: Any, message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_data(staged_with(path, value))
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_an_unknown_view_source_lists_every_allowed_source_and_explains_them() -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_data(staged_with("views.1.source", "monthly"))
    assert caught.value.message.endswith("allowed: query, own, live, daily, weekly")
    assert caught.value.hint is not None and "id of a stage" in caught.value.hint


def test_an_unknown_stage_source_lists_the_other_stages() -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_data(staged_with("stages.1.source", "monthly"))
    assert caught.value.message.endswith("allowed: query, daily")


@pytest.mark.parametrize(
    ("stages", "cycle"),
    [
        ([("a", "a")], "a -> a"),
        ([("a", "b"), ("b", "a")], "a -> b -> a"),
        ([("a", "b"), ("b", "c"), ("c", "a")], "a -> b -> c -> a"),
        ([("root", "query"), ("a", "b"), ("b", "c"), ("c", "b")], "b -> c -> b"),
    ],
    ids=["self", "two", "three", "cycle-below-a-valid-stage"],
)
def test_a_cycle_of_stages_is_named(stages: list[tuple[str, str]], cycle: str) -> None:
    data = {**VALID, "stages": [{"id": i, "source": s} for i, s in stages]}
    with pytest.raises(SpecError) as caught:
        spec_from_data(data)
    assert caught.value.message == f"stages: cycle {cycle}"
    assert caught.value.hint is not None and '"query"' in caught.value.hint


def test_a_background_compute_step_needs_the_signal_pattern() -> None:
    data = with_change("app.background", True)
    assert spec_from_data(data).app.background is True
    data["app"]["pattern"] = "memoize"
    with pytest.raises(SpecError) as caught:
        spec_from_data(data)
    assert caught.value.message.startswith("app.background: a background compute step needs")
    assert caught.value.hint is not None and "background = false" in caught.value.hint


@pytest.mark.parametrize("seconds", [MIN_INTERVAL, 1, 2.5, MAX_INTERVAL])
def test_live_intervals_within_bounds_are_kept_as_given(seconds: float) -> None:
    spec = spec_from_data(staged_with("views.4.interval", seconds))
    interval = spec.views[4].interval
    assert interval == seconds and type(interval) is type(seconds)


def test_an_empty_stages_array_is_no_stage() -> None:
    assert spec_from_data({**VALID, "stages": []}).stages == ()


def test_a_spec_with_stages_live_views_and_memoize_round_trips() -> None:
    for data in (STAGED, {**STAGED, "app": {**STAGED["app"], "pattern": "memoize"}}):
        spec = spec_from_data(data)
        text = dump_spec(spec)
        assert parse_spec_text(text) == spec
        assert dump_spec(parse_spec_text(text)) == text


def test_the_written_spec_shows_sources_only_where_they_are_not_the_default() -> None:
    text = dump_spec(spec_from_data(STAGED))
    assert 'pattern = "signal"' in text
    assert text.index("[[filters]]") < text.index("[[stages]]") < text.index("[[views]]")
    assert '[[views]]\nid = "sales"\nkind = "graph"\ntitle = "Sales"\n\n' in text
    pulse = 'id = "pulse"\nkind = "indicator"\ntitle = "Pulse"\nsource = "live"\ninterval = 5 '
    assert pulse in text
    assert text.count("interval =") == 2


def test_a_spec_without_stages_writes_no_stages_table() -> None:
    assert "[[stages]]" not in dump_spec(spec_from_data(VALID))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["filters"][0].update(kind="slider"), "kind in [[filters]]"),
        (lambda d: d["views"][0].update(kind="pie"), "kind in [[views]]"),
        (lambda d: d["cache"].update(timeout=-1), "timeout in [cache]"),
        (lambda d: d["app"].update(pattern="push"), "pattern in [app]"),
        (lambda d: d["app"].update(colour="red"), "[app]"),
    ],
    ids=["filters", "views", "cache", "app", "unknown-key"],
)
def test_a_spec_error_points_at_the_readme_section_of_its_key(change: Any, where: str) -> None:
    data = copy.deepcopy(VALID)
    change(data)
    with pytest.raises(SpecError) as caught:
        spec_from_data(data)
    hint = caught.value.hint
    assert hint is not None
    assert 'README.md, section "The spec file: dashsignal.toml"' in hint
    assert where in hint and "--help" not in hint
