"""Sync client benchmark: the desk engine (real Store, ApiClient and SyncEngine) against a real
``relaydesk-server serve`` subprocess on loopback, over the synthetic workspace (100k
conversations / 1M messages by default), signed in as the synthetic supervisor.

Measures, with targets (issue 3):

* bootstrap rows/s end to end (engine started on an empty mirror → "up to date"), beside raw
  ``sqlite3.executemany`` of the same rows into the same tables in a fresh file, in this run;
* asyncio loop lag during that bootstrap: a 5 ms ticker on the engine's loop records how late
  each tick fires (p99 and max);
* server change → visible in the mirror, events on: inbound messages posted to a channel the
  supervisor sees; time from sending the POST until another connection reads the row in the
  mirror file (p50/p95/max over --latency-samples samples);
* outbox drain: --intents intents queued while the engine is not running, then started; time
  until nothing is pending (pushed, confirmed and settled by the pull).

Prints one JSON object on standard output; progress goes to standard error. The seeded server
database is the cache shared with ``benchmarks/server_feed.py`` (``.bench-cache/``), copied to
a temporary directory for each run (removed at the end with the desk's files).

    .venv/bin/python benchmarks/sync_client.py                           # full size
    .venv/bin/python benchmarks/sync_client.py --conversations 5000      # quick
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import hashlib
import os
import pstats
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from benchmarks._common import (
    CACHE_DIR,
    SQLITE_DB_NAME,
    ServerProcess,
    copy_seeded_sqlite,
    emit,
    figure,
    log,
    percentile,
    process_cpu_seconds,
)
from protocol.entities import BOOTSTRAP_ORDER
from protocol.wire import API_PREFIX
from sync import entities, outbox
from sync.client import ApiClient
from sync.engine import EngineOptions, EngineState, EngineStatus, SyncEngine
from sync.models import BOOTSTRAP_DEFERRED_INDEXES
from sync.store import WRITER_CACHE_KIB, Store

TARGET_BOOTSTRAP = ">= 100000"  # rows/s end to end
TARGET_RAW_RATIO = ">= 0.2"  # engine rows/s ÷ raw executemany rows/s
TARGET_LAG_P99 = "<= 16"  # ms
TARGET_LAG_MAX = "<= 50"  # ms
TARGET_VISIBLE_P95 = "<= 250"  # ms
TARGET_DRAIN = ">= 1000"  # intents/s
TICK_S = 0.005
IDLE_BASELINE_S = 2.0
CHANNEL_NAME = "Synthetic 1 web_chat"  # a seeded channel of a team the supervisor is in

# From server/seed.py, not imported: this process stands for a desk, so it loads no server code
# (its heap, which the garbage collector walks, stays a desk's).
SYNTHETIC_SUPERVISOR = "bench-supervisor@synthetic.test"
SYNTHETIC_PASSWORD = "synthetic-password"


def hash_secret(secret: str) -> str:
    """As server/inbound.py stores a channel secret."""
    return hashlib.sha256(secret.encode()).hexdigest()
SERVER_PAGE_DEFAULT = 5000  # server/config.py bootstrap_page_default


# --------------------------------------------------------------------------- workspace
# The seeded database comes from the cache benchmarks/server_feed.py uses too (_common).


def prepare_server_dir(args: argparse.Namespace, run_dir: Path, secret: str
                       ) -> tuple[Path, str, dict[str, Any]]:
    """A copy of the cached seeded database (seeded first when absent) whose channel
    ``CHANNEL_NAME`` takes ``secret``; returns (the server's data dir, that channel's id,
    facts)."""
    server_dir = run_dir / "server"
    facts = copy_seeded_sqlite(args.conversations, args.messages_per_conversation, args.seed,
                               server_dir)
    with contextlib.closing(sqlite3.connect(server_dir / SQLITE_DB_NAME)) as conn, conn:
        row = conn.execute("SELECT id FROM channels WHERE name = ?", (CHANNEL_NAME,)).fetchone()
        if row is None:
            raise RuntimeError(f"the synthetic workspace has no channel {CHANNEL_NAME!r}")
        conn.execute("UPDATE channels SET secret_hash = ? WHERE id = ?",
                     (hash_secret(secret), row[0]))
    return server_dir, str(row[0]), facts


# --------------------------------------------------------------------------- observation


class LoopLag:
    """A ticker on the loop: how late each ``TICK_S`` sleep wakes up, in ms; and, to explain
    long ones, the garbage collector's pauses meanwhile (any thread)."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.gc_pauses: list[float] = []  # wall ms
        self.gc_cpu: list[float] = []  # CPU ms of the collecting thread (wall − CPU: preempted)
        self._gc_start = (0.0, 0.0)
        self.gc_full = 0  # full (generation 2) collections
        self._task: asyncio.Task[None] | None = None

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = (time.perf_counter(), time.thread_time())
        else:
            self.gc_pauses.append((time.perf_counter() - self._gc_start[0]) * 1000)
            self.gc_cpu.append((time.thread_time() - self._gc_start[1]) * 1000)
            self.gc_full += info["generation"] == 2

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.lags.append(max(0.0, (time.perf_counter() - t - TICK_S) * 1000))

    def start(self) -> None:
        self.lags.clear()
        self.gc_pauses.clear()
        self.gc_cpu.clear()
        self.gc_full = 0
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.create_task(self._run(), name="loop-lag-ticker")

    async def stop(self) -> list[float]:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return list(self.lags)


