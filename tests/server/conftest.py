"""Fixtures for the backend suite: a real server over loopback HTTP on a real database.

The database is a SQLite file per test, or, when RELAYDESK_TEST_DATABASE_URL names a
PostgreSQL server (as in CI's second leg), a fresh PostgreSQL database per test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from server.db import Database
from tests.server.harness import LiveServer, ServerProcess, Workspace, build_workspace

PG_ADMIN_URL = os.environ.get("RELAYDESK_TEST_DATABASE_URL")


def _pg_create_database() -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
    name = f"rd_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _pg_drop_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if PG_ADMIN_URL:
        url = _pg_create_database()
        yield url
        _pg_drop_database(url)
    else:
        yield f"sqlite:///{tmp_path / 'server.sqlite3'}"


@pytest.fixture
def postgres_url(database_url: str) -> str:
    """For tests that only mean something on PostgreSQL (CI's PostgreSQL leg runs them)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL-only: set RELAYDESK_TEST_DATABASE_URL (CI's second leg does)")
    return database_url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def workspace(db: Database) -> Workspace:
    return build_workspace(db)


@pytest.fixture
def live_server(db: Database, workspace: Workspace, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(db.url.render_as_string(hide_password=False), tmp_path, heartbeat_s=1.0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server_process_factory(tmp_path: Path) -> Iterator:
    started: list[ServerProcess] = []

    def start(database_url: str, *extra: str) -> ServerProcess:
        proc = ServerProcess(database_url, tmp_path / f"proc-{uuid.uuid4().hex[:8]}",
                             list(extra))
        started.append(proc)  # before start(): a process that fails to start is stopped too
        proc.start()
        return proc

    yield start
    for proc in started:
        proc.stop()
