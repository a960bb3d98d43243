"""Sign-in throttling and the client address it counts under, against the real server.

Several client addresses come from one test machine through a trusted proxy: the server is
told to trust loopback, and each request names its client in X-Forwarded-For, the way a
reverse proxy in front of the server would.
"""

from __future__ import annotations

import ipaddress
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from protocol import wire as p
from server import models as m
from server import throttle
from server.db import Database
from server.feed import now_ms
from tests.server.harness import PASSWORD, PREFIX, LiveServer, Workspace

LOGIN = f"{PREFIX}/auth/login"
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@pytest.fixture
def proxied(db: Database, workspace: Workspace, tmp_path: Path) -> Iterator[LiveServer]:
    """A server behind a (loopback) reverse proxy it trusts."""
    server = LiveServer(db.url.render_as_string(hide_password=False), tmp_path,
                        trusted_proxies=LOOPBACK)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def http(proxied: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxied.url, timeout=30) as client:
        yield client


def login(http: httpx.Client, email: str, password: str = PASSWORD,
          client: str | None = None, **headers: str) -> httpx.Response:
    if client is not None:
        headers["X-Forwarded-For"] = client
    return http.post(LOGIN, json={"email": email, "password": password}, headers=headers)


def fail(http: httpx.Client, email: str, client: str, times: int) -> None:
    for _ in range(times):
        r = login(http, email, "guess-again", client)
        assert r.status_code == 401, r.text


def wait_out(db: Database, email: str, address: str, ms: int) -> None:
    """Let ``ms`` pass for an (account, address)'s failures, without sleeping."""
    with db.write() as s:
        s.execute(update(m.LoginFailure).where(m.LoginFailure.email == email,
                                               m.LoginFailure.address == address)
                  .values(at=m.LoginFailure.at - ms))


def addresses(db: Database, email: str) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(m.LoginFailure.address)
                              .where(m.LoginFailure.email == email)
                              .order_by(m.LoginFailure.id)))


def add_failures(db: Database, rows: list[tuple[str, str]]) -> None:
    """Failures that happened moments ago (the set-up of an attack already under way)."""
    now = now_ms()
    with db.write() as s:
        s.add_all([m.LoginFailure(email=e, address=a, at=now - 1_000) for e, a in rows])


def test_wrong_passwords_in_one_place_do_not_lock_the_right_one_out_elsewhere(
    http: httpx.Client, workspace: Workspace
) -> None:
    alice = workspace.emails["alice"]
    fail(http, alice, "203.0.113.7", throttle.PAIR_FREE_FAILURES)
    r = login(http, alice, "guess-again", "203.0.113.7")
    assert r.status_code == 429, r.text
    # Even the right password waits there: the delay is not an oracle for a guesser ...
    assert login(http, alice, client="203.0.113.7").status_code == 429
    # ... while the agent at their own desk signs in at once.
    assert login(http, alice, client="198.51.100.20").status_code == 200


def test_each_further_failure_doubles_the_wait(
    http: httpx.Client, workspace: Workspace, db: Database
) -> None:
    alice, where = workspace.emails["alice"], "203.0.113.7"
    fail(http, alice, where, throttle.PAIR_FREE_FAILURES)
    waits = []
    for _ in range(4):
        r = login(http, alice, "guess-again", where)
        assert r.status_code == 429, r.text
        assert r.json()["error"] == "too_many_attempts"
        waits.append(int(r.headers["Retry-After"]))
        assert p.ErrorBody.model_validate(r.json()).retry_after is not None
        wait_out(db, alice, where, throttle.pair_delay_ms(
            throttle.PAIR_FREE_FAILURES + len(waits) - 1))
        fail(http, alice, where, 1)
    assert waits == [1, 2, 4, 8]
    # Once the wait is over the right password works, and the failures are forgiven.
    wait_out(db, alice, where, throttle.pair_delay_ms(throttle.PAIR_FREE_FAILURES + 4))
    assert login(http, alice, client=where).status_code == 200
    assert addresses(db, alice) == []


def test_one_busy_nat_address_does_not_lock_out_its_agents(
    http: httpx.Client, workspace: Workspace, db: Database
) -> None:
    nat = "192.0.2.50"
    # Thirty mistyped passwords from the office NAT, among several people.
    for i in range(30):
        fail(http, f"temp-{i % 10}@test.relaydesk", nat, 1)
    assert login(http, workspace.emails["bob"], client=nat).status_code == 200
    # A password spray from that address reaches the address-wide limit: accounts that
    # never signed in from there wait, an agent who did (bob) still signs in.
    add_failures(db, [(f"sprayed-{i}@test.relaydesk", nat)
                      for i in range(throttle.ADDRESS_FAILURES)])
    r = login(http, workspace.emails["alice"], client=nat)
    assert r.status_code == 429, r.text
    assert login(http, workspace.emails["bob"], client=nat).status_code == 200
    assert login(http, workspace.emails["alice"], client="198.51.100.20").status_code == 200


