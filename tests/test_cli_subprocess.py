"""The command line as a process: ``python -m engagement`` starts, lists its commands, and its exit
status reaches the shell. Every command's behaviour is tested in-process (cli_inprocess.py); these
two runs are what only a real process shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engagement.cli import COMMANDS

ROOT = Path(__file__).resolve().parent.parent


def python_m_engagement(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engagement", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_python_m_engagement_help_lists_every_command():
    done = python_m_engagement("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m engagement")
    assert all(name in done.stdout for name in COMMANDS)


def test_a_refused_import_exits_1_from_the_process(tmp_path):
    refused = python_m_engagement("import", tmp_path / "nope.csv", "--kind", "partners", "--db", tmp_path / "x.db")
    assert refused.returncode == 1 and "cannot be read" in refused.stderr
    assert refused.stdout == ""
