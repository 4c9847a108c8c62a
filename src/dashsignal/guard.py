"""Answers every request Dash's renderer would never send with a 4xx, before Dash sees it.

Dash answers a callback body it cannot use with an HTTP 500, sometimes after the callback ran:
JSON nested deeper than the decoder's recursion limit, a missing key, an id that is not a
string, one output sent as a list (or several as one), a background-job handle in the query
string that is not ASCII. Browsers never send such requests; scripts and scanners do. Refusing
them here keeps the error log for real errors and runs nothing for them.

A callback request gets through only if it is what the renderer sends for a callback of this
app, and is otherwise answered:

- 413 above the settings' max_request_bytes;
- 400 unless the body is a JSON object (content type application/json) nested at most MAX_DEPTH
  levels, whose `output` names a callback of this app; whose `outputs` has that callback's shape
  (one {id, property} for a single output, a list of them, in order, for several); whose
  `inputs` and `state` are the callback's own dependencies, in order, each {id, property, value}
  with a string id (this app declares no pattern-matching ids); whose `changedPropIds` lists
  some of those inputs; and whose background-job handles in the query string (HANDLES) are
  printable ASCII tokens, as Dash signs them;
- 204 (no update, nothing run) when a callback that takes the filters is sent values the spec
  does not declare: the answer the callbacks themselves give, given here before any
  computation or background job process starts.

Well-formed requests with forged signals get through to the callbacks, which validate every
value against the spec. A file under /_dash-component-suites/ that Dash does not serve is a
404, not Dash's 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from dash import Dash
from dash.exceptions import DependencyException
from flask import Response, abort, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response as WerkzeugResponse

from dashsignal.filters import Filters, InvalidFilters

__all__ = ["CALLBACK_ENDPOINT", "MAX_DEPTH", "guard_callback_endpoint", "request_problem"]

logger = logging.getLogger(__name__)

CALLBACK_ENDPOINT = "/_dash-update-component"
# The renderer's bodies nest about 7 levels deep (a multi-select inside a signal's filters
# inside an input's value); anything much deeper is not from a browser.
MAX_DEPTH = 32
# The background-job handles Dash signs, sends to the page and reads back from the query string.
HANDLES = ("endId", "cacheKey", "job", "oldJob")
MAX_HANDLES = 32
# Printable ASCII without spaces: Dash compares signatures with hmac.compare_digest, which
# raises on any other string.
_TOKEN = re.compile(r"[!-~]{1,512}")
# The keys the renderer writes into each output and each input or state.
_OUTPUT_KEYS = frozenset({"id", "property"})
_DEPENDENCY_KEYS = frozenset({"id", "property", "value"})


def guard_callback_endpoint(app: Dash, filters: Filters, max_request_bytes: int) -> None:
    """Cap request size, and answer requests that are not what Dash's renderer sends with 4xx."""
    app.server.config["MAX_CONTENT_LENGTH"] = max_request_bytes
    app.server.register_error_handler(DependencyException, _not_served)

    def refuse_unexpected_callback_requests() -> Response | None:
        if request.method != "POST" or not request.path.endswith(CALLBACK_ENDPOINT):
            return None
        body = _json_body()
        problem = request_problem(body, request.args, app.callback_map)
        if problem is not None:
            logger.info("refused a callback request: %s", problem)
            abort(400)
        callback = app.callback_map[body["output"]]
        # While the page polls a background job, Dash starts nothing and the inputs are null.
        polling = bool(callback.get("background")) and bool(request.args.get("cacheKey"))
        sent = None if polling else filters.sent(body["inputs"])
        if sent is not None:
            try:
                filters.canonical(sent)
            except InvalidFilters as error:
                logger.info("refused filter values: %s", error)
                return Response(status=204)
        return None

    app.server.before_request(refuse_unexpected_callback_requests)


def request_problem(body: Any, args: MultiDict[str, str], callbacks: dict[str, Any]) -> str | None:
    """Why a callback request is not one the renderer sends for a callback of this app, or None."""
    for name in HANDLES:
        handles = args.getlist(name)
        if len(handles) > MAX_HANDLES or not all(_TOKEN.fullmatch(h) for h in handles):
            return f"the query string's {name} is not a token Dash signs"
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if _depth(body) > MAX_DEPTH:
        return f"the body is nested deeper than {MAX_DEPTH} levels"
    output = body.get("output")
    if not isinstance(output, str) or output not in callbacks:
        return "no callback of this app has that output"
    callback = callbacks[output]
    declared = _declared_outputs(output)
    outputs = body.get("outputs")
    # One output is sent as one {id, property}, several as a list of them.
    sent = _names(outputs if len(declared) > 1 else [outputs], _OUTPUT_KEYS)
    if sent != declared:
        return "the outputs are not the callback's"
    inputs = _names(body.get("inputs"), _DEPENDENCY_KEYS)
    if inputs is None or inputs != _names(callback["inputs"]):
        return "the inputs are not the callback's"
    if _names(body.get("state", []), _DEPENDENCY_KEYS) != _names(callback.get("state", [])):
        return "the state is not the callback's"
    triggers = {f"{component}.{prop}" for component, prop in inputs}
    changed = body.get("changedPropIds")
    if not isinstance(changed, list) or not all(
        isinstance(prop_id, str) and prop_id in triggers for prop_id in changed
    ):
        return "changedPropIds are not the callback's inputs"
    return None


def _json_body() -> Any:
    """The parsed body, or None when it is not JSON (cached: Dash reads the same object)."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        # json.loads raises it for arrays or objects nested about a thousand levels deep, and
        # get_json(silent=True) only catches ValueError.
        return None


def _depth(body: Any) -> int:
    """How deeply arrays and objects nest in `body`: without recursion, so without a limit."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(body, 1)]
    while pending:
        node, depth = pending.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        pending.extend((child, depth + 1) for child in children)
    return deepest


def _names(dependencies: Any, keys: frozenset[str] | None = None) -> list[tuple[str, str]] | None:
    """(id, property) of each dependency; None when any is not a plain {id, property} with
    string values (and, when `keys` is given, no key beyond those)."""
    if not isinstance(dependencies, list):
        return None
    names = []
    for item in dependencies:
        if not isinstance(item, dict) or (keys is not None and not item.keys() <= keys):
            return None
        component, prop = item.get("id"), item.get("property")
        if not isinstance(component, str) or not isinstance(prop, str):
            return None
        names.append((component, prop))
    return names


def _declared_outputs(output: str) -> list[tuple[str, str]]:
    # Dash names a callback "id.prop", or "..id1.prop1...id2.prop2.." for several outputs.
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    return [(part.rsplit(".", 1)[0], part.rsplit(".", 1)[1]) for part in parts]


def _not_served(error: DependencyException) -> WerkzeugResponse:
    """A file Dash does not serve (an unknown library, a path outside its own): 404."""
    return NotFound().get_response()
