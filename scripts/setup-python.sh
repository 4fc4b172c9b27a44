#!/usr/bin/env bash
# Creates .venv (Python 3.11+) and installs the given requirements file into it.
# Shared by the start and test commands; safe to run again (pip skips what is there).
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x .venv/bin/python ]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    rm -rf .venv
    as_root apt-get update -q && as_root apt-get install -y -q python3-venv
    python3 -m venv .venv
  fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r "$1"
# The package itself, editable, for the `engagement` command (python -m engagement works without it).
[ -x .venv/bin/engagement ] || .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e .
