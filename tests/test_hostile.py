"""Hostile clients against generated projects in production form: `gunicorn app:server` workers,
a real redis-server, real HTTP.

A table of a few hundred requests no browser sends (malformed, pathological, forged) is sent
to three apps: the filesystem cache, the Redis cache, and the filesystem cache with the
compute step as a background callback. None may be answered with HTTP 500, none may start a
computation (the counting DATA_DOUBLE of test_production) or a background job, and no
traceback may reach a response or the log. A burst of valid background jobs never has more
job processes alive than the app's cap.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import math
import re
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from dashsignal.users import add_user
from dashsignal_cli.names import SIGNAL_ID
from dashsignal_cli.spec import spec_from_data
from dashsignal_cli.specfile import dump_spec, parse_spec_data

from project_helpers import make_spec
from test_production import (
    BIN,
    DEMO_FILTERS,
    DEMO_VIEWS,
    HOST,
    HTTP_TIMEOUT,
    App,
    RedisServer,
    Reply,
    all_at_once,
    assert_empty_state,
    callback_body,
    free_port,
    fresh_filters,
    start_app,
    stop_process,
)

pytestmark = pytest.mark.e2e

CALLBACK_PATH = "/_dash-update-component"
HOSTILE_FILTERS = (*DEMO_FILTERS, "price:range=0.0..99.0")  # price: a float range, step 0.99
VALID = {"region": "North", "product": ["Pro"], "year": [2020, 2023], "price": [0.0, 99.0]}
# Filter values no spec declares: a request carrying them must run nothing, whatever else it has.
REFUSED = {**VALID, "region": "Atlantis"}
FOREIGN_KEY = "dashsignal:other_app:0123456789ab:1:pickle5:" + "0" * 64
TOO_LARGE = 10**400  # valid JSON; Python parses it to an int no float can hold
# Stands for raw JSON text spliced into an encoded body (see `spliced`).
HOLE = "\x00hole\x00"
# Dash's background-job handles in the query string, and a forged one that looks signed.
HANDLES = ("endId", "cacheKey", "job", "oldJob")
FORGED_HANDLE = "12345~" + "0" * 64


# --- requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One HTTP request: a body (JSON-encoded unless bytes) and how it is sent."""

    body: Any = None
    content_type: str | None = "application/json"
    method: str = "POST"
    path: str = CALLBACK_PATH
    query: tuple[tuple[str, str], ...] = ()
    chunked: bool = False

    def data(self) -> bytes | None:
        if self.body is None or isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode("utf-8")  # NaN and Infinity as JSON's extensions


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return f"HTTP {self.status}: {self.body[:300]!r}"


