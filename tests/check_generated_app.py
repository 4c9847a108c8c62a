"""Run inside a generated project: its app matches dashsignal.toml and computes once per change.

Used by the stateful lifecycle test; exits non-zero with a message on the first broken promise.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path.cwd()))

import app  # noqa: E402  (the generated project's app, from the current directory)

SIGNAL = "dashsignal-signal"
spec = tomllib.loads(Path("dashsignal.toml").read_text())
callbacks = {
    key: [(d["id"], d["property"]) for d in v["inputs"]] for key, v in app.app.callback_map.items()
}

compute_inputs = sorted(callbacks.pop(f"{SIGNAL}.data"))
expected_inputs = sorted(
    (f["id"], prop)
    for f in spec["filters"]
    for prop in (("start_date", "end_date") if f["kind"] == "dates" else ("value",))
)
assert compute_inputs == expected_inputs, (compute_inputs, expected_inputs)

outputs = {
    "graph": "{0}.figure",
    "table": "..{0}.rowData...{0}.columnDefs..",
    "indicator": "{0}.children",
}
expected_consumers = {outputs[v.get("kind", "graph")].format(v["id"]) for v in spec["views"]}
assert set(callbacks) == expected_consumers, (sorted(callbacks), sorted(expected_consumers))
assert all(inputs == [(SIGNAL, "data")] for inputs in callbacks.values())

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "tests/test_signaling.py", "-k", "once"]))
