"""Sign-in throttling that slows guessing without handing an attacker a lock-out.

State lives in the database (servers are stateless). Three budgets, over a 15-minute window:

- per account and address: a few free failures, then each attempt waits twice as long as
  the one before (1 s, 2 s, 4 s … up to the window). This is what slows a guesser, and it
  only ever delays sign-ins from the guesser's own address;
- per address, across accounts (password spraying), and per account, across addresses
  (a distributed guesser): limits far above what people behind one NAT or one person type.
  They do not apply where the account signed in successfully before (the last 30 days), so
  an attacker cannot use them to lock an agent out of their usual desk.

Every attempt is recorded as a failure before the password is checked (and the record is
dropped when it was right), so concurrent guesses are counted like consecutive ones.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from server import models as m
from server.feed import now_ms

WINDOW_MS = 15 * 60_000
PAIR_FREE_FAILURES = 3
PAIR_BASE_DELAY_MS = 1_000
PAIR_MAX_DELAY_MS = WINDOW_MS
ADDRESS_FAILURES = 100
ACCOUNT_FAILURES = 50
KNOWN_ADDRESS_MS = 30 * 86_400_000


class Throttled(Exception):
    """``reason``: account_address, address or account; ``retry_after_s``: when to retry."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason, retry_after_s)
        self.reason, self.retry_after_s = reason, retry_after_s


def pair_delay_ms(failures: int) -> int:
    """How long after the last failure the next attempt of an (account, address) waits."""
    if failures < PAIR_FREE_FAILURES:
        return 0
    return min(PAIR_MAX_DELAY_MS, PAIR_BASE_DELAY_MS * 2 ** (failures - PAIR_FREE_FAILURES))


def _lock_pair(session: Session, email: str, address: str) -> None:
    # PostgreSQL: one attempt per (account, address) at a time, so each sees the one before
    # it (SQLite write transactions are serialised already).
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"{email}\n{address}".encode()).digest()[:8],
                             "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _known(session: Session, email: str, address: str, now: int) -> bool:
    seen = session.get(m.LoginKnownAddress, (email, address))
    return seen is not None and seen.last_success_at > now - KNOWN_ADDRESS_MS


def _over_limit(session: Session, where: object, limit: int, now: int) -> float | None:
    """Seconds until fewer than ``limit`` failures matching ``where`` are in the window."""
    since = now - WINDOW_MS
    count = session.scalar(select(func.count()).select_from(m.LoginFailure)
                           .where(where, m.LoginFailure.at > since)) or 0
    if count < limit:
        return None
    # The failure whose expiry brings the count under the limit.
    at = session.scalar(select(m.LoginFailure.at).where(where, m.LoginFailure.at > since)
                        .order_by(m.LoginFailure.at).offset(count - limit).limit(1))
    return max(1.0, ((at or now) + WINDOW_MS - now) / 1000)


def begin_attempt(session: Session, email: str, address: str) -> int:
    """Check the budgets (raises Throttled) and record the attempt as a failure until
    ``succeeded`` says otherwise; returns the record's id."""
    _lock_pair(session, email, address)
    now = now_ms()
    since = now - WINDOW_MS
    pair = (m.LoginFailure.email == email) & (m.LoginFailure.address == address)
    failures, last = session.execute(
        select(func.count(), func.max(m.LoginFailure.at)).where(pair, m.LoginFailure.at > since)
    ).one()
    wait_ms = pair_delay_ms(failures)
    if wait_ms and last + wait_ms > now:
        raise Throttled("account_address", max(1.0, (last + wait_ms - now) / 1000))
    if not _known(session, email, address, now):
        for reason, where, limit in (
            ("address", m.LoginFailure.address == address, ADDRESS_FAILURES),
            ("account", m.LoginFailure.email == email, ACCOUNT_FAILURES),
        ):
            retry = _over_limit(session, where, limit, now)
            if retry is not None:
                raise Throttled(reason, retry)
    record = m.LoginFailure(email=email, address=address, at=now)
    session.add(record)
    session.flush()
    return record.id


def succeeded(session: Session, attempt_id: int, email: str, address: str) -> None:
    """The password was right: this address's failures for the account are forgiven, and
    the address is one the account is known to sign in from."""
    session.execute(delete(m.LoginFailure).where(
        (m.LoginFailure.id == attempt_id)
        | ((m.LoginFailure.email == email) & (m.LoginFailure.address == address))))
    now = now_ms()
    known = session.get(m.LoginKnownAddress, (email, address))
    if known is None:
        session.add(m.LoginKnownAddress(email=email, address=address, last_success_at=now))
    else:
        known.last_success_at = now


def prune(session: Session) -> None:
    now = now_ms()
    session.execute(delete(m.LoginFailure).where(m.LoginFailure.at < now - WINDOW_MS))
    session.execute(delete(m.LoginKnownAddress)
                    .where(m.LoginKnownAddress.last_success_at < now - KNOWN_ADDRESS_MS))
