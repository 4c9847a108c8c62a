"""Entry point of the dashboard.

Development: `python app.py` (set DASH_DEBUG=1 for hot reload and the debug UI).
Production:  `gunicorn app:server -w 4`.

This file is yours: dashsignal wrote it once and never rewrites it.
"""

from __future__ import annotations

import os

from signaling import create_app

app = create_app()
server = app.server

if __name__ == "__main__":
    app.run(
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8050")),
        debug=os.environ.get("DASH_DEBUG", "").lower() in ("1", "true", "yes"),
    )
