"""Known sync-engine bugs of other products, one test each: every test fails if ours came back.

Each test is named after the bug it guards against (project and issue in the docstring).
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import create_engine, select, text

from server import models as m
from server import serialize
from server.emit import emit_row
from server.feed import ChangeBuffer
from server.seed import seed_synthetic
from sync import cli, entities, mirror, outbox, overlay
from sync.engine import EngineOptions, EngineState
from tests.server.harness import PASSWORD, Api, LiveServer, Mirror, Workspace, expected_state
from tests.sync.conftest import cli_env
from tests.sync.faults import (
    CliForker,
    CliProcess,
    FaultyTransport,
    Mode,
    TcpProxy,
    as_rows,
    converged,
    delivered,
    mirror_rows,
    new_handle,
    once,
    open_desk,
    outbox_intents,
    send,
    wait_for,
)
from tests.sync.helpers import api, server, server_db, shared, ws  # noqa: F401 (fixtures)


@pytest.fixture
def conv(api: Api, ws: Workspace):
    """A conversation of this test's own (alice's team, SMS, window open)."""
    return api.inbound(ws, "a_sms", new_handle(), "Where is my order?")


@pytest.fixture
def proxy(server: LiveServer) -> Iterator[TcpProxy]:
    with TcpProxy(server.port) as p:
        yield p


# --------------------------------------------------------------------------- CLI helpers


def run_cli(capsys: pytest.CaptureFixture[str], data_dir: Path, *args: str,
            stdin: str | None = None) -> tuple[int, str]:
    """``relaydesk-sync`` in this process (same code path as the console script)."""
    capsys.readouterr()
    saved = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = cli.main(["--data-dir", str(data_dir), *args])
    finally:
        sys.stdin = saved
    out = capsys.readouterr()
    return code, out.out + out.err


def cli_login(capsys, data_dir: Path, url: str, email: str, password: str = PASSWORD) -> None:
    code, out = run_cli(capsys, data_dir, "login", "--server", url, "--email", email,
                        stdin=password + "\n")
    assert code == 0, out


@pytest.fixture(scope="module")
def forker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliForker]:
    f = CliForker(cli_env(tmp_path_factory.mktemp("forker") / "keyring.json"))
    yield f
    f.close()


def spawn(forker: CliForker, keyring_file: Path, data_dir: Path, *args: str) -> CliProcess:
    """`relaydesk-sync --data-dir DIR ARGS…` as its own process (to be SIGKILLed)."""
    return forker.spawn(["--data-dir", str(data_dir), *args], data_dir.parent,
                        env={"RELAYDESK_TEST_KEYRING_FILE": str(keyring_file)})


def read_file_mirror(data_dir: Path) -> tuple[dict[str, str], dict[tuple[str, str], dict]]:
    """sync_state and entity rows of a mirror file another process writes (or was killed)."""
    engine = create_engine(f"sqlite:///{data_dir / 'mirror.sqlite3'}")
    try:
        with engine.connect() as conn:
            state = dict(conn.execute(text("SELECT key, value FROM sync_state")).all())
            rows = {}
            for entity, spec in entities.SPECS.items():
                for row in conn.execute(select(spec.table)).mappings():
                    rows[(entity.value, row["id"])] = dict(row)
    finally:
        engine.dispose()
    return state, rows


def outbox_json(capsys, data_dir: Path) -> list[dict[str, Any]]:
    code, out = run_cli(capsys, data_dir, "--json", "outbox")
    assert code == 0, out
    return json.loads(out)


# --------------------------------------------------------------------------- 2


@pytest.mark.asyncio
async def test_resume_restarts_from_zero(server, ws, server_db, api, make_desk):
    """PouchDB #3999: an interrupted initial sync started over. A restarted desk must
    continue at the saved page token and never fetch an applied page again."""
    for i in range(10):
        api.inbound(ws, "a_sms", f"+1555020{i:04d}", f"hello {i}")
    first = FaultyTransport()
    stuck = first.hold("GET", "/sync/bootstrap", after=3)
    desk = await make_desk(server.url, email=ws.emails["alice"], transport=first,
                           options=EngineOptions(bootstrap_limit=4))
    assert await wait_for(stuck.entered.is_set)

    def saved() -> str | None:
        with desk.store.read_mirror() as c:
            return desk.store.get_state(c, mirror.BOOTSTRAP_TOKEN)
    assert await wait_for(lambda: saved() == first.requests("GET", "/sync/bootstrap")[-1]
                          .params.get("page_token"))
    token = saved()
    applied_tokens = [e.params.get("page_token") for e in first.requests("GET", "/sync/bootstrap")
                      ][:-1]
    await desk.close()  # the desk goes away mid-bootstrap

    second = FaultyTransport()
    again = await open_desk(make_desk, server.url, ws, second, bootstrap_limit=4)
    assert await converged(again, server_db, ws)
    resumed = [e.params.get("page_token") for e in second.requests("GET", "/sync/bootstrap")]
    assert resumed[0] == token
    assert not set(resumed) & set(applied_tokens)  # no page fetched twice, none from zero
    assert len(resumed) == len(set(resumed))


# --------------------------------------------------------------------------- 3


@pytest.mark.asyncio
async def test_late_committing_server_transaction_skipped(server, ws, server_db, api, conv,
                                                          make_desk):
    """sync_gateway #2108: a change from a transaction that committed late was skipped. Hold
    a server write transaction open (its change numbered) while the desk pulls; another write
    queues behind it; after the commit the desk must have both."""
    desk = await open_desk(make_desk, server.url, ws, use_events=True)
    numbered, commit = threading.Event(), threading.Event()
    tag_id = str(uuid.uuid4())

    def slow_writer() -> None:
        with server_db.write() as s:
            buf = ChangeBuffer(s, is_postgres=server_db.is_postgres)
            row = m.Tag(id=tag_id, name="late-commit", color="#123456")
            s.add(row)
            s.flush()
            emit_row(buf, "tag", serialize.tag(row))
            buf.flush()
            numbered.set()
            assert commit.wait(20)

    writer = threading.Thread(target=slow_writer)
    writer.start()
    try:
        assert await asyncio.to_thread(numbered.wait, 10)
        for _ in range(2):  # pulls while the transaction is open see nothing of it
            cycles = desk.engine.cycles
            desk.engine.trigger("test")
            assert await wait_for(lambda c=cycles: desk.engine.cycles > c
                                  and desk.engine.status.state is EngineState.UP_TO_DATE)
        assert ("tag", tag_id) not in mirror_rows(desk.store)
        later = asyncio.create_task(asyncio.to_thread(
            api.inbound, ws, "a_sms", "+15550100001", "committed after the late one"))
        await asyncio.sleep(0.3)
        assert not later.done()  # SQLite: it waits for the open writer
    finally:
        commit.set()
        await asyncio.to_thread(writer.join, 10)
    await later
    assert await converged(desk, server_db, ws)
    rows = as_rows(expected_state(server_db, ws.agents["alice"]))
    assert ("tag", tag_id) in rows
    assert any(v.get("body") == "committed after the late one" for v in rows.values())


# --------------------------------------------------------------------------- 4


def test_offline_intents_lost_when_the_process_dies(server, ws, server_db, tmp_path,
                                                    file_keyring, capsys, forker):
    """Replicache #799: intents queued offline were lost when the process died."""
    data_dir = tmp_path / "desk"
    with TcpProxy(server.port) as proxy, Api(server.url) as api:
        conv = api.inbound(ws, "a_sms", new_handle(), "Anyone there?")
        cli_login(capsys, data_dir, proxy.url, ws.emails["alice"])
        assert run_cli(capsys, data_dir, "sync")[0] == 0
        proxy.offline()
        code, out = run_cli(capsys, data_dir, "--json", "send", conv.conversation_id,
                            "typed on the train")
        assert code == 0, out
        queued = json.loads(out)
        assert queued["synced"] is False and queued["state"] == outbox.PENDING
        assert "queued" in queued["message"]

        watcher = spawn(forker, file_keyring, data_dir, "--json", "sync", "--watch")
        try:
            def offline() -> list[dict[str, Any]]:
                states = [json.loads(x) for x in watcher.lines() if x.startswith("{")]
                return [x for x in states if x["state"] == "offline"]
            deadline = time.monotonic() + 20
            while not offline():
                assert watcher.alive(), watcher.output()
                assert time.monotonic() < deadline, watcher.output()
                time.sleep(0.05)
            assert offline()[0]["pending"] == 1
        finally:
            watcher.kill()  # dies holding the queued reply

        proxy.online()
        code, out = run_cli(capsys, data_dir, "sync")
        assert code == 0, out
        assert once(api, ws, server_db, "typed on the train")
        assert outbox_json(capsys, data_dir) == []