def send(port: int, probe: Probe, credentials: dict[str, str] | None = None) -> Answer:
    url = probe.path + ("?" + urlencode(probe.query) if probe.query else "")
    data = probe.data()
    headers = dict(credentials or {})
    if probe.content_type is not None:
        headers["Content-Type"] = probe.content_type
    connection = http.client.HTTPConnection(HOST, port, timeout=HTTP_TIMEOUT)
    try:
        try:
            if probe.chunked and data is not None:
                chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))
                connection.request(
                    probe.method, url, body=chunks, headers=headers, encode_chunked=True
                )
            else:
                connection.request(probe.method, url, body=data, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            # The server answered (413, say) and closed before it read the whole body, as it
            # may: its answer is still there to read.
            pass
        response = connection.getresponse()
        return Answer(response.status, response.read(), dict(response.getheaders()))
    finally:
        connection.close()


# --- building hostile bodies -------------------------------------------------------------------

Make = Callable[[App], Any]  # a body (or a Probe) for one app's callbacks


def compute_with(**values: Any) -> Make:
    def body(app: App) -> Any:
        filters = {**VALID, **values}
        callback = app.compute_callback
        return callback_body(callback, [filters[dep["id"]] for dep in callback["inputs"]])

    return body


def consume_with(signal_value: Any, view: str = "total") -> Make:
    return lambda app: callback_body(app.consumer(view), [signal_value])


def edited(make: Make, edit: Callable[[dict[str, Any]], Any]) -> Make:
    return lambda app: edit(make(app))


def raw(data: bytes) -> Make:
    return lambda app: data


def without(*keys: str) -> Callable[[dict[str, Any]], Any]:
    return lambda body: {k: v for k, v in body.items() if k not in keys}


def setting(key: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda body: {**body, key: value}


def input_edit(index: int, **changes: Any) -> Callable[[dict[str, Any]], Any]:
    """Change the index-th input's keys (a value of `...` removes the key)."""

    def edit(body: dict[str, Any]) -> Any:
        inputs = list(body["inputs"])
        item = {**inputs[index], **changes}
        inputs[index] = {k: v for k, v in item.items() if v is not ...}
        return {**body, "inputs": inputs}

    return edit


def spliced(make: Make, text: str | bytes) -> Make:
    """The body of `make`, JSON-encoded, with the string HOLE replaced by raw JSON `text`."""

    def body(app: App) -> bytes:
        encoded = json.dumps(make(app)).encode("utf-8")
        piece = text if isinstance(text, bytes) else text.encode("utf-8")
        hole = json.dumps(HOLE).encode("utf-8")
        assert hole in encoded, "no hole in the body"
        return encoded.replace(hole, piece)

    return body


def probe(make: Make, **how: Any) -> Make:
    """The body of `make`, sent with other headers, method or query string."""
    return lambda app: Probe(make(app), **how)


def rows(app: App) -> dict[str, Any]:
    """The body of the rows table's consumer (two outputs) for a forged signal."""
    return consume_with({"cache_key": FOREIGN_KEY}, "rows")(app)


def sales(app: App) -> dict[str, Any]:
    return consume_with({"cache_key": FOREIGN_KEY}, "sales")(app)


def nested(depth: int, shape: str) -> str:
    """JSON `depth` levels deep: arrays, objects, or both in turn."""
    if shape == "array":
        return "[" * depth + "]" * depth
    if shape == "object":
        return '{"a":' * depth + "0" + "}" * depth
    return '[{"a":' * (depth // 2) + "0" + "}]" * (depth // 2)


# --- the table ---------------------------------------------------------------------------------

FORGED_SIGNALS = {
    "foreign-cache-key": {"cache_key": FOREIGN_KEY},
    "foreign-cache-key-beside-filters": {"cache_key": FOREIGN_KEY, "filters": None},
    "key-as-string": FOREIGN_KEY,
    "number": 42,
    "list": [FOREIGN_KEY],
    "boolean": True,
    "null": None,
    "filters-not-a-mapping": {"filters": ["North"]},
    "filters-undeclared-value": {"filters": {**VALID, "region": "Atlantis"}},
    "filters-extra-key": {"filters": {**VALID, "cache_key": FOREIGN_KEY}},
    "filters-missing-key": {"filters": {"region": "North"}},
    "filters-off-step": {"filters": {**VALID, "year": [2020.5, 2023]}},
    "filters-unhashable-option": {"filters": {**VALID, "product": [["Pro"]]}},
    "filters-boolean-number": {"filters": {**VALID, "year": [True, 2023]}},
    "filters-huge-number": {"filters": {**VALID, "year": [TOO_LARGE, 2023]}},
    "filters-nan": {"filters": {**VALID, "price": [math.nan, 99.0]}},
    "filters-lookalike-key": {"filters": {**VALID, "regi\u043en": "North"}},
    "filters-empty": {"filters": {}},
    "filters-deep-but-parseable": {"filters": {**VALID, "product": [[[[["Pro"]]]]]}},
}
FORGED_FILTERS = {
    "undeclared-option": {"region": "Atlantis"},
    "option-of-wrong-type": {"region": 1},
    "option-as-list": {"region": ["North"]},
    "undeclared-multi-option": {"product": ["Pro", "Gold"]},
    "multi-as-string": {"product": "Pro"},
    "multi-longer-than-options": {"product": ["Pro", "Pro", "Pro", "Pro"]},
    "multi-of-lists": {"product": [["Pro"]]},
    "range-outside-bounds": {"year": [2018, 2023]},
    "range-reversed": {"year": [2023, 2020]},
    "range-wrong-length": {"year": [2020]},
    "range-as-string": {"year": "2020..2023"},
    "range-of-booleans": {"year": [True, True]},
    "range-huge-number": {"year": [TOO_LARGE, 2023]},
    "integer-range-off-step": {"year": [2020.5, 2023]},
    "float-range-off-step": {"price": [0.123, 99.0]},
    "float-range-between-steps": {"price": [0.99 * 2.5, 99.0]},
    "float-range-outside-bounds": {"price": [0.0, 99.5]},
    "range-not-a-number": {"year": [math.nan, 2023]},  # sent as NaN, which json.loads accepts
    "range-infinite": {"price": [0.0, math.inf]},
    "option-an-object": {"region": {}},
    "option-true": {"region": True},
    "option-zero": {"region": 0},
    "option-empty-string": {"region": ""},
    "option-lower-case": {"region": "north"},
    "multi-an-object": {"product": {"Pro": 1}},
    "multi-of-nulls": {"product": [None]},
    "range-an-object": {"year": {"0": 2020, "1": 2023}},
    "range-of-strings": {"year": [2020, "2023"]},
    "range-of-lists": {"year": [[2020], [2023]]},
    "float-range-of-strings": {"price": ["0", "99"]},
    "range-of-nulls": {"year": [None, None]},
    "range-of-three": {"year": [2020, 2023, 2024]},
    "range-empty": {"year": []},
    "range-null": {"year": None},
    "option-lookalike-greek": {"region": "N\u03bfrth"},
    "option-zero-width-space": {"region": "North\u200b"},
    "option-nul": {"region": "North\x00"},
    "option-right-to-left": {"region": "\u202eNorth"},
    "option-math-letters": {"region": "\U0001d4dd\U0001d4f8\U0001d4fb\U0001d4fd\U0001d4f1"},
    "multi-combining-accent": {"product": ["Pro\u0301"]},
    "option-emoji": {"region": "\U0001f30d"},
}
MALFORMED: dict[str, Make] = {
    "not-json": raw(b"{this is not json"),
    "json-array": raw(b"[1, 2, 3]"),
    "json-string": raw(b'"hello"'),
    "json-null": raw(b"null"),
    "json-true": raw(b"true"),
    "json-number": raw(b"0"),
    "json-infinity": raw(b"1e999"),
    "json-array-of-object": raw(b"[{}]"),
    "empty-body": raw(b""),
    "empty-object": raw(b"{}"),
    "truncated": lambda app: json.dumps(compute_with()(app)).encode()[:-7],
    "trailing-garbage": lambda app: json.dumps(compute_with()(app)).encode() + b"}",
    "missing-output": edited(compute_with(), without("output")),
    "missing-outputs": edited(compute_with(), without("outputs")),
    "missing-inputs": edited(compute_with(), without("inputs")),
    "missing-changed-prop-ids": edited(compute_with(), without("changedPropIds")),
    "unknown-output": edited(compute_with(), setting("output", "nope.figure")),
    "output-as-list": edited(compute_with(), setting("output", [f"{SIGNAL_ID}.data"])),
    "output-as-object": edited(compute_with(), setting("output", {"id": SIGNAL_ID})),
    "output-null": edited(compute_with(), setting("output", None)),
    "output-with-at-suffix": edited(compute_with(), setting("output", f"{SIGNAL_ID}.data@1")),
    "output-of-a-running-prop": edited(
        compute_with(), setting("output", "dashsignal-running.style")
    ),
    "inputs-as-object": edited(compute_with(), setting("inputs", {"region": "North"})),
    "inputs-null": edited(compute_with(), setting("inputs", None)),
    "inputs-empty": edited(compute_with(), setting("inputs", [])),
    "input-without-property": edited(
        compute_with(), lambda b: {**b, "inputs": [{"id": "region"}, *b["inputs"][1:]]}
    ),
    "input-id-a-number": edited(compute_with(), input_edit(0, id=7)),
    "input-id-null": edited(compute_with(), input_edit(0, id=None)),
    "input-id-a-list": edited(compute_with(), input_edit(0, id=["region"])),
    "input-property-a-number": edited(compute_with(), input_edit(0, property=1)),
    "input-of-another-property": edited(compute_with(), input_edit(0, property="options")),
    "input-a-string": edited(compute_with(), lambda b: {**b, "inputs": ["region.value"]}),
    "input-extra-key-triggered": edited(compute_with(), input_edit(0, triggered=True)),
    "input-extra-key-str-id": edited(compute_with(), input_edit(0, str_id=5)),
    "input-extra-key-read-only": edited(compute_with(), input_edit(0, _read_only=1)),
    "input-extra-key-dunder": edited(compute_with(), input_edit(0, __class__="x")),
    "fewer-inputs-than-declared": edited(
        compute_with(), lambda b: {**b, "inputs": b["inputs"][:-1]}
    ),
    "more-inputs-than-declared": edited(
        compute_with(), lambda b: {**b, "inputs": [*b["inputs"], b["inputs"][0]]}
    ),
    "inputs-reordered": edited(
        compute_with(), lambda b: {**b, "inputs": [*b["inputs"][1:], b["inputs"][0]]}
    ),
    "inputs-repeated-many-times": edited(
        compute_with(), lambda b: {**b, "inputs": b["inputs"] * 2000}
    ),
    "consumer-without-inputs": edited(consume_with(None), setting("inputs", [])),
    "consumer-with-filter-inputs": lambda app: {
        **consume_with(None)(app),
        "inputs": compute_with()(app)["inputs"],
    },
    "compute-with-signal-input": lambda app: {
        **compute_with()(app),
        "inputs": consume_with(None)(app)["inputs"],
    },
    "outputs-of-another-callback": edited(
        compute_with(), setting("outputs", {"id": "total", "property": "children"})
    ),
    "outputs-empty-list": edited(compute_with(), setting("outputs", [])),
    "outputs-a-number": edited(compute_with(), setting("outputs", 5)),
    "changed-prop-ids-numbers": edited(compute_with(), setting("changedPropIds", [1])),
    "changed-prop-ids-object": edited(compute_with(), setting("changedPropIds", {})),
    "changed-prop-ids-null": edited(compute_with(), setting("changedPropIds", None)),
    "changed-prop-ids-string": edited(compute_with(), setting("changedPropIds", "region.value")),
    "changed-prop-ids-of-nulls": edited(compute_with(), setting("changedPropIds", [None])),
    "changed-prop-ids-undeclared": edited(compute_with(), setting("changedPropIds", ["x.value"])),
    "changed-prop-ids-an-output": edited(
        compute_with(), setting("changedPropIds", [f"{SIGNAL_ID}.data"])
    ),
    "changed-prop-ids-empty-string": edited(compute_with(), setting("changedPropIds", [""])),
    "changed-prop-ids-mixed": edited(
        compute_with(), setting("changedPropIds", ["region.value", {"a": 1}])
    ),
    "changed-prop-ids-pattern-matching": edited(
        compute_with(), setting("changedPropIds", ['{"index":0,"type":"region"}.value'])
    ),
    "state-not-a-list": edited(compute_with(), setting("state", "x")),
    "state-null": edited(compute_with(), setting("state", None)),
    "state-an-object": edited(compute_with(), setting("state", {})),
    "state-undeclared": edited(
        compute_with(),
        setting("state", [{"id": "region", "property": "value", "value": "North"}]),
    ),
    "state-of-lists": edited(compute_with(), setting("state", [[]])),
    "state-of-nulls": edited(compute_with(), setting("state", [None])),
    "lookalike-input-id-cyrillic": edited(compute_with(), input_edit(0, id="regi\u043en")),
    "lookalike-input-id-zero-width": edited(compute_with(), input_edit(0, id="region\u200b")),
    "lookalike-property": edited(compute_with(), input_edit(0, property="valu\u0435")),
    "lookalike-output": edited(compute_with(), setting("output", "dashsignal\u2010signal.data")),
    "lone-surrogate-in-output": raw(
        b'{"output": "\\udfff.data", "outputs": {}, "inputs": [], "changedPropIds": []}'
    ),
    "nul-in-changed-prop-ids": edited(
        compute_with(), setting("changedPropIds", ["region.value\x00"])
    ),
    "invalid-utf8": raw(b'{"output": "\xff\xfe.data"}'),
    "overlong-utf8": raw(b'{"output": "\xc0\xae.data"}'),
}
# Outputs in the wrong shape: one declared output sent as a list and the reverse, and others.
OUTPUT_SHAPES: dict[str, Make] = {
    "single-as-list": edited(
        compute_with(), lambda b: {**b, "outputs": [{"id": SIGNAL_ID, "property": "data"}]}
    ),
    "single-as-list-of-lists": edited(
        compute_with(), lambda b: {**b, "outputs": [[{"id": SIGNAL_ID, "property": "data"}]]}
    ),
    "single-as-two": edited(compute_with(), lambda b: {**b, "outputs": [b["outputs"]] * 2}),
    "single-empty-object": edited(compute_with(), setting("outputs", {})),
    "single-without-property": edited(compute_with(), setting("outputs", {"id": SIGNAL_ID})),
    "single-without-id": edited(compute_with(), setting("outputs", {"property": "data"})),
    "single-extra-key": edited(
        compute_with(), lambda b: {**b, "outputs": {**b["outputs"], "value": 1}}
    ),
    "single-property-with-at": edited(
        compute_with(), setting("outputs", {"id": SIGNAL_ID, "property": "data@x"})
    ),
    "single-id-with-space": edited(
        compute_with(), setting("outputs", {"id": SIGNAL_ID + " ", "property": "data"})
    ),
    "single-null": edited(compute_with(), setting("outputs", None)),
    "single-a-string": edited(compute_with(), setting("outputs", f"{SIGNAL_ID}.data")),
    "single-true": edited(compute_with(), setting("outputs", True)),
    "consumer-single-as-list": edited(sales, lambda b: {**b, "outputs": [b["outputs"]]}),
    "multi-as-first-object": edited(rows, lambda b: {**b, "outputs": b["outputs"][0]}),
    "multi-as-object-of-lists": edited(
        rows, setting("outputs", {"id": ["rows", "rows"], "property": ["rowData", "columnDefs"]})
    ),
    "multi-reversed": edited(rows, lambda b: {**b, "outputs": b["outputs"][::-1]}),
    "multi-one-of-two": edited(rows, lambda b: {**b, "outputs": b["outputs"][:1]}),
    "multi-three": edited(rows, lambda b: {**b, "outputs": [*b["outputs"], b["outputs"][0]]}),
    "multi-list-of-lists": edited(rows, lambda b: {**b, "outputs": [[o] for o in b["outputs"]]}),
    "multi-with-null": edited(rows, lambda b: {**b, "outputs": [b["outputs"][0], None]}),
    "multi-of-strings": edited(rows, setting("outputs", ["rows.rowData", "rows.columnDefs"])),
}
# Pattern-matching ids, where this app declares none.
PATTERN_IDS: dict[str, Make] = {
    "input-id-index": edited(compute_with(), input_edit(0, id={"type": "filter", "index": 0})),
    "input-id-type": edited(compute_with(), input_edit(0, id={"type": "region"})),
    "input-id-empty": edited(compute_with(), input_edit(0, id={})),
    "input-id-wildcard": edited(compute_with(), input_edit(0, id={"type": "x", "index": ["ALL"]})),
    "input-id-nan": edited(compute_with(), input_edit(0, id={"type": "x", "index": math.nan})),
    "input-id-huge": edited(compute_with(), input_edit(0, id={"type": "x", "index": TOO_LARGE})),
    "input-id-nested": edited(compute_with(), input_edit(0, id={"a": {"b": {"c": [1, [2]]}}})),
    "inputs-wildcard-list": edited(
        compute_with(), lambda b: {**b, "inputs": [[b["inputs"][0]], *b["inputs"][1:]]}
    ),
    "output-id-object": edited(
        compute_with(), setting("outputs", {"id": {"type": SIGNAL_ID}, "property": "data"})
    ),
    "output-string-pattern": edited(
        compute_with(), setting("output", '{"index":0,"type":"x"}.data')
    ),
    "state-id-object": edited(
        compute_with(), setting("state", [{"id": {"type": "region"}, "property": "value"}])
    ),
    "consumer-input-id-object": edited(
        consume_with(None), input_edit(0, id={"type": SIGNAL_ID, "index": 0})
    ),
}
# Duplicated keys: the JSON decoder keeps the last; the last is hostile.
DUPLICATES: dict[str, tuple[Make, str]] = {
    "output-then-unknown": (
        lambda app: json.dumps(compute_with()(app))[:-1].encode() + b', "output": "nope.data"}',
        "malformed",
    ),
    "outputs-then-list": (
        lambda app: (
            json.dumps(compute_with()(app))[:-1].encode()
            + b', "outputs": [{"id": "dashsignal-signal", "property": "data"}]}'
        ),
        "malformed",
    ),
    "inputs-then-refused": (
        lambda app: (
            json.dumps(compute_with()(app))[:-1].encode()
            + b', "inputs": '
            + json.dumps(compute_with(**REFUSED)(app)["inputs"]).encode()
            + b"}"
        ),
        "refused",
    ),
    "state-then-null": (
        lambda app: json.dumps(compute_with()(app))[:-1].encode() + b', "state": null}',
        "malformed",
    ),
    "changed-then-object": (
        lambda app: json.dumps(compute_with()(app))[:-1].encode() + b', "changedPropIds": {}}',
        "malformed",
    ),
    "value-then-undeclared": (
        lambda app: (
            json.dumps(compute_with()(app))
            .encode()
            .replace(b'"value": "North"', b'"value": "North", "value": "Atlantis"')
        ),
        "refused",
    ),
    "id-then-unknown": (
        lambda app: (
            json.dumps(compute_with()(app))
            .encode()
            .replace(b'"id": "region"', b'"id": "region", "id": "nope"')
        ),
        "malformed",
    ),
    "signal-filters-then-forged": (
        lambda app: (
            json.dumps(consume_with({"filters": VALID})(app))
            .encode()
            .replace(b'"filters": {', b'"filters": {"region": "North"}, "filters": {"x": 1, ')
        ),
        "forged-signal",
    ),
}
# Raw numbers the JSON decoder reads as Python numbers (or refuses: past 4,300 digits).
NUMBERS = {
    "int-401-digits": "1" + "0" * 400,
    "int-4300-digits": "9" * 4300,
    "int-4301-digits": "9" * 4301,
    "int-20000-digits": "7" * 20000,
    "float-overflow": "1e999",
    "float-negative-overflow": "-1e999",
    "float-max": "1.7976931348623157e308",
    "float-underflow": "1e-400",
    "int-2-pow-63": str(2**63),
    "int-minus-2-pow-63-minus-1": str(-(2**63) - 1),
    "int-2-pow-1024": str(2**1024),
    "negative-zero": "-0",
    "nan": "NaN",
    "infinity": "Infinity",
    "negative-infinity": "-Infinity",
}
NUMBER_PLACES: dict[str, tuple[Make, str]] = {
    "year": (compute_with(year=[HOLE, 2023]), "refused"),
    # 98.5 is off the price slider's steps: whatever the number reads as, the pair is refused.
    "price": (compute_with(price=[HOLE, 98.5]), "refused"),
    "region": (compute_with(region=HOLE), "refused"),
    "signal": (consume_with({"filters": {**VALID, "year": [2020, HOLE]}}), "forged-signal"),
    "output-id": (
        edited(compute_with(), setting("outputs", {"id": HOLE, "property": "data"})),
        "malformed",
    ),  # fmt: skip
    "changed-prop-id": (edited(compute_with(), setting("changedPropIds", [HOLE])), "malformed"),
    "state": (edited(compute_with(), setting("state", [HOLE])), "malformed"),
}
# Where a deeply nested value goes, and what a body with it must get.
DEEP_PLACES: dict[str, Make] = {
    "body": lambda app: HOLE,
    "filter-value": compute_with(region=HOLE),
    "signal": consume_with({"filters": HOLE}),
    "extra-key": edited(compute_with(), setting("extra", HOLE)),
    "changed-prop-id": edited(compute_with(), setting("changedPropIds", [HOLE])),
    "output-id": edited(compute_with(), setting("outputs", {"id": HOLE, "property": "data"})),
}
DEEP_LEVELS = (1_000, 3_000, 10_000, 30_000, 100_000)
# Parseable, but deeper than any body the renderer sends.
MODERATE_LEVELS = (40, 100, 500, 990)
NOT_JSON_TYPES = (
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "text/json",
    "application/javascript",
    "application/octet-stream",
)
# JSON in other encodings or media types that still say JSON: decoded, then refused.
ENCODINGS = {
    "utf-16": ("application/json", "utf-16"),
    "utf-16-be": ("application/json", "utf-16-be"),
    "utf-32": ("application/json", "utf-32"),
    "utf-8-byte-order-mark": ("application/json", "utf-8-sig"),
    "charset-latin-1-header": ("application/json; charset=latin-1", "utf-8"),
    "plus-json-type": ("application/vnd.api+json", "utf-8"),
    "json-patch-type": ("application/json-patch+json", "utf-8"),
}
BAD_HANDLES = {
    "non-ascii": "a~\u00e9",
    "empty": "",
    "nul": "\x00",
    "space": "a b",
    "too-long": "a" * 600,
    "replacement-char": "\ufffd",
}
PATHS = (
    "/_dash-component-suites/nope/x.js",
    "/_dash-component-suites/os/x.js",
    "/_dash-component-suites/dash/dcc/nope.js",
    "/_dash-component-suites/dash/../../etc/passwd",
    "/_dash-component-suites/dash/%ff.js",
    "/_dash-component-suites/plotly/x.js",
    "/_dash-component-suites/dash_ag_grid/x.v1m1.js",
    "/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.min.js",
)

# What each kind of request must be answered with.
EXPECTED = {
    "malformed": {400},
    "media": {400, 415},
    "refused": {204},
    "forged-signal": {200, 204},
    "too-large": {413},
    # Past the limit, a chunked body is cut short: what is left is not JSON.
    "too-large-chunked": {400, 413},
    "not-found": {404},
    "method": {405},
}


def hostile_cases() -> dict[str, tuple[Make, str]]:
    """Every hostile request, by name: how to make it for an app, and its kind (EXPECTED)."""
    cases: dict[str, tuple[Make, str]] = {}
    cases |= {f"signal-{k}": (consume_with(v), "forged-signal") for k, v in FORGED_SIGNALS.items()}
    cases |= {f"filters-{k}": (compute_with(**v), "refused") for k, v in FORGED_FILTERS.items()}
    cases |= {f"malformed-{k}": (make, "malformed") for k, make in MALFORMED.items()}
    cases |= {f"outputs-{k}": (make, "malformed") for k, make in OUTPUT_SHAPES.items()}
    cases |= {f"pattern-{k}": (make, "malformed") for k, make in PATTERN_IDS.items()}
    cases |= {f"duplicate-{k}": case for k, case in DUPLICATES.items()}
    for place, (make, kind) in NUMBER_PLACES.items():
        for name, text in NUMBERS.items():
            # Past 4,300 digits the decoder itself refuses the body.
            too_long = len(text.lstrip("-")) > 4300
            cases[f"number-{place}-{name}"] = (
                spliced(make, text),
                "malformed" if too_long else kind,
            )
    for place, make in DEEP_PLACES.items():
        for depth in DEEP_LEVELS:
            for shape in ("array", "object", "mixed"):
                text = nested(depth, shape)
                cases[f"deep-{place}-{shape}-{depth}"] = (spliced(make, text), "malformed")
        for depth in MODERATE_LEVELS:
            deep = spliced(make, nested(depth, "array"))
            cases[f"deep-{place}-array-{depth}"] = (deep, "malformed")
    for content_type in NOT_JSON_TYPES:
        cases[f"media-{content_type}"] = (probe(compute_with(), content_type=content_type), "media")
    for name, (content_type, encoding) in ENCODINGS.items():

        def encoded(app: App, encoding: str = encoding, content_type: str = content_type) -> Probe:
            text = json.dumps(compute_with(**REFUSED)(app))
            return Probe(text.encode(encoding), content_type=content_type)

        cases[f"encoding-{name}"] = (encoded, "refused")
    for handle in HANDLES:
        for name, value in BAD_HANDLES.items():
            cases[f"query-{handle}-{name}"] = (
                probe(compute_with(), query=((handle, value),)),
                "malformed",
            )
        # Well-formed but forged: Dash reads no job and starts none; the filters are refused.
        cases[f"query-{handle}-forged"] = (
            probe(compute_with(**REFUSED), query=((handle, FORGED_HANDLE),)),
            "refused",
        )
    cases["query-old-job-many"] = (
        probe(compute_with(), query=(("oldJob", FORGED_HANDLE),) * 40),
        "malformed",
    )
    cases["query-forged-handles-consumer"] = (
        probe(
            consume_with({"cache_key": FOREIGN_KEY}),
            query=(("cacheKey", FORGED_HANDLE), ("job", FORGED_HANDLE)),
        ),
        "forged-signal",
    )
    cases["query-forged-poll-of-the-compute-step"] = (
        probe(compute_with(**REFUSED), query=(("cacheKey", FORGED_HANDLE), ("job", "1~0"))),
        "refused",
    )
    for path in PATHS:
        get = Probe(method="GET", path=path, content_type=None)
        cases[f"path-{path}"] = (lambda app, get=get: get, "not-found")
    for method in ("PUT", "DELETE", "PATCH"):
        cases[f"method-{method}"] = (probe(compute_with(), method=method), "method")
    cases["extra-top-level-key"] = (edited(compute_with(**REFUSED), setting("extra", 1)), "refused")
    cases["input-without-value"] = (edited(compute_with(), input_edit(2, value=...)), "refused")
    cases["changed-prop-ids-repeated"] = (
        edited(compute_with(**REFUSED), lambda b: {**b, "changedPropIds": ["year.value"] * 5000}),
        "refused",
    )
    cases["oversized-2MiB-json"] = (
        edited(compute_with(), setting("padding", "x" * 2**21)),
        "too-large",
    )
    cases["oversized-2MiB-bytes"] = (raw(b"{" + b" " * 2**21 + b"}"), "too-large")
    chunked_large = probe(raw(b"[" + b"0," * 2**20 + b"0]"), chunked=True)
    cases["oversized-2MiB-chunked"] = (chunked_large, "too-large-chunked")
    cases["chunked-refused"] = (probe(compute_with(**REFUSED), chunked=True), "refused")
    cases["chunked-deep"] = (
        probe(spliced(lambda app: HOLE, nested(50_000, "array")), chunked=True),
        "malformed",
    )
    return cases


HOSTILE_CASES = hostile_cases()


def test_the_table_has_every_class_of_hostile_request() -> None:
    prefixes = Counter(name.split("-")[0] for name in HOSTILE_CASES)
    expected = {"signal", "filters", "malformed", "outputs", "pattern", "duplicate", "number"}
    expected |= {"deep", "media", "encoding", "query", "path", "method", "oversized", "chunked"}
    assert expected <= set(prefixes), prefixes
    assert len(HOSTILE_CASES) >= 200, len(HOSTILE_CASES)
    assert {kind for _, kind in HOSTILE_CASES.values()} == set(EXPECTED)


# --- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    app: App
    process: subprocess.Popen[bytes]
    project: Path


SERVERS = ("filesystem", "redis", "background", "users")
# The app with users: basic auth, results scoped to the user; the table runs signed in as
# USER (so that each request reaches the guard), and once more without credentials.
USER, PASSWORD, SECRET = "mallory", "mallory-password", "m" * 64


def credentials(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def users_spec() -> Any:
    """The table's spec, with basic auth and a query scoped to the user."""
    spec = make_spec("shop", views=DEMO_VIEWS, filters=HOSTILE_FILTERS)
    data = parse_spec_data(dump_spec(spec))
    data["app"] |= {"auth": "basic", "scope": "user"}
    return spec_from_data(data)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """The four apps, started at once, each under two gunicorn workers."""
    redis_server = RedisServer(tmp_path_factory.mktemp("redis"), free_port())
    redis_server.start()
    started: dict[str, Server] = {}

    def start(name: str) -> None:
        backend = "redis" if name == "redis" else "filesystem"
        spec = make_spec(
            "shop",
            views=DEMO_VIEWS,
            filters=HOSTILE_FILTERS,
            backend=backend,
            background=name == "background",
        )
        tmp = tmp_path_factory.mktemp(name)
        url = redis_server.url if backend == "redis" else None
        signed_in: dict[str, Any] = {}
        if name == "users":
            spec = users_spec()
            users = tmp / "users.toml"
            add_user(users, USER, PASSWORD, {"region": "North"})
            signed_in = {
                "environ": {"DASHSIGNAL_SECRET_KEY": SECRET, "DASHSIGNAL_USERS": str(users)},
                "headers": credentials(),
            }
        app, process = start_app(tmp, spec, workers=2, redis_url=url, **signed_in)
        started[name] = Server(app, process, tmp / spec.app.name)

    try:
        with ThreadPoolExecutor(max_workers=len(SERVERS)) as pool:
            list(pool.map(start, SERVERS))
        yield started
    finally:
        with ThreadPoolExecutor(max_workers=len(SERVERS)) as pool:
            list(pool.map(stop_process, [server.process for server in started.values()]))
        redis_server.stop()


# --- hostile requests ---------------------------------------------------------------------------


def check(app: App, name: str, make: Make, kind: str) -> tuple[Answer, list[str]]:
    """Send one case; its answer and what is wrong with it."""
    made = make(app)
    answer = send(app.port, made if isinstance(made, Probe) else Probe(made), app.headers)
    problems = []
    if answer.status not in EXPECTED[kind]:
        problems.append(f"{name}: expected HTTP {sorted(EXPECTED[kind])}, got {answer.describe()}")
    if b"Traceback" in answer.body:
        problems.append(f"{name}: a traceback in the response body")
    if b"cacheKey" in answer.body:
        problems.append(f"{name}: a background job was started: {answer.describe()}")
    if kind == "forged-signal" and answer.status == 200:
        try:
            assert_empty_state(app.consumer("total"), Reply(answer.status, answer.body))
        except AssertionError as error:
            problems.append(f"{name}: {error}")
    return answer, problems


@pytest.mark.parametrize("name", SERVERS)
def test_hostile_requests_get_4xx_and_run_nothing(servers: dict[str, Server], name: str) -> None:
    app = servers[name].app
    offset, before = app.log_size(), app.computations()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(lambda item: check(app, item[0], *item[1]), sorted(HOSTILE_CASES.items()))
        )

    problems = [problem for _, found in results for problem in found]
    statuses = Counter(answer.status for answer, _ in results)
    jobs = sum(b"cacheKey" in answer.body for answer, _ in results)
    computations = app.computations() - before
    log = app.log_text(offset)
    logged_errors = log.count("Traceback") + log.count("Exception on")
    print(
        f"\nhostile requests, {name} app: {len(results)} cases, {statuses[500]} HTTP 500, "
        f"{computations} computations, {jobs} background jobs, {logged_errors} errors logged; "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    if computations:
        problems.append("the query ran for refused requests:\n" + app.counter.read_text())
    if logged_errors:
        problems.append("the server logged an error:\n" + log[-3000:])
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} problems)"


@pytest.mark.parametrize(
    "who",
    [{}, credentials(password="wrong-password"), credentials("nobody"), {"Authorization": "Basic"}],
    ids=["no-credentials", "wrong-password", "unknown-user", "empty"],
)
def test_hostile_requests_without_a_user_get_401_and_run_nothing(
    servers: dict[str, Server], who: dict[str, str]
) -> None:
    """The whole table once more against the app with users, as someone not signed in."""
    app = servers["users"].app
    offset, before = app.log_size(), app.computations()

    def send_as_nobody(make: Make) -> Answer:
        made = make(app)
        return send(app.port, made if isinstance(made, Probe) else Probe(made), who)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send_as_nobody, [make for make, _ in HOSTILE_CASES.values()]))

    statuses = Counter(answer.status for answer in answers)
    print(f"\nhostile requests without a user: {len(answers)} cases, statuses {dict(statuses)}")
    # 413 is the one answer given before the gate: a body over the size cap is not read.
    assert set(statuses) <= {401, 413}, statuses
    assert app.computations() == before
    log = app.log_text(offset)
    assert "Traceback" not in log and "Exception on" not in log, log[-3000:]


