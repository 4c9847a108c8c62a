"""Edits to `dashsignal.toml` by our commands, keeping the user's comments, order and layout.

`AddEntry` and `RemoveEntry` take the spec file as read once (`specfile.SpecFile`) and return
the next one: the model from spec.py (`Spec.with_entry`, `Spec.without`, which check the rules
across entries), the text edited line by line where the lines are certain, by tomlkit where not.
`add_entry` and `remove_entry` are the same edits of bare text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dashsignal_cli.errors import SpecError
from dashsignal_cli.spec import ENTRY_TABLES, Entry
from dashsignal_cli.specfile import ENTRY_COMMENTS, SpecFile, entry_table, parse_spec_data

__all__ = ["AddEntry", "RemoveEntry", "add_entry", "comments", "remove_entry"]

# The arrays of entries, in the order `dump_spec` writes them.
_WHAT = {"filters": "filter", "stages": "stage", "views": "view"}
_ANY_HEADER = re.compile(r"\s*\[")
_COMMENT = re.compile(r"\s*#")
_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


@dataclass(frozen=True)
class AddEntry:
    """Add `entry` to its array (add-filter, add-stage, add-view)."""

    entry: Entry

    def __call__(self, current: SpecFile) -> SpecFile:
        spec = current.spec.with_entry(self.entry)
        table_name = ENTRY_TABLES[type(self.entry)]
        table = entry_table(self.entry)
        text = _insert(current.text, current.data, table_name, table)
        data = {**current.data, table_name: [*current.data.get(table_name, []), table]}
        return SpecFile(text, data, spec)


@dataclass(frozen=True)
class RemoveEntry:
    """Remove the entry `entry_id` of `table_name` (remove-filter, remove-stage, remove-view)."""

    table_name: str
    entry_id: str

    def __call__(self, current: SpecFile) -> SpecFile:
        spec = current.spec.without(self.table_name, self.entry_id)
        text, data = _remove(current.text, current.data, self.table_name, self.entry_id)
        return SpecFile(text, data, spec)


def add_entry(text: str, table_name: str, entry: Mapping[str, Any]) -> str:
    """`text` with the table `entry` appended to the `table_name` array.

    Only the text is edited: the rules across entries are checked by `AddEntry`.
    """
    return _insert(text, parse_spec_data(text), table_name, dict(entry))


def _insert(text: str, data: Mapping[str, Any], table_name: str, entry: dict[str, Any]) -> str:
    """`text` (which holds `data`) with `entry` appended to the `table_name` array.

    The new entry goes right after the array's last entry, before any comment that introduces
    what follows it. An array the file does not have yet goes where `dashsignal new` writes it:
    before the first entry of the arrays that follow it (stages before views), else at the end.
    The lines are edited only where they are certain (each `[[table_name]]` a header of the
    file, the new lines between statements); tomlkit places it otherwise.
    """
    import tomlkit

    table = tomlkit.table()
    for key, value in entry.items():
        table.add(key, value)
    block = _block(table_name, table)
    lines = _LINE.findall(text)
    top = _top_level_lines(text)
    placed = (
        _insert_after_last(lines, top, table_name, len(data[table_name]), block)
        if table_name in data
        else _insert_before_later_arrays(lines, top, table_name, block)
    )
    if placed is not None:
        return _same_ending(text, placed)
    document = tomlkit.parse(text)
    array = document.get(table_name)
    if isinstance(array, tomlkit.items.Array):
        # The user wrote `views = [{...}, ...]`: keep to their style.
        inline = tomlkit.inline_table()
        inline.update(entry)
        array.append(inline)
        return _same_ending(text, tomlkit.dumps(document))
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


def _top_level_lines(text: str) -> list[bool]:
    """For each line of `text`: True when it begins between statements of the TOML document,
    not inside a multi-line string or an array spanning lines.

    Only such a line can be a table header, and only before such a line can lines be inserted.
    """
    top = [True]
    depth = 0  # of the arrays and inline tables open
    header = False  # in a [table] or [[array]] header: its brackets open nothing
    start = True  # nothing but blanks yet on this line
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\n":
            top.append(depth == 0)
            header, start = False, True
            i += 1
            continue
        if char in " \t\r":
            i += 1
            continue
        if char == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        after = _string_end(text, i)
        if after is not None:
            # A line that begins inside a multi-line string is not between statements.
            top.extend(False for _ in range(text.count("\n", i, after)))
            i = after
        else:
            if start and depth == 0 and char == "[":
                header = True
            elif not header and char in "[{":
                depth += 1
            elif not header and char in "]}":
                depth = max(0, depth - 1)
            i += 1
        start = False
    return top


def _certain(top: list[bool], first: int, last: int) -> bool:
    """True when every line from `first` to `last` (included) begins between statements."""
    return all(top[first : last + 1])


def _insert_after_last(
    lines: list[str], top: list[bool], table_name: str, count: int, block: str
) -> str | None:
    """`block` after the last `[[table_name]]` entry, above a comment introducing what follows.

    None unless the file's `count` entries are each written under such a header.
    """
    header = _header(table_name)
    starts = [i for i, line in enumerate(lines) if top[i] and header.match(line)]
    if len(starts) != count or not starts:
        return None
    start = starts[-1]
    end = next(
        (i for i in range(start + 1, len(lines)) if top[i] and _ANY_HEADER.match(lines[i])),
        None,
    )
    if end is None:
        # The last entry of the file: the new one goes after everything but trailing blanks.
        at = len(lines)
        while at > start + 1 and not lines[at - 1].strip():
            at -= 1
    else:
        at = end
        while at > start + 1 and (not lines[at - 1].strip() or _COMMENT.match(lines[at - 1])):
            at -= 1
    if not _certain(top, at, len(lines) if end is None else end):
        return None
    return _splice(lines, at, block)


def _insert_before_later_arrays(
    lines: list[str], top: list[bool], table_name: str, block: str
) -> str | None:
    """`block` before the first `[[...]]` of an array written after `table_name`."""
    later = list(_WHAT)[list(_WHAT).index(table_name) + 1 :]
    if not later:
        return None
    header = _header(*later)
    found = next((i for i, line in enumerate(lines) if top[i] and header.match(line)), None)
    if found is None:
        return None
    # The comment lines right above that header describe its entry: insert above them.
    at = found
    while at > 0 and _COMMENT.match(lines[at - 1]):
        at -= 1
    if not _certain(top, at, found):
        return None
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
    was, as comments under a line that says so. Only the text is edited: whether the entry may
    go (a stage still read may not) is checked by `RemoveEntry`.
    """
    return _remove(text, parse_spec_data(text), table_name, entry_id)[0]