# --------------------------------------------------------------------------- 5, 6, 7, 8


@pytest.mark.asyncio
async def test_intent_made_during_a_running_sync_never_pushed(server, ws, server_db, api, conv,
                                                              make_desk):
    """Replicache #42: an intent made while a sync ran waited for some later trigger."""
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t, use_events=False,
                           poll_interval_s=600, safety_poll_s=600)
    slow = t.hold("GET", "/sync/pull")
    desk.engine.trigger("test")
    assert await wait_for(slow.entered.is_set)  # a cycle is past its push, in its pull
    await send(desk, conv, "made mid-sync")
    pushes = t.count("POST", "/sync/push")
    slow.release.set()
    assert await wait_for(lambda: delivered(api, ws, "a_sms", "made mid-sync") == 1, 5)
    assert t.count("POST", "/sync/push") == pushes + 1
    assert await converged(desk, server_db, ws)


@pytest.mark.asyncio
async def test_reconnect_does_not_drain_the_outbox(server, ws, server_db, api, conv, proxy,
                                                   make_desk):
    """powersync.dart #203: after the connection came back, downloads resumed but queued
    uploads waited. Nobody triggers anything here after going online."""
    desk = await open_desk(make_desk, proxy.url, ws, backoff_cap_s=3.0)
    proxy.offline()
    for i in range(3):
        await send(desk, conv, f"queued offline {i}")
    await asyncio.sleep(3)  # several failed attempts, backoff grown
    assert desk.engine.status.state is EngineState.OFFLINE
    assert desk.engine.status.pending == 3
    proxy.online()
    started = time.monotonic()
    assert await wait_for(lambda: desk.engine.status.pending == 0, 8)
    assert time.monotonic() - started < 8
    assert await converged(desk, server_db, ws)
    assert all(once(api, ws, server_db, f"queued offline {i}") for i in range(3))


