"""Passwords and opaque tokens, kept in the database (stateless servers); sign-in
throttling is server.throttle."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from server import models as m
from server.feed import Viewer, now_ms

# scrypt (RFC 7914) from the standard library; parameters are stored with each hash.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_DUMMY_HASH: str | None = None

# A refresh token presented again shortly after rotation (the response was lost on a bad
# connection) gets the same successor again; later reuse looks like theft and ends the whole
# session. Two minutes cover the desk's request timeout and its longest retry backoff.
REFRESH_REUSE_GRACE_MS = 120_000


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def burn_password_check(password: str) -> None:
    """Spend the same time as a real check, so unknown emails are not revealed by timing."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("relaydesk-dummy")
    verify_password(password, _DUMMY_HASH)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    access_expires_at: int
    refresh_token: str
    refresh_expires_at: int


def _new_token() -> tuple[str, bytes]:
    """An opaque token (as ``secrets.token_urlsafe(32)`` makes them) and its 32 raw bytes."""
    raw = secrets.token_bytes(32)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode(), raw


def _token_from_raw(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def issue_tokens(
    session: Session, agent_id: str, access_ttl_ms: int, refresh_ttl_ms: int,
    family: str | None = None,
) -> IssuedTokens:
    return _issue(session, agent_id, access_ttl_ms, refresh_ttl_ms, family)[0]


def _issue(
    session: Session, agent_id: str, access_ttl_ms: int, refresh_ttl_ms: int,
    family: str | None,
) -> tuple[IssuedTokens, bytes]:
    """The new pair and its raw bytes (access then refresh), for sealing as a successor."""
    family = family or str(uuid.uuid4())
    now = now_ms()
    (access, access_raw), (refresh, refresh_raw) = _new_token(), _new_token()
    tokens = IssuedTokens(access, now + access_ttl_ms, refresh, now + refresh_ttl_ms)
    session.add_all([
        m.AuthToken(token_hash=token_hash(access), agent_id=agent_id, kind="access",
                    expires_at=tokens.access_expires_at, family=family),
        m.AuthToken(token_hash=token_hash(refresh), agent_id=agent_id, kind="refresh",
                    expires_at=tokens.refresh_expires_at, family=family),
    ])
    return tokens, access_raw + refresh_raw


# A rotated refresh token keeps its successor pair sealed under a key only that token's holder
# has: the XOR with a pad derived from the old token (HMAC-SHA256 keyed with it, one block
# per successor token). Each old token seals exactly one successor (256-bit random key, used
# once), so the pad is a one-time pad; the successor's stored hashes authenticate what is
# opened. Chosen over an HMAC of the old token under a server key because a server key in the
# database would let whoever reads the database and one old token derive every later token
# of the chain forever, while a sealed successor is erased once the grace period is over.
_PAD_LABELS = (b"relaydesk refresh successor: access", b"relaydesk refresh successor: refresh")


def _pad(old_refresh_token: str) -> bytes:
    key = old_refresh_token.encode()
    return b"".join(hmac.new(key, label, hashlib.sha256).digest() for label in _PAD_LABELS)


def _seal(old_refresh_token: str, successor_raw: bytes) -> str:
    sealed = bytes(a ^ b for a, b in zip(successor_raw, _pad(old_refresh_token), strict=True))
    return base64.urlsafe_b64encode(sealed).decode()


def _open(old_refresh_token: str, sealed: str) -> tuple[str, str]:
    """(access token, refresh token) sealed by ``_seal`` under the same old token."""
    raw = bytes(a ^ b for a, b in zip(base64.urlsafe_b64decode(sealed),
                                      _pad(old_refresh_token), strict=True))
    return _token_from_raw(raw[:32]), _token_from_raw(raw[32:])


class InvalidToken(Exception):
    """``revoke`` names a token family the caller must revoke (in its own transaction)."""

    def __init__(self, code: str, message: str, revoke: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.revoke = revoke


def refresh_tokens(
    session: Session, refresh_token: str, access_ttl_ms: int, refresh_ttl_ms: int
) -> tuple[str, IssuedTokens]:
    """Rotate a refresh token (OAuth 2.0 Security BCP, refresh token rotation).

    The first presentation issues a new pair; presenting it again within the grace period
    (a retry after a lost response) returns that same pair; any other reuse (after the grace,
    or once the successor has itself been rotated) raises with the family to revoke."""
    # Locked (PostgreSQL): a concurrent refresh of the same token waits, then sees the
    # successor this one made (SQLite write transactions are serialised already).
    row = session.get(m.AuthToken, token_hash(refresh_token), with_for_update=True)
    now = now_ms()
    if row is None or row.kind != "refresh":
        raise InvalidToken("invalid_token", "This sign-in is not valid; please sign in again.")
    if row.expires_at <= now:
        raise InvalidToken("token_expired", "Your sign-in has expired; please sign in again.")
    if row.rotated_at is not None:
        return row.agent_id, _successor_again(session, row, refresh_token, now)
    if row.revoked:
        raise InvalidToken("invalid_token", "This sign-in was ended; please sign in again.")
    agent = session.get(m.Agent, row.agent_id)
    if agent is None or not agent.active:
        raise InvalidToken("invalid_token", "This account is disabled.")
    # Old access tokens of the family end with the rotation (before the new one is added).
    session.execute(
        update(m.AuthToken)
        .where(m.AuthToken.family == row.family, m.AuthToken.kind == "access")
        .values(revoked=True)
    )
    tokens, raw = _issue(session, row.agent_id, access_ttl_ms, refresh_ttl_ms, row.family)
    row.rotated_at = now
    row.successor = _seal(refresh_token, raw)
    return row.agent_id, tokens


def _successor_again(
    session: Session, row: m.AuthToken, refresh_token: str, now: int
) -> IssuedTokens:
    """The pair a rotated token was exchanged for, if this is a retry within the grace."""
    reuse = InvalidToken("invalid_token", "This sign-in was ended; please sign in again.",
                         revoke=row.family)
    if row.revoked or row.successor is None or now - row.rotated_at > REFRESH_REUSE_GRACE_MS:
        raise reuse
    access_token, successor_token = _open(refresh_token, row.successor)
    successor = session.get(m.AuthToken, token_hash(successor_token))
    access = session.get(m.AuthToken, token_hash(access_token))
    # The successor was rotated in turn (or ended): the old token is being replayed.
    if (successor is None or access is None or successor.rotated_at is not None
            or successor.revoked or access.revoked):
        raise reuse
    agent = session.get(m.Agent, row.agent_id)
    if agent is None or not agent.active:
        raise InvalidToken("invalid_token", "This account is disabled.")
    return IssuedTokens(access_token, access.expires_at, successor_token, successor.expires_at)


def revoke_family(session: Session, family: str) -> None:
    session.execute(
        update(m.AuthToken).where(m.AuthToken.family == family)
        .values(revoked=True, successor=None)
    )


def viewer_for_token(session: Session, access_token: str) -> tuple[Viewer, str, m.Agent]:
    """Resolve a bearer token to the agent it acts for; returns (viewer, family, agent)."""
    row = session.get(m.AuthToken, token_hash(access_token))
    if row is None or row.kind != "access" or row.revoked:
        raise InvalidToken("invalid_token", "This sign-in is not valid; please sign in again.")
    if row.expires_at <= now_ms():
        raise InvalidToken("token_expired", "The access token has expired; refresh it.")
    agent = session.get(m.Agent, row.agent_id)
    if agent is None or not agent.active:
        raise InvalidToken("invalid_token", "This account is disabled.")
    teams = frozenset(
        session.scalars(select(m.TeamMember.team_id).where(m.TeamMember.agent_id == agent.id))
    )
    return Viewer(agent.id, agent.role, teams), row.family, agent


def prune_tokens(session: Session) -> None:
    now = now_ms()
    session.execute(delete(m.AuthToken).where(m.AuthToken.expires_at < now))
    # A sealed successor is needed only during the grace period: erase it after.
    session.execute(
        update(m.AuthToken)
        .where(m.AuthToken.successor.is_not(None),
               m.AuthToken.rotated_at < now - REFRESH_REUSE_GRACE_MS)
        .values(successor=None)
    )