def test_a_valid_request_still_computes_on_every_app(servers: dict[str, Server]) -> None:
    """The control for the table: the same apps answer a request the renderer sends."""
    for name, server in servers.items():
        app = server.app
        before = app.computations()
        filters = fresh_filters() | {"price": [0.0, 99.0]}
        if name == "background":
            end_id = page_end_id(app)
            reply = run_job(app, compute_body(app, filters), end_id)
        else:
            reply = app.compute(filters)
            assert reply.status == 200, reply.describe()
            reply = json.loads(reply.body)
        assert reply["response"][SIGNAL_ID]["data"]["filters"]["region"] == filters["region"]
        assert app.computations() - before == 1, name


# --- background jobs: the cap on job processes ------------------------------------------------


def compute_body(app: App, filters: dict[str, Any]) -> dict[str, Any]:
    callback = app.compute_callback
    return callback_body(callback, [filters[dep["id"]] for dep in callback["inputs"]])


def page_end_id(app: App) -> str:
    """The signed page-load token the renderer sends with every background request."""
    page = send(app.port, Probe(method="GET", path="/", content_type=None))
    config = re.search(rb'<script id="_dash-config"[^>]*>(.*?)</script>', page.body, re.DOTALL)
    assert config, page.describe()
    return str(json.loads(config.group(1))["end_id"])


