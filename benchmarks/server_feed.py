"""Server feed benchmark: bootstrap throughput, pull latency under load, push throughput.

Runs ``relaydesk-server serve`` as a subprocess on a loopback port over a synthetic workspace
(100k conversations / 1M messages by default) and measures, over real HTTP:

* bootstrap rows/s: the supervisor's whole workspace, every page, at the default and at the
  maximum page size, then one agent's (one team of four); the client reads each body and
  parses it with orjson, as a desk would. Beside the end-to-end rate: the rate while waiting
  on the server, and rows per second of server CPU;
* pull p95 (and p50, p99) latency: 50 agents (bench-agent-00..49) each pulling pages of 1000
  changes from random cursors, concurrently, for a fixed time: back to back (what the server
  can sustain), then each once a second (``--pull-interval``; 50 desks catching up at once);
* push mutations/s: a few agents pushing batches of mutations (add_tag, set_priority,
  mark_read, add_note) on conversations they can see.

Prints one JSON object on standard output (figures with their targets); progress goes to
standard error. Wall-clock figures depend on what else the machine runs (``machine.
load_average_1m``); the CPU-time figures (from ``/proc``) much less. SQLite by default (the
seeded database is cached under ``.bench-cache/``, keyed by size and by the code that shapes
it, and copied for each run so runs start alike); ``--database-url postgresql+psycopg://...``
benchmarks PostgreSQL (an empty database is seeded, one already holding this synthetic
workspace is reused). Bounded in time; the server process is stopped on every exit path.

    .venv/bin/python benchmarks/server_feed.py                      # full size, SQLite
    .venv/bin/python benchmarks/server_feed.py --conversations 5000 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` and the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import orjson

from benchmarks._common import (
    CACHE_DIR,
    ROOT,
    ServerProcess,
    copy_seeded_sqlite,
    emit,
    figure,
    log,
    percentile,
    server_command,
    tls_context,
)

API = "/api/v1"
PASSWORD = "synthetic-password"
SUPERVISOR = "bench-supervisor@synthetic.test"
TARGET_BOOTSTRAP = ">= 100000"  # rows/s: the desk's end-to-end bootstrap target
TARGET_PULL_P95 = "<= 250"  # ms, with 50 concurrent clients
TARGET_PUSH = ">= 1000"  # mutations/s
DEFAULT_PAGE, MAX_PAGE = 5000, 20000  # the server's bootstrap page sizes (ServerSettings)



def agent_email(i: int) -> str:
    return f"bench-agent-{i:02d}@synthetic.test"


# --------------------------------------------------------------------------- workspace


def _seed_command(args: argparse.Namespace, data_dir: Path) -> list[str]:
    cmd = [*server_command(), "seed", "synthetic", "--data-dir", str(data_dir),
           "--conversations", str(args.conversations),
           "--messages-per-conversation", str(args.messages_per_conversation),
           "--seed", str(args.seed)]
    if args.database_url:
        cmd += ["--database-url", args.database_url]
    return cmd


def _run_seed(args: argparse.Namespace, data_dir: Path) -> float:
    log(f"seeding {args.conversations:,} conversations x {args.messages_per_conversation} "
        "messages (once; later runs reuse it)")
    start = time.perf_counter()
    subprocess.run(_seed_command(args, data_dir), check=True, cwd=ROOT,
                   stdout=sys.stderr, stderr=sys.stderr)
    seconds = time.perf_counter() - start
    log(f"seeded in {seconds:.1f} s")
    return seconds


def prepare_sqlite(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    """Copy the cached seeded database (seeding it first if needed) into ``run_dir``."""
    return copy_seeded_sqlite(args.conversations, args.messages_per_conversation, args.seed,
                              run_dir)


def prepare_postgres(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    """Seed an empty database; reuse one that already holds this synthetic workspace."""
    from sqlalchemy import text

    from server.db import Database

    db = Database(args.database_url, pool_size=1)
    try:
        db.migrate()
        with db.read() as s:
            convs = s.execute(text("SELECT count(*) FROM conversations")).scalar_one()
            supervisor = s.execute(text("SELECT count(*) FROM agents WHERE email = :e"),
                                   {"e": SUPERVISOR}).scalar_one()
    finally:
        db.dispose()
    seed_seconds: float | None = None
    if convs == 0:
        seed_seconds = _run_seed(args, run_dir)
    elif not (convs == args.conversations and supervisor == 1):
        raise SystemExit(
            f"server_feed: {db.display_url} holds {convs} conversations, not this synthetic "
            f"workspace ({args.conversations}); give an empty database")
    else:
        log("reusing the synthetic workspace already in the database")
    return {"database": "postgresql",
            "seed_seconds": None if seed_seconds is None else round(seed_seconds, 1),
            "seeded_this_run": seed_seconds is not None}


# --------------------------------------------------------------------------- client helpers


def login(client: httpx.Client, email: str) -> dict[str, Any]:
    r = client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    return orjson.loads(r.content)


async def alogin(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    r = await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    r.raise_for_status()
    return orjson.loads(r.content)


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['access_token']}"}


def desk_client(url: str, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    """One desk's connection."""
    return httpx.AsyncClient(base_url=url, headers=headers, timeout=60, verify=tls_context())


