"""The server's SQLite database (with its -wal and -shm) and the directories it creates are
private to the user who runs it: they hold password hashes, token hashes and customer data."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server.db import Database
from tests.server.harness import PREFIX, ServerProcess, Workspace, build_workspace


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common umask (022), under which files are born 0644 unless created otherwise."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_serve_creates_its_data_directory_and_database_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "new" / "relaydesk-server"
    db_file = data_dir / "relaydesk-server.sqlite3"
    # Migrate, then add a team, as an admin would: the default database in a new directory.
    for args in (["migrate"], ["team", "add", "--name", "Support"]):
        done = subprocess.run([sys.executable, "-m", "server.cli", *args, "--data-dir",
                               str(data_dir)], capture_output=True, text=True, timeout=60,
                              env={k: v for k, v in os.environ.items()
                                   if k != "RELAYDESK_DATABASE_URL"})
        assert done.returncode == 0, done.stderr
    assert mode(tmp_path / "new") == 0o700
    assert mode(data_dir) == 0o700
    assert mode(db_file) == 0o600
    # Served: a sign-in writes through the write-ahead log, whose files follow the database.
    server = ServerProcess(f"sqlite:///{db_file}", data_dir, [])
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            r = http.post(f"{PREFIX}/auth/login", json={"email": "no@test.relaydesk",
                                                         "password": "x"})
            assert r.status_code == 401
        wal, shm = (db_file.with_name(db_file.name + s) for s in ("-wal", "-shm"))
        assert wal.exists() and shm.exists()
        assert (mode(db_file), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    finally:
        server.stop()


def test_an_existing_database_readable_by_others_is_made_private(tmp_path: Path) -> None:
    """A database from before (0644, its -wal and -shm too) is tightened when opened."""
    db_file = tmp_path / "old.sqlite3"
    url = f"sqlite:///{db_file}"
    database = Database(url)
    database.migrate()
    workspace: Workspace = build_workspace(database)
    assert workspace.agents
    database.dispose()
    extra = [db_file.with_name(db_file.name + s) for s in ("-wal", "-shm")]
    for path in (db_file, *extra):
        path.touch()
        os.chmod(path, 0o644)
    reopened = Database(url)
    try:
        reopened.migrate()
        assert [mode(p) for p in (db_file, *extra)] == [0o600, 0o600, 0o600]
    finally:
        reopened.dispose()
