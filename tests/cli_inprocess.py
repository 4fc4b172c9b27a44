"""``python -m engagement ...`` run in this process: :func:`engagement.cli.main` with stdout and
stderr captured and argparse's ``SystemExit`` turned into an exit status, so a CLI test costs a
function call instead of a Python start-up with pandas and SQLAlchemy (two to four seconds each on
a loaded two-core machine). ``tests/test_cli_subprocess.py`` keeps the real ``python -m engagement``
for what only a process shows: the entry point and its exit status.

>>> result = run_cli("score", "--to", "not a date", "--db", "sqlite://")
>>> result.returncode, "not a date" in result.stderr, result.stdout
(2, True, '')
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from engagement import cli
from engagement import store as db


@dataclass(frozen=True)
class CliResult:
    """What a finished command left: the fields of ``subprocess.CompletedProcess`` the tests read."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _stores_closed_at_exit():
    """Every store the command opens is disposed when it returns, as a process's exit would close
    it: SQLite then folds its write-ahead log into the file, so a test may copy or reopen it."""
    opened, open_store = [], db.open_store

    def recording(*args, **kwargs):
        store = open_store(*args, **kwargs)
        opened.append(store)
        return store

    db.open_store = recording
    try:
        yield
    finally:
        db.open_store = open_store
        for store in opened:
            store.dispose()


@contextlib.contextmanager
def _environment(env: dict[str, str | None] | None, cwd: Path | str | None):
    """``env`` set (a ``None`` value unsets) and ``cwd`` entered for the block, then put back."""
    saved = {key: os.environ.get(key) for key in (env or {})}
    before = os.getcwd()
    try:
        for key, value in (env or {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(before)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_cli(*args, env: dict[str, str | None] | None = None, cwd: Path | str | None = None) -> CliResult:
    """Run ``python -m engagement *args`` in this process and return its exit status and output."""
    argv = tuple(str(a) for a in args)
    out, err = io.StringIO(), io.StringIO()
    with (
        _environment(env, cwd),
        _stores_closed_at_exit(),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = cli.main(list(argv))
        except SystemExit as exit_:  # argparse: --help (0) and wrong usage (2)
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return CliResult(argv, code, out.getvalue(), err.getvalue())
