"""What `dashsignal check` reports: every way a project can be off, from a sync plan."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from dashsignal_cli.manifest import BASE_DIR, MANIFEST_DIR
from dashsignal_cli.planner import Action
from dashsignal_cli.project import leftover_files, links_outside
from dashsignal_cli.render import Owner
from dashsignal_cli.sync import SyncPlan

__all__ = ["Finding", "find_problems"]

_OUT_OF_DATE = {
    Action.CREATE: "missing: would be created",
    Action.UPDATE: "out of date (spec or dashsignal version): would be updated",
    Action.MERGE: "out of date: would be updated, merging your edits",
    Action.DELETE: "no longer produced by dashsignal.toml: would be deleted",
}
_RISKY_BACKENDS = {
    "simple": "cache backend 'simple' keeps entries in one process's memory: under gunicorn "
    "with several workers each worker computes on its own; use 'filesystem' or 'redis'",
    "null": "cache backend 'null' switches caching off: every view runs the query itself",
}


@dataclass(frozen=True)
class Finding:
    code: str
    path: str | None
    message: str


def find_problems(result: SyncPlan) -> list[Finding]:
    """Everything off in the project, in a stable order; empty when all is well."""
    findings: list[Finding] = []
    for change in result.plan.changes:
        if change.action is Action.CONFLICT:
            findings.append(Finding("conflict", change.path, change.note))
        elif change.owner is not Owner.SPEC and change.action in _OUT_OF_DATE:
            findings.append(Finding("out-of-date", change.path, _OUT_OF_DATE[change.action]))
        elif change.action is Action.KEEP:
            code = "orphan" if change.owner is Owner.USER else "stale"
            findings.append(Finding(code, change.path, change.note))
        if change.edited and change.action is not Action.CONFLICT:
            findings.append(Finding("edited", change.path, "generated file edited by hand"))
    if not findings and result.plan.records:
        findings.append(
            Finding("out-of-date", ".dashsignal/", "dashsignal's records are out of date")
        )
    findings.extend(_left_on_disk(result))
    findings.extend(_views_of_another_kind(result))
    findings.extend(_missing_functions(result))
    risk = _RISKY_BACKENDS.get(result.spec.cache.backend)
    if risk:
        findings.append(Finding("risky", "dashsignal.toml", risk))
    return findings


# Folders a later command may write in even when nothing of the spec is in them yet.
_FOLDERS = ("views", "stages", MANIFEST_DIR, BASE_DIR)


def _left_on_disk(result: SyncPlan) -> list[Finding]:
    """Temporary files no journal accounts for, and paths that lead outside the project.

    A journal's own files are dealt with before the check (see `writer.recover`); these are
    left by something else, such as a dashsignal from before journals killed half way.
    """
    paths = result.plan.paths()
    folders = {"", MANIFEST_DIR, *(p.rpartition("/")[0] for p in paths)}
    findings = [
        Finding(
            "leftover",
            path,
            "temporary file of a write that was interrupted before dashsignal kept a journal: "
            "compare it with the file beside it, keep what you need, delete it",
        )
        for path in leftover_files(result.root, folders)
    ]
    # A file of yours may be a link (we never write it once it exists); no folder may be.
    ours = [c.path for c in result.plan.changes if c.owner is not Owner.USER]
    watched = [*ours, *result.plan.written_paths(), *(f for f in folders if f), *_FOLDERS]
    findings.extend(
        Finding("outside", path, f"{why}: dashsignal refuses to write there")
        for path, why in links_outside(result.root, dict.fromkeys(watched)).items()
    )
    return findings


# What `render` returns in the module we write for each kind of view.
_RETURNS = {"graph": ("Figure",), "table": ("pd.DataFrame", "DataFrame"), "indicator": ("str",)}


def _views_of_another_kind(result: SyncPlan) -> list[Finding]:
    """View modules written for another kind than the spec now declares (graph -> table...)."""
    texts = {c.path: c.before for c in result.plan.changes if c.owner is Owner.USER}
    findings = []
    for view in result.spec.views:
        path = f"views/{view.id}.py"
        returns = _render_return_annotation(texts.get(path))
        if returns is not None and returns not in _RETURNS[view.kind]:
            findings.append(
                Finding(
                    "kind",
                    path,
                    f"render() returns {returns}, but '{view.id}' is now a {view.kind} view: "
                    "rewrite render(), or delete the file to get a fresh one",
                )
            )
    return findings


def _missing_functions(result: SyncPlan) -> list[Finding]:
    """User modules that lack the function the wiring now calls in them.

    User modules are written once, so a stage module emptied by hand, or a view whose source
    was changed to own or live after its module was written, keeps the old shape.
    """
    texts = {c.path: c.before for c in result.plan.changes if c.owner is Owner.USER}
    findings = []
    for stage in result.spec.stages:
        path = f"stages/{stage.id}.py"
        if _lacks(texts.get(path), "derive"):
            findings.append(
                Finding(
                    "function",
                    path,
                    f"no derive(data) function, which computes stage '{stage.id}': add it, "
                    "or delete the file to get a fresh one",
                )
            )
    for view in result.spec.views:
        path = f"views/{view.id}.py"
        if not view.reads_cache and _lacks(texts.get(path), "compute"):
            what = "an own view, with its own cached computation" if view.is_own else "a live view"
            findings.append(
                Finding(
                    "function",
                    path,
                    f"no compute(filters) function, but '{view.id}' is now {what}: add "
                    "compute(), or delete the file to get a fresh one",
                )
            )
    return findings


def _lacks(text: str | None, name: str) -> bool:
    """True when `text` parses and defines, assigns or imports no top-level `name`."""
    if text is None:
        return False
    try:
        module = ast.parse(text)
    except SyntaxError:
        return False  # reported by the project's own tests and linters, not guessed at here
    for node in module.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return False
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return False
        if isinstance(node, ast.Import | ast.ImportFrom) and any(
            (alias.asname or alias.name) == name for alias in node.names
        ):
            return False
    return True


def _render_return_annotation(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        module = ast.parse(text)
    except SyntaxError:
        return None
    for node in module.body:
        if isinstance(node, ast.FunctionDef) and node.name == "render" and node.returns:
            return ast.unparse(node.returns)
    return None
