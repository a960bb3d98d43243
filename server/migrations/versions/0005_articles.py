"""knowledge articles: the article as it is now, its team scope, and every saved version

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'articles',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('locale', sa.String(length=16), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('category', sa.String(length=100), nullable=True),
        sa.Column('tags', sa.Text(), nullable=False),
        sa.Column('visibility', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_by', sa.String(length=36), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['updated_by'], ['agents.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key', 'locale', name='uq_articles_key_locale'),
    )
    op.create_table(
        'article_teams',
        sa.Column('article_id', sa.String(length=36), nullable=False),
        sa.Column('team_id', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id']),
        sa.ForeignKeyConstraint(['team_id'], ['teams.id']),
        sa.PrimaryKeyConstraint('article_id', 'team_id'),
    )
    op.create_index('ix_article_teams_team', 'article_teams', ['team_id'], unique=False)
    op.create_table(
        'article_versions',
        sa.Column('article_id', sa.String(length=36), nullable=False),
        sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('locale', sa.String(length=16), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('category', sa.String(length=100), nullable=True),
        sa.Column('tags', sa.Text(), nullable=False),
        sa.Column('visibility', sa.String(length=16), nullable=False),
        sa.Column('team_ids', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('author_id', sa.String(length=36), nullable=True),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.Column('changed', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id']),
        sa.ForeignKeyConstraint(['author_id'], ['agents.id']),
        sa.PrimaryKeyConstraint('article_id', 'version'),
    )


def downgrade() -> None:
    op.drop_table('article_versions')
    op.drop_index('ix_article_teams_team', table_name='article_teams')
    op.drop_table('article_teams')
    op.drop_table('articles')
