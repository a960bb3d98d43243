"""Database engines, sessions and migrations for the reference backend."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger("relaydesk.server.db")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_POSIX = os.name == "posix"
_MIGRATION_LOCK_KEY = 0x52454C4159  # "RELAY": one migrator at a time across processes


def sqlite_url_for(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'relaydesk-server.sqlite3').resolve()}"


def make_private_dir(path: Path) -> None:
    """Create ``path`` and its missing parents as 0700 (they hold password hashes and
    customer data); a directory that exists already is left as its owner set it."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:  # another process made it meanwhile
            continue
        if _POSIX:  # mkdir's mode is cut by the umask only, never widened
            os.chmod(directory, 0o700)


def _private_sqlite_file(path: Path) -> None:
    """Create the database file 0600 before SQLite opens it (SQLite gives its -wal and -shm
    files the main file's mode), and take group/other access away from existing ones."""
    make_private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    if not _POSIX:  # Windows: no group/other modes to take away (chmod toggles read-only)
        return
    for name in (path, *(path.with_name(path.name + suffix)
                         for suffix in ("-wal", "-shm", "-journal"))):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
            if mode & 0o077:
                os.chmod(name, mode & 0o700)
        except FileNotFoundError:
            continue
        except PermissionError:
            log.warning("%s can be read by other users and this user cannot change that; "
                        "chmod 600 it as its owner", name)


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=pool_size,
        max_overflow=pool_size,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Take transaction control from pysqlite so BEGIN IMMEDIATE is ours to emit.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-65536")
        # Memory-mapped reads: bootstrap walks messages in id order, all over a large file.
        cur.execute("PRAGMA mmap_size=4294967296")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        # Writers take the write lock up front: a deferred transaction that later wants to
        # write fails with SQLITE_BUSY instead of waiting when another writer got there first.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """A read engine and a write engine over one database (the same engine on PostgreSQL)."""

    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        if self.is_sqlite:
            if self.url.database in (None, "", ":memory:"):
                raise ValueError("the server needs a SQLite file, not an in-memory database")
            _private_sqlite_file(Path(self.url.database))
            self.engine = _sqlite_engine(url, immediate=False, pool_size=pool_size)
            self.write_engine = _sqlite_engine(url, immediate=True, pool_size=4)
        elif self.is_postgres:
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.write_engine = self.engine
        else:
            raise ValueError(
                f"unsupported database {self.url.get_backend_name()!r}: "
                "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
            )

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed on exit, rolled back on an exception."""
        with Session(self.write_engine, expire_on_commit=False) as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest revision (safe with several servers starting)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.render_as_string(hide_password=False))
        with self.write_engine.connect() as conn:
            if self.is_postgres:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                conn.commit()
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                # Inside the lock, so concurrent starters cannot both create the head row.
                conn.execute(text(
                    "INSERT INTO feed_head (id, seq, pruned_through) SELECT 1, 0, 0 "
                    "WHERE NOT EXISTS (SELECT 1 FROM feed_head WHERE id = 1)"
                ))
                conn.commit()
            finally:
                if self.is_postgres:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                    conn.commit()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