@pytest.mark.asyncio
async def test_an_error_in_push_ends_the_loop(server, ws, server_db, api, conv, make_desk):
    """powersync-kotlin #340: an exception in the upload ended the sync loop for good."""
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t, backoff_base_s=0.05)
    t.answer("POST", "/sync/push", 500, times=2)
    await send(desk, conv, "after two failures")
    assert await converged(desk, server_db, ws)
    # An unexpected failure (an answer that is not a push response) must not end it either.
    garbled = t.rewrite("POST", "/sync/push", lambda _body: b'{"unexpected": true}')
    await send(desk, conv, "after a garbled answer")
    assert await wait_for(lambda: garbled.fired == 1)
    assert await converged(desk, server_db, ws)
    worker = next(task for task in desk.engine._tasks
                  if task.get_name() == "relaydesk-sync-worker")
    assert not worker.done()
    await send(desk, conv, "still working")
    assert await converged(desk, server_db, ws)
    for body in ("after two failures", "after a garbled answer", "still working"):
        assert once(api, ws, server_db, body)


@pytest.mark.asyncio
async def test_same_batch_uploaded_twice_after_connection_churn(server, ws, server_db, api,
                                                                conv, proxy, make_desk):
    """powersync.dart #253: connect/disconnect churn uploaded one batch twice."""
    desk = await open_desk(make_desk, proxy.url, ws, push_batch=4, backoff_base_s=0.05,
                           backoff_cap_s=0.3)
    rng = random.Random(253)
    bodies = [f"churn {i}" for i in range(24)]
    stop = asyncio.Event()

    async def churn() -> None:
        modes = [Mode.FORWARD, Mode.RESET, Mode.REFUSE, Mode.SWALLOW, Mode.FORWARD]
        while not stop.is_set():
            await asyncio.to_thread(proxy.set_mode, rng.choice(modes), cut=rng.random() < 0.5)
            await asyncio.sleep(rng.uniform(0.03, 0.15))

    churner = asyncio.create_task(churn())
    for body in bodies:
        await send(desk, conv, body)
        await asyncio.sleep(rng.uniform(0, 0.08))
    await asyncio.sleep(1.5)
    stop.set()
    await churner
    proxy.set_mode(Mode.FORWARD, cut=True)  # swallowed streams: start clean
    assert await converged(desk, server_db, ws, timeout=25)
    sent = [o.body for o in api.outbound(ws, "a_sms")]
    assert sorted(b for b in sent if b.startswith("churn ")) == sorted(bodies)


