"""What the CLI prints after writing: a tree of the files and the next commands."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.tree import Tree

from dashsignal_cli.console import out
from dashsignal_cli.writer import MANIFEST_DIR

__all__ = ["report_created"]


def report_created(target: Path, written: list[str]) -> None:
    """Print the created project as a tree, then how to run it."""
    console = out()
    tree = Tree(f"[bold green]created[/] [bold]{escape(str(target))}/[/]")
    branches: dict[str, Tree] = {}
    shown = [path for path in written if not path.startswith(MANIFEST_DIR + "/")]
    for path in shown:
        parent: Tree = tree
        parts = path.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in branches:
                branches[folder] = parent.add(f"[bold blue]{escape(parts[depth - 1])}/[/]")
            parent = branches[folder]
        parent.add(escape(parts[-1]))
    tree.add(f"[dim]{MANIFEST_DIR}/ (what dashsignal generated, for safe regeneration)[/]")
    console.print(tree)
    console.print()
    console.print("[bold]Next:[/]")
    console.print(f"  cd {escape(str(target))}")
    console.print("  pip install -r requirements-dev.txt")
    console.print("  python app.py            # http://127.0.0.1:8050")
    console.print("  python -m pytest         # the project's own tests")
