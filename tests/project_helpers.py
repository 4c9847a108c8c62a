"""Builders shared by dashsignal's own tests: specs from short forms, generated projects."""

from __future__ import annotations

from pathlib import Path

from dashsignal_cli.answers import build_spec_data, parse_filter_arg, parse_view_arg
from dashsignal_cli.kinds import VIEW_KINDS
from dashsignal_cli.names import SIGNAL_ID, signal_id
from dashsignal_cli.spec import Spec, spec_from_data
from dashsignal_cli.sync import new_project_files
from dashsignal_cli.writer import create_project


def make_spec(
    name: str = "demo",
    *,
    views: tuple[str, ...] = ("sales:graph", "share:graph", "rows:table"),
    filters: tuple[str, ...] = ("region:dropdown", "year:range"),
    backend: str = "filesystem",
    timeout: int = 300,
    title: str | None = None,
    background: bool = False,
    pattern: str = "signal",
) -> Spec:
    """A validated spec from the same short forms the CLI flags take."""
    return spec_from_data(
        build_spec_data(
            name=name,
            title=title,
            views=[parse_view_arg(v) for v in views],
            filters=[parse_filter_arg(f) for f in filters],
            backend=backend,
            timeout=timeout,
            background=background,
            pattern=pattern,
        )
    )


def generate(target: Path, spec: Spec) -> Path:
    """Write the project of `spec` into `target` as `dashsignal new` does."""
    create_project(target, new_project_files(spec))
    return target


def expected_callback_graph(spec: Spec) -> dict[str, list[list[str]]]:
    """Each callback's output string and its inputs, as the spec says they must be."""
    filter_inputs = [
        [f.id, prop]
        for f in spec.filters
        for prop in (("start_date", "end_date") if f.kind == "dates" else ("value",))
    ]
    signalled = spec.app.pattern == "signal"
    expected: dict[str, list[list[str]]] = {}
    if signalled:
        expected[f"{SIGNAL_ID}.data"] = filter_inputs
        for stage in spec.stages:
            expected[f"{signal_id(stage.id)}.data"] = [[signal_id(stage.source), "data"]]
    for v in spec.views:
        # Dash names one output "id.prop", several "..id.prop1...id.prop2..".
        props = VIEW_KINDS[v.kind].outputs
        named = [f"{v.id}.{prop}" for prop in props]
        output = named[0] if len(named) == 1 else ".." + "...".join(named) + ".."
        if v.is_live:
            expected[output] = [*filter_inputs, [f"{v.id}-interval", "n_intervals"]]
        elif v.reads_cache and signalled:
            expected[output] = [[signal_id(v.source), "data"]]
        else:
            expected[output] = filter_inputs
    return {output: sorted(inputs) for output, inputs in expected.items()}
