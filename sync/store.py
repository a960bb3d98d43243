"""Opening, checking and sharing the two local databases.

Threading: one writer thread owns every write (mirror and outbox), so writes never race and
the GUI thread never waits on them; reads run on their own connections in a small pool
(WAL lets them proceed while the writer works).

SQLAlchemy is only loaded when something asks for an engine (the writer, ``read_mirror``,
a migration). Opening files that are already migrated and reading them through
``read_db`` (plain ``sqlite3``: what ``sync/queries.py`` uses) does not load it, so the
desk's first paint does without its ~0.25 s import.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sync import fulltext
from sync.private_files import private_database, private_dir, side_files, tighten
from sync.workers import Pool

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

log = logging.getLogger("relaydesk.sync.store")
T = TypeVar("T")

MIGRATIONS = Path(__file__).with_name("migrations")
MIRROR_FILE = "mirror.sqlite3"
OUTBOX_FILE = "outbox.sqlite3"
CLEAN_MARKER = "mirror.clean"  # present while no process has the mirror open for writing
SUSPECT_MARKER = "mirror.suspect"  # a deferred check failed: the next open checks and rebuilds


class OutboxUnreadable(Exception):
    """The outbox file is damaged. It is never deleted automatically: it holds unsent work."""


# Mirror only: let the WAL grow to ~40 MB (10000 pages) before it is checkpointed. A bootstrap
# commits a page of random-keyed rows at a time; with SQLite's default (1000 pages) nearly every
# commit checkpoints, rewriting the same index pages again and again — about a quarter more CPU
# per row on a million-message mirror (benchmarks/sync_client.py). Fewer checkpoints leave more
# recent commits unsynced on a power cut, which the mirror (rebuilt from the server, position
# committed with its rows) can afford and the outbox cannot: it keeps the default.
MIRROR_WAL_AUTOCHECKPOINT = 10000


WRITER_CACHE_KIB = 32768
READER_CACHE_KIB = 8192


def _pragmas(wal_autocheckpoint: int, cache_kib: int) -> tuple[str, ...]:
    # recursive_triggers: an INSERT OR REPLACE (the mirror's upsert of most kinds, messages
    # and articles among them) deletes the row it replaces; only with this do the search
    # index's delete triggers see that, and the old row's words leave the index.
    return ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA busy_timeout=30000",
            "PRAGMA foreign_keys=OFF", "PRAGMA recursive_triggers=ON",
            f"PRAGMA cache_size=-{int(cache_kib)}",
            f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")


def _engine(path: Path, wal_autocheckpoint: int = 1000,
            cache_kib: int = READER_CACHE_KIB) -> Engine:
    from sqlalchemy import create_engine, event

    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False,
                                                              "timeout": 30},
                           pool_size=4, max_overflow=4)
    pragmas = _pragmas(wal_autocheckpoint, cache_kib)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None
        fulltext.register(dbapi_conn)  # the search index's triggers call its functions
        cur = dbapi_conn.cursor()
        for pragma in pragmas:
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # Another process (the CLI beside the desk) may write too: take the lock up front.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("writer") else "BEGIN")

    return engine


def dbapi(conn: Connection | sqlite3.Connection) -> sqlite3.Connection:
    """The ``sqlite3`` connection itself: ``conn`` when it is one (``Store.read_db``), else
    the one under a SQLAlchemy Connection, in that connection's transaction."""
    if isinstance(conn, sqlite3.Connection):
        return conn
    return conn.connection.driver_connection  # type: ignore[return-value]


