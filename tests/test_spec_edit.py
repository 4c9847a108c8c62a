"""Our edits of dashsignal.toml change the entry asked for and nothing else of the user's text."""

from __future__ import annotations

import tomllib

import pytest

from dashsignal_cli.errors import SpecError, SpecSyntaxError
from dashsignal_cli.spec import filter_from_data, stage_from_data, view_from_data
from dashsignal_cli.spec_edit import AddEntry, RemoveEntry, add_entry, remove_entry
from dashsignal_cli.specfile import SpecFile, read_spec_file

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
NEW_STAGE = {"id": "daily", "source": "query", "title": "Daily"}
DAILY_BLOCK = '[[stages]]\nid = "daily"\nsource = "query"\ntitle = "Daily"\n'
_FROM_DATA = {"filters": filter_from_data, "stages": stage_from_data, "views": view_from_data}


def add(text: str, table_name: str, table: dict[str, str]) -> SpecFile:
    """The typed edit of add-view, add-stage and add-filter, on the spec file of `text`."""
    return AddEntry(_FROM_DATA[table_name](table, "new"))(read_spec_file(text))


def remove(text: str, table_name: str, entry_id: str) -> SpecFile:
    return RemoveEntry(table_name, entry_id)(read_spec_file(text))


def test_adding_appends_after_the_last_entry_and_keeps_every_comment() -> None:
    edited = add_entry(SPEC, "views", NEW_VIEW)
    assert edited.startswith(SPEC)
    assert edited[len(SPEC) :] == '\n[[views]]\nid = "extra"\nkind = "table"\ntitle = "Extra"\n'


def test_removing_takes_the_entry_and_keeps_its_comment_under_a_note() -> None:
    edited = remove_entry(SPEC, "views", "sales")
    assert 'id = "sales"' not in edited
    assert (
        "\n# dashsignal removed the view 'sales' here; its comments:\n"
        "# sales: reviewed by finance\n\n"
        '# share: the regional split\n[[views]]\nid = "share"'
    ) in edited
    assert edited.startswith('# my dashboard\n[app]\nname = "shop"  # do not rename\n')
    assert [v["id"] for v in tomllib.loads(edited)["views"]] == ["share"]


@pytest.mark.parametrize("ending", ["\r\n", ""])
def test_line_endings_and_the_final_newline_are_kept(ending: str) -> None:
    original = SPEC.replace("\n", "\r\n") if ending else SPEC.rstrip("\n")
    for edited in (
        add_entry(original, "views", NEW_VIEW),
        add_entry(original, "stages", NEW_STAGE),
        add_entry(add_entry(original, "stages", NEW_STAGE), "stages", {**NEW_STAGE, "id": "b"}),
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
    with pytest.raises(
        SpecError, match=r"already a filter with id 'region' \(same as 'Region' ignoring case\)"
    ):
        add(SPEC, "views", {**NEW_VIEW, "id": "Region"})
    with pytest.raises(SpecError, match="already a view with id 'sales'$"):
        add(SPEC, "stages", {**NEW_STAGE, "id": "sales"})
    for removing in (remove, remove_entry):
        with pytest.raises(
            SpecError, match=r"no view 'nope' in dashsignal.toml \(there are: sales, share\)"
        ):
            removing(SPEC, "views", "nope")


def test_a_syntax_error_is_located_in_the_users_text() -> None:
    with pytest.raises(SpecSyntaxError, match=r"^dashsignal.toml:3:9: "):
        add_entry('[app]\nname = "x"\ntitle = = 1\n', "views", NEW_VIEW)


def test_the_first_stage_goes_before_the_views_and_their_comments() -> None:
    edited = add_entry(SPEC, "stages", NEW_STAGE)
    assert edited == SPEC.replace(
        "# sales: reviewed by finance\n", DAILY_BLOCK + "\n# sales: reviewed by finance\n"
    )
    assert [s["id"] for s in tomllib.loads(edited)["stages"]] == ["daily"]


def test_the_next_stage_follows_the_last_and_leaves_the_views_comment_in_place() -> None:
    once = add_entry(SPEC, "stages", NEW_STAGE)
    weekly = {"id": "weekly", "source": "daily", "title": "Weekly"}
    edited = add_entry(once, "stages", weekly)
    block = '[[stages]]\nid = "weekly"\nsource = "daily"\ntitle = "Weekly"\n'
    assert edited == once.replace(DAILY_BLOCK, DAILY_BLOCK + "\n" + block)
    assert '# sales: reviewed by finance\n[[views]]\nid = "sales"' in edited


def test_a_filter_added_before_commented_views_leaves_the_comment_with_its_view() -> None:
    edited = add_entry(SPEC, "filters", {"id": "year", "kind": "radio", "options": [1, 2]})
    new = '[[filters]]\nid = "year"\nkind = "radio"\noptions = [1, 2]\n\n'
    assert edited == SPEC.replace(
        "# sales: reviewed by finance\n", new + "# sales: reviewed by finance\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        'views = [{ id = "a" }]\n\n[app]\nname = "x"\n',
        '[app]\nname = "x"\n\n[[filters]]\nid = "f"\noptions = ["a"]\n',
        '[app]\nname = "x"\n',
    ],
    ids=["inline-views", "no-views", "nothing-else"],
)
def test_a_first_stage_without_views_to_precede_goes_at_the_end(text: str) -> None:
    edited = add_entry(text, "stages", NEW_STAGE)
    assert edited.startswith(text)
    assert tomllib.loads(edited) == {**tomllib.loads(text), "stages": [NEW_STAGE]}


