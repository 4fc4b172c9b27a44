"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision = "${up_revision}"
down_revision = ${'"%s"' % down_revision if isinstance(down_revision, str) else repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


# On SQLite a batch operation rebuilds the table (copy, drop, rename); engagement/migrations/env.py
# runs it with foreign keys off, so dropping the old table takes no referring row with it.
def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