class _ReadPool:
    """Plain ``sqlite3`` connections to one file for reads, with the engine's settings; a
    few are kept open between reads."""

    KEEP = 4

    def __init__(self, path: Path, wal_autocheckpoint: int) -> None:
        self.path = path
        self._pragmas = _pragmas(wal_autocheckpoint, READER_CACHE_KIB)
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._generation = 0  # moves on close(): connections out at that time are not kept

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                             check_same_thread=False)
        fulltext.register(db)  # searching reads the index's views, which call its functions
        for pragma in self._pragmas:
            db.execute(pragma)
        return db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._idle.pop() if self._idle else None
            generation = self._generation
        if db is None:
            db = self._connect()
        reusable = False
        try:
            db.execute("BEGIN")  # one snapshot for every statement of the read
            yield db
        finally:
            try:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                reusable = True
            except sqlite3.Error:
                pass
            self._release(db, reusable, generation)

    def _release(self, db: sqlite3.Connection, reusable: bool, generation: int) -> None:
        with self._lock:
            if reusable and generation == self._generation and len(self._idle) < self.KEEP:
                self._idle.append(db)
                return
        db.close()

    def close(self) -> None:
        """Close the idle connections; those in use close when their read ends (the file
        may be about to be replaced: ``Store.rebuild_mirror``)."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for db in idle:
            db.close()


def check_file(path: Path, full: bool) -> str | None:
    """None when the file is a healthy SQLite database (or absent), else what is wrong."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(path, timeout=30)
        fulltext.register(conn)  # (a later SQLite's check reads the search index's views)
        try:
            rows = conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check"
                                ).fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    result = "; ".join(str(r[0]) for r in rows[:5])
    return None if result == "ok" else result


