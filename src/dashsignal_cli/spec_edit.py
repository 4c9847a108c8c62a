"""Edits to `dashsignal.toml` by our commands, keeping the user's comments, order and layout."""

from __future__ import annotations

from typing import Any

from dashsignal_cli.errors import SpecError

__all__ = ["add_entry", "remove_entry"]

_WHAT = {"views": "view", "filters": "filter"}


def add_entry(text: str, table_name: str, entry: dict[str, Any]) -> str:
    """`text` with `entry` appended to the `[[table_name]]` array; its id must be new."""
    import tomlkit

    document = tomlkit.parse(text)
    ids = _all_ids(document)
    if entry["id"].casefold() in ids:
        raise SpecError(
            f"there is already a view or filter with id {entry['id']!r}",
            hint="Pick another id, or remove the existing one first.",
        )
    table = tomlkit.table()
    for key, value in entry.items():
        table.add(key, value)
    table.add(tomlkit.nl())
    if table_name in document:
        array = document[table_name]
        if not _ends_with_blank_line(array[-1]):
            array[-1].add(tomlkit.nl())
        array.append(table)
    else:
        array = tomlkit.aot()
        array.append(table)
        document.append(table_name, array)
    return _same_ending(text, tomlkit.dumps(document))


def remove_entry(text: str, table_name: str, entry_id: str) -> str:
    """`text` without the `[[table_name]]` entry whose id is `entry_id`."""
    import tomlkit

    document = tomlkit.parse(text)
    array = document.get(table_name, [])
    positions = [i for i, item in enumerate(array) if item.get("id") == entry_id]
    if not positions:
        known = ", ".join(str(item.get("id")) for item in array) or "none"
        what = _WHAT[table_name]
        raise SpecError(f"no {what} {entry_id!r} in dashsignal.toml (there are: {known})")
    del array[positions[0]]
    if not array:
        del document[table_name]
    return _same_ending(text, tomlkit.dumps(document))


def _ends_with_blank_line(table: Any) -> bool:
    from tomlkit.items import Whitespace

    body = table.value.body
    return bool(body) and isinstance(body[-1][1], Whitespace) and "\n" in body[-1][1].s


def _same_ending(original: str, edited: str) -> str:
    # Appending a table leaves an extra blank line at the very end; keep the file's own ending.
    if original.endswith("\n") and not original.endswith("\n\n"):
        return edited.rstrip("\n") + "\n"
    return edited


def _all_ids(document: Any) -> set[str]:
    return {
        str(item.get("id")).casefold()
        for name in _WHAT
        for item in document.get(name, [])
        if hasattr(item, "get")
    }
