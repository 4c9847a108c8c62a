"""What the CLI prints after writing: a tree of the files and the next commands.

Rich (about 20 ms to import) is imported where it prints; `dashsignal new` to a pipe prints
the very same text without it.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashsignal_cli.commands.console import out, plain_width
from dashsignal_cli.manifest import MANIFEST_DIR
from dashsignal_cli.planner import Action, Plan
from dashsignal_cli.render import Owner

if TYPE_CHECKING:
    from rich.tree import Tree

    from dashsignal_cli.checks import Finding
    from dashsignal_cli.spec import FilterSpec, Spec
    from dashsignal_cli.writer import Recovery

__all__ = [
    "report_check",
    "report_check_json",
    "report_created",
    "report_declined",
    "report_flow",
    "report_plan",
    "report_recovery",
    "report_unread_filter",
]


def escape(text: str) -> str:
    """Rich's `escape`: `text` printed as it is, not read as markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


# What a folder of the report holds: each file (None) and each folder ("NAME/": what it holds),
# in the order first written.
_Folder = dict[str, "_Folder | None"]


def report_created(target: Path, written: list[str]) -> None:
    """Print the created project as a tree, then how to run it."""
    files: _Folder = {}
    for path in written:
        if path.startswith(MANIFEST_DIR + "/"):
            continue
        *folders, name = path.split("/")
        folder = files
        for part in folders:
            child = folder.setdefault(part + "/", {})
            assert child is not None
            folder = child
        folder[name] = None
    records = f"{MANIFEST_DIR}/ (what dashsignal generated, for safe regeneration)"
    plain = _plain_created(target, files, records)
    if plain is not None:
        # What Rich prints to a pipe, in a few microseconds instead of an import of 20 ms.
        sys.stdout.write(plain)
        sys.stdout.flush()
        return
    from rich.tree import Tree

    def add(branch: Tree, folder: _Folder) -> None:
        for name, content in folder.items():
            if content is None:
                branch.add(escape(name))
            else:
                add(branch.add(f"[bold blue]{escape(name[:-1])}/[/]"), content)

    tree = Tree(f"[bold green]created[/] [bold]{escape(str(target))}/[/]")
    add(tree, files)
    tree.add(f"[dim]{records}[/]")
    console = out()
    console.print(tree)
    console.print()
    console.print("[bold]Next:[/]")
    for line in _next_lines(escape(str(target))):
        console.print(line)


def _next_lines(target: str) -> list[str]:
    return [
        f"  cd {target}",
        "  pip install -r requirements-dev.txt",
        "  python app.py            # http://127.0.0.1:8050",
        "  python -m pytest         # the project's own tests",
    ]


def _plain_created(target: Path, files: _Folder, records: str) -> str | None:
    """What Rich prints for report_created when it prints plain text and the text needs none
    of its work: no colour (not a terminal), no line cropped to the width, no markup, emoji
    code or character of another width. None otherwise: Rich prints it then."""
    width = plain_width()
    if width is None:
        return None
    lines = [f"created {target}/"]

    def add(folder: _Folder, prefix: str, last_entry: str | None = None) -> None:
        entries = [*folder.items(), *([(last_entry, None)] if last_entry else [])]
        for index, (name, content) in enumerate(entries):
            last = index == len(entries) - 1
            lines.append(prefix + ("└── " if last else "├── ") + name)
            if content is not None:
                add(content, prefix + ("    " if last else "│   "))

    add(files, "", records)
    texts = [str(target), *_names(files)]
    if any(not _inert(text) for text in texts) or any(len(line) > width for line in lines):
        return None
    return "\n".join([*lines, "", "Next:", *_next_lines(str(target))]) + "\n"


def _names(folder: _Folder) -> list[str]:
    names = list(folder)
    for content in folder.values():
        if content is not None:
            names += _names(content)
    return names


def _inert(text: str) -> bool:
    """Text Rich prints as it is: printable ASCII, no markup, no emoji code, no backslash."""
    return text.isascii() and text.isprintable() and not any(c in text for c in "[]:\\")


