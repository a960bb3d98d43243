"""The desk's two SQLite files: opening, checking, repairing, migrating and sharing them.

Damage is done to real files on disk the way a disk or a careless copy does it (bytes
overwritten in the middle, a file cut short); crashes are real processes killed with SIGKILL.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from sync import entities, mirror, outbox, queries
from sync import store as store_module
from sync.client import ApiClient
from sync.engine import EngineOptions, SyncEngine
from sync.store import (
    CLEAN_MARKER,
    MIGRATIONS,
    MIRROR_FILE,
    OUTBOX_FILE,
    SUSPECT_MARKER,
    OutboxUnreadable,
    Store,
    _ReadPool,
)
from tests.server.harness import PASSWORD, Api, expected_state
from tests.sync.helpers import as_rows, mirror_rows

REPO = Path(__file__).resolve().parents[2]
PAGE = 4096


# --------------------------------------------------------------------------- helpers


def in_outbox(store: Store, fn: Any, *args: Any) -> Any:
    """Run an outbox function in a write transaction on the store's writer thread."""

    def work() -> Any:
        with store.write_outbox() as conn:
            return fn(conn, *args)

    return store.write_sync(work)


def queue(store: Store, name: str, args: dict[str, Any]) -> outbox.IntentRecord:
    return in_outbox(store, outbox.enqueue, name, args, 1_700_000_000_000)






def overwrite_middle(path: Path, pages: int = 3) -> None:
    """Garbage over whole pages in the middle of the file (the header stays intact)."""
    n = path.stat().st_size // PAGE
    assert n >= pages + 2, f"{path.name} is too small ({n} pages) to damage in the middle"
    with open(path, "r+b") as f:
        f.seek((n // 2) * PAGE)
        f.write(bytes([0xA5]) * PAGE * pages)


def truncate_half(path: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2 + 100)  # not even on a page boundary


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def head_revision(which: str) -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS / which))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def kill_while_open(data_dir: Path) -> None:
    """A real desk process opens the store, writes, and is killed with SIGKILL."""
    code = (
        "import os, signal, sys\n"
        "from sync.store import Store\n"
        "from sync import outbox\n"
        "s = Store(sys.argv[1]); s.open()\n"
        "def w():\n"
        "    with s.write_outbox() as c:\n"
        "        outbox.enqueue(c, 'mark_read', {'conversation_id': 'c-killed'}, 1)\n"
        "s.write_sync(w)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(data_dir)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


# --------------------------------------------------------------------------- opening


def test_open_creates_both_files_in_wal_mode_with_migrations(tmp_path: Path) -> None:
    store = Store(tmp_path / "ws")
    report = store.open()
    try:
        assert not report.rebuilt_mirror and report.problem is None
        for name, which, table in ((MIRROR_FILE, "mirror", "conversations"),
                                   (OUTBOX_FILE, "outbox", "intents")):
            path = tmp_path / "ws" / name
            assert path.exists()
            conn = sqlite3.connect(path)
            try:
                assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
                    (head_revision(which),)]
                tables = {r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                assert table in tables
            finally:
                conn.close()
        # Every connection the store hands out is set up the same way.
        for ctx in (store.read_mirror, store.read_outbox):
            with ctx() as conn:
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        # The tables of the other file are not created in the wrong one.
        with store.read_mirror() as conn:
            names = set(conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'table'")).scalars())
            assert "intents" not in names and "conversations" in names
    finally:
        store.close()

    # Opening again is harmless: same revision, data kept.
    again = Store(tmp_path / "ws")
    again.open()
    try:
        with again.read_mirror() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == (
                head_revision("mirror"))
    finally:
        again.close()


def test_clean_shutdown_quick_check_unclean_full_integrity_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, bool]] = []
    real_check = store_module.check_file

    def spy(path: Path, full: bool) -> str | None:
        calls.append((path.name, full))
        return real_check(path, full)

    monkeypatch.setattr(store_module, "check_file", spy)
    marker = tmp_path / CLEAN_MARKER

    store = Store(tmp_path)
    store.open()
    assert not marker.exists(), "the marker must be gone while the store is open"
    store.close()
    assert marker.exists()

    calls.clear()
    store = Store(tmp_path)
    store.open()
    assert calls == [(MIRROR_FILE, False), (OUTBOX_FILE, True)]  # clean: quick_check
    assert not marker.exists()
    store.close()

    kill_while_open(tmp_path)
    assert not marker.exists()
    calls.clear()
    store = Store(tmp_path)
    store.open()
    try:
        assert calls == [(MIRROR_FILE, True), (OUTBOX_FILE, True)]  # unclean: integrity_check
        with store.read_outbox() as conn:  # what the killed process committed is there
            assert [i.conversation_id for i in outbox.unsettled(conn)] == ["c-killed"]
    finally:
        store.close()


