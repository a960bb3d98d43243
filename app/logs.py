"""Logging: one logger per category under ``relaydesk.*``, a rotating file (0600, in a 0700
folder), and the recent records in memory for the crash dialog. Secrets are masked before any
handler sees them.
"""

from __future__ import annotations

import collections
import io
import logging
import logging.handlers
import os
import re
from pathlib import Path

import platformdirs

from sync.private_files import private_dir, private_file, tighten

LOG_DIR_ENV = "RELAYDESK_LOG_DIR"
LOG_FILE = "relaydesk.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
RECENT = 500
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
MASK = "***"

_KEY = (r"(?:access_token|refresh_token|id_token|token|password|passwd|secret|api_key"
        r"|client_secret)")
_REDACTIONS: list[tuple[re.Pattern[str], str]] = [
    # Authorization: Bearer <token>
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1" + MASK),
    # password="hunter 2", 'refresh_token': 'abc'
    (re.compile(rf"(?i)(\b{_KEY}\b[\"']?\s*[:=]\s*)([\"'])(.*?)\2"), r"\1\2" + MASK + r"\2"),
    # access_token=abc&…, X-Relaydesk-Channel-Secret: rdch_…
    (re.compile(rf"(?i)(\b{_KEY}\b[\"']?\s*[:=]\s*)(?![\"']|\*\*\*)[^\s&,;)}}\]]+"),
     r"\1" + MASK),
    # Channel secrets and JWTs, wherever they appear.
    (re.compile(r"\brdch_[A-Za-z0-9_\-]+"), MASK),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), MASK),
]
# token_urlsafe() output: a long run mixing cases and digits (ids and hashes do not mix cases)
_OPAQUE = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{32,}(?![A-Za-z0-9_\-])")


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return _OPAQUE.sub(_mask_opaque, text)


def _mask_opaque(m: re.Match[str]) -> str:
    s = m.group(0)
    mixed = (any(c.isupper() for c in s) and any(c.islower() for c in s)
             and any(c.isdigit() for c in s))
    return MASK if mixed else s


class RedactFilter(logging.Filter):
    """Masks secrets in the message, its arguments and the traceback, in place, so every
    handler after this one (file, memory, console) sees only the masked text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True
        try:
            record.msg = redact(record.getMessage())
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record._redacted = True
        return True


class RecentLog(logging.Handler):
    """The last ``capacity`` formatted records, for the crash dialog."""

    def __init__(self, capacity: int = RECENT) -> None:
        super().__init__(logging.DEBUG)
        self._lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)

    def lines(self) -> list[str]:
        return list(self._lines)

    def text(self) -> str:
        return "\n".join(self._lines)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are the user's alone: each new file is created 0600 (a
    rollover renames, which keeps the mode), one left 0644 by an older version is tightened."""

    def _open(self) -> io.TextIOWrapper:
        private_file(Path(self.baseFilename))
        return super()._open()


def log_dir() -> Path:
    override = os.environ.get(LOG_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_log_dir("Relaydesk", "Relaydesk"))


def get_logger(category: str) -> logging.Logger:
    """``get_logger("inbox")`` -> the ``relaydesk.inbox`` logger."""
    return logging.getLogger(f"relaydesk.{category}")


_ours: list[logging.Handler] = []


def setup_logging(directory: str | Path | None = None, *, level: int = logging.INFO,
                  console: bool = False) -> RecentLog:
    """Install the handlers (replacing ones a previous call installed) and return the ring
    buffer. ``directory`` defaults to ``RELAYDESK_LOG_DIR`` or the platform's log folder; if
    it cannot be written the desk logs to memory only rather than failing to start."""
    close_logging()
    root = logging.getLogger()
    redactor = RedactFilter()
    recent = RecentLog()
    handlers: list[logging.Handler] = [recent]
    problem = None
    path = Path(directory) if directory is not None else log_dir()
    try:
        private_dir(path)
        for n in range(1, BACKUPS + 1):  # rotated files an older version left readable
            tighten(path / f"{LOG_FILE}.{n}")
        handlers.append(PrivateRotatingFileHandler(
            path / LOG_FILE, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"))
    except OSError as exc:
        problem = exc
    if console:
        handlers.append(logging.StreamHandler())
    for handler in handlers:
        handler.addFilter(redactor)
        if handler.formatter is None:
            handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
        _ours.append(handler)

    # Our categories at ``level``; libraries (httpx logs every request) only when it matters.
    root.setLevel(logging.WARNING)
    logging.getLogger("relaydesk").setLevel(level)
    logging.captureWarnings(True)
    if problem is not None:
        get_logger("logs").warning("cannot write logs to %s (%s); keeping them in memory",
                                   path, problem)
    return recent


def close_logging() -> None:
    """Flush and remove the handlers ``setup_logging`` installed (on quit, and in tests)."""
    root = logging.getLogger()
    for handler in _ours:
        root.removeHandler(handler)
        handler.close()
    _ours.clear()


def file_path() -> Path | None:
    """The log file in use, to show in the crash dialog and the about box."""
    for handler in _ours:
        if isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename)
    return None
