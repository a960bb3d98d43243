"""when the agent wrote the messages this desk sent

Revision ID: o0002
Revises: o0001
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'o0002'
down_revision: str | None = 'o0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sent_messages',
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('written_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('message_id')
    )


def downgrade() -> None:
    op.drop_table('sent_messages')
