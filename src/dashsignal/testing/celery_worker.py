"""A Celery worker for the tests: `python -m dashsignal.testing.celery_worker`.

It runs the app's background jobs as `celery -A app:celery_app worker` does, and appends every
computation it runs to the file named by QUERY_LOG, so that the tests count the computations
made in this other process too. DASHSIGNAL_APP names the app (module:attribute, "app:app" by
default), imported from the current directory.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dashsignal.testing.counting import ComputationLog, count_runs, counted_computations
from dashsignal.testing.loading import DEFAULT_APP, load_app, signaling_of

__all__ = ["main"]


def main() -> None:
    """Count the app's computations into QUERY_LOG, then work until terminated."""
    sys.path.insert(0, str(Path.cwd()))
    signaling = signaling_of(load_app(os.environ.get("DASHSIGNAL_APP") or DEFAULT_APP))
    log = ComputationLog(Path(os.environ["QUERY_LOG"]))
    count_runs(log, counted_computations(signaling.computations))
    worker = ["worker", "--pool=solo", "--loglevel=warning", "--without-heartbeat"]
    signaling.celery_app.worker_main(worker)


if __name__ == "__main__":
    main()
