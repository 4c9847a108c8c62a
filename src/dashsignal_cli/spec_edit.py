"""Edits to `dashsignal.toml` by our commands, keeping the user's comments, order and layout."""

from __future__ import annotations

import re
from typing import Any

from dashsignal_cli.errors import SpecError
from dashsignal_cli.specfile import parse_spec_data

__all__ = ["add_entry", "remove_entry"]

_WHAT = {"views": "view", "filters": "filter"}
_ANY_HEADER = re.compile(r"\s*\[")
_COMMENT = re.compile(r"\s*#")


def add_entry(text: str, table_name: str, entry: dict[str, Any]) -> str:
    """`text` with `entry` appended to the `table_name` array; its id must be new."""
    import tomlkit

    data = parse_spec_data(text)
    if entry["id"].casefold() in _all_ids(data):
        raise SpecError(
            f"there is already a view or filter with id {entry['id']!r}",
            hint="Pick another id, or remove the existing one first.",
        )
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


def remove_entry(text: str, table_name: str, entry_id: str) -> str:
    """`text` without the `table_name` entry whose id is `entry_id`.

    Comments above the entry go with it; the comment block that introduces the next entry
    stays, although TOML parsers attach it to the end of the entry before.
    """
    data = parse_spec_data(text)
    entries = data.get(table_name, [])
    positions = [i for i, item in enumerate(entries) if item.get("id") == entry_id]
    if not positions:
        known = ", ".join(str(item.get("id")) for item in entries) or "none"
        what = _WHAT[table_name]
        raise SpecError(f"no {what} {entry_id!r} in dashsignal.toml (there are: {known})")
    index = positions[0]
    expected = {**data, table_name: entries[:index] + entries[index + 1 :]}
    if not expected[table_name]:
        del expected[table_name]
    edited = _cut_block(text, table_name, index, len(entries))
    if edited is not None and parse_spec_data(edited) == expected:
        return edited
    return _remove_with_tomlkit(text, table_name, index)


def _cut_block(text: str, table_name: str, index: int, count: int) -> str | None:
    """Cut the `index`-th `[[table_name]]` block out of the lines, or None if unsure where it is."""
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
    # Comment lines right above the header describe this entry: they go.
    cut_from = start
    while cut_from > 0 and _COMMENT.match(lines[cut_from - 1]):
        cut_from -= 1
    if cut_from > 0 and not lines[cut_from - 1].strip():
        following = lines[keep_from] if keep_from < len(lines) else ""
        if not following.strip():
            cut_from -= 1
    return "".join(lines[:cut_from] + lines[keep_from:])


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


def _all_ids(data: dict[str, Any]) -> set[str]:
    return {
        str(item.get("id")).casefold()
        for name in _WHAT
        for item in data.get(name, [])
        if isinstance(item, dict)
    }