def test_many_addresses_guessing_one_account_do_not_lock_its_agent_out(
    http: httpx.Client, workspace: Workspace, db: Database
) -> None:
    alice = workspace.emails["alice"]
    assert login(http, alice, client="198.51.100.20").status_code == 200  # her usual desk
    add_failures(db, [(alice, f"203.0.113.{i}") for i in range(throttle.ACCOUNT_FAILURES)])
    # A distributed guesser: a new address is refused before the password is looked at ...
    r = login(http, alice, client="203.0.113.200")
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["Retry-After"]) <= throttle.WINDOW_MS // 1000
    # ... and alice at her usual desk is not.
    assert login(http, alice, client="198.51.100.20").status_code == 200


def test_concurrent_guesses_are_counted_like_consecutive_ones(
    proxied: LiveServer, workspace: Workspace
) -> None:
    """Ten guesses at once from one address: only the free ones get an answer."""
    barrier = threading.Barrier(10)

    def guess(i: int) -> int:
        with httpx.Client(base_url=proxied.url, timeout=30) as client:
            barrier.wait()
            return login(client, workspace.emails["alice"], f"guess-{i}",
                         "203.0.113.7").status_code

    with ThreadPoolExecutor(10) as pool:
        statuses = sorted(pool.map(guess, range(10)))
    assert statuses == [401] * throttle.PAIR_FREE_FAILURES + [429] * (
        10 - throttle.PAIR_FREE_FAILURES)


def test_the_client_is_the_last_address_a_trusted_proxy_saw(
    http: httpx.Client, workspace: Workspace, db: Database
) -> None:
    alice = workspace.emails["alice"]
    # Everything left of what the proxy appended may be made up by the client.
    login(http, alice, "x", "10.9.9.9, 203.0.113.7")
    login(http, alice, "x", Forwarded='for="[2001:db8::17]:4711";proto=https')
    login(http, alice, "x", **{"X-Real-IP": "198.51.100.77"})
    login(http, alice, "x", "unknown")  # a hop that is no address: the proxy's own
    assert addresses(db, alice) == ["203.0.113.7", "2001:db8::17", "198.51.100.77",
                                    "127.0.0.1"]


def test_forwarded_headers_count_only_from_trusted_proxies(
    server_process_factory, database_url: str, workspace: Workspace, db: Database
) -> None:
    """`relaydesk-server serve` without --trusted-proxy: a made-up X-Forwarded-For does not
    move a throttled client to a fresh address (uvicorn's own proxy handling is off)."""
    server = server_process_factory(database_url)
    alice = workspace.emails["alice"]
    with httpx.Client(base_url=server.url, timeout=30) as http:
        fail(http, alice, "203.0.113.7", throttle.PAIR_FREE_FAILURES)
        for header in ({"X-Forwarded-For": "198.51.100.1"}, {"X-Real-IP": "198.51.100.2"},
                       {"Forwarded": "for=198.51.100.3"}):
            r = http.post(LOGIN, json={"email": alice, "password": PASSWORD}, headers=header)
            assert r.status_code == 429, (header, r.text)
    assert set(addresses(db, alice)) == {"127.0.0.1"}
    with_proxy = server_process_factory(database_url, "--trusted-proxy", "127.0.0.1")
    with httpx.Client(base_url=with_proxy.url, timeout=30) as http:
        assert login(http, alice, client="198.51.100.1").status_code == 200


def test_every_refusal_is_logged_for_the_admin_without_the_password(
    server_process_factory, database_url: str, workspace: Workspace
) -> None:
    server = server_process_factory(database_url)
    alice = workspace.emails["alice"]
    secret = f"not-{uuid.uuid4().hex}"
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for _ in range(throttle.PAIR_FREE_FAILURES):
            assert login(http, alice, secret).status_code == 401
        assert login(http, alice, secret).status_code == 429
        assert login(http, "nobody@test.relaydesk", secret).status_code == 401
    server.stop()
    assert server.proc is not None and server.proc.stderr is not None
    log = server.proc.stderr.read()
    refusals = [line for line in log.splitlines() if "sign-in refused" in line]
    assert len(refusals) == throttle.PAIR_FREE_FAILURES + 2, log
    assert all("relaydesk.server.auth" in line and "address=127.0.0.1" in line
               for line in refusals)
    assert sum(f"email='{alice}'" in line and "reason=wrong_password" in line
               for line in refusals) == throttle.PAIR_FREE_FAILURES
    assert "reason=throttled_account_address retry_after=1s" in refusals[-2]
    assert "email='nobody@test.relaydesk'" in refusals[-1]
    assert "reason=unknown_account" in refusals[-1]
    assert secret not in log
