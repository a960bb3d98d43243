"""Alembic environment of the desk's mirror database."""

from sync.migrations.common import run
from sync.models import MIRROR_METADATA

run(MIRROR_METADATA)
