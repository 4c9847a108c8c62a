"""Interactive questions for `dashsignal new`: every one has a default and is checked at once."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from rich.markup import escape
from rich.prompt import Confirm, IntPrompt, Prompt

from dashsignal_cli.answers import (
    DEFAULT_FILTERS,
    DEFAULT_VIEWS,
    NewProject,
    parse_filter_arg,
    parse_view_arg,
)
from dashsignal_cli.commands.console import out
from dashsignal_cli.errors import DashsignalError
from dashsignal_cli.kinds import FILTER_KINDS, VIEW_KINDS, VIEW_KINDS_OFFERED, filter_values_help
from dashsignal_cli.spec import (
    MAX_TIMEOUT,
    QUERY,
    FilterSpec,
    Origin,
    Spec,
    StageSpec,
    ViewSpec,
    check_entries,
    humanize,
)

__all__ = ["ask_new_project", "ask_project_name", "confirm_write", "filter_items"]

T = TypeVar("T")
_SEPARATORS = re.compile(r"[\s,]+")


def ask_project_name(directory: Path) -> str:
    """The project's name, when `new` was given none: checked at once, with the folder."""
    from dashsignal_cli.spec import check_project_name
    from dashsignal_cli.writer import check_target_free

    def parse(answer: str) -> str:
        name = answer.strip()
        check_project_name(name)
        check_target_free(directory / name)
        return name

    out().print("[bold]New dashsignal project[/]: its name is a Python identifier, and the folder")
    return _ask("Project name", "my_dashboard", parse)


def ask_new_project(request: NewProject, directory: Path) -> NewProject:
    """`request` with every answer the flags did not give asked for.

    Its stages are not asked for (they come from --stage only); views may read them.
    """
    console = out()
    name = request.name or ask_project_name(directory)
    console.print(
        f"[bold]New dashsignal project[/] [cyan]{escape(name)}[/]  (Enter takes the default)"
    )
    title = request.title
    if title is None:
        title = _ask("Dashboard title", humanize(name), _non_empty)
    pattern = request.pattern
    if pattern is None:
        pattern = _ask_choice("Pattern", _PATTERN_NOTES, default="signal")
    stages = request.stages
    views = request.views
    if views is None:
        _show_kinds(
            "Views are written ID:KIND, the kind by name or number",
            {n: VIEW_KINDS[n].describes for n in VIEW_KINDS_OFFERED},
        )
        _show_sources(stages)
        views = _ask("Views", " ".join(DEFAULT_VIEWS), lambda answer: _view_list(answer, stages))
    filters = request.filters
    if filters is None:
        _show_kinds(
            "Filters are written ID:KIND, the kind by name or number",
            {n: k.describes for n, k in FILTER_KINDS.items()},
        )
        out().print(
            "  Add =VALUES to give a filter's values at once: "
            f"{filter_values_help('=')} (e.g. price:range=10..100)"
        )
        checked = views
        given = _ask(
            "Filters",
            " ".join(DEFAULT_FILTERS),
            lambda answer: _filter_list(answer, stages, checked),
        )
        filters = tuple(item or _ask_filter_values(head) for head, item in given)
    backend = request.backend
    if backend is None:
        backend = _ask_choice("Cache backend", _BACKEND_NOTES, default="filesystem")
    timeout = request.timeout
    if timeout is None:
        timeout = _ask_timeout()
    return dataclasses.replace(
        request,
        name=name,
        title=title,
        pattern=pattern,
        views=views,
        filters=filters,
        backend=backend,
        timeout=timeout,
    )


def confirm_write(spec: Spec, target: Path) -> bool:
    """Show what will be created and ask before writing anything."""
    console = out()
    console.print()
    console.print(f"[bold]{escape(spec.app.title)}[/] in [cyan]{escape(str(target))}[/]")
    console.print(f"  pattern: {spec.app.pattern}")
    if spec.stages:
        console.print(
            "  stages:  " + escape(", ".join(f"{s.id} (from {s.source})" for s in spec.stages))
        )
    console.print("  views:   " + escape(", ".join(_view_summary(v) for v in spec.views)))
    console.print("  filters: " + escape(", ".join(_filter_summary(f) for f in spec.filters)))
    console.print(f"  cache:   {spec.cache.backend}, {spec.cache.timeout} s")
    return Confirm.ask("Create the project?", default=True, console=console)


def _filter_summary(spec: FilterSpec) -> str:
    """`region (dropdown: North, South)`, `year (range: 2019..2025)`: every value, as written."""
    if spec.is_choice:
        values = ", ".join(str(option) for option in spec.options)
    else:
        values = spec.values_written
    return f"{spec.id} ({spec.kind}: {values})"


def _view_summary(view: ViewSpec) -> str:
    if view.is_live:
        return f"{view.id} ({view.kind}, live every {view.interval} s)"
    if view.source != QUERY:
        return f"{view.id} ({view.kind}, from {view.source})"
    return f"{view.id} ({view.kind})"


_PATTERN_NOTES = {
    "signal": "one callback runs the query, a signal store triggers the views",
    "memoize": "each view reads the memoized query itself; no signal store",
}
_BACKEND_NOTES = {
    "filesystem": "several workers on one host, no server",
    "redis": "several hosts; needs a Redis server",
    "simple": "one process only, for development",
    "null": "no caching: every view runs the query",
}


