"""The library side of every command that changes a project: spec edit -> render -> plan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dashsignal_cli.manifest import Manifest
from dashsignal_cli.planner import Plan, plan_changes
from dashsignal_cli.render import GeneratedFile, Owner, demo_columns, render, render_project
from dashsignal_cli.spec import Spec
from dashsignal_cli.specfile import SPEC_FILENAME, SpecFile, read_spec_file

__all__ = ["SpecChange", "SyncPlan", "new_project_files", "plan_sync"]

# A change of the spec file as read (spec_edit.AddEntry, RemoveEntry): the next file, its model
# derived without reading the text again.
SpecChange = Callable[[SpecFile], SpecFile]
# An edit of the bare text: the edited text is read again.
SpecEdit = Callable[[str], str]


@dataclass(frozen=True)
class SyncPlan:
    root: Path
    spec: Spec
    plan: Plan
    # The manifest on disk before the plan: what generated the project, and when.
    manifest: Manifest = field(default_factory=Manifest)


def new_project_files(spec: Spec) -> dict[str, GeneratedFile]:
    """Everything `dashsignal new` writes: the project, its spec file, manifest and base copies."""
    demo = demo_columns(spec)
    rendered = render_project(spec, demo)
    # Planned against an empty folder: every file is created, and the planner decides, as it does
    # for every regeneration, what the manifest and the base copies in .dashsignal/ hold.
    plan = plan_changes(rendered, lambda path: None, Manifest(), demo)
    records = {
        path: GeneratedFile(text, Owner.MANAGED)
        for path, text in plan.records.items()
        if text is not None  # nothing to delete in an empty folder
    }
    return dict(sorted({**rendered, **records}.items()))


def plan_sync(
    root: Path,
    edit: SpecEdit | None = None,
    *,
    change: SpecChange | None = None,
    force: bool = False,
) -> SyncPlan:
    """Plan bringing the project at `root` in line with its spec, after `change` of the spec
    (or `edit` of its text).

    The spec text is read and validated once, before the change, so that an error points at the
    user's text. Nothing is written: an invalid spec raises here, before the writer is involved.
    """
    from dashsignal_cli.project import ProjectFiles  # reading a project: not `dashsignal new`

    files = ProjectFiles(root)
    manifest = files.manifest()
    current = read_spec_file(files.spec_text)
    if change is not None:
        current = change(current)
    elif edit is not None:
        current = read_spec_file(edit(current.text))
    spec = current.spec
    demo = manifest.demo or demo_columns(spec)
    rendered = render(spec, demo)
    rendered[SPEC_FILENAME] = GeneratedFile(current.text, Owner.SPEC)
    plan = plan_changes(rendered, files.read, manifest, demo, force=force)
    return SyncPlan(root, spec, plan, manifest)
