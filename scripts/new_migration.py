"""Write the next database migration after a change to the tables in engagement/store.py.

    .venv/bin/python scripts/new_migration.py "partners: add website"

Review the file it prints, then commit it with the change; tests/test_migrations.py fails while the
tables and the migrations differ."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engagement.store import write_migration

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(write_migration(sys.argv[1]))
