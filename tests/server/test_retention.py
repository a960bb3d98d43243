"""Change retention: pruning the feed, 410 resync_required, and recovery by bootstrap.

Runs on SQLite and, in CI's second leg, on PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from protocol import wire as p
from server import maintenance
from server.cli import build_parser
from server.db import Database
from tests.server.harness import Api, LiveServer, Mirror, Workspace, expected_state, wait_until
from tests.server.test_events import SseStream


def _pull_status(api: Api, cursor: int) -> tuple[int, dict[str, Any]]:
    r = api.get("/sync/pull", params={"cursor": cursor})
    return r.status_code, r.json()


def _converged(api: Api, mirror: Mirror, db: Database) -> None:
    assert api.agent is not None
    mirror.sync(api)
    assert mirror.rows == expected_state(db, api.agent["id"])


def _fresh_mirror(api: Api) -> Mirror:
    return Mirror().sync(api)


def test_pruned_cursor_gets_410_and_a_fresh_bootstrap_recovers(
    db: Database, workspace: Workspace, live_server: LiveServer
) -> None:
    ws = workspace
    with Api(live_server.url).login(ws.emails["alice"]) as alice, \
            Api(live_server.url).login(ws.emails["tina"]) as tina:
        stale = _fresh_mirror(tina)  # Tina's desk goes offline here
        conv = alice.inbound(ws, "a_email", "ann@example.com", "hello", subject="Order 7")
        alice.push("alice-desk-01", [
            {"id": 1, "name": "add_tag",
             "args": {"conversation_id": conv.conversation_id, "tag": "billing"}}])
        current = _fresh_mirror(alice)  # Alice's desk is up to date
        assert stale.cursor < current.cursor

        through = maintenance.prune(db, retention_ms=0)
        assert through == current.cursor

        status, body = _pull_status(tina, stale.cursor)
        assert status == 410
        assert body["error"] == "resync_required"
        p.ErrorBody.model_validate(body)
        assert _pull_status(tina, 0)[0] == 410

        # A cursor exactly at the head is not affected, and goes on receiving changes.
        page = alice.pull(current.cursor)
        assert (page.changes, page.cursor, page.has_more) == ([], current.cursor, False)
        alice.inbound(ws, "a_email", "ann@example.com", "are you there?")
        _converged(alice, current, db)

        # Tina starts again from a bootstrap and ends where the tables say.
        recovered = _fresh_mirror(tina)
        assert recovered.cursor == current.cursor
        _converged(tina, recovered, db)
        assert conv.conversation_id in recovered.of("conversation")

        # Pruning again moves the line up to the new head; up-to-date desks carry on.
        assert maintenance.prune(db, retention_ms=0) == current.cursor > through
        assert _pull_status(alice, current.cursor)[0] == 200
        assert _pull_status(tina, through)[0] == 410


def test_tombstones_reach_a_desk_that_pulls_before_pruning(
    db: Database, workspace: Workspace, live_server: LiveServer
) -> None:
    ws = workspace
    with Api(live_server.url).login(ws.emails["alice"]) as alice, \
            Api(live_server.url).login(ws.emails["sam"]) as sam:
        conv = alice.inbound(ws, "a_sms", "+15551234", "refund please").conversation_id
        mirror = _fresh_mirror(alice)
        assert conv in mirror.of("conversation")
        contact = mirror.of("conversation")[conv]["contact_id"]
        assert contact in mirror.of("contact")

        # The supervisor moves it to team B: Alice may no longer see it.
        res = sam.push("sam-desk-0001", [
            {"id": 1, "name": "assign",
             "args": {"conversation_id": conv, "team_id": ws.teams["B"]}}])
        assert res.results[0].status is p.MutationStatus.APPLIED
        changes, cursor = alice.pull_all(mirror.cursor)
        deletes = {(c.entity, c.id) for c in changes if c.op is p.Op.DELETE}
        assert (p.Entity.CONVERSATION, conv) in deletes
        assert (p.Entity.CONTACT, contact) in deletes
        mirror.apply_changes(changes)
        mirror.cursor = cursor
        assert conv not in mirror.of("conversation")
        assert not [m for m in mirror.of("message").values() if m["conversation_id"] == conv]

        # The tombstones are gone from the feed now; Alice already has them.
        maintenance.prune(db, retention_ms=0)
        _converged(alice, mirror, db)
        assert alice.pull(mirror.cursor).changes == []


def test_resuming_events_across_a_prune_pokes_so_the_desk_resyncs(
    db: Database, workspace: Workspace, live_server: LiveServer
) -> None:
    """A desk that was away while its changes were pruned still gets a poke on resume (and
    its pull then says 410), instead of a quiet stream and a stale inbox."""
    ws = workspace
    with Api(live_server.url).login(ws.emails["alice"]) as alice:
        mirror = _fresh_mirror(alice)
        alice.inbound(ws, "a_messenger", "psid-9", "while you were away")
        through = maintenance.prune(db, retention_ms=0)
        with SseStream(live_server.url, alice.token, last_event_id=mirror.cursor) as stream:
            _t, poke = stream.wait_poke()
            assert poke == through
        assert _pull_status(alice, mirror.cursor)[0] == 410
        # Up to date after the resync: resuming from there is quiet again.
        mirror = _fresh_mirror(alice)
        with SseStream(live_server.url, alice.token, last_event_id=mirror.cursor) as stream:
            stream.wait_heartbeat(since=0.0)
            assert stream.pokes() == []


def test_prune_command_line(db: Database, workspace: Workspace, live_server: LiveServer) -> None:
    ws = workspace
    url = db.url.render_as_string(hide_password=False)
    with Api(live_server.url).login(ws.emails["bob"]) as bob:
        _items, before = bob.bootstrap()
        bob.inbound(ws, "b_line", "U-bob-1", "こんにちは")

        # A long retention keeps today's changes.
        keep = subprocess.run(
            [sys.executable, "-m", "server.cli", "prune", "--change-retention", "1d",
             "--database-url", url],
            capture_output=True, text=True, timeout=60)
        assert keep.returncode == 0, keep.stderr
        assert _pull_status(bob, before)[0] == 200

        done = subprocess.run(
            [sys.executable, "-m", "server.cli", "prune", "--change-retention", "0",
             "--database-url", url],
            capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        head = bob.http.get("/healthz").json()["head_seq"]
        assert done.stdout.strip() == f"Feed changes pruned through seq {head}."
        assert _pull_status(bob, before) == (410, {
            "error": "resync_required",
            "message": "This cursor can no longer be continued; bootstrap again."})
        assert _pull_status(bob, head)[0] == 200


def test_prune_rejects_a_duration_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["prune", "--change-retention", "soon"])
    assert exit_.value.code == 2
    assert "not a duration: 'soon' (e.g. 30d, 12h, 90s)" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "seconds"), [
    ("2s", 2), ("90", 90), ("15m", 900), ("12h", 43200), ("30d", 2592000), ("1.5h", 5400),
])
def test_serve_parses_retention_durations(text: str, seconds: int) -> None:
    args = build_parser().parse_args(["serve", "--change-retention", text,
                                      "--maintenance-interval", text])
    assert (args.change_retention, args.maintenance_interval) == (seconds, seconds)


def test_serve_prunes_on_its_own(database_url: str, workspace: Workspace,
                                 server_process_factory: Any) -> None:
    ws = workspace
    server = server_process_factory(database_url, "--maintenance-interval", "1s",
                                    "--change-retention", "2s")
    with Api(server.url).login(ws.emails["alice"]) as alice:
        _items, cursor = alice.bootstrap()
        alice.inbound(ws, "a_whatsapp", "+4477000111", "still there?")
        # Younger than the retention: still served.
        status, _body = _pull_status(alice, cursor)
        assert status == 200
        # Within a few maintenance rounds the change is older than 2 s and gets pruned.
        assert wait_until(lambda: _pull_status(alice, cursor)[0] == 410, timeout=8, interval=0.2)
        mirror = _fresh_mirror(alice)
        assert mirror.cursor > cursor
        assert alice.pull(mirror.cursor).changes == []
