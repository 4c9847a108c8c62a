"""Edits to `dashsignal.toml` by our commands, keeping the user's comments, order and layout."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from dashsignal_cli.errors import SpecError
from dashsignal_cli.spec import QUERY, RESERVED_SOURCES
from dashsignal_cli.specfile import ENTRY_COMMENTS, parse_spec_data

__all__ = ["add_entry", "remove_entry"]

# The arrays of entries, in the order `dump_spec` writes them.
_WHAT = {"filters": "filter", "stages": "stage", "views": "view"}
_ANY_HEADER = re.compile(r"\s*\[")
_COMMENT = re.compile(r"\s*#")


def add_entry(text: str, table_name: str, entry: dict[str, Any]) -> str:
    """`text` with `entry` appended to the `table_name` array; its id must be new.

    The new entry goes right after the array's last entry, before any comment that introduces
    what follows it. An array the file does not have yet goes where `dashsignal new` writes it:
    before the first entry of the arrays that follow it (stages before views), else at the end.
    """
    import tomlkit

    data = parse_spec_data(text)
    taken = _all_ids(data).get(entry["id"].casefold())
    if taken is not None:
        what, existing = taken
        same = "" if existing == entry["id"] else f" (same as {entry['id']!r} ignoring case)"
        raise SpecError(
            f"there is already a {what} with id {existing!r}{same}",
            hint="Ids name modules and components: every filter, stage and view needs its own. "
            "Pick another id, or remove the existing one first.",
        )
    _check_source(data, table_name, entry)
    document = tomlkit.parse(text)
    array = document.get(table_name)
    if isinstance(array, tomlkit.items.Array):
        # The user wrote `views = [{...}, ...]`: keep to their style.
        inline = tomlkit.inline_table()
        inline.update(entry)
        array.append(inline)
        return _same_ending(text, tomlkit.dumps(document))
    table = tomlkit.table()
    for key, value in entry.items():
        table.add(key, value)
    block = _block(table_name, table)
    lines = text.splitlines(keepends=True)
    placed = (
        _insert_after_last(lines, table_name, block)
        if array is not None
        else _insert_before_later_arrays(lines, table_name, block)
    )
    expected = {**data, table_name: [*data.get(table_name, []), entry]}
    if placed is not None and parse_spec_data(placed) == expected:
        return _same_ending(text, placed)
    # Where the text is too unusual to be sure of the lines, let tomlkit place it.
    table.add(tomlkit.nl())
    if array is None:
        array = tomlkit.aot()
        array.append(table)
        document.append(table_name, array)
    else:
        if not _ends_with_blank_line(array[-1]):
            array[-1].add(tomlkit.nl())
        array.append(table)
    return _same_ending(text, tomlkit.dumps(document))


def _block(table_name: str, table: Any) -> str:
    """`[[table_name]]` and the keys of `table`, ending with a newline."""
    import tomlkit

    array = tomlkit.aot()
    array.append(table)
    document = tomlkit.document()
    document.append(table_name, array)
    return tomlkit.dumps(document).strip("\n") + "\n"


def _header(*names: str) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(name) for name in names)
    return re.compile(rf"\s*\[\[\s*(?:{alternatives})\s*\]\]")


def _insert_after_last(lines: list[str], table_name: str, block: str) -> str | None:
    """`block` after the last `[[table_name]]` entry, above a comment introducing what follows."""
    header = _header(table_name)
    starts = [i for i, line in enumerate(lines) if header.match(line)]
    if not starts:
        return None
    start = starts[-1]
    end = next((i for i in range(start + 1, len(lines)) if _ANY_HEADER.match(lines[i])), None)
    if end is None:
        # The last entry of the file: the new one goes after everything but trailing blanks.
        at = len(lines)
        while at > start + 1 and not lines[at - 1].strip():
            at -= 1
    else:
        at = end
        while at > start + 1 and (not lines[at - 1].strip() or _COMMENT.match(lines[at - 1])):
            at -= 1
    return _splice(lines, at, block)


def _insert_before_later_arrays(lines: list[str], table_name: str, block: str) -> str | None:
    """`block` before the first `[[...]]` of an array written after `table_name`."""
    later = list(_WHAT)[list(_WHAT).index(table_name) + 1 :]
    if not later:
        return None
    header = _header(*later)
    at = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if at is None:
        return None
    # The comment lines right above that header describe its entry: insert above them.
    while at > 0 and _COMMENT.match(lines[at - 1]):
        at -= 1
    return _splice(lines, at, block)


def _splice(lines: list[str], at: int, block: str) -> str:
    """`block` inserted before `lines[at]`, with a blank line on either side of it."""
    before, after = lines[:at], lines[at:]
    if before and not before[-1].endswith("\n"):
        before[-1] += "\n"
    if before and before[-1].strip():
        block = "\n" + block
    if after and after[0].strip():
        block += "\n"
    return "".join([*before, block, *after])


def remove_entry(text: str, table_name: str, entry_id: str) -> str:
    """`text` without the `table_name` entry whose id is `entry_id`.

    The entry goes, with the comment lines right above it; the comment block that introduces
    the next entry stays, although TOML parsers attach it to the end of the entry before. The
    user's comments of the removed entry (above it, inside it, after a value) are kept where it
    was, as comments under a line that says so. A stage that views or other stages still read
    is not removed.
    """
    data = parse_spec_data(text)
    entries = data.get(table_name, [])
    positions = [i for i, item in enumerate(entries) if item.get("id") == entry_id]
    if not positions:
        known = ", ".join(str(item.get("id")) for item in entries) or "none"
        what = _WHAT[table_name]
        raise SpecError(f"no {what} {entry_id!r} in dashsignal.toml (there are: {known})")
    if table_name == "stages":
        _check_unread(data, entry_id)
    index = positions[0]
    expected = {**data, table_name: entries[:index] + entries[index + 1 :]}
    if not expected[table_name]:
        del expected[table_name]
    note = _removed_note(table_name, entry_id)
    edited = _cut_block(text, table_name, index, len(entries), note)
    if edited is None or not _parses_as(edited, expected):
        edited = _remove_with_tomlkit(text, table_name, index)
    return _keep_lost_comments(text, edited, note)


def _parses_as(text: str, expected: dict[str, Any]) -> bool:
    """True when `text` is valid TOML holding `expected` (a cut in the wrong place is not)."""
    try:
        return parse_spec_data(text) == expected
    except SpecError:
        return False


def _removed_note(table_name: str, entry_id: str) -> str:
    return f"# dashsignal removed the {_WHAT[table_name]} {entry_id!r} here; its comments:"


def _keep_lost_comments(original: str, edited: str, note: str) -> str:
    """`edited`, with any comment of the user's that the edit lost appended at the end."""
    lost = Counter(comments(original)) - Counter(comments(edited))
    for ours in ENTRY_COMMENTS:
        del lost[ours]
    if not lost:
        return edited
    newline = "\r\n" if "\r\n" in original else "\n"
    kept = []
    for comment in comments(original):
        if lost[comment] > 0:
            kept.append(comment)
            lost[comment] -= 1
    ending = "" if edited.endswith(newline) or not edited else newline
    body = newline.join([note, *kept])
    return f"{edited}{ending}{newline}{body}{newline if original.endswith(newline) else ''}"