# --------------------------------------------------------------------------- 9, 10


def thread_of(desk, conversation_id: str) -> list[overlay.ThreadItem]:
    """What the thread view shows. The outbox is read first: an intent settles only after
    the mirror holds its message, so this order never misses a message in between."""
    with desk.store.read_outbox() as c:
        intents = outbox.unsettled(c, conversation_id)
    with desk.store.read_mirror() as c:
        messages = [dict(r) for r in c.execute(
            select(entities.SPECS[entities.Entity.MESSAGE].table)
            .where(entities.SPECS[entities.Entity.MESSAGE].table.c.conversation_id
                   == conversation_id)).mappings()]
    return overlay.thread(messages, intents, None)


@pytest.mark.asyncio
async def test_poison_intent_blocks_everything_behind_it(server, ws, server_db, api, conv,
                                                        make_desk):
    """powersync.dart #217: one rejected upload blocked the queue and the download."""
    desk = await open_desk(make_desk, server.url, ws)
    await send(desk, conv, "before the poison")
    poison = await desk.engine.enqueue("send_message", {
        "conversation_id": conv.conversation_id, "body": "", "template": "no_such_template"})
    await send(desk, conv, "after the poison")
    await desk.engine.enqueue("set_status", {"conversation_id": conv.conversation_id,
                                             "status": "pending"})
    api.inbound(ws, "a_sms", "+15550100001", "the download goes on")
    assert await converged(desk, server_db, ws, rejected=1)
    assert once(api, ws, server_db, "before the poison")
    assert once(api, ws, server_db, "after the poison")
    assert desk.engine.status.rejected == 1
    failed = [i for i in thread_of(desk, conv.conversation_id) if i.intent_id == poison.id]
    assert len(failed) == 1 and failed[0].local_state == overlay.LOCAL_FAILED
    assert failed[0].error_code == "unknown_template" and failed[0].error_message

    # It stays until the agent acts: a retry is rejected again and stays visible ...
    await desk.engine.retry_intent(poison.id)
    assert await converged(desk, server_db, ws, rejected=1)
    [still] = outbox_intents(desk.store)
    assert still.id == poison.id and still.state == outbox.REJECTED
    # ... and discarding it is what removes it.
    await desk.engine.discard_intent(poison.id)
    assert await converged(desk, server_db, ws)
    assert desk.engine.status.rejected == 0


