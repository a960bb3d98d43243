"""The real program as an agent starts it: `relaydesk --demo` in its own process.

Watches its log (as qutebrowser's end-to-end tests do): the demo backend starts in-process,
the window opens and the mirror fills; a second start focuses the first and exits; SIGTERM
closes it cleanly (the log says so, exit code 0).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def desk_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO),
            "RELAYDESK_CONFIG_DIR": str(tmp_path / "config"),
            "RELAYDESK_LOG_DIR": str(tmp_path / "logs"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def wait_for(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def conversations_in(mirror: Path) -> int:
    if not mirror.exists():
        return 0
    with contextlib.closing(sqlite3.connect(mirror, timeout=5)) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


@pytest.mark.slow
def test_the_desk_starts_on_the_demo_focuses_on_second_start_and_quits_cleanly(tmp_path):
    data = tmp_path / "demo"
    log = tmp_path / "logs" / "relaydesk.log"
    command = [sys.executable, "-m", "app.main", "--demo", "--data-dir", str(data)]
    first = subprocess.Popen(command, env=desk_env(tmp_path), cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: log.exists() and "desk window open" in log.read_text(), 60,
                 "the window to open")
        wait_for(lambda: conversations_in(data / "desk-agent" / "mirror.sqlite3") > 0, 60,
                 "the mirror to fill from the demo backend")
        second = subprocess.run(command, env=desk_env(tmp_path), cwd=REPO,
                                capture_output=True, timeout=60)
        assert second.returncode == 0
        wait_for(lambda: "a second start asked for this desk" in log.read_text(), 15,
                 "the first desk to be asked forward")
        assert first.poll() is None  # still running
        # The second start stepped aside before starting a backend of its own.
        assert log.read_text().count("demo server listening") == 1
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
        text = log.read_text()
        assert "desk closed cleanly" in text
        assert "demo-agent" not in text  # the demo password never reaches the log
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