def comments(text: str) -> list[str]:
    """Every comment in TOML `text`, from its `#`, trailing blanks dropped, in order.

    A `#` inside a string (basic, literal, or multi-line) is not a comment.
    """
    found: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            found.append(text[i:end].rstrip())
            i = end
        elif text.startswith(('"""', "'''"), i):
            quote = text[i : i + 3]
            i += 3
            while i < n and not text.startswith(quote, i):
                i += 2 if quote == '"""' and text[i] == "\\" else 1
            i += 3
            while i < n and text[i] == quote[0]:  # up to two quotes may end the string
                i += 1
        elif char in "\"'":
            i += 1
            while i < n and text[i] not in (char, "\n"):
                i += 2 if char == '"' and text[i] == "\\" else 1
            i += 1
        else:
            i += 1
    return found


def _check_source(data: dict[str, Any], table_name: str, entry: dict[str, Any]) -> None:
    """A new stage or view must read something the spec has (the spec checks it too, by index)."""
    if table_name not in ("stages", "views"):
        return
    stage_ids = [str(s.get("id")) for s in data.get("stages", []) if isinstance(s, dict)]
    source = entry.get("source", QUERY)
    allowed = [QUERY, *stage_ids] if table_name == "stages" else [*RESERVED_SOURCES, *stage_ids]
    if source not in allowed:
        what = _WHAT[table_name]
        raise SpecError(
            f"{what} {entry['id']!r}: unknown source {source!r}; allowed: {', '.join(allowed)}",
            hint="Add that stage first (dashsignal add-stage), or pick one of these sources.",
        )