@pytest.mark.asyncio
async def test_optimistic_row_vanishes_and_reappears(server, ws, server_db, api, conv,
                                                     make_desk):
    """powersync-js #622: the optimistic row disappeared between upload and download."""
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    t.delay("POST", "/sync/push", 0.3)
    t.delay("GET", "/sync/pull", 0.3, times=3)
    samples: list[tuple[float, str | bool | None]] = []
    stop = asyncio.Event()
    message_id = str(uuid.uuid4())

    async def sampler() -> None:
        while not stop.is_set():
            items = await desk.store.run_read(thread_of, desk, conv.conversation_id)
            mine = [i for i in items if i.id == message_id]
            assert len(mine) <= 1, "shown twice"
            samples.append((time.monotonic(), mine[0].local_state if mine else False))
            await asyncio.sleep(0.005)

    task = asyncio.create_task(sampler())
    await asyncio.sleep(0.05)
    await desk.engine.enqueue("send_message", {"conversation_id": conv.conversation_id,
                                               "body": "never vanishes",
                                               "message_id": message_id})
    enqueued = time.monotonic()
    assert await converged(desk, server_db, ws)
    await asyncio.sleep(0.1)
    stop.set()
    await task
    after = [state for at, state in samples if at > enqueued]
    assert after and False not in after, "the message was missing from the thread"
    order = [s for i, s in enumerate(after) if i == 0 or after[i - 1] != s]
    assert order == [overlay.LOCAL_PENDING, overlay.LOCAL_SENT, None]


# --------------------------------------------------------------------------- 11, 12


@pytest.mark.asyncio
async def test_resync_loop_that_never_ends(server, ws, server_db, api, conv, make_desk):
    """electric #1552: a server that keeps answering "resync" made clients bootstrap forever.
    Here every pull answers 410: the desk gives up after a bounded number of rebuilds and
    waits, even while pokes keep arriving; its pushes still go out."""
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t, backoff_base_s=0.05,
                           backoff_cap_s=60.0)
    assert await wait_for(lambda: desk.engine.status.live)
    t.answer("GET", "/sync/pull", 410, times=None)
    desk.engine.trigger("test")
    assert await wait_for(lambda: desk.engine.status.state is EngineState.ERROR)
    st = desk.engine.status
    assert st.message.endswith(".") and st.retry_in_s == 60.0
    assert st.problem == "resync_loop"

    def rebuilds() -> int:
        return len([e for e in t.requests("GET", "/sync/bootstrap")
                    if "page_token" not in e.params]) - 1  # minus the first sign-in
    bounded = rebuilds()
    assert 1 <= bounded <= desk.engine.options.max_consecutive_resyncs
    cycles = desk.engine.cycles
    for i in range(3):  # pokes (server changes) arrive while it waits, and start cycles
        api.inbound(ws, "a_sms", "+15550100001", f"poke {i}")
        await asyncio.sleep(0.4)
    assert desk.engine.cycles > cycles
    await send(desk, conv, "pushed anyway")
    assert await wait_for(lambda: delivered(api, ws, "a_sms", "pushed anyway") == 1)
    assert await wait_for(lambda: [i.state for i in outbox_intents(desk.store)]
                          == [outbox.APPLIED])
    assert await wait_for(lambda: desk.engine.status.state is EngineState.ERROR)
    assert rebuilds() == bounded


@pytest.mark.asyncio
async def test_duplicate_changes_within_a_page_applied_twice(server, ws, server_db, api, conv,
                                                             make_desk):
    """powersync-service #813: a change listed twice in one page was applied twice."""
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)

    def doubled(body: bytes) -> bytes:
        page = orjson.loads(body)
        page["changes"] = [c for c in page["changes"] for _ in (0, 1)]
        return orjson.dumps(page)

    fault = t.rewrite("GET", "/sync/pull", doubled, times=None)
    api.inbound(ws, "a_sms", "+15550100001", "counted once")
    api.inbound(ws, "a_email", "erin@example.com", "a new one")
    await send(desk, conv, "my reply")
    await desk.engine.enqueue("add_tag", {"conversation_id": conv.conversation_id,
                                          "tag": "vip"})
    assert await converged(desk, server_db, ws)
    assert fault.fired >= 1
    with desk.store.read_mirror() as c:
        counts = mirror.entity_counts(c)
    want: dict[str, int] = {}
    for entity, _ in expected_state(server_db, ws.agents["alice"]):
        want[entity] = want.get(entity, 0) + 1
    assert {k: v for k, v in counts.items() if v} == want
    assert once(api, ws, server_db, "my reply")


