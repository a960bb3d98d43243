"""Helpers shared by the benchmarks: machine facts, progress, figures with targets, JSON output,
and a ``relaydesk-server serve`` subprocess on a loopback port.

A benchmark prints exactly one JSON object on standard output (see :func:`emit`); everything
else (progress, the server's own output) goes to standard error.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import platform
import re
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".bench-cache"

_started = time.monotonic()


def log(message: str) -> None:
    """Progress for a person watching: standard error, with seconds since start."""
    print(f"[{time.monotonic() - _started:7.1f}s] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }
    with contextlib.suppress(OSError, AttributeError):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    with contextlib.suppress(OSError):
        model = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        if model:
            info["cpu_model"] = model.group(1).strip()
    with contextlib.suppress(OSError):
        mem = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        if mem:
            info["memory_gib"] = round(int(mem.group(1)) / 1024 / 1024, 1)
    with contextlib.suppress(OSError, AttributeError):
        info["load_average_1m"] = round(os.getloadavg()[0], 2)
    return info


def figure(value: float, target: str, *, unit: str, digits: int = 1,
           **extra: Any) -> dict[str, Any]:
    """A measured value beside its target, e.g. ``figure(123456, ">= 100000", unit="rows/s")``.

    ``target`` is ``">= X"`` or ``"<= X"``; ``ok`` says whether the value meets it.
    """
    op, _, bound = target.partition(" ")
    limit = float(bound)
    if op == ">=":
        ok = value >= limit
    elif op == "<=":
        ok = value <= limit
    else:
        raise ValueError(f"target must be '>= X' or '<= X', not {target!r}")
    rounded: float = round(value, digits) if digits else round(value)
    return {"value": rounded, "unit": unit, "target": target, "ok": bool(ok), **extra}


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0–100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def emit(benchmark: str, *, workspace: dict[str, Any], results: dict[str, Any],
         **extra: Any) -> None:
    """Print the one JSON object a benchmark answers with."""
    out = {"benchmark": benchmark, "machine": machine(), "workspace": workspace,
           "results": results, **extra}
    sys.stdout.buffer.write(orjson.dumps(out, option=orjson.OPT_INDENT_2) + b"\n")
    sys.stdout.flush()


def files_digest(paths: Iterable[Path]) -> str:
    """A short digest of files' contents: part of a cache key, so stale caches are not reused."""
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(ROOT)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing): one seeder per cache at once,
    across benchmark processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux ``/proc``; NaN where unavailable).

    Beside wall-clock figures, CPU per unit of work says what the server costs even when
    other work on the machine competes for the cores.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return math.nan
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every HTTP client a benchmark makes (``httpx.AsyncClient(...,
    verify=tls_context())``): building one per client costs ~40 ms of CPU each, which would
    otherwise land inside the measurements (loopback runs plain HTTP anyway)."""
    return ssl.create_default_context()


def server_command() -> list[str]:
    """How to run ``relaydesk-server`` from this interpreter's environment."""
    script = Path(sys.executable).with_name("relaydesk-server")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "server.cli"]


def elapsed(start: float) -> float:
    return time.perf_counter() - start


# --------------------------------------------------------------------------- server process

_LISTENING = re.compile(r"listening on (http://\S+)")


