#!/usr/bin/env bash
# Quick start, part one: install dashsignal in ./.venv, generate the demo project ./demo and
# serve it on http://127.0.0.1:8050 (Ctrl-C to stop). Safe to run again: it reuses both.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet .
if [ ! -d demo ]; then
    .venv/bin/dashsignal new demo --yes
fi
.venv/bin/python -m pip install --quiet -r demo/requirements.txt
cd demo
exec ../.venv/bin/python app.py
