"""Three-way merge of a managed file: the user's edits carried onto what the spec now produces."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CONFLICT_START", "MergeResult", "has_conflict_markers", "merge_three_way"]

CONFLICT_START = "<<<<<<< "
_CONFLICT_MIDDLE = "======="
_CONFLICT_END = ">>>>>>> "


@dataclass(frozen=True)
class MergeResult:
    text: str
    conflicted: bool


def merge_three_way(base: str, yours: str, generated: str) -> MergeResult:
    """Merge `yours` (the file on disk) and `generated` (the new render) from their common `base`.

    Clashing regions get the standard markers editors recognise, your side first.
    """
    import merge3

    merger = merge3.Merge3(
        base.splitlines(keepends=True),
        yours.splitlines(keepends=True),
        generated.splitlines(keepends=True),
    )
    conflicted = any(region[0] == "conflict" for region in merger.merge_regions())
    lines = merger.merge_lines(
        name_a="yours",
        name_b="dashsignal (generated from dashsignal.toml)",
        start_marker=CONFLICT_START.strip(),
        mid_marker=_CONFLICT_MIDDLE,
        end_marker=_CONFLICT_END.strip(),
    )
    return MergeResult("".join(_with_newlines(lines)), conflicted)


def has_conflict_markers(text: str) -> bool:
    """True when `text` still holds an unresolved conflict written by `merge_three_way`."""
    lines = text.splitlines()
    return any(line.startswith(CONFLICT_START) for line in lines) and any(
        line.startswith(_CONFLICT_END) for line in lines
    )


def _with_newlines(lines: object) -> list[str]:
    # merge3 emits marker lines with "\n"; a last line without one must not glue onto a marker.
    fixed: list[str] = []
    for line in lines:  # type: ignore[attr-defined]
        if fixed and not fixed[-1].endswith("\n"):
            fixed[-1] += "\n"
        fixed.append(line)
    return fixed
