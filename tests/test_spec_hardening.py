"""Spec rules from the hardening issue: ids that clash with modules, bounded filter states.

The spec is the one place these rules are checked; the flags, the prompts and the spec file
all reach it. The CLI side (one-line errors, nothing written) is in test_cli_hardening.py.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
from typing import Any

import pytest

from dashsignal_cli.answers import (
    build_spec_data,
    filter_from_flags,
    parse_filter_arg,
    parse_stage_arg,
    parse_view_arg,
    stage_from_flags,
    view_from_flags,
)
from dashsignal_cli.errors import DashsignalError, SpecError
from dashsignal_cli.render import render
from dashsignal_cli.spec import (
    MAX_DATE_PAIRS,
    MAX_DATE_SPAN_DAYS,
    MAX_ID,
    MAX_RANGE_STEPS,
    RESERVED_IDS,
    spec_from_data,
)

BASE: dict[str, Any] = {
    "app": {"name": "shop"},
    "filters": [{"id": "region", "kind": "dropdown", "options": ["North", "South"]}],
    "stages": [{"id": "daily", "source": "query"}],
    "views": [{"id": "sales", "kind": "graph"}],
}

CLASHING = [
    "__init__",
    "__main__",
    "__pycache__",
    "__all__",
    "signaling",
    "views",
    "stages",
    "tests",
    "data",
    "app",
    "conftest",
    "dash",
    "pandas",
    "plotly",
    "flask",
    "flask_caching",
    "dash_ag_grid",
    "numpy",
    "json",
    "logging",
    "Pandas",  # case-insensitive file systems
]


def spec_with_id(table: str, identifier: str) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data[table][0]["id"] = identifier
    if table == "stages":
        data["views"].append({"id": "trend", "source": identifier})
    return data


@pytest.mark.parametrize("identifier", CLASHING)
@pytest.mark.parametrize("table", ["filters", "stages", "views"])
def test_an_id_that_clashes_with_a_module_is_refused_in_the_spec(
    table: str, identifier: str
) -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_data(spec_with_id(table, identifier))
    assert caught.value.message.startswith(f"{table}[0].id: id {identifier!r} is ")
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("identifier", ["class", "match", "_", "None"])
def test_python_keywords_are_refused_as_ids(identifier: str) -> None:
    with pytest.raises(SpecError, match="keyword"):
        spec_from_data(spec_with_id("views", identifier))


@pytest.mark.parametrize("identifier", ["sales_data", "my_views", "_private", "dash_view", "x"])
def test_names_near_the_reserved_ones_are_fine(identifier: str) -> None:
    spec_from_data(spec_with_id("views", identifier))


@pytest.mark.parametrize(
    "make",
    [
        lambda: parse_view_arg("__init__:graph"),
        lambda: parse_view_arg("pandas@own"),
        lambda: view_from_flags("__main__", "graph"),
        lambda: parse_filter_arg("dash:dropdown=a,b"),
        lambda: filter_from_flags("views", "range"),
        lambda: parse_stage_arg("signaling"),
        lambda: stage_from_flags("tests"),
    ],
    ids=["--view", "--view@own", "add-view", "--filter", "add-filter", "--stage", "add-stage"],
)
def test_every_way_an_id_enters_refuses_a_clash(make: Any) -> None:
    with pytest.raises(DashsignalError, match="reserved|dunder"):
        make()


def test_the_prompts_refuse_a_clashing_id() -> None:
    from dashsignal_cli.commands.prompts import _filter_list, _view_list

    with pytest.raises(DashsignalError, match="dunder"):
        _view_list("sales __init__", ())
    with pytest.raises(DashsignalError, match="reserved"):
        _filter_list("region plotly:multi", (), ())


def test_an_overlong_id_is_refused_with_its_length_and_the_limit() -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_data(spec_with_id("views", "v" * 300))
    assert f"300 characters long; at most {MAX_ID}" in caught.value.message
    assert "v" * 30 not in caught.value.message  # the id itself is cut short
    spec_from_data(spec_with_id("views", "v" * MAX_ID))


def _full_variants() -> list[dict[str, Any]]:
    views = [
        parse_view_arg(v)
        for v in ("sales:graph", "rows:table", "total:indicator", "f@own", "t@live/5", "d@daily")
    ]
    filters = [
        parse_filter_arg(f)
        for f in ("region", "tags:multi", "c:checklist", "r:radio", "y:range", "p:dates")
    ]
    stages = [parse_stage_arg("daily"), parse_stage_arg("weekly:daily")]
    variants = []
    for pattern, background, backend in [
        ("signal", True, "redis"),
        ("signal", True, "filesystem"),
        ("memoize", False, "simple"),
    ]:
        variants.append(
            build_spec_data(
                name="shop",
                title=None,
                views=views,
                filters=filters,
                backend=backend,
                timeout=300,
                background=background,
                pattern=pattern,
                stages=stages,
            )
        )
    return variants


@pytest.mark.parametrize("data", _full_variants(), ids=["background-redis", "background", "memo"])
def test_reserved_ids_cover_every_module_a_project_has_and_imports(data: dict[str, Any]) -> None:
    """When a template gains a module or an import, this names what RESERVED_IDS lacks."""
    spec = spec_from_data(data)
    files = render(spec)
    entry_modules = {f"views/{v.id}.py" for v in spec.views} | {
        f"stages/{s.id}.py" for s in spec.stages
    }
    has: set[str] = set()
    imports: set[str] = set()
    for path, item in files.items():
        top = path.split("/")[0]
        if "/" in path and f"{top}/__init__.py" in files:
            has.add(top)  # a package
        elif path.endswith(".py") and "/" not in path:
            has.add(path.split(".")[0])  # gunicorn.conf.py: a file, under gunicorn's name
        if path.endswith("/conftest.py"):
            has.add("conftest")
        if path.endswith(".py") and path not in entry_modules:
            for node in ast.walk(ast.parse(item.text)):
                if isinstance(node, ast.Import):
                    imports.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imports.add(node.module.split(".")[0])
    assert has - RESERVED_IDS == set()
    assert {name for name in imports if not name.startswith("__")} - RESERVED_IDS == set()


# --- bounded filter states -------------------------------------------------------------------


def range_spec(**keys: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["filters"] = [{"id": "price", "kind": "range", **keys}]
    return data


@pytest.mark.parametrize(
    ("keys", "steps"),
    [
        ({"min": 0, "max": 1, "step": 1e-300}, "1e+300"),
        ({"min": 0, "max": 1, "step": 0.0001}, "1e+04"),
        ({"min": 0, "max": 100_000, "step": 1}, "1e+05"),
        ({"min": -1e300, "max": 1e300, "step": 1e290}, "2e+10"),
    ],
)
def test_a_range_with_more_steps_than_the_bound_is_refused(
    keys: dict[str, Any], steps: str
) -> None:
    with pytest.raises(SpecError) as caught:
        spec_from_data(range_spec(**keys))
    message = caught.value.message
    assert message.startswith(f"filters[0].step: {keys['step']!r} gives {steps} steps")
    assert f"at most {MAX_RANGE_STEPS} steps" in message


def test_a_range_whose_width_overflows_is_refused() -> None:
    with pytest.raises(SpecError, match="too large"):
        spec_from_data(range_spec(min=-1.7e308, max=1.7e308))


@pytest.mark.parametrize(
    ("keys", "step"),
    [
        ({"min": 0, "max": 1, "step": 0.001}, 0.001),  # exactly the bound, despite rounding
        ({"min": 0.0, "max": 1.0}, 0.01),  # the default step of a float range: 100 steps
        ({"min": 2019, "max": 2025}, 1),  # whole numbers: step 1 while it fits
        ({"min": 0, "max": 1000}, 1),
        ({"min": 0, "max": 1001}, 2),  # then the smallest whole step within the bound
        ({"min": 0, "max": 1_000_000}, 1000),
    ],
)
def test_ranges_within_the_bound_and_their_default_steps(keys: dict[str, Any], step: Any) -> None:
    (price,) = spec_from_data(range_spec(**keys)).filters
    assert price.step == step
    assert price.max - price.min <= MAX_RANGE_STEPS * price.step  # type: ignore[operator]


@pytest.mark.parametrize("values", ["0..1", "0..5000", "-1000000..1000000", "0.5..0.75"])
def test_range_flags_get_a_step_within_the_bound(values: str) -> None:
    price = parse_filter_arg(f"price:range={values}")
    spec_from_data(range_spec(min=price.min, max=price.max))


def test_a_dates_filter_spans_at_most_ten_years() -> None:
    first = dt.date(2020, 1, 1)
    data = copy.deepcopy(BASE)
    data["filters"] = [
        {"id": "period", "kind": "dates", "min": first, "max": first + dt.timedelta(3653)}
    ]
    spec_from_data(data)
    data["filters"][0]["max"] = first + dt.timedelta(MAX_DATE_SPAN_DAYS + 1)
    with pytest.raises(SpecError) as caught:
        spec_from_data(data)
    assert caught.value.message == (
        "filters[0]: min (2020-01-01) to max (2030-01-02) spans 3654 days; a dates filter spans "
        "at most 3653 days (ten years: 6,677,685 (from, to) pairs, each its own cache entry)"
    )
    assert MAX_DATE_PAIRS == 6_677_685


def test_a_dates_flag_over_the_bound_names_the_flag() -> None:
    with pytest.raises(SpecError) as caught:
        parse_filter_arg("period:dates=2000-01-01..2025-12-31")
    assert caught.value.message.startswith(
        "filter 'period:dates=2000-01-01..2025-12-31': min (2000-01-01) to max (2025-12-31) "
        "spans 9496 days; a dates filter spans at most 3653 days"
    )
