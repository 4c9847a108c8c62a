#!/usr/bin/env bash
# Quick start, part two: install everything the tests need, then run lint, types and the suite.
# Python packages go into ./.venv; the Redis server, the headless Chromium and the PostgreSQL the
# tests use come from Debian's redis-server, chromium, chromium-driver and postgresql (installed
# with apt-get when missing and we are root). The tests start PostgreSQL clusters of their own:
# they need its programs (initdb, on PATH or in /usr/lib/postgresql/*/bin), not a running server.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium chromium-driver)
if ! command -v initdb >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    need_apt+=(postgresql)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing ${need_apt[*]} with apt-get"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
        echo "missing ${need_apt[*]}: install it (Debian/Ubuntu: apt-get install ${need_apt[*]})" >&2
        exit 1
    fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test]"

echo "== ruff"
.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/ruff format --check src tests benchmarks scripts
echo "== mypy --strict"
.venv/bin/mypy
echo "== pytest"
# Three workers (pytest-xdist) on 2 cores: much of an end-to-end test is waiting on its server,
# browser or child processes; worksteal keeps the long ones from ending up on one worker.
# `-n 0` after it runs the suite in one process. The slowest tests are listed at the end.
exec .venv/bin/python -m pytest -n 3 --dist worksteal --durations=15 "$@"