# The head revision is read from the version files by a regex, not asked of Alembic: importing
# Alembic (and SQLAlchemy with it) is what this keeps out of the desk's start-up when nothing
# needs migrating. benchmarks/desk.py, start → inbox painted on the 100k-conversation mirror,
# 7 runs alternated in one session (issue 12): 357 ms with the regex, 658 ms asking
# ScriptDirectory(...).get_heads() (+301 ms; over the empty window 213 ms against 514 ms, whose
# target is <= 500 ms). Alembic still does every migration, and decides on branches (None here).
_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*['\"]?(\w+|None)", re.M)


def head_revision_of(which: str) -> str | None:
    """The head of a migration chain, read from the version files without importing
    Alembic (~0.3 s of the desk's start-up when nothing needs migrating)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / which / "versions").glob("*.py"):
        found = dict((k, v) for k, v in _REVISION.findall(path.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            if found.get("down_revision") not in (None, "None"):
                parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None  # branches: let Alembic decide


def _at_head(path: Path, which: str) -> bool:
    """Whether the file's schema is at the migrations' head (plain sqlite3: no SQLAlchemy
    and no Alembic when nothing needs migrating)."""
    head = head_revision_of(which)
    if head is None or not path.exists():
        return False
    db = sqlite3.connect(path, timeout=30)
    try:
        current = db.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.OperationalError:  # no table yet: a new file
        return False
    finally:
        db.close()
    return [r[0] for r in current] == [head]


def _migrate(engine: Engine, which: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS / which))
    with engine.connect() as conn:
        conn.info["writer"] = True
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


@dataclass
class OpenReport:
    rebuilt_mirror: bool = False
    problem: str | None = None
    moved_to: Path | None = None


class Store:
    """The mirror and the outbox of one workspace (one data directory)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.mirror_path = self.data_dir / MIRROR_FILE
        self.outbox_path = self.data_dir / OUTBOX_FILE
        self._open = False
        self._engines: dict[str, Engine] = {}  # made on first use (loads SQLAlchemy)
        self._engine_lock = threading.Lock()
        self._pools: dict[str, _ReadPool] = {}
        self._writer = Pool("relaydesk-db-writer", 1)  # the one thread that writes
        self._readers = Pool("relaydesk-db-reader", 2)
        self._write_conns: dict[str, Connection] = {}
        self.check_deferred = False

    def _path(self, which: str) -> Path:
        return self.mirror_path if which == "mirror" else self.outbox_path

    def _checkpoint(self, which: str) -> int:
        return MIRROR_WAL_AUTOCHECKPOINT if which == "mirror" else 1000

    def _engine_of(self, which: str) -> Engine | None:
        if not self._open:
            return None
        engine = self._engines.get(which)
        if engine is None:
            with self._engine_lock:
                engine = self._engines.get(which)
                if engine is None:
                    engine = _engine(self._path(which), self._checkpoint(which))
                    self._engines[which] = engine
        return engine

    @property
    def mirror(self) -> Engine | None:
        """The mirror's SQLAlchemy engine (made on first use); None when not open."""
        return self._engine_of("mirror")

    @property
    def outbox(self) -> Engine | None:
        """The outbox's SQLAlchemy engine (made on first use); None when not open."""
        return self._engine_of("outbox")

    @property
    def is_open(self) -> bool:
        return self._open

    # ------------------------------------------------------------------ lifecycle

    def open(self, defer_clean_check: bool = False) -> OpenReport:
        """Check, repair and migrate both files. Blocking: call it off the GUI thread.

        After a clean shutdown the mirror gets a quick check, after anything else a full
        integrity check. ``defer_clean_check`` (the desk) skips the quick check at open
        — it reads the whole file, ~0.7 s for a 100k-conversation mirror — and leaves it to
        ``deferred_check()`` once the window is up; a failure there makes the next open
        check fully and rebuild."""
        private_dir(self.data_dir)
        for which in ("mirror", "outbox"):  # left readable by an older version: tighten
            private_database(self._path(which), create=False)
        report = OpenReport()
        marker = self.data_dir / CLEAN_MARKER
        suspect = self.data_dir / SUSPECT_MARKER
        clean = marker.exists() and not suspect.exists()
        problem = None
        if clean and defer_clean_check and self.mirror_path.exists():
            self.check_deferred = True
        else:
            problem = check_file(self.mirror_path, full=not clean)
            with contextlib.suppress(FileNotFoundError):
                suspect.unlink()
        if problem is not None:
            report.rebuilt_mirror, report.problem = True, problem
            report.moved_to = self._move_aside(self.mirror_path)
            log.warning("mirror failed its integrity check (%s); moved to %s, rebuilding",
                        problem, report.moved_to)
        outbox_problem = check_file(self.outbox_path, full=True)
        if outbox_problem is not None:
            raise OutboxUnreadable(
                f"The outbox {self.outbox_path} is damaged ({outbox_problem}). It may hold "
                "unsent replies, so it was left in place: copy it somewhere safe before "
                "removing it."
            )
        self._open = True
        for which in ("outbox", "mirror"):
            private_database(self._path(which))  # 0600 before SQLite makes it (and its WAL)
            if not _at_head(self._path(which), which):
                _migrate(self._engine_of(which), which)  # type: ignore[arg-type]
            self._pools[which] = _ReadPool(self._path(which), self._checkpoint(which))
        with contextlib.suppress(FileNotFoundError):
            marker.unlink()
        return report

    def deferred_check(self) -> str | None:
        """The quick check ``open(defer_clean_check=True)`` skipped (any thread; its own
        connection). None when healthy; otherwise the next open checks fully and rebuilds."""
        if not self.check_deferred:
            return None
        self.check_deferred = False
        problem = check_file(self.mirror_path, full=False)
        if problem is not None:
            (self.data_dir / SUSPECT_MARKER).touch()
            log.error("mirror failed its deferred check (%s); it is rebuilt at the next start",
                      problem)
        return problem

    def _move_aside(self, path: Path) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = path.with_name(f"{path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(path) + suffix)
            if src.exists():
                os.replace(src, Path(str(target) + suffix))
                tighten(Path(str(target) + suffix))  # customer data, kept for inspection
        return target

    def close(self) -> None:
        """Finish queued writes, close connections, leave the clean-shutdown marker."""
        was_open = self._open
        self.release()
        # SQLite removes the WAL file when the last connection closes. If it is still there,
        # another process (the CLI beside the desk, or the desk beside the CLI) has the mirror
        # open: it is not clean yet, and if that process dies the next open must run the
        # full integrity check.
        if was_open and not Path(f"{self.mirror_path}-wal").exists():
            (self.data_dir / CLEAN_MARKER).touch()

    def release(self) -> None:
        """Finish queued writes and close every connection, leaving no clean-shutdown
        marker (``close`` leaves it; a test stands in for a killed process with this)."""
        self._writer.call(self._close_writer_conns)
        self._writer.shutdown()
        self._readers.shutdown()
        self._open = False
        for engine in self._engines.values():
            engine.dispose()
        for pool in self._pools.values():
            pool.close()
        self._engines.clear()
        self._pools.clear()

    def _close_writer_conns(self) -> None:
        for conn in self._write_conns.values():
            conn.close()
        self._write_conns.clear()

    def rebuild_mirror(self) -> None:
        """Delete the mirror and start an empty one (the outbox is untouched). Writer thread."""
        assert self._open, "store is not open"
        conn = self._write_conns.pop("mirror", None)
        if conn is not None:
            conn.close()
        engine = self._engines.pop("mirror", None)
        if engine is not None:
            engine.dispose()
        self._pools["mirror"].close()
        for path in (self.mirror_path, *side_files(self.mirror_path)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        private_database(self.mirror_path)
        _migrate(self._engine_of("mirror"), "mirror")  # type: ignore[arg-type]

    # ------------------------------------------------------------------ connections

    def _writer_conn(self, which: str) -> Connection:
        conn = self._write_conns.get(which)
        if conn is None or conn.closed:
            engine = self._engine_of(which)
            assert engine is not None, "store is not open"
            conn = engine.connect()
            conn.info["writer"] = True
            # The writer (bootstrap pages, index builds) gets a larger page cache than the
            # readers, whose caches add up in the desk's resident memory.
            conn.exec_driver_sql(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
            conn.commit()
            self._write_conns[which] = conn
        return conn

    @contextlib.contextmanager
    def write_mirror(self) -> Iterator[Connection]:
        """A mirror write transaction. Only on the writer thread (use ``run_write``)."""
        conn = self._writer_conn("mirror")
        with conn.begin():
            yield conn

    @contextlib.contextmanager
    def write_outbox(self) -> Iterator[Connection]:
        conn = self._writer_conn("outbox")
        with conn.begin():
            yield conn

    @contextlib.contextmanager
    def read_mirror(self) -> Iterator[Connection]:
        """A SQLAlchemy read transaction on the mirror (loads SQLAlchemy: the sync engine's
        and the CLI's way; the desk's reads use ``read_db``)."""
        engine = self.mirror
        assert engine is not None, "store is not open"
        with engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def read_outbox(self) -> Iterator[Connection]:
        engine = self.outbox
        assert engine is not None, "store is not open"
        with engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def read_db(self, which: str) -> Iterator[sqlite3.Connection]:
        """A read transaction on a plain ``sqlite3`` connection to ``which`` ("mirror" or
        "outbox"): one snapshot for every statement in the block. Any thread."""
        pool = self._pools.get(which) if self._open else None
        assert pool is not None, f"store is not open (or no such file: {which!r})"
        with pool.transaction() as db:
            yield db

    # ------------------------------------------------------------------ executors

    async def run_write(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """``fn(*args, **kw)`` on the writer thread (see ``sync.workers``)."""
        return await self._writer.run(fn, *args, **kw)

    async def run_read(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """``fn(*args, **kw)`` on a reader thread (see ``sync.workers``)."""
        return await self._readers.run(fn, *args, **kw)

    def write_sync(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run ``fn`` on the writer thread from plain (non-async) code and wait."""
        return self._writer.call(fn, *args, **kw)

    # ------------------------------------------------------------------ state

    def read_state(self, key: str, default: str | None = None) -> str | None:
        """One ``sync_state`` value of the mirror, in a read of its own (any thread)."""
        with self.read_db("mirror") as db:
            return self.get_state(db, key, default)

    def get_state(self, conn: Connection | sqlite3.Connection, key: str,
                  default: str | None = None) -> str | None:
        row = dbapi(conn).execute("SELECT value FROM sync_state WHERE key = ?",
                                  (key,)).fetchone()
        return default if row is None or row[0] is None else row[0]

    def set_state(self, conn: Connection | sqlite3.Connection, key: str,
                  value: str | None) -> None:
        if value is None:
            dbapi(conn).execute("DELETE FROM sync_state WHERE key = ?", (key,))
        else:
            dbapi(conn).execute("INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)",
                                (key, value))
