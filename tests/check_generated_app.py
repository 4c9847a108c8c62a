"""Run inside a generated project: its app matches dashsignal.toml and computes once per change.

Used by the stateful lifecycle test; exits non-zero with a message on the first broken promise.
The project's own tests run first, in this process: the runtime's pytest plugin imports the app
itself (on a private cache), and the callback graph is then read from that same app.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path.cwd()))

from dashsignal_cli.specfile import load_spec  # noqa: E402

from project_helpers import expected_callback_graph  # noqa: E402

status = pytest.main(["-q", "-p", "no:cacheprovider", "tests/test_signaling.py", "-k", "once"])
if status != 0:
    sys.exit(int(status))

import app  # noqa: E402  (the generated project's app, as its tests imported it)

callbacks = {
    key: sorted([d["id"], d["property"]] for d in value["inputs"])
    for key, value in app.app.callback_map.items()
}
expected = expected_callback_graph(load_spec(Path("dashsignal.toml")))
assert callbacks == expected, (callbacks, expected)