def test_cli_closing_beside_a_running_desk_does_not_mark_the_mirror_clean(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The desk is open; the CLI opens the same directory, works and exits; then the desk
    crashes. The next start must run the full integrity check."""
    code = (
        "import os, signal, sys, time\n"
        "from sync.store import Store\n"
        "s = Store(sys.argv[1]); s.open()\n"
        "print('open', flush=True)\n"
        "sys.stdin.readline()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    desk = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert desk.stdout is not None and desk.stdin is not None
        assert desk.stdout.readline().strip() == "open"
        cli = Store(tmp_path)
        cli.open()
        queue(cli, "mark_read", {"conversation_id": "c1"})
        cli.close()
        desk.stdin.write("\n")
        desk.stdin.flush()
        assert desk.wait(60) == -signal.SIGKILL
    finally:
        if desk.poll() is None:
            desk.kill()
            desk.wait()

    calls: list[tuple[str, bool]] = []
    real_check = store_module.check_file
    monkeypatch.setattr(store_module, "check_file",
                        lambda path, full: calls.append((path.name, full)) or real_check(path,
                                                                                          full))
    store = Store(tmp_path)
    store.open()
    store.close()
    assert calls[0] == (MIRROR_FILE, True)


def test_a_deferred_check_that_fails_makes_the_next_open_rebuild(tmp_path: Path) -> None:
    """The desk opens a cleanly closed mirror without reading it all, checks it once the
    window is up, and a damaged file is rebuilt at the next start (never used silently)."""
    store = Store(tmp_path)
    store.open()
    with store.write_mirror() as conn:  # enough pages to damage the middle
        for i in range(400):
            store.set_state(conn, f"filler-{i}", "x" * 500)
    store.close()
    overwrite_middle(tmp_path / MIRROR_FILE)

    store = Store(tmp_path)
    report = store.open(defer_clean_check=True)
    assert not report.rebuilt_mirror  # not looked at yet
    problem = store.deferred_check()
    store.close()
    assert problem is not None
    assert (tmp_path / SUSPECT_MARKER).exists()

    store = Store(tmp_path)
    report = store.open(defer_clean_check=True)  # suspect: checked now, whatever is asked
    try:
        assert report.rebuilt_mirror and report.moved_to is not None
        assert not (tmp_path / SUSPECT_MARKER).exists()
        assert store.deferred_check() is None
    finally:
        store.close()


# --------------------------------------------------------------------------- damage


@pytest.mark.asyncio
@pytest.mark.parametrize("damage", [overwrite_middle, truncate_half],
                         ids=["overwritten", "truncated"])
async def test_damaged_mirror_is_moved_aside_rebuilt_and_refilled_from_the_server(
        server, ws, server_db, tmp_path: Path, damage: Any) -> None:
    api = Api(server.url)
    conv = None
    for i in range(10):  # enough data for a mirror of many pages
        conv = api.inbound(ws, "a_email", f"customer{i}@example.com",
                           f"Order {i}: " + "details " * 300).conversation_id
    assert conv is not None
    data_dir = tmp_path / "desk"

    store = Store(data_dir)
    store.open()
    client = ApiClient(server.url)
    engine = SyncEngine(store, client, None, EngineOptions(use_events=False))
    await engine.login(ws.emails["alice"], PASSWORD)
    assert await engine.run_cycle_guarded(), engine.status
    # Work made offline (not pushed yet) must survive the mirror's loss.
    reply = await engine.enqueue("send_message", {"conversation_id": conv,
                                                  "body": "Kept through the damage"})
    note = await engine.enqueue("add_note", {"conversation_id": conv, "body": "Internal"})
    await engine.stop()
    await client.aclose()
    store.close()
    assert (data_dir / CLEAN_MARKER).exists()

    damage(data_dir / MIRROR_FILE)
    damaged = digest(data_dir / MIRROR_FILE)

    store = Store(data_dir)
    report = store.open()
    try:
        assert report.rebuilt_mirror and report.problem
        assert report.moved_to is not None and report.moved_to.exists()
        assert report.moved_to.name.startswith(f"{MIRROR_FILE}.corrupt-")
        assert list(data_dir.glob(f"{MIRROR_FILE}.corrupt-*")) == [report.moved_to]
        assert digest(report.moved_to) == damaged  # kept as it was, for a post-mortem
        with store.read_mirror() as conn:
            assert set(mirror.entity_counts(conn).values()) == {0}
            assert store.get_state(conn, mirror.BOOTSTRAPPED) is None
        with store.read_outbox() as conn:
            kept = [(i.id, i.name, i.message_id, i.state) for i in outbox.unsettled(conn)]
        assert kept == [(reply.id, "send_message", reply.message_id, outbox.PENDING),
                        (note.id, "add_note", note.message_id, outbox.PENDING)]

        client = ApiClient(server.url)
        engine = SyncEngine(store, client, None, EngineOptions(use_events=False))
        await engine.login(ws.emails["alice"], PASSWORD)
        assert await engine.run_cycle_guarded(), engine.status
        assert mirror_rows(store) == as_rows(expected_state(server_db, ws.agents["alice"]))
        assert [o.body for o in api.outbound(ws, "a_email")
                if o.message_id == reply.message_id] == ["Kept through the damage"]
        with store.read_outbox() as conn:
            assert outbox.unsettled(conn) == []
        with store.read_mirror() as conn:
            bodies = conn.execute(select(entities.SPECS[entities.Entity.MESSAGE].table.c.body)
                                  .where(entities.SPECS[entities.Entity.MESSAGE].table.c.id
                                         == note.message_id)).scalars().all()
        assert bodies == ["Internal"]
        await engine.stop()
        await client.aclose()
    finally:
        store.close()
        api.close()


@pytest.mark.parametrize("damage", [lambda path: overwrite_middle(path, pages=1), truncate_half],
                         ids=["overwritten", "truncated"])
def test_damaged_outbox_is_refused_and_left_untouched(tmp_path: Path, damage: Any) -> None:
    store = Store(tmp_path)
    store.open()
    for i in range(80):
        queue(store, "send_message", {"conversation_id": f"c{i}",
                                      "body": f"Reply number {i} " + "x" * 200})
    store.close()
    path = tmp_path / OUTBOX_FILE
    damage(path)
    before = digest(path)
    mirror_before = digest(tmp_path / MIRROR_FILE)
    listing = sorted(p.name for p in tmp_path.iterdir())

    for _attempt in range(2):  # refusing twice: nothing was "repaired" in between
        again = Store(tmp_path)
        with pytest.raises(OutboxUnreadable) as excinfo:
            again.open()
        message = str(excinfo.value)
        assert str(path) in message and "unsent" in message
        assert digest(path) == before
        assert digest(tmp_path / MIRROR_FILE) == mirror_before
        assert sorted(p.name for p in tmp_path.iterdir()) == listing


# --------------------------------------------------------------------------- sharing


def test_desk_and_cli_write_the_same_files_at_once(tmp_path: Path) -> None:
    """Two Store instances on one directory (the desk and `relaydesk-sync` beside it) both
    write: BEGIN IMMEDIATE and the busy timeout serialise them without errors, and the push
    ids they hand out stay 1..N without gaps or duplicates."""
    desk, cli = Store(tmp_path), Store(tmp_path)
    desk.open()
    cli.open()
    per_store = 120
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(store: Store, who: str) -> None:
        try:
            start.wait()
            for i in range(per_store):
                queue(store, "mark_read", {"conversation_id": f"{who}-{i}"})

                def note_progress(i: int = i) -> None:
                    with store.write_mirror() as conn:
                        current = int(store.get_state(conn, "test_counter") or "0")
                        store.set_state(conn, "test_counter", str(current + 1))
                        store.set_state(conn, f"{who}_last", str(i))

                store.write_sync(note_progress)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, w)) for s, w in ((desk, "desk"),
                                                                        (cli, "cli"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert errors == []
        with desk.read_outbox() as conn:
            intents = outbox.unsettled(conn)
        assert sorted(i.mutation_id for i in intents) == list(range(1, 2 * per_store + 1))
        assert len({i.conversation_id for i in intents}) == 2 * per_store
        with cli.read_mirror() as conn:
            # Read-modify-write in both processes: no increment lost.
            assert cli.get_state(conn, "test_counter") == str(2 * per_store)
            assert cli.get_state(conn, "desk_last") == str(per_store - 1)
            assert cli.get_state(conn, "cli_last") == str(per_store - 1)
    finally:
        desk.close()
        cli.close()


def test_a_read_running_across_a_rebuild_does_not_keep_reading_the_old_file(
        tmp_path: Path) -> None:
    """The desk's plain sqlite3 readers (``read_db``) keep connections open between reads;
    one that was in use while the mirror was rebuilt must not be kept for the next read,
    which would then still see the deleted file's rows."""
    store = Store(tmp_path)
    store.open()
    try:
        def fill() -> None:
            with store.write_mirror() as conn:
                entities.apply_changes(conn, [("team", "t1", "upsert",
                                               {"id": "t1", "name": "Team"})])

        store.write_sync(fill)
        assert [t.id for t in queries.directory(store).teams] == ["t1"]
        with store.read_db("mirror") as db:  # a reader in the middle of its read
            assert db.execute("SELECT count(*) FROM teams").fetchone()[0] == 1
            store.write_sync(store.rebuild_mirror)
        for _ in range(_ReadPool.KEEP + 1):  # whichever pooled connection comes next
            assert queries.directory(store).teams == ()
        store.write_sync(fill)
        assert [t.id for t in queries.directory(store).teams] == ["t1"]
    finally:
        store.close()


def test_opening_a_migrated_store_and_reading_it_loads_no_sqlalchemy(tmp_path: Path) -> None:
    """The desk's first paint: open the files (already at the migrations' head) and read the
    directory and an inbox view with plain sqlite3; SQLAlchemy and Alembic load only when
    something writes (start-up time: benchmarks/desk.py)."""
    first = Store(tmp_path)
    first.open()  # creates and migrates the files (this process loads both)
    first.close()
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from sync import queries\n"
            "from sync.store import Store\n"
            f"store = Store(Path({str(tmp_path)!r}))\n"
            "store.open(defer_clean_check=True)\n"
            "queries.directory(store)\n"
            "queries.conversation_ids(store, queries.InboxFilter(), limit=150)\n"
            "queries.nav_counts(store, None)\n"
            "print(','.join(m for m in ('sqlalchemy', 'alembic') if m in sys.modules))\n"
            "store.close()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True, cwd=REPO)
    assert out.stdout.strip() == "", f"loaded: {out.stdout.strip()}"


def test_rebuild_mirror_empties_the_mirror_and_keeps_the_outbox(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.open()
    try:
        record = queue(store, "add_tag", {"conversation_id": "c1", "tag": "vip"})

        def fill() -> None:
            with store.write_mirror() as conn:
                entities.apply_changes(conn, [("team", "t1", "upsert",
                                               {"id": "t1", "name": "Team"})])
                store.set_state(conn, mirror.CURSOR, "42")
                store.set_state(conn, mirror.BOOTSTRAPPED, "1")

        store.write_sync(fill)
        assert mirror.get_cursor(store) == 42
        store.write_sync(store.rebuild_mirror)
        assert mirror.get_cursor(store) == 0
        with store.read_mirror() as conn:
            assert set(mirror.entity_counts(conn).values()) == {0}
            assert store.get_state(conn, mirror.BOOTSTRAPPED) is None
        with store.read_outbox() as conn:
            assert [i.id for i in outbox.unsettled(conn)] == [record.id]
        store.write_sync(fill)  # the new mirror is writable at once
        assert mirror.get_cursor(store) == 42
    finally:
        store.close()
