"""Files holding the agent's work and customers' data are private to the user.

The mirror, the outbox, drafts, ``workspace.json``, settings and logs are created 0600 in
0700 directories — never briefly readable by others — and files or directories an older
version left 0644 / 0755 are tightened when they are next opened. SQLite gives a database's
``-wal``, ``-shm`` and ``-journal`` files the mode of the database file, so the database file
is created 0600 before SQLite opens it.

Windows has no POSIX modes (``chmod`` only toggles read-only; the user's profile folders are
private already): there these helpers create what is missing and change nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("relaydesk.sync.files")

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
_OTHERS = 0o077  # the group's and everyone else's permission bits
_POSIX = os.name == "posix"


def tighten(path: Path) -> None:
    """Take the group's and others' permissions off ``path`` if it exists (the owner's stay
    as they are). A file we may not change (another owner, a FAT stick) is logged, not fatal:
    refusing to start would lose more than it protects."""
    if not _POSIX:
        return
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode & _OTHERS:
            os.chmod(path, mode & ~_OTHERS)
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("cannot make %s private to this user: %s", path, exc)


def private_dir(path: Path) -> Path:
    """``path`` as a directory only the user can enter: missing directories on the way are
    created 0700, ``path`` itself is tightened if it exists already. Existing parents are
    left alone (they may be the user's home or a shared folder)."""
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            directory.mkdir(mode=PRIVATE_DIR)
        tighten(directory)  # mkdir's mode passes through the umask, which may be odd
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a directory")
    tighten(path)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only the user can read: created empty and 0600 when missing (its
    directory must exist), tightened when it exists."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                     PRIVATE_FILE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    tighten(path)
    return path


def private_database(path: Path, *, create: bool = True) -> Path:
    """A SQLite database file 0600 (created empty when missing and ``create``: SQLite takes
    an empty file for a new database) and its -wal, -shm and -journal files tightened."""
    path = Path(path)
    if create:
        private_file(path)
    else:
        tighten(path)
    for side in side_files(path):
        tighten(side)
    return path


def side_files(path: Path) -> Iterator[Path]:
    """The files SQLite keeps beside the database ``path``."""
    for suffix in SQLITE_SIDE_FILES:
        yield Path(f"{path}{suffix}")


def write_private_text(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text`` (UTF-8) in a 0600 file: a crash mid-write
    leaves the previous file, never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:  # mkstemp makes it 0600
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files and directories this process creates while inside are the user's alone (a
    belt over the braces above: it also covers what libraries create). Restored on exit,
    so an entry point called in-process (tests) leaves the caller's umask as it was."""
    if not _POSIX:
        yield
        return
    previous = os.umask(_OTHERS)
    try:
        yield
    finally:
        os.umask(previous)
