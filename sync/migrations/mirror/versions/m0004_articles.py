"""knowledge articles (published ones the agent may see; every one for a supervisor)

The table's columns are the kind's declared fields (protocol.entities, ``Entity.ARTICLE``);
keep in step with it (tests/sync/test_declared_kinds.py compares them). A desk migrated
from m0003 holds no articles until it pulls them: the server sends them as changes.

Revision ID: m0004
Revises: m0003
Create Date: 2026-12-20 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'm0004'
down_revision: str | None = 'm0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'articles',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('locale', sa.Text(), nullable=False),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('category', sa.Text(), nullable=True),
        sa.Column('tags', sa.Text(), nullable=False),
        sa.Column('visibility', sa.Text(), nullable=False),
        sa.Column('team_ids', sa.Text(), nullable=False),
        sa.Column('status', sa.Text(), nullable=False),
        sa.Column('version', sa.BigInteger(), nullable=False),
        sa.Column('updated_by', sa.Text(), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('articles')