# --------------------------------------------------------------------------- bootstrap


def bench_bootstrap(url: str, token: dict[str, str], limit: int) -> dict[str, Any]:
    """One whole bootstrap; the client reads and orjson-parses every page."""
    rows = pages = size = 0
    wait_s = parse_s = 0.0
    page_token: str | None = None
    totals: dict[str, int] = {}
    with httpx.Client(base_url=url, headers=token, timeout=120, verify=tls_context()) as http:
        start = time.perf_counter()
        while True:
            params: dict[str, Any] = {"limit": limit}
            if page_token:
                params["page_token"] = page_token
            t0 = time.perf_counter()
            r = http.get(f"{API}/sync/bootstrap", params=params)
            body = r.content
            t1 = time.perf_counter()
            r.raise_for_status()
            page = orjson.loads(body)
            parse_s += time.perf_counter() - t1
            wait_s += t1 - t0
            rows += len(page["items"])
            pages += 1
            size += len(body)
            totals = page.get("totals") or totals
            page_token = page["next_page_token"]
            if page_token is None:
                break
        seconds = time.perf_counter() - start
    expected = sum(totals.values())
    if rows != expected:
        raise RuntimeError(f"bootstrap sent {rows} rows, its totals say {expected}")
    return {"rows": rows, "pages": pages, "bytes": size, "seconds": seconds,
            "wait_seconds": wait_s, "parse_seconds": parse_s,
            "rows_per_s": rows / seconds, "server_rows_per_s": rows / wait_s}


