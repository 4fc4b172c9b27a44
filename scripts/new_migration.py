"""Write the next database migration after a change to the tables in engagement/store/tables.py.

    .venv/bin/python scripts/new_migration.py "partners: add website"

The file it prints is formatted and linted as CI checks it (ruff). Review it, then commit it with
the change: tests/test_migrations.py fails while the tables and the migrations differ, and runs
every migration, this one included, up, down and up again on stores holding rows in every table."""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engagement.store import write_migration  # noqa: E402  (the project root is put on the path first)


def tidy(path: Path) -> None:
    """Alembic writes its own style (single quotes, unsorted imports); the project's is ruff's."""
    if importlib.util.find_spec("ruff") is None:  # a server without requirements-dev.txt
        print("ruff is not installed: run `ruff check --fix` and `ruff format` on the file", file=sys.stderr)
        return
    for args in (["check", "--fix", "--quiet"], ["format", "--quiet"]):
        subprocess.run([sys.executable, "-m", "ruff", *args, str(path)], cwd=ROOT, check=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    written = write_migration(sys.argv[1])
    tidy(written)
    print(written)