# --------------------------------------------------------------------------- 13, 14


def test_forced_resync_throws_away_unsent_work(server, ws, server_db, tmp_path, file_keyring,
                                               capsys):
    """realm-js #3548: a client reset discarded the changes not uploaded yet."""
    data_dir = tmp_path / "desk"
    with TcpProxy(server.port) as proxy, Api(server.url) as api:
        conv = api.inbound(ws, "a_sms", new_handle(), "Hello?")
        cli_login(capsys, data_dir, proxy.url, ws.emails["alice"])
        assert run_cli(capsys, data_dir, "sync")[0] == 0
        proxy.offline()
        for body in ("first unsent", "second unsent"):
            assert run_cli(capsys, data_dir, "send", conv.conversation_id, body)[0] == 0
        code, out = run_cli(capsys, data_dir, "reset-cache")
        assert code == 1, out  # rebuilt, but could not sync: the work is kept
        assert [i["state"] for i in outbox_json(capsys, data_dir)] == ["pending", "pending"]
        proxy.online()
        code, out = run_cli(capsys, data_dir, "reset-cache")
        assert code == 0, out
        assert outbox_json(capsys, data_dir) == []
        assert once(api, ws, server_db, "first unsent")
        assert once(api, ws, server_db, "second unsent")
        assert read_file_mirror(data_dir)[1] == as_rows(expected_state(server_db,
                                                                       ws.agents["alice"]))


@pytest.mark.asyncio
async def test_forced_resync_by_410_keeps_applied_work(server, ws, server_db, api, conv,
                                                      make_desk):
    """realm-js #3548, the server's side: a 410 arriving right after a push must not lose the
    pushed-but-unconfirmed replies (they stay in the thread) nor send them again."""
    t = FaultyTransport()
    desk = await open_desk(make_desk, server.url, ws, t)
    t.answer("GET", "/sync/pull", 410)
    rebuilding = t.hold("GET", "/sync/bootstrap")
    intent = await send(desk, conv, "in flight during a reset")
    assert await wait_for(rebuilding.entered.is_set)
    [kept] = outbox_intents(desk.store)
    assert kept.id == intent.id and kept.state == outbox.APPLIED
    shown = [i for i in thread_of(desk, conv.conversation_id) if i.intent_id == intent.id]
    assert shown and shown[0].local_state == overlay.LOCAL_SENT
    rebuilding.release.set()
    assert await converged(desk, server_db, ws)
    assert once(api, ws, server_db, "in flight during a reset")
    carried = [e for e in t.requests("POST", "/sync/push")
               if intent.mutation_id in e.mutation_ids()]
    assert len(carried) == 1


def test_crash_after_the_server_accepted_a_message(server, ws, server_db, tmp_path,
                                                   file_keyring, capsys, forker):
    """CmisSync #683: the client crashed after the server accepted an upload and sent it
    again on restart. The answer to `send` is lost (the server committed), the process is
    killed, a new one syncs: one message."""
    data_dir = tmp_path / "desk"
    with TcpProxy(server.port) as proxy, Api(server.url) as api:
        conv = api.inbound(ws, "a_sms", new_handle(), "Status?")
        cli_login(capsys, data_dir, proxy.url, ws.emails["alice"])
        assert run_cli(capsys, data_dir, "sync")[0] == 0
        proxy.set_mode(Mode.SWALLOW)
        proc = spawn(forker, file_keyring, data_dir, "send", conv.conversation_id,
                     "accepted once")
        try:
            deadline = time.monotonic() + 30
            while delivered(api, ws, "a_sms", "accepted once") == 0:
                assert proc.alive(), proc.output()
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            proc.kill()  # it never heard the answer
        [queued] = outbox_json(capsys, data_dir)
        assert queued["state"] == outbox.PENDING
        proxy.online()
        code, out = run_cli(capsys, data_dir, "sync")
        assert code == 0, out
        assert once(api, ws, server_db, "accepted once")
        assert outbox_json(capsys, data_dir) == []


