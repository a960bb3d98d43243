"""What the desk writes is private to the user: the signed-in workspace (mirror, outbox and
their WAL files, workspace.json), drafts, settings, the rotating log and the demo server's
database — 0600 files in 0700 folders, made so by the real code, and tightened when an
older version left them 0644 / 0755.

Each test runs under a 022 umask (the common default), so what is checked is the code's
doing, not a umask the test process happens to have.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import logs, settings
from app.demo import open_demo
from app.drafts import FILE_NAME as DRAFTS_FILE
from app.drafts import DraftStore
from tests.app.conftest import until

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


@pytest.fixture(autouse=True)
def common_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def readable_by_others(directory: Path) -> dict[str, str]:
    """Files and folders in ``directory`` (recursively) that are not private, with modes."""
    return {str(p.relative_to(directory)): oct(mode(p)) for p in directory.rglob("*")
            if mode(p) & 0o077}


async def test_a_signed_in_desk_and_its_drafts_are_private(backend, desks) -> None:
    session = await desks.session(backend)
    data_dir = session.data_dir
    drafts = DraftStore(data_dir)
    try:
        drafts.save_later("c-1", "reply", "Dear Sam, your card ending 4242 …")
        await drafts.flush()
        names = {p.name for p in data_dir.iterdir()}
        assert {"mirror.sqlite3-wal", "outbox.sqlite3-wal", f"{DRAFTS_FILE}-wal",
                f"{DRAFTS_FILE}-shm", "workspace.json"} <= names
        assert mode(data_dir) == 0o700
        assert readable_by_others(data_dir) == {}
    finally:
        drafts.close()

    # Drafts an older version left readable are tightened when next opened.
    for path in data_dir.glob(f"{DRAFTS_FILE}*"):
        os.chmod(path, 0o644)
    os.chmod(data_dir, 0o755)
    again = DraftStore(data_dir)
    try:
        draft = await again.load("c-1")
        assert draft is not None and draft.body.startswith("Dear Sam")
        assert mode(data_dir) == 0o700 and mode(data_dir / DRAFTS_FILE) == 0o600
    finally:
        again.close()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root, ours = logging.getLogger(), logging.getLogger("relaydesk")
    levels = root.level, ours.level
    yield
    logs.close_logging()
    logging.captureWarnings(False)
    root.setLevel(levels[0])
    ours.setLevel(levels[1])


def test_the_log_and_its_rotated_files_are_private(tmp_path: Path, restore_logging) -> None:
    folder = tmp_path / "state" / "Relaydesk" / "log"
    logs.setup_logging(folder)
    logs.get_logger("sync").info("synced the conversation with +1 555 0100")
    (handler,) = [h for h in logging.getLogger().handlers
                  if isinstance(h, logging.handlers.RotatingFileHandler)]
    handler.doRollover()
    logs.get_logger("sync").info("after the rollover")
    logs.close_logging()
    assert sorted(p.name for p in folder.iterdir()) == [logs.LOG_FILE, f"{logs.LOG_FILE}.1"]
    assert readable_by_others(tmp_path / "state") == {}

    # Files and the folder an older version left readable, the rotated ones included.
    for path in (folder, *folder.iterdir()):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    logs.setup_logging(folder)
    assert readable_by_others(tmp_path / "state") == {}
    assert mode(folder) == 0o700


def test_settings_are_private(tmp_path: Path) -> None:
    path = tmp_path / "config" / "Relaydesk" / settings.SETTINGS_FILE
    s = settings.DeskSettings(last_workspace="/home/ann/work")
    s.workspace("/home/ann/work").save_filter("Sam Lee", settings.InboxFilter(text="Sam Lee"))
    s.save(path)
    assert readable_by_others(tmp_path / "config") == {}

    os.chmod(path, 0o644)
    os.chmod(path.parent, 0o755)
    assert settings.load(path) == s
    assert mode(path) == 0o600
    s.save(path)
    assert mode(path.parent) == 0o700


async def test_the_demo_server_database_is_private(qloop: object, tmp_path: Path) -> None:
    base = tmp_path / "demo"
    server, _config, desk_dir, _creds = await open_demo("agent", base)
    try:
        db = base / "server" / "relaydesk-server.sqlite3"
        await until(lambda: Path(f"{db}-wal").exists(), what="the server's WAL file")
        assert mode(base) == 0o700 and mode(desk_dir) == 0o700
        assert readable_by_others(base) == {}
    finally:
        await server.stop()