def start_job(app: App, body: dict[str, Any], end_id: str) -> Answer:
    return send(app.port, Probe(body, query=(("endId", end_id),)))


def collect_job(app: App, body: dict[str, Any], end_id: str, started: Answer) -> Any:
    """Poll a started job as the renderer does, until its answer is in."""
    handles = json.loads(started.body)
    query = (("endId", end_id), ("cacheKey", handles["cacheKey"]), ("job", handles["job"]))
    polled = {**body, "inputs": [{**dep, "value": None} for dep in body["inputs"]]}
    deadline = time.monotonic() + 60
    while True:
        answer = send(app.port, Probe(polled, query=query))
        assert answer.status == 200, answer.describe()
        payload = json.loads(answer.body)
        if "response" in payload:
            return payload
        assert time.monotonic() < deadline, "the job never answered"
        time.sleep(0.1)


def run_job(app: App, body: dict[str, Any], end_id: str) -> Any:
    started = start_job(app, body, end_id)
    assert started.status == 200 and b"cacheKey" in started.body, started.describe()
    return collect_job(app, body, end_id, started)


def job_cap(project: Path) -> int:
    """MAX_JOB_PROCESSES as the runtime computes it on this host, for the generated app."""
    result = subprocess.run(
        [
            str(BIN / "python"),
            "-c",
            "from dashsignal.background import max_job_processes; print(max_job_processes())",
        ],
        cwd=project,
        env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(project), "CACHE_DIR": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, "the app declares no cap on job processes:\n" + result.stderr
    return int(result.stdout.strip())


def processes() -> Iterable[tuple[int, int, str]]:
    """(pid, parent pid, state) of every process, read from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()
            yield int(stat.parent.name), int(fields[1]), fields[0]


class JobCounter:
    """Samples, every few milliseconds, how many child processes of the gunicorn workers are
    alive (zombies are dead: their locks are gone)."""

    def __init__(self, master: int) -> None:
        self.workers = {pid for pid, parent, _ in processes() if parent == master}
        assert self.workers, "no gunicorn workers"
        self.before = {pid for pid, parent, _ in processes() if parent in self.workers}
        self.most = 0
        self.seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            alive = {
                pid
                for pid, parent, state in processes()
                if parent in self.workers and state != "Z" and pid not in self.before
            }
            self.seen |= alive
            self.most = max(self.most, len(alive))
            time.sleep(0.005)

    def __enter__(self) -> JobCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_a_burst_of_background_jobs_never_has_more_processes_than_the_cap(
    servers: dict[str, Server],
) -> None:
    server = servers["background"]
    app = server.app
    cap = job_cap(server.project)
    assert 1 <= cap < 20, f"a cap of {cap} does not bound 20 jobs"
    end_id = page_end_id(app)
    bodies = [compute_body(app, fresh_filters() | {"price": [0.0, 99.0]}) for _ in range(20)]
    offset, before = app.log_size(), app.computations()

    with JobCounter(server.process.pid) as counter:
        began = time.monotonic()
        # 20 requests sent within 0.3 s, one every 15 ms.
        calls = [
            lambda i=i: (time.sleep(i * 0.015), start_job(app, bodies[i], end_id))[1]
            for i in range(20)
        ]
        started = all_at_once(calls)
        sent_in = time.monotonic() - began
        done = [
            collect_job(app, body, end_id, answer)
            for body, answer in zip(bodies, started, strict=True)
            if answer.status == 200
        ]

    statuses = Counter(answer.status for answer in started)
    print(
        f"\nbackground burst: 20 job requests sent within 0.3 s, answered within {sent_in:.2f} s, "
        f"cap {cap}, "
        f"at most {counter.most} job processes alive ({len(counter.seen)} seen), "
        f"statuses {dict(sorted(statuses.items()))}, {app.computations() - before} computations"
    )
    assert set(statuses) <= {200, 503}, [a.describe() for a in started if a.status != 200]
    for answer in started:
        if answer.status == 503:
            assert answer.headers.get("Retry-After"), answer.headers
    assert counter.seen, "no job process was ever seen: the sampler is blind"
    assert counter.most <= cap, f"{counter.most} job processes alive at once, over the cap {cap}"
    assert len(done) == statuses[200] >= 1
    assert app.computations() - before == len(done), app.counter.read_text()
    log = app.log_text(offset)
    assert "Traceback" not in log and "Exception on" not in log, log[-3000:]