def _ask_choice(question: str, choices: dict[str, str], default: str) -> str:
    """A numbered list with the default marked; the answer is a number or a name."""
    console = out()
    names = list(choices)
    console.print(f"{question}:")
    for number, name in enumerate(names, start=1):
        mark = "  [bold](default)[/]" if name == default else ""
        console.print(f"  {number}. {name:<11} [dim]{escape(choices[name])}[/]{mark}")

    def parse(answer: str) -> str:
        answer = answer.strip()
        if answer.isdigit() and 1 <= int(answer) <= len(names):
            return names[int(answer) - 1]
        if answer in choices:
            return answer
        raise DashsignalError(f"choose a number from 1 to {len(names)}, or a name")

    return _ask("Choose", str(names.index(default) + 1), parse)


def _ask(question: str, default: str, parse: Callable[[str], T]) -> T:
    """Ask until `parse` accepts the answer; show its error and ask again otherwise."""
    console = out()
    while True:
        answer = Prompt.ask(question, default=default, console=console)
        try:
            return parse(answer)
        except DashsignalError as error:
            console.print(f"[red]{escape(error.message)}[/]")


def _non_empty(answer: str) -> str:
    if not answer.strip():
        raise DashsignalError("please type something")
    return answer.strip()


def _show_kinds(intro: str, kinds: Mapping[str, str]) -> None:
    """The kinds and what each gives, numbered; the first is the default when no kind is given."""
    console = out()
    console.print(f"{intro}:")
    for number, (kind, describes) in enumerate(kinds.items(), start=1):
        mark = "  [bold](default)[/]" if number == 1 else ""
        console.print(f"  {number}. {kind:<10} [dim]{escape(describes)}[/]{mark}")


def _items(answer: str) -> list[str]:
    return [item for item in _SEPARATORS.split(answer.strip()) if item]


def _show_sources(stages: Sequence[StageSpec]) -> None:
    console = out()
    stage_ids = "".join(f", @{s.id}" for s in stages)
    console.print(
        "  Add @SOURCE for where a view's data comes from: @query (default), @own (its own "
        f"cached computation){escape(stage_ids)}, @live or @live/SECONDS (refreshed on an interval)"
    )


def _kind_by_number(item: str, kinds: Sequence[str]) -> str:
    """`rows:2` -> `rows:table` (the second kind); names and other numbers pass through as given."""
    head, colon, kind = item.partition(":")
    end = min((kind.index(mark) for mark in "=@" if mark in kind), default=len(kind))
    kind, rest = kind[:end], kind[end:]
    if colon and kind.isdigit() and 1 <= int(kind) <= len(kinds):
        kind = kinds[int(kind) - 1]
    return f"{head}{colon}{kind}{rest}"


def _view_list(answer: str, stages: tuple[StageSpec, ...]) -> tuple[ViewSpec, ...]:
    views = tuple(
        parse_view_arg(_kind_by_number(item, VIEW_KINDS_OFFERED)) for item in _items(answer)
    )
    if not views:
        raise DashsignalError("give at least one view")
    check_entries((), stages, views, Origin.FLAGS)
    return views


def _filter_list(
    answer: str, stages: tuple[StageSpec, ...], views: tuple[ViewSpec, ...]
) -> list[tuple[str, FilterSpec | None]]:
    """Each filter's `ID:KIND`, with the filter when the answer gave its values (`=VALUES`)."""
    items = [_kind_by_number(item, tuple(FILTER_KINDS)) for item in filter_items(answer)]
    if not items:
        raise DashsignalError("give at least one filter")
    filters = tuple(parse_filter_arg(item) for item in items)
    check_entries(filters, stages, views, Origin.FLAGS)
    return [
        (item.partition("=")[0], spec if "=" in item else None)
        for item, spec in zip(items, filters, strict=True)
    ]


def filter_items(answer: str) -> list[str]:
    """Split an answer to "Filters" into `ID[:KIND][=VALUES]` items, as the flags take them.

    Items are separated by spaces or commas, but the commas after `=` separate the values of
    that filter: `region store:dropdown=Paris,Lyon price:range=10..100` is three filters. A space
    after a value's comma, or around the `=`, continues the same filter.
    """
    items: list[str] = []
    for chunk in answer.split():
        last = items[-1] if items else ""
        continues = "=" in last and (last.endswith(("=", ",")) or chunk.startswith(","))
        if continues or (chunk.startswith("=") and last and "=" not in last):
            items[-1] += chunk
            continue
        head, equals, values = chunk.partition("=")
        ids = head.split(",")
        last_id = ids.pop() if equals else None
        items.extend(i for i in ids if i)
        if last_id is not None:
            items.append(f"{last_id}={values}")
    return items


def _ask_filter_values(head: str) -> FilterSpec:
    demo = parse_filter_arg(head)
    question = demo.described.question.format(id=demo.id)
    return _ask(
        question,
        demo.values_written,
        lambda values: parse_filter_arg(_with_values(head, values)),
    )


def _with_values(head: str, answer: str) -> str:
    """`head=VALUES` from an answer written VALUES, =VALUES or even ID[:KIND]=VALUES."""
    values = answer.strip()
    filter_id = head.partition(":")[0]
    for prefix in (f"{head}=", f"{filter_id}="):
        if values.startswith(prefix):
            values = values[len(prefix) :]
            break
    return f"{head}={values.removeprefix('=').strip()}"


def _ask_timeout() -> int:
    console = out()
    while True:
        value = IntPrompt.ask("Cache timeout in seconds", default=300, console=console)
        if 0 <= value <= MAX_TIMEOUT:
            return value
        console.print(f"[red]give a number of seconds from 0 to {MAX_TIMEOUT}[/]")
