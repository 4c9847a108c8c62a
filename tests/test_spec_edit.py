"""Our edits of dashsignal.toml change the entry asked for and nothing else of the user's text."""

from __future__ import annotations

import tomllib

import pytest

from dashsignal_cli.errors import SpecError, SpecSyntaxError
from dashsignal_cli.spec_edit import add_entry, remove_entry

SPEC = """\
# my dashboard
[app]
name = "shop"  # do not rename

[[filters]]
id = "region"
options = ["North"]

# sales: reviewed by finance
[[views]]
id = "sales"

# share: the regional split
[[views]]
id = "share"
"""
NEW_VIEW = {"id": "extra", "kind": "table", "title": "Extra"}


def test_adding_appends_after_the_last_entry_and_keeps_every_comment() -> None:
    edited = add_entry(SPEC, "views", NEW_VIEW)
    assert edited.startswith(SPEC)
    assert edited[len(SPEC) :] == '\n[[views]]\nid = "extra"\nkind = "table"\ntitle = "Extra"\n'


def test_removing_takes_the_entry_and_its_own_comment_only() -> None:
    edited = remove_entry(SPEC, "views", "sales")
    assert "sales" not in edited
    assert '# share: the regional split\n[[views]]\nid = "share"' in edited
    assert edited.startswith('# my dashboard\n[app]\nname = "shop"  # do not rename\n')
    assert [v["id"] for v in tomllib.loads(edited)["views"]] == ["share"]


@pytest.mark.parametrize("ending", ["\r\n", ""])
def test_line_endings_and_the_final_newline_are_kept(ending: str) -> None:
    original = SPEC.replace("\n", "\r\n") if ending else SPEC.rstrip("\n")
    for edited in (
        add_entry(original, "views", NEW_VIEW),
        remove_entry(original, "views", "share"),
    ):
        if ending:
            assert "\n" not in edited.replace("\r\n", "")
        assert edited.endswith("\r\n") == bool(ending)


def test_views_written_inline_stay_inline() -> None:
    inline = 'views = [{ id = "a" }, { id = "b" }]\n\n[app]\nname = "x"\n'
    edited = add_entry(inline, "views", NEW_VIEW)
    assert [v["id"] for v in tomllib.loads(edited)["views"]] == ["a", "b", "extra"]
    assert "[[views]]" not in edited
    assert [v["id"] for v in tomllib.loads(remove_entry(edited, "views", "a"))["views"]] == [
        "b",
        "extra",
    ]


def test_ids_must_be_new_and_known() -> None:
    with pytest.raises(SpecError, match="already a view or filter with id 'Region'"):
        add_entry(SPEC, "views", {**NEW_VIEW, "id": "Region"})
    with pytest.raises(
        SpecError, match=r"no view 'nope' in dashsignal.toml \(there are: sales, share\)"
    ):
        remove_entry(SPEC, "views", "nope")


def test_a_syntax_error_is_located_in_the_users_text() -> None:
    with pytest.raises(SpecSyntaxError, match=r"^dashsignal.toml:3:9: "):
        add_entry('[app]\nname = "x"\ntitle = = 1\n', "views", NEW_VIEW)
