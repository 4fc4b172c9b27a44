#!/usr/bin/env bash
# The README's second command: install what the tests need (Debian's Chromium included), make
# sure the local PostgreSQL server is up, run the linter, the formatter's check and the type
# checker, then every test, on two workers. CI runs exactly this. Arguments go to pytest:
# `-m "not browser"` is the fast tier.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Chromium for the browser tests; pango, which WeasyPrint (the PDF report) loads at run time.
bash scripts/debian-packages.sh chromium libpango-1.0-0 libpangoft2-1.0-0

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  command -v pg_ctlcluster >/dev/null || bash scripts/debian-packages.sh postgresql
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test"

bash scripts/setup-python.sh requirements-dev.txt

# Lint, format, types and the layering first: a minute's warning before the slower tests.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
# Compiled files are written (to __pycache__, ignored by git), pytest's rewritten test modules
# among them: with PYTHONDONTWRITEBYTECODE set, as some shells have it, each worker rewrote and
# compiled every test module on every run (8 s of CPU a worker, 4 s from the cache) and each
# command the tests start compiled the package again.
unset PYTHONDONTWRITEBYTECODE
# Two workers (pytest-xdist): the browser tests stay together on one worker per app server (see
# tests/conftest.py) while the others run beside them. `-n 0` after this runs it in one process.
exec .venv/bin/python -m pytest -n 2 "$@"