# --------------------------------------------------------------------------- 1 (last: it
# adds a large synthetic workspace to the shared server)


def _bootstrap_pages(api: Api) -> list[tuple[str | None, list[dict]]]:
    """The server's bootstrap pages at its default size: (next token, items) each."""
    pages, token = [], None
    while True:
        r = api.get("/sync/bootstrap", params={"page_token": token} if token else {})
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append((body["next_page_token"], body["items"]))
        token = body["next_page_token"]
        if token is None:
            return pages


def _pull_pages(api: Api, cursor: int) -> list[tuple[int, list[dict]]]:
    pages = []
    while True:
        page = api.pull(cursor, 1000)
        pages.append((page.cursor, page.changes))
        cursor = page.cursor
        if not page.has_more:
            return pages


def _kill_mid_page(forker: CliForker, keyring_file: Path, data_dir: Path, proxy: TcpProxy,
                   path: str, rng: random.Random, timeout: float = 30) -> None:
    """Start ``sync`` and SIGKILL it 0–20 ms after the proxy handed it its n-th ``path`` page
    (n random): the page has arrived and is being parsed or written, or the next one is
    being fetched."""
    nth, pause = rng.randint(1, 3), rng.choice([0.0, 0.002, 0.005, 0.01, 0.02])
    seen: list[str] = []
    fired = threading.Event()
    proc: list[CliProcess] = []

    def hook(line: str, status: int) -> None:
        if path not in line or fired.is_set() or not proc:
            return
        seen.append(line)
        if len(seen) == nth:
            time.sleep(pause)
            proc[0].kill()
            fired.set()

    proxy.on_response = hook
    try:
        proc.append(spawn(forker, keyring_file, data_dir, "sync"))
        deadline = time.monotonic() + timeout
        while not fired.is_set() and proc[0].alive():
            assert time.monotonic() < deadline, proc[0].output()
            time.sleep(0.01)
    finally:
        proxy.on_response = None
        proc[0].kill()


def _kill_when_position_moves(forker: CliForker, keyring_file: Path, data_dir: Path, key: str,
                              rng: random.Random, timeout: float = 30) -> None:
    """Start ``sync`` and SIGKILL it the moment its stored position (``key``) moves for the
    n-th time (n random): if the position were ever committed ahead of its page, this is
    when the page would be missing."""
    nth = rng.randint(1, 2)
    db = sqlite3.connect(data_dir / "mirror.sqlite3", isolation_level=None)
    try:
        def position() -> str | None:
            row = db.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
            return row[0] if row else None

        last, moves = position(), 0
        proc = spawn(forker, keyring_file, data_dir, "sync")
        try:
            deadline = time.monotonic() + timeout
            while proc.alive():
                now = position()
                if now != last:
                    last, moves = now, moves + 1
                    if moves == nth:
                        break
                assert time.monotonic() < deadline, proc.output()
        finally:
            proc.kill()
    finally:
        db.close()


