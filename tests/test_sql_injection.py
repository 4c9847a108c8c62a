"""Hostile option values never reach SQL text (dashsignal.sql): whatever the declared options
(quotes, comments, `); DROP TABLE`, backslashes, NUL, any unicode), every source is sent the SQL
text benign options would give, the values travel only as parameters, the rows are exactly the
matching ones, and the table is still there. Column names that are not identifiers are refused
before any SQL is built."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from dashsignal import Filter, Filters
from dashsignal.sql import Database, DuckDatabase, conditions, filtered_text

from sql_helpers import FILTERS, NO_CONDITION, log_statements

PAYLOADS = [
    "O'Brien",
    "x' OR '1'='1",
    "'); DROP TABLE notes; --",
    '"; DROP TABLE notes; --',
    "\\",
    "\\'",
    "' OR 1=1 --",
    "%s",
    "%(x)s",
    ":name",
    "?",
    "$1",
    "{conditions}",
    "*/ OR /*",
    "\u2019; SELECT 1",
    "\u00e9t\u00e9 \u65e5\u672c \U0001f600",
    "",
    " ",
]
_QUERY = "SELECT id FROM notes WHERE {conditions} ORDER BY id"


def _hostile(nul: bool) -> st.SearchStrategy[str]:
    alphabet = st.characters(
        codec="utf-8",
        exclude_characters=None if nul else "\x00",
        include_characters="'\"\\;-%:?$(){}*/\x00" if nul else "'\"\\;-%:?$(){}*/",
    )
    payloads = [*PAYLOADS, "NUL\x00'; --"] if nul else PAYLOADS
    return st.sampled_from(payloads) | st.text(alphabet, max_size=24)


class Notes:
    """A `notes` table (id, label) on one source, rewritten for each example."""

    def __init__(self, name: str, tmp: Path, postgres_url: str | None) -> None:
        self.name = name
        self.statements: list[tuple[str, Any]] = []
        self.nul = name != "postgresql"  # PostgreSQL's text cannot hold NUL
        if name == "duckdb":
            # In memory, so that the test can write the table through the same connection.
            self.duck = DuckDatabase(
                ":memory:", env="DASHSIGNAL_TEST_NO_SUCH_VARIABLE", log=self._log
            )
            self.duck.cursor().execute("CREATE TABLE notes (id INTEGER, label VARCHAR)")
            self.read = self.duck.read
        else:
            url = postgres_url if name == "postgresql" else f"sqlite:///{tmp / 'notes.db'}"
            assert url is not None
            self.database = Database(url, env="DASHSIGNAL_TEST_NO_SUCH_VARIABLE")
            with self.database.engine.begin() as connection:
                connection.exec_driver_sql("DROP TABLE IF EXISTS notes")
                connection.exec_driver_sql("CREATE TABLE notes (id INTEGER, label VARCHAR(200))")
            log_statements(self.database, self.statements)
            self.read = self.database.read

    def _log(self, sql: str, params: tuple[Any, ...]) -> None:
        self.statements.append((sql, params))

    def fill(self, labels: list[str]) -> None:
        rows = [(i, label) for i, label in enumerate(labels + labels[:1] + ["decoy"])]
        if self.name == "duckdb":
            cursor = self.duck.cursor()
            cursor.execute("DELETE FROM notes")
            cursor.executemany("INSERT INTO notes VALUES (?, ?)", rows)
            return
        with self.database.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM notes"))
            insert = sa.text("INSERT INTO notes VALUES (:id, :label)")
            connection.execute(insert, [{"id": i, "label": label} for i, label in rows])

    def select(self, kind: str, options: list[str], chosen: Any) -> tuple[list[int], str, Any]:
        """The ids the filter keeps, and the statement and parameters that were sent."""
        spec = Filter("note", kind, "Note", options=tuple(options))
        filters = Filters(spec)
        self.statements.clear()
        ids = self.read(filtered_text(_QUERY, filters, {"note": chosen}, {"note": "label"}))
        (statement, parameters), *_ = self.statements
        return ids["id"].tolist(), statement, parameters

    def count(self) -> int:
        return int(self.read("SELECT count(*) AS n FROM notes")["n"].iloc[0])


@pytest.fixture(scope="module", params=["sqlite", "duckdb", "postgresql"])
def notes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Notes:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    return Notes(request.param, tmp_path_factory.mktemp(request.param), url)


def _values_of(parameters: Any) -> list[Any]:
    return list(parameters.values()) if isinstance(parameters, dict) else list(parameters)


def _in_list(statement: str) -> tuple[str, int]:
    """The statement with its IN list as `IN (...)`, and how many parameters the list had."""
    plain = re.sub(r"%\(\w+\)s", "%s", statement)  # psycopg's named parameters
    match = re.search(r" IN \(([^()]*)\)", plain)
    assert match is not None, statement
    count = len(match.group(1).split(", "))
    return plain[: match.start()] + " IN (...)" + plain[match.end() :], count


@pytest.mark.parametrize("kind", ["dropdown", "radio", "multi", "checklist"])
def test_hostile_options_travel_only_as_parameters(notes: Notes, kind: str) -> None:
    single = kind in ("dropdown", "radio")
    seen_in_lists: dict[str, set[int]] = {}

    @settings(max_examples=100, deadline=None)
    @given(
        options=st.lists(_hostile(notes.nul), min_size=1, max_size=6, unique=True),
        data=st.data(),
    )
    def check(options: list[str], data: st.DataObject) -> None:
        if single:
            chosen: Any = data.draw(st.sampled_from(options))
            picked = [chosen]
        else:
            picked = data.draw(st.lists(st.sampled_from(options), min_size=1, unique=True))
            chosen = picked
        # Benign options at the same places: the statement they give is the one to expect.
        benign = [f"option{i}" for i in range(len(options))]
        benign_chosen: Any = [benign[options.index(p)] for p in picked]
        _, expected_sql, _ = notes.select(
            kind, benign, benign_chosen[0] if single else benign_chosen
        )

        notes.fill(options)
        ids, statement, parameters = notes.select(kind, options, chosen)

        assert statement == expected_sql
        assert sorted(map(repr, _values_of(parameters))) == sorted(map(repr, picked))
        rows = options + options[:1] + ["decoy"]
        assert ids == [i for i, label in enumerate(rows) if label in picked]
        assert notes.count() == len(rows)
        if not single:
            shape, count = _in_list(statement)
            assert count == len(picked)
            seen_in_lists.setdefault(shape, set()).add(count)

    check()
    if not single:
        # Only the number of the IN list's parameters changed with the values: one statement
        # shape in all, seen with lists of several lengths.
        assert len(seen_in_lists) == 1
        assert len(next(iter(seen_in_lists.values()))) > 1


@pytest.mark.parametrize(
    "column",
    ["a;drop", '"x"', "", "x" * 200, "1abc", "a b", "a.b.c", "région", "x--", "a.", ".a", 3],
)
def test_a_column_name_that_is_no_identifier_is_refused(column: Any) -> None:
    with pytest.raises(ValueError, match="invalid column name|must be a string"):
        conditions(FILTERS, NO_CONDITION, {"region": column})
    with pytest.raises(ValueError, match="invalid column name|must be a string"):
        filtered_text("SELECT 1 WHERE {conditions}", FILTERS, NO_CONDITION, {"region": column})


@pytest.mark.parametrize(
    ("column", "quoted"),
    [
        ("region", '"region"'),
        ("sales.region", '"sales"."region"'),
        ("Sales.order", '"Sales"."order"'),
    ],
)
def test_identifiers_are_always_quoted(column: str, quoted: str) -> None:
    others = dict.fromkeys(list(FILTERS)[1:])
    (condition,) = conditions(
        FILTERS, {**NO_CONDITION, "region": "North"}, {"region": column, **others}
    )
    assert str(condition.compile(dialect=sa.create_engine("sqlite://").dialect)) == f"{quoted} = ?"