def _remove(
    text: str, data: Mapping[str, Any], table_name: str, entry_id: str
) -> tuple[str, dict[str, Any]]:
    """`text` (which holds `data`) and its data without the entry, as `remove_entry` says."""
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
    note = _removed_note(table_name, entry_id)
    edited = _cut_block(text, table_name, index, len(entries), note)
    if edited is None or not _parses_as(edited, expected):
        edited = _remove_with_tomlkit(text, table_name, index)
    return _keep_lost_comments(text, edited, note), expected


def _parses_as(text: str, expected: Mapping[str, Any]) -> bool:
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
        elif (after := _string_end(text, i)) is not None:
            i = after
        else:
            i += 1
    return found


def _string_end(text: str, i: int) -> int | None:
    """Where the TOML string that starts at `i` ends (the index just after it); None when no
    string starts there. A single-line string left open ends with its line."""
    n = len(text)
    if text.startswith(('"""', "'''"), i):
        quote = text[i : i + 3]
        i += 3
        while i < n and not text.startswith(quote, i):
            i += 2 if quote == '"""' and text[i] == "\\" else 1
        i += 3
        while i < n and text[i] == quote[0]:  # up to two quotes may end the string
            i += 1
        return i
    char = text[i]
    if char not in "\"'":
        return None
    i += 1
    while i < n and text[i] not in (char, "\n"):
        i += 2 if char == '"' and text[i] == "\\" else 1
    return i + 1 if i < n and text[i] == char else i


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
