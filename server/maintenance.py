"""Housekeeping: drop changes older than the retention, expired tokens, sealed successors
past their grace, old sign-in failures and long-unused known addresses."""

from __future__ import annotations

import logging

from sqlalchemy import delete, func, select, update

from server import auth, throttle
from server import models as m
from server.db import Database
from server.feed import now_ms

log = logging.getLogger("relaydesk.server.maintenance")


def prune(db: Database, retention_ms: int) -> int:
    """Delete feed changes older than ``retention_ms``; returns the new pruned-through seq.

    Clients whose cursor is below it get ``410 resync_required`` and bootstrap again.
    """
    cutoff = now_ms() - retention_ms
    with db.write() as s:
        through = s.scalar(
            select(func.max(m.ChangeRow.seq)).where(m.ChangeRow.created_at <= cutoff)
        )
        current = s.scalar(select(m.FeedHead.pruned_through).where(m.FeedHead.id == 1)) or 0
        if through is not None and through > current:
            s.execute(delete(m.ChangeRow).where(m.ChangeRow.seq <= through))
            s.execute(update(m.FeedHead).where(m.FeedHead.id == 1)
                      .values(pruned_through=through))
            log.info("pruned feed changes through seq %d", through)
            current = through
        auth.prune_tokens(s)
        throttle.prune(s)
    return int(current)