def _check_unread(data: dict[str, Any], stage_id: str) -> None:
    """Refuse to remove a stage that is still the source of a view or another stage."""
    readers = [
        f"{_WHAT[name]} {item.get('id')!r}"
        for name in ("stages", "views")
        for item in data.get(name, [])
        if isinstance(item, dict) and item.get("source") == stage_id
    ]
    if readers:
        raise SpecError(
            f"stage {stage_id!r} is still read by {', '.join(readers)}",
            hint="Remove those first (remove-view, remove-stage), or point their source at "
            'another stage or "query" in dashsignal.toml; then remove this stage.',
        )


def _cut_block(text: str, table_name: str, index: int, count: int, note: str) -> str | None:
    """Cut the `index`-th `[[table_name]]` block out of the lines, or None if unsure where it is.

    The user's comments of the block stay in its place, under `note`.
    """
    lines = text.splitlines(keepends=True)
    header = re.compile(rf"\s*\[\[\s*{re.escape(table_name)}\s*\]\]")
    starts = [i for i, line in enumerate(lines) if header.match(line)]
    if len(starts) != count:
        return None
    start = starts[index]
    end = next((i for i in range(start + 1, len(lines)) if _ANY_HEADER.match(lines[i])), len(lines))
    # The trailing run of blank and comment lines introduces what follows: it stays.
    keep_from = end
    while keep_from > start + 1 and (
        not lines[keep_from - 1].strip() or _COMMENT.match(lines[keep_from - 1])
    ):
        keep_from -= 1
    # Comment lines right above the header describe this entry: they go with it.
    cut_from = start
    while cut_from > 0 and _COMMENT.match(lines[cut_from - 1]):
        cut_from -= 1
    kept = [c for c in comments("".join(lines[cut_from:keep_from])) if c not in ENTRY_COMMENTS]
    if cut_from > 0 and not lines[cut_from - 1].strip():
        following = lines[keep_from] if keep_from < len(lines) else ""
        if not following.strip():
            cut_from -= 1
    before, after = lines[:cut_from], lines[keep_from:]
    if kept:
        newline = "\r\n" if "\r\n" in text else "\n"
        block = [f"{line}{newline}" for line in (note, *kept)]
        if before and not before[-1].endswith("\n"):
            before[-1] += newline
        if before and before[-1].strip():
            block.insert(0, newline)
        if after and after[0].strip():
            block.append(newline)
        elif not after and not text.endswith("\n"):
            block[-1] = block[-1].rstrip("\r\n")
        return "".join([*before, *block, *after])
    return "".join(before + after)


def _remove_with_tomlkit(text: str, table_name: str, index: int) -> str:
    import tomlkit

    document = tomlkit.parse(text)
    array = document[table_name]
    del array[index]
    if not array:
        del document[table_name]
    return _same_ending(text, tomlkit.dumps(document))


def _ends_with_blank_line(table: Any) -> bool:
    from tomlkit.items import Whitespace

    body = table.value.body
    return bool(body) and isinstance(body[-1][1], Whitespace) and "\n" in body[-1][1].s


def _same_ending(original: str, edited: str) -> str:
    """Keep the file's own line endings and final newline (tomlkit adds new lines as LF)."""
    if "\r\n" in original:
        edited = edited.replace("\r\n", "\n").replace("\n", "\r\n")
    newline = "\r\n" if "\r\n" in original else "\n"
    if not original.endswith(newline * 2):
        edited = edited.rstrip("\r\n") + (newline if original.endswith(newline) else "")
    return edited


def _all_ids(data: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """{id folded: (what it is, id as written)} of every entry."""
    return {
        str(item.get("id")).casefold(): (what, str(item.get("id")))
        for name, what in _WHAT.items()
        for item in data.get(name, [])
        if isinstance(item, dict)
    }