_STYLE = {
    Action.CREATE: "green",
    Action.UPDATE: "cyan",
    Action.MERGE: "cyan",
    Action.CONFLICT: "bold red",
    Action.REPLACE: "yellow",
    Action.DELETE: "magenta",
    Action.KEEP: "yellow",
}


def report_plan(plan: Plan, *, dry_run: bool, then: Callable[[], None] | None = None) -> None:
    """One line per file that changes or needs attention; unified diffs on a dry run.

    `then` prints what the command adds, before the dry run's last line.
    """
    console = out()
    shown = [c for c in plan.changes if c.action in _STYLE]
    if not shown and not plan.records:
        console.print("Nothing to do: the project is in line with dashsignal.toml.")
        if then is not None:
            then()
        return
    width = max((len(c.path) for c in shown), default=0)
    would = "would " if dry_run else ""
    for change in shown:
        verb = f"{would}{change.action.value}"
        note = change.note
        if change.backup:
            note = f"{note}; your version saved as {change.backup}"
        if change.owner is Owner.USER and change.action is Action.CREATE:
            note = note or "yours from now on"
        line = f"  [{_STYLE[change.action]}]{verb:<16}[/] {escape(change.path)}"
        if note:
            line += " " * (width - len(change.path)) + f"  [dim]{escape(note)}[/]"
        console.print(line)
        if dry_run and change.after is not None:
            _print_diff(change.path, change.before or "", change.after)
    if not shown:
        console.print(f"  {would}update dashsignal's records in {MANIFEST_DIR}/")
    if then is not None:
        then()
    if dry_run:
        console.print("[bold]Dry run:[/] nothing was written.")


def report_unread_filter(spec: FilterSpec) -> None:
    """After add-filter: the user's data.py does not read the new filter, so it filters nothing."""
    from dashsignal_cli.checks import QUERY_MODULE, unread_filter_message

    console = out()
    console.print(
        f"[yellow]note:[/] {QUERY_MODULE} is yours and dashsignal never rewrites it, so the new "
        f"filter does nothing yet: {escape(unread_filter_message(spec))}. "
        "`dashsignal check` reports it until you do."
    )


def report_declined(command: str) -> None:
    """After "no" at the confirmation: nothing written, and the answers as one command line."""
    console = out()
    console.print("Nothing was written. The same project, without the questions:")
    console.print(f"  {escape(command)}")


def report_recovery(recovery: Recovery) -> None:
    """One line on standard error: what became of a write an earlier command left unfinished."""
    from dashsignal_cli.commands.console import err

    err().print(f"[yellow]recovered:[/] {escape(recovery.summary)}")


def report_check(
    findings: list[Finding], versions: dict[str, str | None], *, strict: bool = False
) -> None:
    """The findings of `dashsignal check`, one per line: problems, then notes, then versions."""
    console = out()
    problems = [f for f in findings if not f.note]
    notes = [f for f in findings if f.note]
    if not problems and not (strict and notes):
        also = f"; {len(notes)} note(s)" if notes else ""
        console.print(
            f"[green]check passed:[/] the project is valid and in line with its spec{also}."
        )
    for finding in problems:
        console.print(_finding_line(finding, "red"))
    if notes:
        fails = "they fail under --strict" if strict else "check passes with them, --strict fails"
        console.print(f"notes ({fails}):")
        for finding in notes:
            console.print(_finding_line(finding, "yellow"))
    console.print(f"[dim]{escape(_versions_line(versions))}[/]")


def _finding_line(finding: Finding, style: str) -> str:
    where = f"{escape(finding.path)}: " if finding.path else ""
    return f"  [{style}]{finding.code:<12}[/] {where}{escape(finding.message)}"


def _versions_line(versions: dict[str, str | None]) -> str:
    running, generated = versions["running"], versions["generated"]
    if generated is None:
        return f"dashsignal {running} running; no record of the version that generated the project"
    return f"dashsignal {running} running; the project was generated by dashsignal {generated}"


