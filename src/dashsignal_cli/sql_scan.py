"""SQL text built from filter values: a static scan of the modules that receive `filters`.

A taint pass over each function body, no execution: a value derived from the `filters`
parameter (`filters["x"]`, `filters.get("x")`, a name assigned from one, a loop over one) that
is formatted into a string (an f-string, `%`, `+`, `.format`, `.join`, `.replace`) is reported
when that string looks like SQL (it starts with SELECT, WITH, INSERT, UPDATE or DELETE) or
reaches a SQL call (`execute`, `read_sql`, `text`, `duckdb.query`, ...). A value passed as a
parameter beside the SQL text is what the fix looks like, and is never reported.

Deliberately out of reach: values passed to a helper function and formatted there under
another name, attributes and containers other than a list grown by `append`/`extend`, and
pandas' `DataFrame.query` (not SQL).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["SqlFromFilters", "scan_sql", "selected_columns"]

# The parameter that holds the validated filter values, in every function that receives them.
_SOURCE = "filters"
# The functions the wiring calls with the filter values, whatever their parameter is named.
_RECEIVERS = ("expensive_query", "compute")

# Calls whose first argument (or one of these keywords) is SQL text.
_SQL_CALLS = frozenset(
    {
        "execute",
        "executemany",
        "executescript",
        "exec_driver_sql",
        "read_sql",
        "read_sql_query",
        "read_database",
        "read_database_uri",
        "sql",
        "SQL",
        "text",
    }
)
# `query` runs SQL on these receivers only: `DataFrame.query` takes a pandas expression.
_QUERY_RECEIVERS = frozenset({"duckdb"})
_SQL_KEYWORDS = frozenset({"sql", "query", "statement", "operation"})
# A value through one of these is a number, a boolean or an escaped SQL part: no longer text
# from the page.
_SANITISERS = frozenset(
    {"int", "float", "bool", "len", "abs", "round", "isinstance", "Identifier", "Literal"}
)
_STRING_METHODS = frozenset({"format", "format_map", "join", "replace"})
_LOOKS_LIKE_SQL = re.compile(r"\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
# A clause after the keyword: "Select a region" or "With 3 rows" alone is prose.
_CLAUSE = re.compile(r"\b(FROM|INTO|SET|WHERE|VALUES|AS)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SqlFromFilters:
    """SQL text built from a filter value, at `line` of the module."""

    line: int


def scan_sql(text: str) -> list[SqlFromFilters]:
    """Each line of `text` where SQL text is built from a filter value, in line order.

    A module that does not parse is left to the project's own linters and tests.
    """
    try:
        module = ast.parse(text)
    except SyntaxError:
        return []
    sql_constants = _sql_constant_names(module.body)
    lines: set[int] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            sources = _sources(node)
            if sources:
                lines.update(_Function(node, sources, sql_constants).findings())
    return [SqlFromFilters(line) for line in sorted(lines)]


def _sources(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    params = [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]
    names = {p.arg for p in params if p.arg == _SOURCE}
    if function.name in _RECEIVERS and params:
        names.add(params[0].arg)
    return names


def _sql_constant_names(body: list[ast.stmt]) -> set[str]:
    """Module-level names bound to SQL text (`QUERY = "SELECT ..."`)."""
    names: set[str] = set()
    for statement in body:
        if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value is not None:
            if _is_sql_literal(statement.value):
                names.update(_names_in_targets(_targets(statement)))
    return names


def _is_sql_literal(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _LOOKS_LIKE_SQL.match(node.value) is not None
        and _CLAUSE.search(node.value) is not None
    )


def _targets(statement: ast.Assign | ast.AnnAssign | ast.AugAssign) -> list[ast.expr]:
    return statement.targets if isinstance(statement, ast.Assign) else [statement.target]


def _names_in_targets(targets: list[ast.expr]) -> set[str]:
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _sql_argument(call: ast.Call) -> ast.expr | None:
    """The SQL text a call runs or wraps, or None when it is no SQL call."""
    name = _call_name(call)
    is_query = (
        name == "query"
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id in _QUERY_RECEIVERS
    )
    if name not in _SQL_CALLS and not is_query:
        return None
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    for keyword in call.keywords:
        if keyword.arg in _SQL_KEYWORDS:
            return keyword.value
    return None


class _Function:
    """The taint pass over one function body that receives the filter values."""

    def __init__(
        self,
        function: ast.FunctionDef | ast.AsyncFunctionDef,
        sources: set[str],
        sql_constants: set[str],
    ) -> None:
        self.function = function
        self.sources = sources
        self.tainted = set(sources)
        self.sql_names = set(sql_constants)
        self._spread()

    # --- which names hold a filter value, and which hold SQL text ----------------------------

    def _spread(self) -> None:
        """Names assigned from a filter value, to a fixed point (order of statements ignored)."""
        nodes = list(ast.walk(self.function))
        while True:
            before = (len(self.tainted), len(self.sql_names))
            for node in nodes:
                for targets, value in self._bindings(node):
                    if self.is_tainted(value):
                        self.tainted.update(targets)
                    if self.looks_like_sql(value):
                        self.sql_names.update(targets)
                if isinstance(node, ast.Call):
                    self._spread_call(node)
            if (len(self.tainted), len(self.sql_names)) == before:
                return

    def _bindings(self, node: ast.AST) -> Iterator[tuple[set[str], ast.expr]]:
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            yield _names_in_targets(_targets(node)), node.value
        elif isinstance(node, ast.AugAssign):
            yield _names_in_targets([node.target]), node.value
        elif isinstance(node, ast.NamedExpr):
            yield {node.target.id}, node.value
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            yield self._loop_targets(node.target, node.iter), node.iter
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            yield _names_in_targets([node.optional_vars]), node.context_expr

    def _loop_targets(self, target: ast.expr, iterable: ast.expr) -> set[str]:
        """The loop names that take a filter value: not the keys of `filters` itself (filter
        ids, fixed by the app), nor the index of `enumerate`."""
        if isinstance(iterable, ast.Name) and iterable.id in self.sources:
            return set()
        if isinstance(iterable, ast.Call) and isinstance(target, ast.Tuple):
            method = iterable.func
            keyed = (
                isinstance(method, ast.Attribute)
                and method.attr == "items"
                and isinstance(method.value, ast.Name)
                and method.value.id in self.sources
            )
            if keyed or (isinstance(method, ast.Name) and method.id == "enumerate"):
                return _names_in_targets(target.elts[1:])
        return _names_in_targets([target])

    def _spread_call(self, call: ast.Call) -> None:
        # A list grown with a filter value holds one: `clauses.append(f"... {value}")`.
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in ("append", "extend", "insert")
            and isinstance(func.value, ast.Name)
            and any(self.is_tainted(a) for a in call.args)
        ):
            self.tainted.add(func.value.id)
        argument = _sql_argument(call)
        if isinstance(argument, ast.Name):
            self.sql_names.add(argument.id)

    def is_tainted(self, node: ast.AST) -> bool:
        """True when `node`'s value may carry a filter value as it came from the page."""
        if isinstance(node, ast.Name):
            return node.id in self.tainted
        if isinstance(node, ast.Constant | ast.Compare | ast.Lambda):
            return False
        if isinstance(node, ast.IfExp):
            return self.is_tainted(node.body) or self.is_tainted(node.orelse)
        if isinstance(node, ast.Call) and _call_name(node) in _SANITISERS:
            return False
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            return self.is_tainted(node.elt)
        if isinstance(node, ast.DictComp):
            return self.is_tainted(node.key) or self.is_tainted(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "keys" and self._is_source(node.func.value):
                return False
        return any(self.is_tainted(child) for child in ast.iter_child_nodes(node))

    def _is_source(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id in self.sources

    def looks_like_sql(self, node: ast.expr) -> bool:
        """True when `node` is SQL text: its text starts with a statement's keyword and names
        a clause (so "Select a region: " is no SQL), or it starts with a name of SQL text."""
        lead = self._lead(node)
        if lead is None or isinstance(lead, ast.Name):
            return lead is not None
        words = " ".join(
            n.value
            for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        )
        return _LOOKS_LIKE_SQL.match(lead) is not None and _CLAUSE.search(words) is not None

    def _lead(self, node: ast.expr) -> str | ast.Name | None:
        """The text a string starts with, or the name of SQL text it starts with."""
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, str) else None
        if isinstance(node, ast.Name):
            return node if node.id in self.sql_names else None
        if isinstance(node, ast.JoinedStr):
            first = node.values[0] if node.values else None
            if isinstance(first, ast.FormattedValue):
                return self._lead(first.value)
            return self._lead(first) if first is not None else None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
            return self._lead(node.left)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr != "join":
                return self._lead(node.func.value)
        return None

    # --- where SQL text is built from a filter value -------------------------------------------

    def _built_from_filters(self, node: ast.AST) -> bool:
        """True when `node` builds a string and a filter value goes into it."""
        if isinstance(node, ast.JoinedStr):
            return any(self.is_tainted(v) for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
            return self.is_tainted(node.left) or self.is_tainted(node.right)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr not in _STRING_METHODS or _is_composed_sql(node.func.value):
                return False
            arguments = [*node.args, *(k.value for k in node.keywords)]
            return self.is_tainted(node.func.value) or any(map(self.is_tainted, arguments))
        return False

    def findings(self) -> set[int]:
        """The lines where SQL text is built from, or is, a filter value."""
        reported: list[ast.AST] = []
        for node in ast.walk(self.function):
            # The SQL text of a call: built from a filter value, or one itself.
            if isinstance(node, ast.Call):
                argument = _sql_argument(node)
                if argument is not None and not isinstance(argument, ast.Name):
                    if self._built_from_filters(argument) or self._plain_value(argument):
                        reported.append(argument)
            # SQL text named and used later: `sql = f"... {value}"`, `sql += ...`.
            for targets, value in self._bindings(node):
                if not isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                    continue
                bound = targets & self.sql_names
                if bound and (self._built_from_filters(value) or self._plain_value(value)):
                    reported.append(node)
            # Anything that looks like SQL and has a filter value formatted into it.
            if isinstance(node, ast.expr) and self._built_from_filters(node):
                if self.looks_like_sql(node):
                    reported.append(node)
        return {getattr(node, "lineno", 0) for node in _outermost(reported)}

    def _plain_value(self, node: ast.expr) -> bool:
        """A filter value used as SQL text as it is: `filters["sql"]`, `filters.get("sql")`."""
        if isinstance(node, ast.Call):
            getter = node.func
            return (
                isinstance(getter, ast.Attribute)
                and getter.attr == "get"
                and self.is_tainted(getter.value)
            )
        return isinstance(node, ast.Subscript) and self.is_tainted(node)


def _is_composed_sql(node: ast.expr) -> bool:
    """psycopg's `sql.SQL("... {}").format(sql.Identifier(...))` composes SQL safely."""
    return isinstance(node, ast.Call) and _call_name(node) == "SQL"


def _outermost(nodes: list[ast.AST]) -> list[ast.AST]:
    """The nodes not inside another one of them: one finding per piece of SQL text."""
    inner = {id(child) for node in nodes for child in ast.walk(node) if child is not node}
    return [node for node in nodes if id(node) not in inner]


# --- the columns a query selects ------------------------------------------------------------

# The name a SELECT item gives its column: after AS, else the item itself when it is a name.
_ITEM_NAME = re.compile(
    r'(?:.*\bAS\s+)?(?:[A-Za-z_][A-Za-z0-9_]*\.)?("(?P<quoted>[^"]+)"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))\s*\Z',
    re.IGNORECASE | re.DOTALL,
)


def selected_columns(source: str, name: str = "QUERY") -> list[str] | None:
    """The column names of the SELECT list of the module-level string `name` in `source`.

    None when they cannot be told without running it: no such string, `*`, a list that is not
    all names or aliases, or text that is not Python. Names are compared as the query writes
    them (unquoted ones in lower case, as PostgreSQL folds them).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    text = next(
        (
            node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ),
        None,
    )
    if text is None:
        return None
    match = re.match(r"\s*SELECT\s+(?:DISTINCT\s+)?(?P<items>.*?)\s+FROM\s", text, re.I | re.S)
    if match is None:
        return None
    names: list[str] = []
    for item in _top_level_items(match["items"]):
        found = _ITEM_NAME.match(item.strip())
        if found is None:
            return None
        names.append(found["quoted"] or found["bare"].lower())
    return names


def _top_level_items(text: str) -> Iterator[str]:
    """`text` split at the commas outside parentheses."""
    depth, start = 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            yield text[start:i]
            start = i + 1
    yield text[start:]
