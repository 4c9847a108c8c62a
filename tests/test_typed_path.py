"""One typed path from flags to files: each kind described once, the spec text read once."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from dashsignal_cli import kinds, spec, specfile
from dashsignal_cli.answers import NewProject, parse_filter_arg, parse_view_arg
from dashsignal_cli.spec_edit import AddEntry, add_entry
from dashsignal_cli.specfile import entry_table, read_spec_file

from lifecycle_helpers import cli_ok, demo_project

ADDS = [
    ["add-view", "chart3"],
    ["add-view", "ticker", "--source", "live", "--interval", "2"],
    ["add-filter", "channel", "--kind", "multi"],
    ["add-filter", "price", "--kind", "range", "--min", "0", "--max", "50"],
    ["add-stage", "daily"],
]


@pytest.mark.parametrize("command", ADDS, ids=[" ".join(c) for c in ADDS])
def test_an_add_command_reads_the_spec_text_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    project = demo_project(tmp_path)
    calls: Counter[str] = Counter()

    def counted(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, call)

    counted(tomllib, "loads")
    counted(tomlkit, "parse")
    counted(specfile, "spec_from_data")

    cli_ok(project, *command)

    assert calls == {"loads": 1, "spec_from_data": 1}
    # The text written holds what the model rendered from says.
    on_disk = (project / "dashsignal.toml").read_text(encoding="utf-8")
    monkeypatch.undo()
    assert spec.spec_from_data(tomllib.loads(on_disk)).views  # still valid
    assert command[1] in on_disk


TEXT = """\
[app]
name = "shop"

[[filters]]
id = "region"
options = [
  "North",
  "South",
]

[[views]]
id = "sales"
title = \"\"\"
[[views]]
# not a comment
\"\"\"
# trailing comment of sales
"""


@pytest.mark.parametrize(
    "text",
    [
        TEXT,
        TEXT.replace("\n", "\r\n"),
        TEXT + "\n[[views]]\nid = \"b\"\ntitle = '''\n[x]'''\n",
        TEXT + '\n[[views]]\nid = "c"\ntitle = "a # b [c]"  # [[views]]\n',
        TEXT.rstrip("\n"),
    ],
    ids=["strings-and-arrays", "crlf", "literal-string", "hashes-in-strings", "no-final-newline"],
)
@pytest.mark.parametrize(
    ("table_name", "entry"),
    [
        ("views", {"id": "extra", "kind": "table", "title": "Extra"}),
        ("stages", {"id": "daily", "source": "query", "title": "Daily"}),
        ("filters", {"id": "year", "kind": "range", "min": 1, "max": 9}),
    ],
    ids=["view", "stage", "filter"],
)
def test_a_line_edit_lands_between_statements(
    text: str, table_name: str, entry: dict[str, Any]
) -> None:
    # Headers and comments inside strings and arrays are not the file's: the entry added is
    # the last of its array, and nothing else changes.
    before = tomllib.loads(text)
    after = tomllib.loads(add_entry(text, table_name, entry))
    assert after == {**before, table_name: [*before.get(table_name, []), entry]}


def test_the_typed_edit_returns_the_text_its_data_and_model_agree_on() -> None:
    current = read_spec_file(TEXT)
    view = parse_view_arg("ticker:indicator@live/2")

    edited = AddEntry(view)(current)

    assert tomllib.loads(edited.text) == edited.data
    assert spec.spec_from_data(edited.data) == edited.spec
    assert edited.spec.views[-1] == view


@pytest.mark.parametrize(
    "text",
    [
        "region",
        "tags:multi",
        "c:checklist=1,2,x",
        "r:radio",
        "y:range=0..5",
        "p:dates",
        "year:range",
    ],
)
def test_an_entry_comes_back_from_its_table_unchanged(text: str) -> None:
    item = parse_filter_arg(text)
    assert spec.filter_from_data(entry_table(item), "f") == item
    assert set(entry_table(item)) <= {"id", "kind", "label", "options", "min", "max"}


def test_every_filter_kind_the_spec_allows_is_described_once() -> None:
    assert spec.FILTER_KINDS == tuple(kinds.FILTER_KINDS)
    assert spec.CHOICE_KINDS == tuple(n for n, k in kinds.FILTER_KINDS.items() if k.is_choice)
    assert set(spec.VIEW_KINDS) == set(kinds.VIEW_KINDS) == set(kinds.VIEW_KINDS_OFFERED)
    for name, kind in kinds.FILTER_KINDS.items():
        # Its demo values are valid, and written back as a flag writes them they parse the same.
        demo = parse_filter_arg(f"f:{name}")
        assert parse_filter_arg(f"f:{name}={demo.values_written}") == demo
        assert kind.describes and kind.value_form and "{id}" in kind.question


def test_the_help_names_every_kind() -> None:
    from typer.main import get_command

    from dashsignal_cli.cli import app

    new = get_command(app).commands["new"]  # type: ignore[attr-defined]
    helps = {p.name: p.help for p in new.params}
    for name in kinds.FILTER_KINDS:
        assert name in helps["filters"]
    for name in kinds.VIEW_KINDS:
        assert name in helps["views"]


def test_new_builds_the_same_spec_from_flags_as_from_the_file_it_writes() -> None:
    request = NewProject.from_flags(
        "shop", stages=["daily"], views=["a@daily", "b:table@live"], filters=["p:dates"]
    )
    built = request.spec()
    assert read_spec_file(specfile.dump_spec(built)).spec == built
    assert request.unanswered() == ["--cache", "--timeout", "--title"]