def run_bootstrap(server: ServerProcess, supervisor: dict[str, str],
                  agent: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, who, token, limit in (
        ("bootstrap_rows_per_s", "the supervisor", supervisor, DEFAULT_PAGE),
        ("bootstrap_rows_per_s_max_page", "the supervisor", supervisor, MAX_PAGE),
        ("bootstrap_agent_rows_per_s", "an agent (one team of four)", agent, DEFAULT_PAGE),
    ):
        log(f"bootstrap as {who}, pages of {limit}")
        cpu0, own0 = server.cpu_seconds(), time.process_time()
        b = bench_bootstrap(server.url, token, limit)
        cpu, own = server.cpu_seconds() - cpu0, time.process_time() - own0
        log(f"  {b['rows']:,} rows in {b['pages']} pages, {b['seconds']:.1f} s: "
            f"{b['rows_per_s']:,.0f} rows/s end to end; waiting on the server "
            f"{b['wait_seconds']:.1f} s ({b['server_rows_per_s']:,.0f} rows/s), parsing "
            f"{b['parse_seconds']:.1f} s; server CPU {cpu:.1f} s "
            f"({b['rows'] / cpu:,.0f} rows per CPU-second), client CPU {own:.1f} s")
        out[name] = figure(
            b["rows_per_s"], TARGET_BOOTSTRAP, unit="rows/s", digits=0, page_size=limit,
            rows=b["rows"], pages=b["pages"], mib=round(b["bytes"] / 2**20, 1),
            seconds=round(b["seconds"], 2), wait_seconds=round(b["wait_seconds"], 2),
            client_parse_seconds=round(b["parse_seconds"], 2),
            server_rows_per_s=round(b["server_rows_per_s"]),
            server_cpu_seconds=round(cpu, 2), rows_per_server_cpu_s=round(b["rows"] / cpu),
            client_cpu_seconds=round(own, 2),
        )
    return out


# --------------------------------------------------------------------------- pull


async def _pull_loop(client: httpx.AsyncClient, head: int, limit: int, interval: float,
                     warm_until: float, until: float, rng: random.Random,
                     latencies: list[float], counts: list[int]) -> None:
    """Pull pages from random cursors: back to back, or one every ``interval`` seconds."""
    next_at = time.perf_counter() + rng.uniform(0, interval)
    while True:
        if interval:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            next_at = max(next_at + interval, time.perf_counter())
        if (now := time.perf_counter()) >= until:
            return
        cursor = rng.randrange(0, head)
        r = await client.get(f"{API}/sync/pull", params={"cursor": cursor, "limit": limit})
        body = r.content
        if r.status_code != 200:
            raise RuntimeError(f"pull answered {r.status_code}: {body[:300]!r}")
        page = orjson.loads(body)
        ms = (time.perf_counter() - now) * 1000
        if now >= warm_until:
            latencies.append(ms)
            counts.append(len(page["changes"]))


async def run_pull(server: ServerProcess, tokens: list[dict[str, str]], head: int, *,
                   limit: int, duration: float, warmup: float, interval: float = 0.0,
                   name: str = "pull") -> dict[str, Any]:
    pace = f"each every {interval:g} s" if interval else "back to back"
    log(f"{name}: {len(tokens)} concurrent clients, pages of {limit} from random cursors "
        f"({pace}), {warmup:g} s warm-up + {duration:g} s")
    latencies: list[float] = []
    counts: list[int] = []
    clients = [desk_client(server.url, tok) for tok in tokens]
    try:
        start = time.perf_counter()
        warm_until, until = start + warmup, start + warmup + duration
        cpu0, own0 = server.cpu_seconds(), time.process_time()
        await asyncio.gather(*(
            _pull_loop(c, head, limit, interval, warm_until, until, random.Random(i),
                       latencies, counts)
            for i, c in enumerate(clients)
        ))
        measured = time.perf_counter() - warm_until
        # CPU over warm-up and measurement alike, shared out over the measured pulls
        cpu_ms = (server.cpu_seconds() - cpu0) * 1000 / max(1, len(latencies))
        own_ms = (time.process_time() - own0) * 1000 / max(1, len(latencies))
    finally:
        for c in clients:
            await c.aclose()
    p50, p95, p99 = (percentile(latencies, q) for q in (50, 95, 99))
    log(f"  {len(latencies):,} pulls: p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms; "
        f"{len(latencies) / measured:,.0f} pulls/s, {sum(counts) / measured:,.0f} changes/s; "
        f"~{cpu_ms:.1f} ms server CPU and ~{own_ms:.1f} ms client CPU per pull")
    return {f"{name}_p95_ms": figure(
        p95, TARGET_PULL_P95, unit="ms", p50_ms=round(p50, 1), p99_ms=round(p99, 1),
        clients=len(tokens), page_limit=limit, interval_s=interval, requests=len(latencies),
        seconds=round(measured, 1), pulls_per_s=round(len(latencies) / measured, 1),
        changes_per_s=round(sum(counts) / measured),
        mean_changes_per_page=round(sum(counts) / max(1, len(counts)), 1),
        server_cpu_ms_per_pull=round(cpu_ms, 2), client_cpu_ms_per_pull=round(own_ms, 2),
    )}


# --------------------------------------------------------------------------- push

_TAGS = ("bench-vip", "bench-refund", "bench-followup", "bench-billing", "bench-bug")
_PRIORITIES = ("low", "normal", "high", "urgent")


async def _visible_conversations(client: httpx.AsyncClient, want: int) -> list[str]:
    """Conversation ids this agent can see, from the start of its feed."""
    found: dict[str, None] = {}
    cursor = 0
    while len(found) < want:
        r = await client.get(f"{API}/sync/pull", params={"cursor": cursor, "limit": 5000})
        r.raise_for_status()
        page = orjson.loads(r.content)
        for ch in page["changes"]:
            if ch["entity"] == "conversation" and ch["op"] == "upsert":
                found[ch["id"]] = None
        cursor = page["cursor"]
        if not page["has_more"]:
            break
    if not found:
        raise RuntimeError("this agent can see no conversation")
    return list(found)[:want]


def _mutation(i: int, conv: str, rng: random.Random) -> dict[str, Any]:
    kind = i % 4
    if kind == 0:
        return {"id": i, "name": "add_tag", "args": {"conversation_id": conv,
                                                    "tag": rng.choice(_TAGS)}}
    if kind == 1:
        return {"id": i, "name": "set_priority",
                "args": {"conversation_id": conv, "priority": rng.choice(_PRIORITIES)}}
    if kind == 2:
        return {"id": i, "name": "mark_read", "args": {"conversation_id": conv}}
    return {"id": i, "name": "add_note",
            "args": {"conversation_id": conv, "message_id": str(uuid.uuid4()),
                     "body": f"Benchmark note {i}: checked the order history."}}


async def _push_loop(client: httpx.AsyncClient, convs: list[str], batch: int, until: float,
                     rng: random.Random, stats: dict[str, Any]) -> None:
    client_id = f"bench-{uuid.uuid4().hex[:16]}"
    next_id = 1
    while time.perf_counter() < until:
        muts = [_mutation(next_id + k, rng.choice(convs), rng) for k in range(batch)]
        t0 = time.perf_counter()
        r = await client.post(f"{API}/sync/push", json={"client_id": client_id, "mutations": muts})
        r.raise_for_status()
        result = orjson.loads(r.content)
        stats["latencies"].append((time.perf_counter() - t0) * 1000)
        for res in result["results"]:
            stats[res["status"]] = stats.get(res["status"], 0) + 1
        next_id += batch
        if result["last_mutation_id"] != next_id - 1:
            raise RuntimeError(f"push stopped early: {result}")


async def run_push(server: ServerProcess, tokens: list[dict[str, str]], *, batch: int,
                   duration: float) -> dict[str, Any]:
    log(f"push: {len(tokens)} clients, batches of {batch} mutations, {duration:g} s")
    clients = [desk_client(server.url, tok) for tok in tokens]
    try:
        convs = await asyncio.gather(*(_visible_conversations(c, 200) for c in clients))
        stats: dict[str, Any] = {"latencies": []}
        cpu0 = server.cpu_seconds()
        start = time.perf_counter()
        await asyncio.gather(*(
            _push_loop(c, cv, batch, start + duration, random.Random(100 + i), stats)
            for i, (c, cv) in enumerate(zip(clients, convs, strict=True))
        ))
        seconds = time.perf_counter() - start
        cpu = server.cpu_seconds() - cpu0
    finally:
        for c in clients:
            await c.aclose()
    applied = stats.get("applied", 0)
    rejected = stats.get("rejected", 0)
    lat = stats["latencies"]
    rate = (applied + rejected) / seconds
    per_cpu = (applied + rejected) / cpu if cpu else math.nan
    log(f"  {applied:,} applied, {rejected:,} rejected in {len(lat)} batches, {seconds:.1f} s: "
        f"{rate:,.0f} mutations/s; batch p50 {percentile(lat, 50):.0f} ms, "
        f"p95 {percentile(lat, 95):.0f} ms; {per_cpu:,.0f} mutations per server CPU-second")
    if rejected:
        log("  (rejections are unexpected: every mutation targets a visible conversation)")
    return {"push_mutations_per_s": figure(
        rate, TARGET_PUSH, unit="mutations/s", digits=0, clients=len(tokens),
        batch=batch, batches=len(lat), applied=applied, rejected=rejected,
        seconds=round(seconds, 1), batch_p50_ms=round(percentile(lat, 50), 1),
        batch_p95_ms=round(percentile(lat, 95), 1), server_cpu_seconds=round(cpu, 2),
        mutations_per_server_cpu_s=round(per_cpu),
    )}


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conversations", type=int, default=100_000)
    p.add_argument("--messages-per-conversation", type=int, default=10)
    p.add_argument("--seed", type=int, default=7, help="synthetic workspace random seed")
    p.add_argument("--database-url", default=None,
                   help="PostgreSQL URL (postgresql+psycopg://...); default: a cached SQLite")
    p.add_argument("--duration", type=float, default=10.0,
                   help="seconds of measured pulling, and of pushing (default 10)")
    p.add_argument("--pull-clients", type=int, default=50)
    p.add_argument("--pull-limit", type=int, default=1000)
    p.add_argument("--pull-interval", type=float, default=1.0,
                   help="seconds between one client's pulls in the paced run (0: skip it); "
                        "the first run always pulls back to back")
    p.add_argument("--push-clients", type=int, default=4)
    p.add_argument("--push-batch", type=int, default=100)
    p.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for `relaydesk-server serve` (repeatable), e.g. "
                        "--serve-arg=--workers-threads=8")
    p.add_argument("--skip", action="append", default=[], choices=["bootstrap", "pull", "push"],
                   help="leave out a part (repeatable)")
    args = p.parse_args(argv)
    if args.conversations < 1 or args.messages_per_conversation < 0:
        p.error("--conversations must be >= 1 and --messages-per-conversation >= 0")
    if args.duration <= 0 or args.pull_limit < 1 or args.push_batch < 1:
        p.error("--duration, --pull-limit and --push-batch must be positive")
    if not 1 <= args.pull_clients <= 50 or not 1 <= args.push_clients <= 50:
        p.error("there are 50 bench agents: use 1..50 clients")
    return args


