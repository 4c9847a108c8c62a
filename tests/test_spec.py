"""Spec validation: what a valid spec becomes, and a named, one-line error for everything else."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from dashsignal_cli.errors import SpecError, SpecSyntaxError
from dashsignal_cli.spec import check_project_name, humanize, spec_from_data
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
        ("app.colour", "red", "app.colour: unknown key; allowed here: name, title"),
        ("cache.backend", "memcached", "allowed: filesystem, redis, simple, null"),
        ("cache.backend", "filesystemcache", "unknown cache backend"),
        ("cache.timeout", -1, "cache.timeout: must be a whole number of seconds"),
        ("cache.timeout", True, "cache.timeout"),
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
    with pytest.raises(SpecError, match="stages: unknown key"):
        spec_from_data({**VALID, "stages": []})


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
