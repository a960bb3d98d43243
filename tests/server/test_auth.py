"""Sign-in, tokens and throttling against the real server over loopback HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text, update

from protocol import wire as p
from server import auth, maintenance
from server import models as m
from server.db import Database
from server.feed import now_ms
from tests.server.harness import PASSWORD, PREFIX, Api, LiveServer, Workspace, wait_until

LOGIN = f"{PREFIX}/auth/login"
REFRESH = f"{PREFIX}/auth/refresh"
LOGOUT = f"{PREFIX}/auth/logout"


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


def _login(http: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return http.post(LOGIN, json={"email": email, "password": password})


def _pull_status(http: httpx.Client, token: str) -> httpx.Response:
    return http.get(f"{PREFIX}/sync/pull", params={"cursor": 0},
                    headers={"Authorization": f"Bearer {token}"})


def _refresh(http: httpx.Client, refresh_token: str) -> httpx.Response:
    return http.post(REFRESH, json={"refresh_token": refresh_token})


def _error(r: httpx.Response) -> p.ErrorBody:
    return p.ErrorBody.model_validate(r.json())


# --------------------------------------------------------------------------- login


def test_login_returns_tokens_and_profile(http: httpx.Client, workspace: Workspace) -> None:
    before = now_ms()
    r = _login(http, workspace.emails["alice"])
    assert r.status_code == 200, r.text
    body = p.LoginResponse.model_validate(r.json())
    assert body.access_token and body.refresh_token
    assert body.access_token != body.refresh_token
    assert body.agent.id == workspace.agents["alice"]
    assert body.agent.email == "alice@test.relaydesk"
    assert body.agent.role is p.Role.AGENT
    assert body.agent.team_ids == [workspace.teams["A"]]
    # Default TTLs: one hour of access, thirty days of refresh.
    assert body.access_expires_at >= before + 3600_000 - 5_000
    assert body.refresh_expires_at >= before + 30 * 86400_000 - 5_000
    assert abs(body.server_time - now_ms()) < 60_000
    assert _pull_status(http, body.access_token).status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_answer(
    http: httpx.Client, workspace: Workspace
) -> None:
    wrong = _login(http, workspace.emails["alice"], "not-the-password")
    unknown = _login(http, "nobody@test.relaydesk", PASSWORD)
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert _error(r).error == "invalid_credentials"
    assert _error(wrong).message == _error(unknown).message
    assert "password" in _error(wrong).message.lower()


def test_email_is_case_insensitive(http: httpx.Client, workspace: Workspace) -> None:
    r = _login(http, "  ALICE@Test.RelayDesk ")
    assert r.status_code == 200, r.text
    assert r.json()["agent"]["id"] == workspace.agents["alice"]


# --------------------------------------------------------------------------- storage


def test_tokens_are_stored_hashed(http: httpx.Client, workspace: Workspace, db: Database) -> None:
    tokens = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
    with db.read() as s:
        rows = s.execute(text("SELECT * FROM auth_tokens")).all()
        hashes = set(s.scalars(select(m.AuthToken.token_hash)))
    assert len(rows) == 2
    dumped = repr([tuple(r) for r in rows])
    assert tokens.access_token not in dumped
    assert tokens.refresh_token not in dumped
    assert hashes == {auth.token_hash(tokens.access_token), auth.token_hash(tokens.refresh_token)}


def test_password_hash_is_scrypt(workspace: Workspace, db: Database) -> None:
    with db.read() as s:
        hashes = {e: h for e, h in s.execute(select(m.Agent.email, m.Agent.password_hash))}
    assert len(hashes) == 4
    for stored in hashes.values():
        assert stored.startswith("scrypt$")
        assert PASSWORD not in stored
        assert auth.verify_password(PASSWORD, stored)
        assert not auth.verify_password(PASSWORD + "x", stored)
    # Everyone has the same password, but the salts make every hash different.
    assert len(set(hashes.values())) == 4


# --------------------------------------------------------------------------- bearer tokens


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer garbage-token",
                                    "Basic YWJjOmRlZg==", "Token abc"])
def test_missing_or_garbage_bearer(http: httpx.Client, workspace: Workspace,
                                   header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for r in (http.get(f"{PREFIX}/sync/pull", params={"cursor": 0}, headers=headers),
              http.get(f"{PREFIX}/sync/bootstrap", headers=headers),
              http.post(f"{PREFIX}/sync/push", headers=headers,
                        json={"client_id": "client-0001", "mutations": []})):
        assert r.status_code == 401, r.text
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert _error(r).error in ("auth_required", "invalid_token")


def test_expired_access_token(db: Database, workspace: Workspace, tmp_path: Path) -> None:
    server = LiveServer(db.url.render_as_string(hide_password=False), tmp_path,
                        access_token_ttl_s=1)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            body = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
            assert body.access_expires_at - body.server_time <= 1_500
            assert wait_until(lambda: _pull_status(http, body.access_token).status_code == 401,
                              timeout=5)
            r = _pull_status(http, body.access_token)
            assert _error(r).error == "token_expired"
            assert r.headers["WWW-Authenticate"] == "Bearer"
            # The refresh token (30 days) still gets a new, working access token.
            r = _refresh(http, body.refresh_token)
            assert r.status_code == 200, r.text
            fresh = p.TokenPair.model_validate(r.json())
            assert _pull_status(http, fresh.access_token).status_code == 200
    finally:
        server.stop()


# --------------------------------------------------------------------------- refresh


def _pair(r: httpx.Response) -> p.TokenPair:
    assert r.status_code == 200, r.text
    return p.TokenPair.model_validate(r.json())


def _age_rotation(db: Database, refresh_token: str, by_ms: int) -> None:
    """Move a rotation back in time (the grace period passing without a real wait)."""
    with db.write() as s:
        s.execute(update(m.AuthToken)
                  .where(m.AuthToken.token_hash == auth.token_hash(refresh_token))
                  .values(rotated_at=m.AuthToken.rotated_at - by_ms))


def test_retried_refresh_within_the_grace_gets_the_same_pair(
    http: httpx.Client, workspace: Workspace, db: Database
) -> None:
    first = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
    second = _pair(_refresh(http, first.refresh_token))
    assert {second.access_token, second.refresh_token}.isdisjoint(
        {first.access_token, first.refresh_token})
    assert _pull_status(http, first.access_token).status_code == 401
    # The response got lost: the desk presents the old token again, twice. It gets the very
    # same pair (not a fork: one chain, one live refresh token).
    for _ in range(2):
        again = _pair(_refresh(http, first.refresh_token))
        assert again == second
    assert _pull_status(http, second.access_token).status_code == 200
    with db.read() as s:
        live = s.scalar(select(func.count()).select_from(m.AuthToken).where(
            m.AuthToken.agent_id == workspace.agents["alice"], m.AuthToken.kind == "refresh",
            m.AuthToken.rotated_at.is_(None), m.AuthToken.revoked.is_(False)))
    assert live == 1
    # The chain goes on from the successor as usual.
    third = _pair(_refresh(http, second.refresh_token))
    assert _pull_status(http, third.access_token).status_code == 200
    assert _pull_status(http, second.access_token).status_code == 401


def test_reuse_after_the_grace_revokes_the_family(
    http: httpx.Client, workspace: Workspace, db: Database
) -> None:
    first = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
    other = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
    second = _pair(_refresh(http, first.refresh_token))
    _age_rotation(db, first.refresh_token, auth.REFRESH_REUSE_GRACE_MS + 1_000)
    # Much later, the old refresh token shows up again: that looks like theft.
    r = _refresh(http, first.refresh_token)
    assert r.status_code == 401
    assert _error(r).error == "invalid_token"
    # The whole session ends, including the newest tokens ...
    assert _pull_status(http, second.access_token).status_code == 401
    assert _refresh(http, second.refresh_token).status_code == 401
    # ... but not another sign-in of the same agent.
    assert _pull_status(http, other.access_token).status_code == 200


def test_reuse_after_the_successor_was_rotated_revokes_the_family(
    http: httpx.Client, workspace: Workspace
) -> None:
    first = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
    second = _pair(_refresh(http, first.refresh_token))
    third = _pair(_refresh(http, second.refresh_token))
    # Well within the grace, but the successor has been used: the first token is replayed.
    r = _refresh(http, first.refresh_token)
    assert r.status_code == 401
    assert _error(r).error == "invalid_token"
    assert _pull_status(http, third.access_token).status_code == 401
    assert _refresh(http, third.refresh_token).status_code == 401


def test_concurrent_refreshes_of_one_token_get_one_successor(
    http: httpx.Client, live_server: LiveServer, workspace: Workspace, db: Database
) -> None:
    """Eight requests racing with the same refresh token (PostgreSQL too: the CI leg)."""
    first = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
    barrier = threading.Barrier(8)

    def refresh_once(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.url, timeout=30) as client:
            barrier.wait()
            return _refresh(client, first.refresh_token)

    with ThreadPoolExecutor(8) as pool:
        pairs = [_pair(r) for r in pool.map(refresh_once, range(8))]
    assert all(pair == pairs[0] for pair in pairs)
    with db.read() as s:
        issued = s.scalar(select(func.count()).select_from(m.AuthToken).where(
            m.AuthToken.agent_id == workspace.agents["alice"], m.AuthToken.kind == "refresh"))
    assert issued == 2  # the sign-in's and its one successor
    assert _pull_status(http, pairs[0].access_token).status_code == 200


def test_successors_are_stored_sealed_and_erased_after_the_grace(
    http: httpx.Client, workspace: Workspace, db: Database
) -> None:
    first = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
    second = _pair(_refresh(http, first.refresh_token))
    with db.read() as s:
        dumped = repr([tuple(r) for r in s.execute(text("SELECT * FROM auth_tokens")).all()])
    for token in (first.access_token, first.refresh_token, second.access_token,
                  second.refresh_token):
        assert token not in dumped
    _age_rotation(db, first.refresh_token, auth.REFRESH_REUSE_GRACE_MS + 1_000)
    maintenance.prune(db, 30 * 86400_000)
    with db.read() as s:
        sealed = s.scalar(select(m.AuthToken.successor).where(
            m.AuthToken.token_hash == auth.token_hash(first.refresh_token)))
    assert sealed is None


def test_refresh_with_garbage_or_access_token(http: httpx.Client, workspace: Workspace) -> None:
    tokens = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
    for bad in ("garbage", tokens.access_token):
        r = _refresh(http, bad)
        assert r.status_code == 401
        assert _error(r).error == "invalid_token"
    # A failed refresh attempt does not end the session.
    assert _pull_status(http, tokens.access_token).status_code == 200


# --------------------------------------------------------------------------- logout, disabled


def test_logout_ends_the_session(http: httpx.Client, workspace: Workspace) -> None:
    tokens = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
    other = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
    r = http.post(LOGOUT, headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert r.status_code == 204
    assert _pull_status(http, tokens.access_token).status_code == 401
    assert _refresh(http, tokens.refresh_token).status_code == 401
    # Logging out needs a valid token, and ends only that session.
    assert http.post(LOGOUT).status_code == 401
    assert _pull_status(http, other.access_token).status_code == 200


def test_disabled_agent_cannot_sign_in_or_use_tokens(
    http: httpx.Client, live_server: LiveServer, workspace: Workspace, db: Database
) -> None:
    tokens = p.LoginResponse.model_validate(_login(http, workspace.emails["alice"]).json())
    with db.write() as s:
        s.execute(update(m.Agent).where(m.Agent.id == workspace.agents["alice"])
                  .values(active=False))
    r = _pull_status(http, tokens.access_token)
    assert r.status_code == 401
    assert "disabled" in _error(r).message
    assert _refresh(http, tokens.refresh_token).status_code == 401
    r = _login(http, workspace.emails["alice"])
    assert r.status_code == 401
    assert _error(r).error == "invalid_credentials"
    # Others are unaffected.
    with Api(live_server.url) as bob:
        bob.login(workspace.emails["bob"])
        assert bob.pull(0).cursor >= 0
