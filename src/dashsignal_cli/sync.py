"""The library side of every command that changes a project: spec edit -> render -> plan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dashsignal_cli.manifest import Manifest
from dashsignal_cli.planner import Plan, plan_changes
from dashsignal_cli.project import ProjectFiles
from dashsignal_cli.render import GeneratedFile, Owner, demo_columns, render, render_project
from dashsignal_cli.spec import Spec
from dashsignal_cli.specfile import SPEC_FILENAME, parse_spec_text

__all__ = ["SyncPlan", "new_project_files", "plan_sync"]

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


def plan_sync(root: Path, edit: SpecEdit | None = None, *, force: bool = False) -> SyncPlan:
    """Plan bringing the project at `root` in line with its spec, after `edit` of the spec text.

    Nothing is written: an invalid spec raises here, before the writer is involved.
    """
    files = ProjectFiles(root)
    manifest = files.manifest()
    if edit is not None:
        # The spec must be valid before our edit, so that an error points at the user's text.
        parse_spec_text(files.spec_text)
    spec_text = files.spec_text if edit is None else edit(files.spec_text)
    spec = parse_spec_text(spec_text)
    demo = manifest.demo or demo_columns(spec)
    rendered = render(spec, demo)
    rendered[SPEC_FILENAME] = GeneratedFile(spec_text, Owner.SPEC)
    plan = plan_changes(rendered, files.read, manifest, demo, force=force)
    return SyncPlan(root, spec, plan, manifest)
