"""Check generated projects: each app matches its dashsignal.toml and computes once per change.

Used by the stateful lifecycle test. `python check_generated_app.py` checks the project in the
current folder and exits non-zero with a message on the first broken promise. The project's own
tests run first, in this process: the runtime's pytest plugin imports the app itself (on a
private cache), and the callback graph is then read from that same app.

`python check_generated_app.py --serve` checks many projects, one per line of standard input
(a JSON object: the project's folder and the environment to add), each in a child forked from
this process once it has imported Dash, pandas, plotly and the runtime: each check then costs
what the project's own code and tests cost, not a fresh interpreter's imports. It answers each
line with the check's exit status; the check's output goes to the file the request names.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def check_here() -> int:
    """Check the project in the current folder; its exit status."""
    import pytest

    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(Path.cwd()))
    from dashsignal_cli.specfile import load_spec

    from project_helpers import expected_callback_graph

    # (Under --serve the plugins were imported before pytest could rewrite their asserts.)
    arguments = ["-q", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    status = pytest.main([*arguments, "tests/test_signaling.py", "-k", "once"])
    if status != 0:
        return int(status)

    import app  # the generated project's app, as its tests imported it

    callbacks = {
        key: sorted([d["id"], d["property"]] for d in value["inputs"])
        for key, value in app.app.callback_map.items()
    }
    expected = expected_callback_graph(load_spec(Path("dashsignal.toml")))
    if callbacks != expected:
        print(f"the app's callbacks are not its spec's:\n{callbacks}\n{expected}")
        return 1
    return 0


def serve() -> None:
    """Answer each request on stdin with the exit status of a forked check."""
    # What every generated app and its tests import, so the forked checks need not.
    import dash  # noqa: F401
    import dash_ag_grid  # noqa: F401
    import flask_caching  # noqa: F401
    import pandas  # noqa: F401
    import plotly.graph_objects  # noqa: F401
    import pytest  # noqa: F401

    import dashsignal.layout  # noqa: F401
    import dashsignal.outputs  # noqa: F401
    import dashsignal.signaling  # noqa: F401
    import dashsignal.testing.contract  # noqa: F401
    import dashsignal_cli.specfile  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        child = os.fork()
        if child == 0:
            _checked_child(request)
        _, status = os.waitpid(child, 0)
        print(os.waitstatus_to_exitcode(status), flush=True)


def _checked_child(request: dict[str, Any]) -> None:
    """In the forked child: run one check with its output in the named file, then exit."""
    status = 1
    try:
        with Path(request["output"]).open("w", encoding="utf-8") as output:
            os.dup2(output.fileno(), 1)
            os.dup2(output.fileno(), 2)
            os.chdir(request["project"])
            os.environ.update(request["env"])
            status = check_here()
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        sys.exit(check_here())
