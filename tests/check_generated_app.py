"""Run inside a generated project: its app matches dashsignal.toml and computes once per change.

Used by the stateful lifecycle test; exits non-zero with a message on the first broken promise.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path.cwd()))

import app  # noqa: E402  (the generated project's app, from the current directory)

from dashsignal_cli.specfile import load_spec  # noqa: E402

from project_helpers import expected_callback_graph  # noqa: E402

callbacks = {
    key: sorted([d["id"], d["property"]] for d in value["inputs"])
    for key, value in app.app.callback_map.items()
}
expected = expected_callback_graph(load_spec(Path("dashsignal.toml")))
assert callbacks == expected, (callbacks, expected)

# In a process of its own: the runtime's pytest plugin imports the app itself, on a private cache.
pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "once"]
sys.exit(subprocess.run([*pytest, "tests/test_signaling.py"], check=False).returncode)