def test_a_stage_written_inline_stays_inline() -> None:
    text = 'stages = [{ id = "a", source = "query" }]\n\n[app]\nname = "x"\n'
    edited = add_entry(text, "stages", NEW_STAGE)
    assert "[[stages]]" not in edited
    assert [s["id"] for s in tomllib.loads(edited)["stages"]] == ["a", "daily"]


STAGED = SPEC.replace(
    "# sales: reviewed by finance\n", DAILY_BLOCK + "\n# sales: reviewed by finance\n"
)


def test_a_stage_no_one_reads_is_removed_with_its_table() -> None:
    assert remove_entry(STAGED, "stages", "daily") == SPEC


@pytest.mark.parametrize(
    ("extra", "readers"),
    [
        ('\n[[views]]\nid = "trend"\nsource = "daily"\n', "view 'trend'"),
        (
            '\n[[stages]]\nid = "weekly"\nsource = "daily"\n'
            '\n[[views]]\nid = "w"\nsource = "daily"\n',
            "stage 'weekly', view 'w'",
        ),
    ],
    ids=["a-view", "a-stage-and-a-view"],
)
def test_a_stage_still_read_is_not_removed(extra: str, readers: str) -> None:
    with pytest.raises(SpecError) as caught:
        remove(STAGED + extra, "stages", "daily")
    assert caught.value.message == f"stage 'daily' is still read by {readers}"
    assert caught.value.hint is not None and "remove-view" in caught.value.hint


def test_removing_an_unknown_stage_names_the_known_ones() -> None:
    with pytest.raises(
        SpecError, match=r"no stage 'weekly' in dashsignal.toml \(there are: daily\)"
    ):
        remove_entry(STAGED, "stages", "weekly")
    with pytest.raises(SpecError, match=r"\(there are: none\)"):
        remove_entry(SPEC, "stages", "weekly")


@pytest.mark.parametrize(
    ("table_name", "entry", "message"),
    [
        ("views", {**NEW_VIEW, "source": "weekly"}, "view 'extra': unknown source 'weekly'; "),
        ("stages", {**NEW_STAGE, "id": "w", "source": "weekly"}, "stage 'w': unknown source "),
        ("stages", {**NEW_STAGE, "id": "w", "source": "own"}, "allowed: query, daily"),
    ],
    ids=["view", "stage", "stage-from-own"],
)
def test_a_new_entry_must_read_a_source_the_spec_has(
    table_name: str, entry: dict[str, str], message: str
) -> None:
    with pytest.raises(SpecError) as caught:
        add(STAGED, table_name, entry)
    assert message in caught.value.message
    assert caught.value.hint is not None and "add-stage" in caught.value.hint


@pytest.mark.parametrize("source", ["query", "own", "live", "daily"])
def test_a_new_view_may_read_any_known_source(source: str) -> None:
    edited = add(STAGED, "views", {**NEW_VIEW, "source": source})
    assert tomllib.loads(edited.text)["views"][-1].get("source", "query") == source
    assert edited.spec.views[-1].source == source
    assert edited.data == tomllib.loads(edited.text)