class Watch:
    """Engine status observer: notes when a status first meets what a waiter wants (in the
    listener, as the engine publishes it), and logs progress and errors."""

    def __init__(self, engine: SyncEngine, label: str) -> None:
        self.label = label
        self.status: EngineStatus = engine.status
        self._waiters: list[tuple[Callable[[EngineStatus], bool], asyncio.Future[float]]] = []
        self._last_log = 0.0
        self._last_message = ""
        engine.subscribe(self._on_status)

    def _on_status(self, status: EngineStatus) -> None:
        at = time.perf_counter()
        self.status = status
        for pred, fut in self._waiters:
            if not fut.done() and pred(status):
                fut.set_result(at)
        if status.state in (EngineState.ERROR, EngineState.OFFLINE) and (
                status.message != self._last_message):
            log(f"  {self.label}: {status.state.value}: {status.message}")
        self._last_message = status.message
        if at - self._last_log >= 5.0 and status.progress is not None:
            self._last_log = at
            p = status.progress
            log(f"  {self.label}: {sum(p.done.values()):,} / {sum(p.totals.values()):,} rows "
                f"({p.fraction():.0%})")

    async def until(self, pred: Callable[[EngineStatus], bool], timeout: float) -> float:
        """Wait until a status meets ``pred``; returns the perf_counter() of that status."""
        if pred(self.status):
            return time.perf_counter()
        waiter = (pred, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(waiter[1], timeout)
        except TimeoutError:
            raise TimeoutError(f"{self.label}: still {self.status.state.value} "
                               f"({self.status.message}) after {timeout:.0f} s") from None
        finally:
            self._waiters.remove(waiter)


def mirror_counts(path: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {e.value: conn.execute(f"SELECT count(*) FROM {entities.SPECS[e].table.name}"
                                      ).fetchone()[0] for e in BOOTSTRAP_ORDER}


# --------------------------------------------------------------------------- desk


class Desk:
    def __init__(self, url: str, data_dir: Path, options: EngineOptions) -> None:
        self.store = Store(data_dir)
        self.store.open()
        self.api = ApiClient(url)
        self.options = options
        self.engine = self.new_engine()

    def new_engine(self) -> SyncEngine:
        # No credential store: tokens stay in memory (this machine may have no keyring).
        return SyncEngine(self.store, self.api, None, self.options)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.engine.stop()
        with contextlib.suppress(Exception):
            await self.api.aclose()
        with contextlib.suppress(Exception):
            self.store.close()


class InFlight:
    """Wraps one ApiClient method (on the instance): how many calls, and the seconds during
    which at least one was waiting on the server."""

    def __init__(self, api: ApiClient, name: str) -> None:
        self.calls = 0
        self.busy_s = 0.0
        self._open = 0
        self._since = 0.0
        inner = getattr(api, name)

        async def timed(*args: Any, **kw: Any) -> Any:
            self.calls += 1
            if self._open == 0:
                self._since = time.perf_counter()
            self._open += 1
            try:
                return await inner(*args, **kw)
            finally:
                self._open -= 1
                if self._open == 0:
                    self.busy_s += time.perf_counter() - self._since

        setattr(api, name, timed)
        self._restore = lambda: setattr(api, name, inner)

    def restore(self) -> None:
        self._restore()


def cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds (user + system) of this process, or of process ``pid``."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    return process_cpu_seconds(pid)


async def bench_bootstrap(desk: Desk, server_pid: int, timeout: float, profile: Path | None
                          ) -> tuple[dict[str, Any], dict[str, Any]]:
    engine = desk.engine
    await engine.login(SYNTHETIC_SUPERVISOR, SYNTHETIC_PASSWORD)  # before the clock starts
    watch = Watch(engine, "bootstrap")
    ticker = LoopLag()
    # The same ticker on the idle loop first: what this machine's load alone costs.
    ticker.start()
    await asyncio.sleep(IDLE_BASELINE_S)
    idle = await ticker.stop()
    fetches = InFlight(desk.api, "bootstrap_page_raw")
    log("bootstrap: engine started on an empty mirror")
    prof = cProfile.Profile() if profile else None
    ticker.start()
    if prof:
        prof.enable()
    try:
        cpu0, server_cpu0 = cpu_seconds(), cpu_seconds(server_pid)
        start = time.perf_counter()
        await engine.start()
        end = await watch.until(lambda s: s.state is EngineState.UP_TO_DATE, timeout)
        seconds = end - start
        cpu, server_cpu = cpu_seconds() - cpu0, cpu_seconds(server_pid) - server_cpu0
    finally:
        if prof:
            prof.disable()
            prof.dump_stats(profile)
            log(f"  profile of the loop thread written to {profile}")
        lags = await ticker.stop()
        fetches.restore()
    counts = await asyncio.to_thread(mirror_counts, desk.store.mirror_path)
    rows = sum(counts.values())
    rate = rows / seconds
    p50, p99, worst = percentile(lags, 50), percentile(lags, 99), max(lags, default=0.0)
    gc_max = max(ticker.gc_pauses, default=0.0)
    gc_cpu_max = max(ticker.gc_cpu, default=0.0)
    log(f"  {rows:,} rows in {seconds:.1f} s: {rate:,.0f} rows/s; {fetches.calls} pages, "
        f"a page request open {fetches.busy_s / seconds:.0%} of the time; CPU: desk "
        f"{cpu:.1f} s ({cpu / rows * 1e6:.0f} us/row), server {server_cpu:.1f} s "
        f"({server_cpu / rows * 1e6:.0f} us/row)")
    log(f"  loop lag p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms "
        f"({len(lags):,} ticks); {len(ticker.gc_pauses)} GC runs ({ticker.gc_full} full, "
        f"{sum(ticker.gc_cpu) / 1000:.1f} s CPU), longest {gc_max:.1f} ms "
        f"(CPU {gc_cpu_max:.1f} ms); idle loop beforehand: p99 {percentile(idle, 99):.1f} ms, "
        f"max {max(idle, default=0.0):.1f} ms")
    facts = {"rows": rows, "seconds": seconds, "counts": counts}
    results = {
        "bootstrap_rows_per_s": figure(
            rate, TARGET_BOOTSTRAP, unit="rows/s", digits=0, rows=rows,
            seconds=round(seconds, 2), pages=fetches.calls,
            page_limit=desk.options.bootstrap_limit or "server default",
            request_open_fraction=round(fetches.busy_s / seconds, 3),
            desk_cpu_us_per_row=round(cpu / rows * 1e6, 1),
            server_cpu_us_per_row=round(server_cpu / rows * 1e6, 1),
            rows_by_entity=counts),
        "bootstrap_loop_lag_p99_ms": figure(p99, TARGET_LAG_P99, unit="ms", ticks=len(lags),
                                            tick_ms=TICK_S * 1000, p50_ms=round(p50, 2),
                                            idle_loop_p99_ms=round(percentile(idle, 99), 2),
                                            idle_loop_max_ms=round(max(idle, default=0.0), 2),
                                            gc_frozen=gc.get_freeze_count() > 0),
        "bootstrap_loop_lag_max_ms": figure(worst, TARGET_LAG_MAX, unit="ms",
                                            gc_runs=len(ticker.gc_pauses),
                                            gc_full_runs=ticker.gc_full,
                                            gc_cpu_s=round(sum(ticker.gc_cpu) / 1000, 2),
                                            gc_longest_ms=round(gc_max, 1),
                                            gc_longest_cpu_ms=round(gc_cpu_max, 1)),
    }
    return results, facts


# --------------------------------------------------------------------------- raw baseline


def _read_rows(mirror: Path) -> list[tuple[str, list[str], list[tuple]]]:
    with contextlib.closing(sqlite3.connect(mirror)) as conn:
        out = []
        for entity in BOOTSTRAP_ORDER:
            table = entities.SPECS[entity].table
            cols = list(table.columns.keys())
            rows = conn.execute(f"SELECT {', '.join(cols)} FROM {table.name} ORDER BY rowid"
                                ).fetchall()
            out.append((table.name, cols, rows))
        return out


def _schema(mirror: Path) -> list[str]:
    names = [entities.SPECS[e].table.name for e in BOOTSTRAP_ORDER]
    with contextlib.closing(sqlite3.connect(mirror)) as conn:
        return [sql for (sql,) in conn.execute(
            f"SELECT sql FROM sqlite_master WHERE tbl_name IN ({','.join('?' * len(names))}) "
            "AND type IN ('table', 'index') AND sql IS NOT NULL ORDER BY type DESC",
            names)]  # tables before indexes; not the search triggers (built after, like them)


PRAGMAS = ("journal_mode", "synchronous", "cache_size", "wal_autocheckpoint")


def mirror_pragmas(store: Store) -> dict[str, Any]:
    """The settings the store gives its mirror writer connection (for the raw baseline)."""
    assert store.mirror is not None
    with store.mirror.connect() as conn:
        pragmas = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in PRAGMAS}
    pragmas["cache_size"] = -WRITER_CACHE_KIB  # readers get less; the writer inserts
    return pragmas


def raw_executemany(mirror: Path, target: Path, batch: int, pragmas: dict[str, Any]
                    ) -> tuple[int, float]:
    """The mirror's rows inserted again with bare sqlite3 into a fresh file with the same
    schema and pragmas, one transaction per ``batch`` rows (the engine's page), the
    bootstrap-deferred indexes built after the rows as the engine does; (rows, s)."""
    data = _read_rows(mirror)
    ddl = _schema(mirror)
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        for name, value in pragmas.items():
            conn.execute(f"PRAGMA {name}={value}")
        deferred = {ix.name for ix in BOOTSTRAP_DEFERRED_INDEXES}
        later = [sql for sql in ddl if any(f" {name} " in sql for name in deferred)]
        for sql in ddl:
            if sql not in later:
                conn.execute(sql)
        rows = 0
        start = time.perf_counter()
        for name, cols, table_rows in data:
            sql = f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            for i in range(0, len(table_rows), batch):
                conn.execute("BEGIN")
                conn.executemany(sql, table_rows[i:i + batch])
                conn.execute("COMMIT")
            rows += len(table_rows)
        for sql in later:  # as the engine does: indexes on random keys built once at the end
            conn.execute(sql)
        seconds = time.perf_counter() - start
    finally:
        conn.close()
    return rows, seconds


# --------------------------------------------------------------------------- visibility


def _poll_mirror(path: Path, after_rowid: int, nonce: str, deadline: float,
                 stop: threading.Event) -> float | None:
    """Poll the mirror file (its own connection) until a message containing ``nonce`` is
    there; perf_counter() when seen, None on timeout."""
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        while time.perf_counter() < deadline and not stop.is_set():
            for _rowid, body in conn.execute(
                    "SELECT rowid, body FROM messages WHERE rowid > ?", (after_rowid,)):
                if nonce in body:
                    return time.perf_counter()
            time.sleep(0.001)
    return None


def _max_rowid(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT coalesce(max(rowid), 0) FROM messages").fetchone()[0])


async def bench_visibility(desk: Desk, url: str, channel_id: str, secret: str, samples: int,
                           timeout: float) -> dict[str, Any]:
    watch = Watch(desk.engine, "live")
    await watch.until(lambda s: s.live and s.state is EngineState.UP_TO_DATE, 60)
    log(f"visibility: {samples} inbound messages, each timed until it is in the mirror")
    path = desk.store.mirror_path
    rng = random.Random(11)
    latencies: list[float] = []
    missed = 0
    stop = threading.Event()
    headers = {"X-Relaydesk-Channel-Secret": secret}
    deadline = time.perf_counter() + timeout
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        for i in range(samples):
            if time.perf_counter() > deadline:
                break
            after = await asyncio.to_thread(_max_rowid, path)
            nonce = uuid.uuid4().hex
            seen = asyncio.create_task(asyncio.to_thread(
                _poll_mirror, path, after, nonce, time.perf_counter() + 10, stop))
            t0 = time.perf_counter()
            r = await http.post(f"{API_PREFIX}/channels/{channel_id}/inbound", headers=headers,
                                json={"handle": f"bench-visitor-{i % 7}",
                                      "text": f"Where is my parcel? ({nonce})",
                                      "provider_message_id": nonce})
            r.raise_for_status()
            at = await seen
            if at is None:
                missed += 1
                log(f"  sample {i}: not in the mirror after 10 s")
            else:
                latencies.append((at - t0) * 1000)
            await asyncio.sleep(rng.uniform(0.05, 0.15))  # arrivals apart, not in a burst
    stop.set()
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    worst = max(latencies, default=float("nan"))
    log(f"  {len(latencies)} samples: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {worst:.0f} ms"
        + (f", {missed} missed" if missed else ""))
    value = p95 if not missed else float("inf")
    return {
        "change_visible_p95_ms": figure(value, TARGET_VISIBLE_P95, unit="ms",
                                        samples=len(latencies), missed=missed,
                                        p50_ms=round(p50, 1), max_ms=round(worst, 1),
                                        events=True),
    }


# --------------------------------------------------------------------------- outbox drain

_TAGS = ("bench-vip", "bench-refund", "bench-followup", "bench-billing", "bench-bug")
_PRIORITIES = ("low", "normal", "high", "urgent")


def _intent(i: int, conv: str, rng: random.Random) -> tuple[str, dict[str, Any]]:
    kind = i % 4
    if kind == 0:
        return "add_tag", {"conversation_id": conv, "tag": rng.choice(_TAGS)}
    if kind == 1:
        return "set_priority", {"conversation_id": conv, "priority": rng.choice(_PRIORITIES)}
    if kind == 2:
        return "mark_read", {"conversation_id": conv}
    return "add_note", {"conversation_id": conv, "body": f"Benchmark note {i}: checked."}


def _some_conversations(path: Path, n: int) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM conversations LIMIT ?", (n,))]


async def bench_drain(desk: Desk, server_pid: int, intents: int, timeout: float
                      ) -> dict[str, Any]:
    await desk.engine.stop()
    engine = desk.engine = desk.new_engine()
    await engine.login(SYNTHETIC_SUPERVISOR, SYNTHETIC_PASSWORD)
    convs = await asyncio.to_thread(_some_conversations, desk.store.mirror_path, 200)
    rng = random.Random(5)
    log(f"outbox: queueing {intents:,} intents with the engine stopped")
    start = time.perf_counter()
    for i in range(intents):
        name, args = _intent(i, rng.choice(convs), rng)
        await engine.enqueue(name, args)
        if (i + 1) % 2500 == 0:
            log(f"  {i + 1:,} queued")
    enqueue_s = time.perf_counter() - start
    # The status counts what the agent did (mark_read, automatic, left out); pushes go in
    # queue order, so its reaching 0 with the last one not automatic means all were taken.
    names = [_intent(i, "", random.Random())[0] for i in range(intents)]
    counted = sum(1 for name in names if name not in outbox.AUTOMATIC)
    last = names[-1]
    if engine.status.pending != counted or last in outbox.AUTOMATIC:
        raise RuntimeError(f"expected {counted} pending intents of the agent's, the engine "
                           f"says {engine.status.pending} (the last queued: {last})")
    watch = Watch(engine, "drain")
    ticker = LoopLag()
    pushes, pulls = InFlight(desk.api, "push"), InFlight(desk.api, "pull_raw")
    ticker.start()
    log("  starting the engine")
    try:
        cpu0, server_cpu0 = cpu_seconds(), cpu_seconds(server_pid)
        start = time.perf_counter()
        await engine.start()
        end = await watch.until(
            lambda s: s.pending == 0 and s.state is EngineState.UP_TO_DATE, timeout)
        seconds = end - start
        cpu, server_cpu = cpu_seconds() - cpu0, cpu_seconds(server_pid) - server_cpu0
    finally:
        lags = await ticker.stop()
        pushes.restore()
        pulls.restore()
    rejected = engine.status.rejected
    rate = intents / seconds
    log(f"  drained {intents:,} intents in {seconds:.1f} s: {rate:,.0f} intents/s "
        f"({rejected} rejected); queueing took {enqueue_s:.1f} s")
    log(f"  {pushes.calls} pushes open {pushes.busy_s / seconds:.0%} of the time, {pulls.calls} "
        f"pulls {pulls.busy_s / seconds:.0%}; CPU: desk {cpu:.1f} s "
        f"({cpu / intents * 1e3:.2f} ms/intent), server {server_cpu:.1f} s "
        f"({server_cpu / intents * 1e3:.2f} ms/intent)")
    return {"outbox_drain_intents_per_s": figure(
        rate if not rejected else 0.0, TARGET_DRAIN, unit="intents/s", digits=0,
        intents=intents, seconds=round(seconds, 2), rejected=rejected,
        push_batch=desk.options.push_batch, pushes=pushes.calls,
        push_open_fraction=round(pushes.busy_s / seconds, 3), pulls=pulls.calls,
        pull_open_fraction=round(pulls.busy_s / seconds, 3),
        desk_cpu_ms_per_intent=round(cpu / intents * 1e3, 3),
        server_cpu_ms_per_intent=round(server_cpu / intents * 1e3, 3),
        enqueue_per_s=round(intents / enqueue_s), loop_lag_p99_ms=round(percentile(lags, 99), 1),
        loop_lag_max_ms=round(max(lags, default=0.0), 1))}


# --------------------------------------------------------------------------- main


async def bench_raw(desk: Desk, run_dir: Path, facts: dict[str, Any]) -> dict[str, Any]:
    pragmas = mirror_pragmas(desk.store)
    batch = desk.options.bootstrap_limit or SERVER_PAGE_DEFAULT
    log(f"raw sqlite3.executemany of the same rows into a fresh file ({pragmas})")
    target = run_dir / "raw.sqlite3"
    try:
        rows, seconds = await asyncio.to_thread(raw_executemany, desk.store.mirror_path, target,
                                                batch, pragmas)
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
    raw_rate = rows / seconds
    ratio = (facts["rows"] / facts["seconds"]) / raw_rate
    log(f"  {rows:,} rows in {seconds:.1f} s: {raw_rate:,.0f} rows/s; engine/raw = {ratio:.2f}")
    return {"bootstrap_vs_raw_executemany": figure(
        ratio, TARGET_RAW_RATIO, unit="ratio", digits=3, raw_rows_per_s=round(raw_rate),
        raw_seconds=round(seconds, 2), raw_rows_per_transaction=batch, raw_pragmas=pragmas)}


def failed(exc: BaseException) -> dict[str, Any]:
    """A part that could not finish: reported as missed, with why (traceback on stderr)."""
    log(f"  failed: {exc.__class__.__name__}: {exc}")
    traceback.print_exception(exc, file=sys.stderr)
    return {"value": None, "ok": False, "error": f"{exc.__class__.__name__}: {exc}"}


async def run(args: argparse.Namespace, url: str, server_pid: int, run_dir: Path,
              channel_id: str, secret: str) -> dict[str, Any]:
    """Each part in turn; one that fails is reported as such and the others still run (all
    but the bootstrap need its mirror)."""
    options = EngineOptions(push_batch=args.push_batch)  # otherwise the engine's defaults
    if args.bootstrap_limit:
        options.bootstrap_limit = args.bootstrap_limit
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    desk = Desk(url, run_dir / "desk", options)
    results: dict[str, Any] = {}
    try:
        try:
            boot, facts = await bench_bootstrap(desk, server_pid, args.phase_timeout,
                                                args.profile)
        except Exception as exc:
            results["bootstrap_rows_per_s"] = failed(exc)
            return results
        results.update(boot)
        if "raw" not in args.skip:
            try:
                results.update(await bench_raw(desk, run_dir, facts))
            except Exception as exc:
                results["bootstrap_vs_raw_executemany"] = failed(exc)
        if "visibility" not in args.skip:
            try:
                results.update(await bench_visibility(desk, url, channel_id, secret,
                                                      args.latency_samples,
                                                      args.phase_timeout))
            except Exception as exc:
                results["change_visible_p95_ms"] = failed(exc)
        if "drain" not in args.skip:
            try:
                results.update(await bench_drain(desk, server_pid, args.intents,
                                                 args.phase_timeout))
            except Exception as exc:
                results["outbox_drain_intents_per_s"] = failed(exc)
    finally:
        await desk.close()
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conversations", type=int, default=100_000)
    p.add_argument("--messages-per-conversation", type=int, default=10)
    p.add_argument("--seed", type=int, default=7, help="synthetic workspace random seed")
    p.add_argument("--bootstrap-limit", type=int, default=None,
                   help="bootstrap page size asked of the server (default: the engine's)")
    p.add_argument("--push-batch", type=int, default=EngineOptions.push_batch)
    p.add_argument("--latency-samples", type=int, default=60)
    p.add_argument("--intents", type=int, default=10_000)
    p.add_argument("--phase-timeout", type=float, default=900.0,
                   help="seconds any one part may take before the run fails (default 900)")
    p.add_argument("--skip", action="append", default=[],
                   choices=["raw", "visibility", "drain"], help="leave out a part (repeatable)")
    p.add_argument("--profile", type=Path, default=None,
                   help="write a cProfile of the loop thread during the bootstrap here")
    p.add_argument("--gc-freeze", action=argparse.BooleanOptionalAction, default=True,
                   help="gc.freeze() once everything is imported, as `relaydesk-sync sync "
                        "--watch` does at start-up (full collections then skip the long-lived "
                        "start-up objects); --no-gc-freeze to compare (default: on)")
    p.add_argument("--keep", action="store_true", help="keep the run's temporary directory")
    args = p.parse_args(argv)
    if args.conversations < 1 or args.messages_per_conversation < 0:
        p.error("--conversations must be >= 1 and --messages-per-conversation >= 0")
    if args.latency_samples < 1 or args.intents < 1:
        p.error("--latency-samples and --intents must be >= 1")
    return args


def _terminate(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # unwinds through the server's context manager, which stops it


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    run_dir = Path(tempfile.mkdtemp(prefix="sync_client-run-", dir=CACHE_DIR))
    try:
        secret = "bench-" + uuid.uuid4().hex
        server_dir, channel_id, facts = prepare_server_dir(args, run_dir, secret)
        workspace = {"conversations": args.conversations,
                     "messages_per_conversation": args.messages_per_conversation,
                     "messages": args.conversations * args.messages_per_conversation, **facts}
        log("starting relaydesk-server")
        with ServerProcess(server_dir, extra_args=["--access-token-ttl", "2h"]) as server:
            log(f"server at {server.url}")
            assert server.proc is not None
            results = asyncio.run(run(args, server.url, server.proc.pid, run_dir, channel_id,
                                      secret))
            log("stopping the server")
    finally:
        if args.keep:
            log(f"kept {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    if args.profile:
        stats = pstats.Stats(str(args.profile), stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(30)
    options = EngineOptions()
    config = {"bootstrap_limit": args.bootstrap_limit or options.bootstrap_limit,
              "push_batch": args.push_batch, "pull_limit": options.pull_limit,
              "events": options.use_events, "gc_freeze": args.gc_freeze,
              "latency_samples": args.latency_samples, "intents": args.intents}
    emit("sync_client", workspace=workspace, config=config, results=results,
         ok=all(r.get("ok", True) for r in results.values()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
