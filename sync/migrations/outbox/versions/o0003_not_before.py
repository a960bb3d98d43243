"""an intent may be held back until a time (a reply's undo delay)

Revision ID: o0003
Revises: o0002
Create Date: 2026-12-12 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'o0003'
down_revision: str | None = 'o0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('intents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_before', sa.BigInteger(), nullable=True))
    # What an older desk queued may have been on the wire uncounted: none of it is cancellable.
    op.execute("INSERT OR REPLACE INTO outbox_meta (key, value) "
               "SELECT 'claimed_through', CAST(COALESCE(MAX(mutation_id), 0) AS TEXT) "
               "FROM intents")


def downgrade() -> None:
    with op.batch_alter_table('intents', schema=None) as batch_op:
        batch_op.drop_column('not_before')