def report_check_json(
    findings: list[Finding], versions: dict[str, str | None], *, strict: bool = False
) -> None:
    """The findings as one JSON document on standard output, for scripts."""
    import json

    def items(selected: list[Finding]) -> list[dict[str, str | None]]:
        return [{"code": f.code, "path": f.path, "message": f.message} for f in selected]

    problems = [f for f in findings if not f.note]
    notes = [f for f in findings if f.note]
    document = {
        "ok": not problems and not (strict and notes),
        "strict": strict,
        "problems": items(problems),
        "notes": items(notes),
        "dashsignal": versions,
    }
    print(json.dumps(document, indent=2, ensure_ascii=False))


def report_flow(spec: Spec, output_format: str) -> None:
    """The data flow of `spec` as a Rich tree, Mermaid or JSON."""
    import json

    from dashsignal_cli.flow import data_flow, mermaid

    if output_format == "json":
        print(json.dumps(data_flow(spec), indent=2, ensure_ascii=False))
        return
    if output_format == "mermaid":
        print(mermaid(spec), end="")
        return
    from rich.tree import Tree

    flow = data_flow(spec)
    signal = flow["pattern"] == "signal"
    tree = Tree(f"[bold]{escape(spec.app.title)}[/] [dim]({flow['pattern']} pattern)[/]")
    filters = tree.add("[bold]filters[/]" if signal else "[bold]filters[/]: inputs of every view")
    for item in flow["filters"]:
        filters.add(f"{escape(item['id'])} [dim]({item['kind']})[/]")
    compute = flow["compute"]
    where = ", background" if compute["background"] else ""
    detail = f"[dim]({compute['cache']}{where})[/]"
    if signal:
        step = tree.add(f"[bold]compute_signal[/]: expensive_query once per change {detail}")
        top = step.add(f"[bold]signal[/] dcc.Store {compute['signal']}")
    else:
        top = tree.add(f"[bold]expensive_query[/], memoized: once per filter state {detail}")
    _add_readers(top, "query", flow, signal=signal)
    own = [v for v in flow["views"] if v["source"] == "own"]
    live = [v for v in flow["views"] if v["source"] == "live"]
    if own:
        branch = tree.add("[bold]own views[/]: each its own cached computation, from the filters")
        for item in own:
            branch.add(f"{_view_line(item)} {item['reads']}")
    if live:
        branch = tree.add("[bold]live views[/]: recomputed on an interval, not cached")
        for item in live:
            timer = item["interval"]
            ticks = f"every {timer['seconds']} s ({timer['id']})"
            branch.add(f"{_view_line(item)} {item['reads']} {ticks}")
    # Wrapped, not cropped (the console's soft wrap crops a tree): every id stays whole.
    out().print(tree, soft_wrap=False)


def _add_readers(branch: Tree, source: str, flow: dict[str, Any], *, signal: bool) -> None:
    """The views that read `source`, then its stages, each with what reads it in turn."""
    for item in flow["views"]:
        if item["source"] == source:
            branch.add(_view_line(item))
    for stage in flow["stages"]:
        if stage["source"] == source:
            label = f"[bold]stage {escape(stage['id'])}[/]: {stage['runs']}"
            if signal:
                node = branch.add(f"{label} once per change")
                node = node.add(f"[bold]signal[/] dcc.Store {stage['signal']}")
            else:
                node = branch.add(f"{label}, memoized, computed when read")
            _add_readers(node, stage["id"], flow, signal=signal)


def _view_line(item: dict[str, Any]) -> str:
    return f"{escape(item['id'])} [dim]({item['kind']}: {escape(item['title'])})[/]"


def _print_diff(path: str, before: str, after: str) -> None:
    from rich.text import Text

    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    text = Text()
    for line in lines:
        style = (
            "bold"
            if line.startswith(("---", "+++"))
            else "green"
            if line.startswith("+")
            else "red"
            if line.startswith("-")
            else "cyan"
            if line.startswith("@@")
            else ""
        )
        text.append(line if line.endswith("\n") else line + "\n", style=style)
    out().print(text, end="")
