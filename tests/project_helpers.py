"""Builders shared by dashsignal's own tests: specs from short forms, generated projects."""

from __future__ import annotations

from pathlib import Path

from dashsignal_cli.answers import build_spec_data, parse_filter_arg, parse_view_arg
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
        )
    )


def generate(target: Path, spec: Spec) -> Path:
    """Write the project of `spec` into `target` as `dashsignal new` does."""
    create_project(target, new_project_files(spec))
    return target
