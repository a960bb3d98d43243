"""PostgreSQL: ordering under concurrent transactions, several server processes, fan-out.

These only mean something on PostgreSQL (CI's PostgreSQL leg runs them; on SQLite every
writer is serialised by ``BEGIN IMMEDIATE`` and there is no LISTEN/NOTIFY).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from typing import Any

from sqlalchemy import delete, text, update

from protocol import wire as p
from server import models as m
from server import serialize
from server.db import Database
from server.emit import emit_row
from server.feed import ChangeBuffer
from tests.server.harness import (
    Api,
    LiveServer,
    Mirror,
    Workspace,
    build_workspace,
    expected_state,
    wait_until,
)
from tests.server.test_events import SseStream, start_processes


class _Thread(threading.Thread):
    """A thread whose exception (an assertion, say) is re-raised by ``result``."""

    def __init__(self, fn: Any, *args: Any) -> None:
        super().__init__(daemon=True)
        self._fn, self._args = fn, args
        self.value: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.value = self._fn(*self._args)
        except BaseException as exc:
            self.error = exc

    def result(self, timeout: float = 30) -> Any:
        self.join(timeout)
        assert not self.is_alive(), "thread did not finish"
        if self.error is not None:
            raise self.error
        return self.value


def _head(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(text("SELECT seq FROM feed_head WHERE id = 1")))


def _converged(api: Api, mirror: Mirror, db: Database) -> None:
    assert api.agent is not None
    mirror.sync(api)
    assert mirror.rows == expected_state(db, api.agent["id"])


# --------------------------------------------------------------------------- ordering


def test_transactions_committing_out_of_order_are_both_delivered(
    postgres_url: str, db: Database, workspace: Workspace, live_server: LiveServer
) -> None:
    """The sync_gateway #2108 shape: T1 takes seq N and stays open; a later writer must not
    become visible at N+1 first, or a client pulling in between would skip N for ever."""
    ws = workspace
    flushed, release = threading.Event(), threading.Event()
    tag_id = str(uuid.uuid4())

    def slow_writer() -> int:
        other = Database(postgres_url)
        try:
            with other.write() as s:
                buf = ChangeBuffer(s, is_postgres=True)
                tag = m.Tag(id=tag_id, name="written-slowly", color="#336699")
                s.add(tag)
                s.flush()
                emit_row(buf, "tag", serialize.tag(tag))
                seq = buf.flush()
                assert seq is not None
                flushed.set()
                assert release.wait(30)
            return seq
        finally:
            other.dispose()

    def provider_posts() -> p.InboundResult:
        with Api(live_server.url) as provider:
            return provider.inbound(ws, "a_sms", "+15550100", "sent while T1 is open")

    with Api(live_server.url).login(ws.emails["alice"]) as alice, \
            SseStream(live_server.url, alice.token) as stream:
        items, cursor0 = alice.bootstrap()
        stream.wait_open()
        t1 = _Thread(slow_writer)
        t1.start()
        assert flushed.wait(10)
        t2 = _Thread(provider_posts)
        t2.start()

        # While T1 is uncommitted no pull moves past it, and nobody is poked.
        deadline = time.monotonic() + 0.6
        pulls = 0
        while time.monotonic() < deadline:
            page = alice.pull(cursor0)
            assert (page.changes, page.cursor, page.has_more) == ([], cursor0, False)
            pulls += 1
        assert pulls >= 3
        assert t2.is_alive(), "the inbound write did not wait behind T1 on the feed head"
        assert stream.pokes() == []

        release.set()
        t1_seq = t1.result()
        assert t1_seq == cursor0 + 1
        inbound = t2.result()
        changes, cursor = alice.pull_all(cursor0)
        assert (changes[0].entity, changes[0].id, changes[0].seq) == (p.Entity.TAG, tag_id, t1_seq)
        later = {(c.entity, c.id) for c in changes[1:]}
        assert (p.Entity.MESSAGE, inbound.message_id) in later
        assert (p.Entity.CONVERSATION, inbound.conversation_id) in later
        assert all(c.seq > t1_seq for c in changes[1:])
        # Pokes follow commits: T1's seq first, then the inbound's.
        assert wait_until(lambda: [i for _t, i in stream.pokes()][-1:] == [cursor])
        assert [i for _t, i in stream.pokes()] in ([t1_seq, cursor], [cursor])

        mirror = Mirror()
        mirror.apply_bootstrap(items, cursor0)
        mirror.apply_changes(changes)
        mirror.cursor = cursor
        _converged(alice, mirror, db)


def test_a_pull_racing_a_prune_does_not_skip_the_pruned_changes(
    postgres_url: str, db: Database, workspace: Workspace, live_server: LiveServer
) -> None:
    """A pull reads the head and pruned-through mark, then the changes. If a prune commits
    between the two, the page must not come back short with the cursor past the pruned
    changes (the desk would never see them): it must say 410, or carry them."""
    ws = workspace
    with Api(live_server.url).login(ws.emails["alice"]) as alice:
        _items, cursor = alice.bootstrap()
        alice.inbound(ws, "a_email", "pat@example.com", "a change to be pruned")

        def waiting_pulls(s: Any) -> int:
            s.execute(text("SELECT pg_stat_clear_snapshot()"))  # else cached per transaction
            return int(s.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE '%FROM changes%'")))

        with db.write() as s:
            # Hold the changes table so the pull stops between reading the head and the rows.
            s.execute(text("LOCK TABLE changes IN ACCESS EXCLUSIVE MODE"))
            puller = _Thread(lambda: alice.get("/sync/pull", params={"cursor": cursor}))
            puller.start()
            assert wait_until(lambda: waiting_pulls(s) == 1, timeout=10)
            # Meanwhile, what maintenance.prune does, committed before the pull reads on.
            head = _head(db)
            s.execute(delete(m.ChangeRow).where(m.ChangeRow.seq <= head))
            s.execute(update(m.FeedHead).where(m.FeedHead.id == 1).values(pruned_through=head))
        r = puller.result()
        if r.status_code == 200:
            assert r.json()["changes"], f"the pull skipped seqs {cursor + 1}..{head}: {r.text}"
        else:
            assert (r.status_code, r.json()["error"]) == (410, "resync_required")


# --------------------------------------------------------------------------- processes


def test_two_processes_start_together_and_serve_the_same_clients(
    postgres_url: str, server_process_factory: Any
) -> None:
    # Both processes migrate the empty database at the same time.
    one, two = start_processes(server_process_factory, postgres_url, 2, "--heartbeat", "1")
    db = Database(postgres_url)
    try:
        with db.read() as s:
            assert s.scalar(text("SELECT count(*) FROM alembic_version")) == 1
            assert s.scalar(text("SELECT count(*) FROM feed_head")) == 1
        ws = build_workspace(db)
        with Api(one.url).login(ws.emails["alice"]) as alice1, \
                Api(two.url).login(ws.emails["alice"]) as alice2, \
                Api(two.url).login(ws.emails["sam"]) as sam2, \
                SseStream(two.url, alice1.token) as on_two, \
                SseStream(one.url, alice2.token) as on_one:
            on_two.wait_open()
            on_one.wait_open()
            mirror = Mirror()
            items, cursor = alice1.bootstrap()  # bootstrap on one ...
            mirror.apply_bootstrap(items, cursor)

            latencies = []
            conversations = []
            for i in range(3):
                sent = time.monotonic()
                res = alice1.inbound(ws, "a_whatsapp", f"+81900000{i}", f"こんにちは {i}")
                conversations.append(res.conversation_id)
                head = _head(db)  # everything this wrote is Alice's to see
                arrived, poke = on_two.wait_poke_for(head, timeout=2.0)
                latencies.append(arrived - sent)
                assert poke == head

                sent = time.monotonic()
                pushed = sam2.push(f"sam-{i}-{uuid.uuid4().hex[:8]}", [
                    {"id": 1, "name": "assign",
                     "args": {"conversation_id": res.conversation_id,
                              "agent_id": ws.agents["alice"]}}])
                assert pushed.results[0].status is p.MutationStatus.APPLIED
                seq = pushed.results[0].change_seq
                assert seq is not None
                arrived, poke = on_one.wait_poke_for(seq, timeout=2.0)
                latencies.append(arrived - sent)
                assert poke == seq
            print(f"\nLISTEN/NOTIFY cross-process poke latency (s): "
                  f"{', '.join(f'{x:.3f}' for x in latencies)}")
            assert max(latencies) < 1.0, latencies

            # ... pull on two: the same state the tables say Alice should see.
            _converged(alice2, mirror, db)
            assert set(conversations) <= set(mirror.of("conversation"))
    finally:
        db.dispose()


def test_listen_notify_alone_carries_pokes_between_servers(
    postgres_url: str, db: Database, workspace: Workspace, tmp_path: Any
) -> None:
    """With the head poll out of the picture, only LISTEN/NOTIFY can tell server B about a
    commit through server A — and it keeps doing so after its connection is killed."""
    ws = workspace
    url = db.url.render_as_string(hide_password=False)
    a = LiveServer(url, tmp_path / "a", heartbeat_s=1.0, head_poll_s=600.0)
    b = LiveServer(url, tmp_path / "b", heartbeat_s=1.0, head_poll_s=600.0)
    a.start()
    b.start()
    try:
        with Api(a.url).login(ws.emails["alice"]) as alice, \
                SseStream(b.url, alice.token) as on_b:
            on_b.wait_open()
            alice.inbound(ws, "a_messenger", "psid-1", "hello")
            poke = _head(db)
            _t, got = on_b.wait_poke_for(poke)
            assert got == poke

            # Kill the listening connections; the listener reconnects on its own.
            def listeners() -> set[int]:
                with db.read() as s:
                    return set(s.scalars(text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND query LIKE 'LISTEN relaydesk_changes%'")))

            assert wait_until(lambda: len(listeners()) == 2)
            killed = listeners()
            with db.read() as s:
                for pid in killed:
                    s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            assert wait_until(lambda: len(listeners() - killed) == 2, timeout=5)
            alice.inbound(ws, "a_messenger", "psid-1", "hello again")
            head = _head(db)
            _t, poke2 = on_b.wait_poke_for(head)
            assert poke2 == head
            assert head > poke
    finally:
        a.stop()
        b.stop()


# --------------------------------------------------------------------------- load


def _push_retrying(api: Api, client_id: str, mutations: list[dict[str, Any]],
                   busy: list[str]) -> p.PushResponse:
    """Push as a desk does: a 503 (database busy) is retried with the same batch, and noted."""
    for _attempt in range(20):
        r = api.post("/sync/push", json={"client_id": client_id, "mutations": mutations})
        if r.status_code != 503:
            assert r.status_code == 200, r.text
            return p.PushResponse.model_validate(r.json())
        busy.append(r.text)
        time.sleep(0.05)
    raise AssertionError("push kept failing with 503")


def test_concurrent_pushes_to_two_processes_converge_without_gaps(
    postgres_url: str, db: Database, workspace: Workspace, server_process_factory: Any
) -> None:
    ws = workspace
    servers = start_processes(server_process_factory, postgres_url, 2)
    urls = [s.url for s in servers]
    with Api(urls[0]) as provider:
        convs = {team: [provider.inbound(ws, f"{team.lower()}_sms", f"+1{team}{i:04d}",
                                         f"help {i}").conversation_id for i in range(3)]
                 for team in ("A", "B")}
    who = ["alice", "tina", "bob", "sam", "alice", "tina", "bob", "sam", "alice", "bob"]
    start = threading.Barrier(len(who))
    busy: list[str] = []

    def client(k: int, agent: str) -> tuple[Mirror, Api, list[p.PushResponse]]:
        rng = random.Random(k)
        # One sign-in, used on both processes: tokens live in the shared database.
        apis = [Api(urls[0]).login(ws.emails[agent]), Api(urls[1])]
        apis[1].token = apis[0].token
        mirror = Mirror().sync(apis[k % 2])
        visible = {"alice": convs["A"], "tina": convs["A"], "bob": convs["B"],
                   "sam": convs["A"] + convs["B"]}[agent]
        client_id = f"load-{k}-{uuid.uuid4().hex[:8]}"
        responses = []
        next_id = 1
        start.wait(30)
        for batch in range(3):
            muts = []
            for _ in range(4):
                conv = rng.choice(visible)
                kind = rng.choice(["add_tag", "remove_tag", "set_priority", "add_note",
                                   "send_message", "mark_read", "set_status"])
                args: dict[str, Any] = {"conversation_id": conv}
                if kind in ("add_tag", "remove_tag"):
                    args["tag"] = f"shared-{rng.randrange(3)}"
                elif kind == "set_priority":
                    args["priority"] = rng.choice(["low", "normal", "high", "urgent"])
                elif kind in ("add_note", "send_message"):
                    args["message_id"] = str(uuid.uuid4())
                    args["body"] = f"{agent} says {k}/{batch}"
                elif kind == "set_status":
                    args["status"] = rng.choice(["open", "pending", "resolved"])
                muts.append({"id": next_id, "name": kind, "args": args})
                next_id += 1
            if agent == "sam" and batch > 0:  # move a team A conversation to B, then back
                muts.append({"id": next_id, "name": "assign",
                             "args": {"conversation_id": convs["A"][k % 3],
                                      "team_id": ws.teams["B" if batch == 1 else "A"]}})
                next_id += 1
            api = apis[(k + batch) % 2]
            res = _push_retrying(api, client_id, muts, busy)
            assert res.last_mutation_id == next_id - 1 and not res.stopped_at_gap
            responses.append(res)
            mirror.sync(apis[(k + batch + 1) % 2])  # pull from the other process meanwhile
        for extra in apis[1:]:
            extra.close()
        return mirror, apis[0], responses

    threads = [_Thread(client, k, agent) for k, agent in enumerate(who)]
    for t in threads:
        t.start()
    results = [t.result(120) for t in threads]

    # Concurrent batches must queue, not deadlock: a 503 here stalls an agent's outbox.
    assert busy == [], f"{len(busy)} pushes answered 503, e.g. {busy[0]}"
    statuses = [r.status for _m, _a, rs in results for res in rs for r in res.results]
    assert statuses.count(p.MutationStatus.APPLIED) > len(statuses) // 2
    for mirror, api, responses in results:
        for res in responses:
            for r in res.results:
                assert r.status is not p.MutationStatus.REJECTED or r.error is not None
        try:
            _converged(api, mirror, db)
        finally:
            api.close()

    with db.read() as s:
        seqs = list(s.scalars(text("SELECT seq FROM changes ORDER BY seq")))
    assert seqs == list(range(1, _head(db) + 1))
