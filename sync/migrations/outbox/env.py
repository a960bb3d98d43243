"""Alembic environment of the desk's outbox database."""

from sync.migrations.common import run
from sync.models import OUTBOX_METADATA

run(OUTBOX_METADATA)
