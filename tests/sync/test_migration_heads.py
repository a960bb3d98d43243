"""The desk reads each migration chain's head from the version files by a regex (no Alembic
at start-up: sync/store.py says why); it must name the head Alembic itself finds, or a desk
would take an old file for a migrated one and skip a migration."""

from __future__ import annotations

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from sync.store import MIGRATIONS, head_revision_of


@pytest.mark.parametrize("which", ["mirror", "outbox"])
def test_the_regex_finds_the_head_alembic_finds(which: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS / which))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, heads
    assert head_revision_of(which) == heads[0]
