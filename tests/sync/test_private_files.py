"""The workspace's files are private to the user: 0600 files in 0700 directories, made so by
the real Store, WorkspaceConfig and relaydesk-sync code, and tightened when an older version
left them 0644 / 0755.

Each test runs under a 022 umask (the common default), so what is checked is the code's
doing, not a umask the test process happens to have.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync import outbox
from sync.private_files import private_dir, private_file
from sync.store import MIRROR_FILE, OUTBOX_FILE, Store
from sync.workspace import WORKSPACE_FILE, WorkspaceConfig
from tests.sync.test_cli import ALICE, login_in_process

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def common_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(directory: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in sorted(directory.iterdir())}


def write_both(store: Store) -> None:
    """A write to each database, so SQLite has made their -wal and -shm files."""
    def work() -> None:
        with store.write_outbox() as conn:
            outbox.enqueue(conn, "mark_read", {"conversation_id": "c-1"}, 1)
        with store.write_mirror() as conn:
            store.set_state(conn, "probe", "1")

    store.write_sync(work)


def loosen(*paths: Path) -> None:
    """What an older version left: files 0644, directories 0755."""
    for path in paths:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def crashed_workspace(data_dir: Path) -> None:
    """A real process opens the store, writes to both files and is killed: the -wal and
    -shm files stay behind."""
    code = ("import os, signal, sys\n"
            "from sync.store import Store\n"
            "from sync import outbox\n"
            "s = Store(sys.argv[1]); s.open()\n"
            "def w():\n"
            "    with s.write_outbox() as c:\n"
            "        outbox.enqueue(c, 'mark_read', {'conversation_id': 'c-killed'}, 1)\n"
            "    with s.write_mirror() as c:\n"
            "        s.set_state(c, 'probe', '1')\n"
            "s.write_sync(w)\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(data_dir)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def test_a_new_workspace_is_private_down_to_the_wal_files(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    data_dir = shared / "Relaydesk" / "workspaces" / "default"
    store = Store(data_dir)
    store.open()
    try:
        write_both(store)
        WorkspaceConfig("http://127.0.0.1:1", ALICE).save(data_dir)
        files = modes(data_dir)
    finally:
        store.close()
    for name in (MIRROR_FILE, OUTBOX_FILE):
        for suffix in ("", "-wal", "-shm"):
            assert files[name + suffix] == 0o600, (name + suffix, oct(files[name + suffix]))
    assert files[WORKSPACE_FILE] == 0o600
    for directory in (data_dir, data_dir.parent, data_dir.parent.parent):
        assert mode(directory) == 0o700, directory
    assert mode(shared) == 0o755  # a folder that was there before is not ours to change


def test_files_an_older_version_left_readable_are_tightened_when_opened(tmp_path: Path
                                                                        ) -> None:
    data_dir = tmp_path / "ws"
    crashed_workspace(data_dir)
    WorkspaceConfig("http://127.0.0.1:1", ALICE).save(data_dir)
    left = sorted(data_dir.iterdir())
    assert {p.name for p in left} >= {MIRROR_FILE + "-wal", OUTBOX_FILE + "-shm"}
    loosen(data_dir, *left)

    assert WorkspaceConfig.load(data_dir) is not None
    store = Store(data_dir)
    store.open()
    try:
        assert mode(data_dir) == 0o700
        assert {name: oct(m) for name, m in modes(data_dir).items() if m != 0o600} == {}
        with store.read_db("outbox") as db:  # the killed process's write is all still there
            assert [r[0] for r in db.execute("SELECT name FROM intents")] == ["mark_read"]
    finally:
        store.close()


def test_a_rebuilt_mirror_and_a_damaged_one_kept_aside_are_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "ws"
    private_dir(data_dir)
    damaged = data_dir / MIRROR_FILE
    damaged.write_bytes(b"not a database, but the customer's data all the same" * 200)
    os.chmod(damaged, 0o644)
    store = Store(data_dir)
    report = store.open()
    try:
        assert report.rebuilt_mirror and report.moved_to is not None
        assert mode(report.moved_to) == 0o600
        store.write_sync(store.rebuild_mirror)
        write_both(store)
        assert mode(data_dir / MIRROR_FILE) == 0o600
        assert mode(data_dir / f"{MIRROR_FILE}-wal") == 0o600
    finally:
        store.close()


def test_relaydesk_sync_login_leaves_a_private_workspace_and_the_umask_as_it_was(
        server, ws, file_keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "cli" / "ws"
    login_in_process(monkeypatch, data_dir, server.url)
    assert mode(data_dir) == 0o700 and mode(data_dir.parent) == 0o700
    assert {name: oct(m) for name, m in modes(data_dir).items()
            if m != 0o600 and name != "mirror.clean"} == {}
    assert os.umask(0o022) == 0o022  # main() restored the caller's umask


def test_private_file_creates_0600_and_tightens_without_touching_the_content(
        tmp_path: Path) -> None:
    new = private_file(tmp_path / "new")
    assert mode(new) == 0o600 and new.read_bytes() == b""
    old = tmp_path / "old"
    old.write_text("kept")
    os.chmod(old, 0o664)
    private_file(old)
    assert mode(old) == 0o600 and old.read_text() == "kept"
    owner_only = tmp_path / "read-only"
    owner_only.write_text("x")
    os.chmod(owner_only, 0o444)
    private_file(owner_only)
    assert mode(owner_only) == 0o400  # the owner's own bits are theirs to keep
