"""Alembic environment of the desk's mirror database."""

from sync.migrations.common import run
from sync.models import MirrorBase

run(MirrorBase.metadata)
