"""Fixtures for the sync client suite: the real backend on loopback, real SQLite mirrors."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import keyring
import pytest
import pytest_asyncio

from server.db import Database
from sync.client import ApiClient
from sync.credentials import CredentialStore
from sync.engine import EngineOptions, SyncEngine
from sync.store import Store
from tests.server.harness import PASSWORD, LiveServer, Workspace, build_workspace
from tests.support.keyring_backend import FileTestKeyring

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A desk's two local files, opened (created and migrated) in its own directory."""
    s = Store(tmp_path / "desk")
    s.open()
    yield s
    s.close()


@pytest.fixture
def server_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'server.sqlite3'}")
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def ws(server_db: Database) -> Workspace:
    return build_workspace(server_db)


@pytest.fixture
def server(server_db: Database, ws: Workspace, tmp_path: Path) -> Iterator[LiveServer]:
    srv = LiveServer(server_db.url.render_as_string(hide_password=False), tmp_path,
                     heartbeat_s=1.0)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A recommended keyring backend shared with subprocesses through a file."""
    path = tmp_path / "keyring.json"
    monkeypatch.setenv("RELAYDESK_TEST_KEYRING_FILE", str(path))
    previous = keyring.get_keyring()
    keyring.set_keyring(FileTestKeyring())
    yield path
    keyring.set_keyring(previous)


def cli_env(keyring_file: Path) -> dict[str, str]:
    """Environment for `relaydesk-sync` subprocesses that share the test keyring."""
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHON_KEYRING_BACKEND": "tests.support.keyring_backend.FileTestKeyring",
        "RELAYDESK_TEST_KEYRING_FILE": str(keyring_file),
        "PYTHONUNBUFFERED": "1",
    }


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "sync.cli", *args]


@dataclass
class Desk:
    store: Store
    api: ApiClient
    engine: SyncEngine

    async def close(self) -> None:
        await self.engine.stop()
        await self.api.aclose()
        self.store.close()


DeskFactory = Callable[..., Any]


@pytest_asyncio.fixture
async def make_desk(tmp_path: Path) -> AsyncIterator[DeskFactory]:
    """Build desks (store + client + engine) against a server URL; closed at the end."""
    desks: list[Desk] = []

    async def make(url: str, *, name: str = "desk", email: str | None = None,
                   transport: httpx.AsyncBaseTransport | None = None,
                   options: EngineOptions | None = None, start: bool = True,
                   login: bool = True, credentials: bool = True) -> Desk:
        store = Store(tmp_path / name)
        store.open()
        api = ApiClient(url, transport=transport)
        creds = CredentialStore(url, email or "alice@test.relaydesk") if credentials else None
        engine = SyncEngine(store, api, creds, options or EngineOptions())
        desk = Desk(store, api, engine)
        desks.append(desk)
        if start:
            await engine.start()
        if login and email:
            await engine.login(email, PASSWORD)
        return desk

    yield make
    for desk in desks:
        with contextlib.suppress(Exception):
            await desk.close()