def _terminate(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # unwinds through the server's context manager, which stops it


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="server_feed-run-", dir=CACHE_DIR))
    try:
        return _run(args, data_dir)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _run(args: argparse.Namespace, data_dir: Path) -> int:
    if args.database_url:
        facts = prepare_postgres(args, data_dir)
    else:
        facts = prepare_sqlite(args, data_dir)
    results: dict[str, Any] = {}
    log("starting relaydesk-server")
    with ServerProcess(data_dir, database_url=args.database_url,
                       extra_args=["--access-token-ttl", "2h", *args.serve_arg]) as server:
        url = server.url
        log(f"server at {url}")
        with httpx.Client(base_url=url, timeout=60, verify=tls_context()) as http:
            health = orjson.loads(http.get("/healthz").content)
            supervisor = login(http, SUPERVISOR)
            agent = login(http, agent_email(0))
        head = int(health["head_seq"])
        workspace = {"conversations": args.conversations,
                     "messages_per_conversation": args.messages_per_conversation,
                     "messages": args.conversations * args.messages_per_conversation,
                     "feed_head_seq": head, **facts}
        if "bootstrap" not in args.skip:
            results.update(run_bootstrap(server, bearer(supervisor), bearer(agent)))

        async def agents_part() -> None:
            n = max(args.pull_clients, args.push_clients)
            log(f"signing in {n} agents")
            gate = asyncio.Semaphore(4)
            async with desk_client(url) as anon:
                async def one(i: int) -> dict[str, str]:
                    async with gate:
                        return bearer(await alogin(anon, agent_email(i)))
                tokens = await asyncio.gather(*(one(i) for i in range(n)))
            if "pull" not in args.skip:
                warmup = min(2.0, args.duration / 5)
                results.update(await run_pull(server, tokens[:args.pull_clients], head,
                                              limit=args.pull_limit, duration=args.duration,
                                              warmup=warmup))
                if args.pull_interval > 0:
                    results.update(await run_pull(
                        server, tokens[:args.pull_clients], head, limit=args.pull_limit,
                        duration=args.duration, warmup=warmup, interval=args.pull_interval,
                        name="pull_paced"))
            if "push" not in args.skip:
                results.update(await run_push(server, tokens[:args.push_clients],
                                              batch=args.push_batch, duration=args.duration))

        if not {"pull", "push"} <= set(args.skip):
            asyncio.run(agents_part())
        log("stopping the server")
    emit("server_feed", workspace=workspace, results=results,
         ok=all(r.get("ok", True) for r in results.values()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