def test_cursor_saved_before_its_page_was_applied(server_db, ws, tmp_path, file_keyring,
                                                  capsys, forker):
    """PouchDB #1240: the checkpoint was written before the documents. Kill `sync` at random
    moments mid-bootstrap and mid-pull: the stored page token / cursor must always describe
    exactly the data applied."""
    rng = random.Random(1240)
    sam = ws.agents["sam"]
    seed_synthetic(server_db, 150, 4, seed=1)
    srv = LiveServer(server_db.url.render_as_string(hide_password=False), tmp_path / "srv",
                     bootstrap_page_default=150, bootstrap_page_max=150, pull_limit_max=150)
    srv.start()
    data_dir = tmp_path / "desk"
    try:
        with TcpProxy(srv.port) as proxy, Api(srv.url) as api:
            api.login(ws.emails["sam"])
            cli_login(capsys, data_dir, proxy.url, ws.emails["sam"])
            pages = _bootstrap_pages(api)
            assert len(pages) >= 6
            checked: list[tuple[str, int, int]] = []
            for attempt in range(4):
                if attempt % 2:
                    _kill_mid_page(forker, file_keyring, data_dir, proxy, "/sync/bootstrap", rng)
                else:
                    _kill_when_position_moves(forker, file_keyring, data_dir,
                                              mirror.BOOTSTRAP_TOKEN, rng)
                state, rows = read_file_mirror(data_dir)
                if state.get(mirror.BOOTSTRAPPED) == "1":
                    break
                token = state.get(mirror.BOOTSTRAP_TOKEN)
                applied = [t for t, _ in pages].index(token) + 1 if token else 0
                expect = {(i["entity"], i["id"]): i["data"]
                          for _, items in pages[:applied] for i in items}
                assert rows == as_rows(expect), f"token {token} does not match the data"
                checked.append(("bootstrap", applied, len(pages)))
            # PouchDB #3999 from the command line: the run that finishes resumes at the saved
            # page and fetches no page twice.
            saved = read_file_mirror(data_dir)[0].get(mirror.BOOTSTRAP_TOKEN)
            asked = len(proxy.requests())
            code, out = run_cli(capsys, data_dir, "sync")
            assert code == 0, out
            fetched = [line for line in proxy.requests()[asked:] if "/sync/bootstrap" in line]
            assert len(fetched) == len(set(fetched))
            assert saved is None or f"page_token={saved}" in fetched[0]
            state, rows = read_file_mirror(data_dir)
            assert rows == as_rows(expected_state(server_db, sam))
            base, start = dict(rows), int(state[mirror.CURSOR])

            seed_synthetic(server_db, 150, 4, seed=2)  # now the pull has pages to fetch
            pulls = _pull_pages(api, start)
            assert len(pulls) >= 4
            for attempt in range(4):
                if attempt == 1:
                    _kill_mid_page(forker, file_keyring, data_dir, proxy, "/sync/pull", rng)
                else:
                    _kill_when_position_moves(forker, file_keyring, data_dir, mirror.CURSOR, rng)
                state, rows = read_file_mirror(data_dir)
                cursor = int(state[mirror.CURSOR])
                reached = [c for c, _ in pulls].index(cursor) + 1 if cursor != start else 0
                model = Mirror()
                model.rows = _decode(base)
                for _, changes in pulls[:reached]:
                    model.apply_changes(changes)
                assert rows == as_rows(model.rows), f"cursor {cursor} does not match the data"
                checked.append(("pull", reached, len(pulls)))
            # The kills did land mid-way (not all after the end).
            assert len([c for c in checked if c[0] == "bootstrap"]) >= 2, checked
            assert [c for c in checked if c[0] == "pull" and c[1] < c[2]], checked
            code, out = run_cli(capsys, data_dir, "sync")
            assert code == 0, out
            assert read_file_mirror(data_dir)[1] == as_rows(expected_state(server_db, sam))
    finally:
        srv.stop()


def _decode(rows: dict[tuple[str, str], dict]) -> dict[tuple[str, str], dict]:
    """Mirror rows back to payloads (JSON columns decoded), to replay changes over them."""
    out = {}
    for key, row in rows.items():
        spec = entities.SPECS[entities.Entity(key[0])]
        out[key] = {k: (orjson.loads(v) if k in spec.json_empty and v is not None else v)
                    for k, v in row.items()}
    return out


def test_verify_compares_only_the_kinds_this_desk_keeps() -> None:
    """A newer server counts kinds an older desk does not know (its mirror skips their rows):
    verify must not call that a mismatch that reset-cache would fix (it would not)."""
    from sync.cli import compare_counts

    comparison, not_kept = compare_counts(
        {"conversation": 3, "message": 9},
        {"conversation": 3, "message": 9, "guide_from_the_future": 4})
    assert comparison == {"conversation": {"local": 3, "server": 3},
                          "message": {"local": 9, "server": 9}}
    assert not_kept == ["guide_from_the_future"]
    comparison, _ = compare_counts({"conversation": 2}, {"conversation": 3})
    assert comparison["conversation"] == {"local": 2, "server": 3}  # a real difference stays