@dataclass
class ServerProcess:
    """``relaydesk-server serve`` on a loopback port, stopped (and reaped) on exit.

    Use as a context manager; ``url`` is the base URL it printed. Its standard error is
    passed through to ours, so a failure explains itself.
    """

    data_dir: Path
    database_url: str | None = None
    extra_args: Sequence[str] = ()
    env: dict[str, str] | None = None
    startup_timeout_s: float = 120.0
    url: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _lines: list[str] = field(default_factory=list, repr=False)

    def __enter__(self) -> ServerProcess:
        cmd = [*server_command(), "serve", "--host", "127.0.0.1", "--port", "0",
               "--data-dir", str(self.data_dir), *self.extra_args]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        env = {**os.environ, **(self.env or {})}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, env=env,
                                     cwd=ROOT, start_new_session=True)
        found = threading.Event()

        def read_stdout() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace").rstrip()
                self._lines.append(line)
                match = _LISTENING.search(line)
                if match and not found.is_set():
                    self.url = match.group(1)
                    found.set()
                elif line:
                    print(f"server: {line}", file=sys.stderr, flush=True)
            found.set()  # the process ended

        threading.Thread(target=read_stdout, daemon=True, name="server-stdout").start()
        if not found.wait(self.startup_timeout_s) or not self.url:
            self.stop()
            raise RuntimeError(f"relaydesk-server did not start: {' '.join(cmd)}\n"
                               + "\n".join(self._lines[-20:]))
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (all threads, user + system)."""
        assert self.proc is not None
        return process_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL if it lingers; always reaped."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=15)


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


# --------------------------------------------------------------------------- seeded workspace

SQLITE_DB_NAME = "relaydesk-server.sqlite3"


def copy_seeded_sqlite(conversations: int, messages_per_conversation: int, seed: int,
                       dest_dir: Path) -> dict[str, Any]:
    """Put a copy of the synthetic SQLite workspace in ``dest_dir``, seeding it into the cache
    first when no up-to-date one exists (keyed by size, seed and the files that shape the
    rows); returns facts for the JSON report. Every benchmark shares this cache."""
    shaping = [ROOT / "server" / n for n in ("seed.py", "serialize.py", "models.py")]
    shaping += list((ROOT / "server" / "migrations" / "versions").glob("*.py"))
    prefix = f"server_feed-sqlite-c{conversations}-m{messages_per_conversation}-s{seed}-"
    cache = CACHE_DIR / (prefix + files_digest(shaping))
    ready = cache / "ready.json"
    seed_seconds: float | None = None
    with file_lock(CACHE_DIR / f"{prefix}lock"):
        if not ready.exists():
            for stale in CACHE_DIR.glob(prefix + "*"):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
            cache.mkdir(parents=True)
            log(f"seeding {conversations:,} conversations x {messages_per_conversation} "
                "messages (once; later runs reuse it)")
            start = time.perf_counter()
            subprocess.run([*server_command(), "seed", "synthetic", "--data-dir", str(cache),
                            "--conversations", str(conversations),
                            "--messages-per-conversation", str(messages_per_conversation),
                            "--seed", str(seed)],
                           check=True, cwd=ROOT, stdout=sys.stderr, stderr=sys.stderr)
            seed_seconds = time.perf_counter() - start
            log(f"seeded in {seed_seconds:.1f} s")
            with contextlib.closing(sqlite3.connect(cache / SQLITE_DB_NAME)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # one self-contained file
            ready.write_text(json.dumps({"seed_seconds": round(seed_seconds, 1)}))
        else:
            log(f"reusing the seeded database in {cache.relative_to(ROOT)}")
        log("copying it for this run")
        dest_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache / SQLITE_DB_NAME, dest_dir / SQLITE_DB_NAME)
    return {
        "database": "sqlite",
        "database_mib": round((dest_dir / SQLITE_DB_NAME).stat().st_size / 2**20),
        "seed_seconds": (round(seed_seconds, 1) if seed_seconds is not None
                         else json.loads(ready.read_text())["seed_seconds"]),
        "seeded_this_run": seed_seconds is not None,
    }


# --------------------------------------------------------------------------- hostile text


def hostile_body(seed: int, size: int = 65_000) -> str:
    """What a hostile customer sends to freeze a desk: about the protocol's largest message
    (65,536 characters), in lines that are mostly links."""
    lines: list[str] = []
    total = n = 0
    while total < size:
        line = (f"see https://shop.example/track/{seed}/{n:06d}?ref={'x' * 24} "
                f"or http://evil.example/{n} now")
        lines.append(line)
        total += len(line) + 1
        n += 1
    return "\n".join(lines)[:size]
