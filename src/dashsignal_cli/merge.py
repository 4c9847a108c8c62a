"""Three-way merge of a managed file: the user's edits carried onto what the spec now produces."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CONFLICT_START",
    "MergeResult",
    "has_conflict_markers",
    "merge_three_way",
    "merge_taking_generated",
    "resolve_markers_to_generated",
]

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


def merge_taking_generated(base: str, yours: str, generated: str) -> str:
    """The three-way merge with every clashing region resolved to the generated side.

    What `--force` writes: your edits that do not clash are kept, hunk by hunk; where they clash
    the generated text wins (your whole version is in the backup copy).
    """
    import merge3

    a = yours.splitlines(keepends=True)
    b = generated.splitlines(keepends=True)
    z = base.splitlines(keepends=True)
    lines: list[str] = []
    for region in merge3.Merge3(z, a, b).merge_regions():
        what = region[0]
        if what == "unchanged":
            lines.extend(z[region[1] : region[2]])
        elif what in ("a", "same"):
            lines.extend(a[region[1] : region[2]])
        elif what == "b":
            lines.extend(b[region[1] : region[2]])
        else:  # conflict: (zstart, zend, astart, aend, bstart, bend)
            bstart, bend = region[-2:]
            lines.extend(b[bstart:bend])
    return "".join(_with_newlines(lines))


def resolve_markers_to_generated(text: str) -> str | None:
    """`text` with each block written by `merge_three_way` replaced by its generated side.

    None when the markers are not whole blocks (edited by hand): nothing can be told apart then.
    """
    kept: list[str] = []
    state = "outside"
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if state == "outside":
            if bare.startswith(CONFLICT_START):
                state = "yours"
            elif bare == _CONFLICT_MIDDLE or bare.startswith(_CONFLICT_END):
                return None
            else:
                kept.append(line)
        elif state == "yours":
            if bare == _CONFLICT_MIDDLE:
                state = "generated"
            elif bare.startswith((CONFLICT_START, _CONFLICT_END)):
                return None
        elif bare.startswith(_CONFLICT_END):
            state = "outside"
        elif bare.startswith(CONFLICT_START) or bare == _CONFLICT_MIDDLE:
            return None
        else:
            kept.append(line)
    return "".join(kept) if state == "outside" else None


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
