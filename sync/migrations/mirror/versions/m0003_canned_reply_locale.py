"""canned replies say which language they are written in (None: any)

Rows mirrored before keep None (for any language) until the server changes them. Keep in
step with ``sync/models.py``.

Revision ID: m0003
Revises: m0002
Create Date: 2026-12-14 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'm0003'
down_revision: str | None = 'm0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('canned_replies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('canned_replies', schema=None) as batch_op:
        batch_op.drop_column('locale')
