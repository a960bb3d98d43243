"""`relaydesk-sync` run the way an admin or a script runs it: as a process, against the real
server over loopback, with a keyring shared through a file.

Subprocesses are expensive here (about 1.5 s of imports each), so independent calls run
concurrently and pure setup (signing a workspace in) calls the CLI's ``main`` in-process.
"""

from __future__ import annotations

import contextlib
import io
import json
import queue
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from protocol.entities import BOOTSTRAP_ORDER
from sync import cli
from tests.server.harness import PASSWORD, Api, expected_state, wait_until
from tests.sync.conftest import cli_command, cli_env

ALICE = "alice@test.relaydesk"
COMMANDS = ("login", "logout", "sync", "status", "outbox", "send", "note", "set-status",
            "reset-cache", "verify")


# --------------------------------------------------------------------------- helpers


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    def __init__(self, proc: subprocess.Popen[str], stdin: str | None, timeout: float) -> None:
        self.args = proc.args
        self.stdout, self.stderr = proc.communicate(stdin, timeout=timeout)
        self.code = proc.returncode

    def json(self) -> Any:
        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return f"<{self.args} -> {self.code}\nstdout: {self.stdout}\nstderr: {self.stderr}>"


def spawn(keyring_file: Path, *args: str, stdin: bool = True) -> subprocess.Popen[str]:
    return subprocess.Popen(cli_command(*args), env=cli_env(keyring_file), text=True,
                            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run(keyring_file: Path, *args: str, stdin: str = "", timeout: float = 60) -> Run:
    return Run(spawn(keyring_file, *args), stdin, timeout)


def run_many(keyring_file: Path, *calls: tuple[tuple[str, ...], str]) -> list[Run]:
    """Independent commands, concurrently (the machine has two cores)."""
    procs = [(spawn(keyring_file, *args), stdin) for args, stdin in calls]
    return [Run(proc, stdin, 60) for proc, stdin in procs]


def sentence_error(r: Run) -> None:
    """A failure explains itself in one line on stderr, without a traceback."""
    assert "Traceback" not in r.stderr, r
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("relaydesk-sync: "), r
    assert len(lines[-1]) > len("relaydesk-sync: ") + 10, r


def login_in_process(monkeypatch: pytest.MonkeyPatch, data_dir: Path, url: str,
                     email: str = ALICE) -> None:
    """Setup only: the real `login` code path, without paying for a process."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["--data-dir", str(data_dir), "login", "--server", url,
                     "--email", email]) == 0


def keyring_entries(path: Path) -> dict[str, str]:
    return json.loads(path.read_text()) if path.exists() else {}


def mirror_db(data_dir: Path) -> sqlite3.Connection:
    from sync import fulltext

    conn = sqlite3.connect(data_dir / "mirror.sqlite3", timeout=30)
    fulltext.register(conn)  # the search index's triggers call its functions
    return conn


def mirror_counts(data_dir: Path) -> dict[str, int]:
    from sync import entities

    conn = mirror_db(data_dir)
    try:
        return {e.value: conn.execute(f"SELECT count(*) FROM {entities.SPECS[e].table.name}"
                                      ).fetchone()[0] for e in BOOTSTRAP_ORDER}
    finally:
        conn.close()


def outbox_rows(data_dir: Path) -> list[tuple[int, str, str]]:
    conn = sqlite3.connect(data_dir / "outbox.sqlite3", timeout=30)
    try:
        return conn.execute("SELECT id, name, state FROM intents ORDER BY id").fetchall()
    finally:
        conn.close()


def expected_counts(server_db, agent_id: str) -> dict[str, int]:
    counts = {e.value: 0 for e in BOOTSTRAP_ORDER}
    counts.update(Counter(entity for entity, _ in expected_state(server_db, agent_id)))
    return counts


def seed(server, ws) -> dict[str, str]:
    """A few conversations alice can see (team A) and one she cannot (team B)."""
    api = Api(server.url)
    convs = {
        "sms": api.inbound(ws, "a_sms", "+15550100001", "My order is late").conversation_id,
        "email": api.inbound(ws, "a_email", "dora@example.com", "Invoice?").conversation_id,
        "other": api.inbound(ws, "b_sms", "+15550100002", "Team B only").conversation_id,
    }
    api.inbound(ws, "a_sms", "+15550100001", "Any news?")
    api.close()
    return convs


class TcpProxy:
    """A real TCP proxy in front of the server that can be unplugged and plugged back in on
    the same port (connections are refused while it is down)."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        s.settimeout(0.05)
        self.port = s.getsockname()[1]
        self._listener, self._stop = s, threading.Event()
        threading.Thread(target=self._accept, args=(s, self._stop), daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._socks:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._socks.clear()

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            with self._lock:
                self._socks.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy(server):
    px = TcpProxy(server.port)
    px.start()
    yield px
    px.stop()


# --------------------------------------------------------------------------- tests


def test_help_and_usage_errors(file_keyring, tmp_path, capsys):
    top = run(file_keyring, "--help")
    assert top.code == 0, top
    for command in COMMANDS:
        assert command in top.stdout
    assert "Exit codes" in top.stdout

    # The rest is argparse and argument checks: in-process (the entry point is proven above).
    for command in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            cli.main([command, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: relaydesk-sync {command}"), out

    data = str(tmp_path / "d")
    assert cli.main(["--data-dir", data, "set-status", "conv-1", "snoozed"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("relaydesk-sync: ") and "--until" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["--data-dir", data, "set-status", "conv-1", "closed"])
    assert exc.value.code == 2
    assert "invalid choice: 'closed'" in capsys.readouterr().err
    assert not (tmp_path / "d" / "outbox.sqlite3").exists()  # nothing was queued


def test_login_outcomes(server, ws, file_keyring, tmp_path):
    unreachable = f"http://127.0.0.1:{closed_port()}"
    ok, wrong, down, empty = run_many(
        file_keyring,
        (("--data-dir", str(tmp_path / "ok"), "login", "--server", server.url,
          "--email", ALICE), PASSWORD + "\n"),
        (("--data-dir", str(tmp_path / "wrong"), "login", "--server", server.url,
          "--email", "bob@test.relaydesk"), "not-the-password\n"),
        (("--data-dir", str(tmp_path / "down"), "login", "--server", unreachable,
          "--email", "tina@test.relaydesk"), PASSWORD + "\n"),
        (("--data-dir", str(tmp_path / "empty"), "login", "--server", server.url,
          "--email", "sam@test.relaydesk"), ""),
    )
    assert ok.code == 0, ok
    assert f"Signed in to {server.url} as {ALICE}" in ok.stdout
    config = json.loads((tmp_path / "ok" / "workspace.json").read_text())
    assert config["server_url"] == server.url and config["email"] == ALICE
    assert config["agent_id"] == ws.agents["alice"]

    assert wrong.code == 3, wrong
    sentence_error(wrong)
    assert down.code == 1, down
    sentence_error(down)
    assert unreachable in down.stderr
    assert empty.code == 2, empty
    sentence_error(empty)
    assert "password" in empty.stderr

    # Only the successful sign-in left anything behind.
    assert list(keyring_entries(file_keyring)) == [f"relaydesk\0{server.url}|{ALICE}"]
    for failed in ("wrong", "down", "empty"):
        assert not (tmp_path / failed / "workspace.json").exists()


def test_sync_status_and_verify(server, ws, server_db, file_keyring, tmp_path, monkeypatch):
    seed(server, ws)
    data = tmp_path / "desk"
    login_in_process(monkeypatch, data, server.url)
    want = expected_counts(server_db, ws.agents["alice"])

    assert cli.main(["--data-dir", str(data), "sync"]) == 0  # a process syncs elsewhere

    status = run(file_keyring, "--data-dir", str(data), "status", "--json")
    assert status.code == 0, status
    info = status.json()
    assert info["counts"] == want
    assert info["signed_in"] is True and info["bootstrapped"] is True
    assert info["credentials"] == "keyring"
    assert info["outbox"] == {"pending": 0, "rejected": 0}

    verify = run(file_keyring, "--data-dir", str(data), "verify", "--json")
    assert verify.code == 0, verify
    report = verify.json()
    assert report["ok"] is True
    assert {k: c["local"] for k, c in report["counts"].items()} == want
    assert all(c["local"] == c["server"] for c in report["counts"].values())

    # Two damaged copies of the same workspace: a missing row, and a corrupt file.
    broken = tmp_path / "broken"
    shutil.copytree(data, broken)
    conn = mirror_db(data)
    with conn:
        conn.execute("DELETE FROM messages WHERE id = (SELECT id FROM messages LIMIT 1)")
    conn.close()
    size = (broken / "mirror.sqlite3").stat().st_size
    assert size > 4 * 4096
    with open(broken / "mirror.sqlite3", "r+b") as f:
        f.seek(size // 2)
        f.write(b"\xa5" * 8192)
    missing, corrupt = run_many(
        file_keyring,
        (("--data-dir", str(data), "verify"), ""),
        (("--data-dir", str(broken), "--json", "verify"), ""),
    )
    assert missing.code == 4, missing
    mismatched = [ln for ln in missing.stdout.splitlines() if "MISMATCH" in ln]
    assert len(mismatched) == 1 and mismatched[0].startswith("message"), missing
    assert corrupt.code == 4, corrupt
    problem = corrupt.json()
    assert problem["ok"] is False
    assert any(p.startswith("mirror.sqlite3") for p in problem["problems"]), problem


def test_queued_offline_then_delivered_once(server, ws, server_db, file_keyring, proxy,
                                            tmp_path, monkeypatch):
    convs = seed(server, ws)
    conv = convs["sms"]
    data = tmp_path / "desk"
    login_in_process(monkeypatch, data, proxy.url)
    assert cli.main(["--data-dir", str(data), "sync"]) == 0
    assert mirror_counts(data)["conversation"] == 2

    proxy.stop()  # the server cannot be reached from here on
    base = ("--data-dir", str(data))
    send = run(file_keyring, *base, "send", conv, "Shipped today, sorry!")
    note = run(file_keyring, *base, "note", conv, "Customer asked twice")
    status = run(file_keyring, *base, "--json", "set-status", conv, "pending")
    for r in (send, note):
        assert r.code == 0, r
        assert "queued" in r.stdout, r
        assert "Traceback" not in r.stderr, r
    assert status.code == 0, status
    assert status.json()["state"] == "pending" and status.json()["synced"] is False
    assert "queued" in status.json()["message"]
    assert [row[1:] for row in outbox_rows(data)] == [
        ("send_message", "pending"), ("add_note", "pending"), ("set_status", "pending")]

    # reset-cache offline: the mirror is rebuilt empty, the queued work is untouched.
    reset = run(file_keyring, *base, "reset-cache")
    assert reset.code == 1, reset
    assert "queued" in reset.stdout
    assert set(mirror_counts(data).values()) == {0}
    assert len(outbox_rows(data)) == 3

    proxy.start()  # same port: the server is back
    synced = run(file_keyring, *base, "--json", "sync")  # the global --json
    assert synced.code == 0, synced
    body = synced.json()
    assert body["state"] == "up_to_date" and body["pending"] == 0 and body["last_sync_at"]

    api = Api(server.url)
    sent = [o for o in api.outbound(ws, "a_sms") if o.body == "Shipped today, sorry!"]
    api.close()
    assert len(sent) == 1
    state = expected_state(server_db, ws.agents["alice"])
    bodies = Counter(v["body"] for (entity, _), v in state.items() if entity == "message")
    assert bodies["Shipped today, sorry!"] == 1 and bodies["Customer asked twice"] == 1
    assert state[("conversation", conv)]["status"] == "pending"
    assert outbox_rows(data) == []
    assert mirror_counts(data) == expected_counts(server_db, ws.agents["alice"])


def test_rejected_intent_retry_and_discard(server, ws, file_keyring, tmp_path, monkeypatch):
    api = Api(server.url)
    api.inbound(ws, "a_sms", "+15550100009", "Hi")
    conv = api.inbound(ws, "a_sms", "+15550100009", "STOP").conversation_id
    data = tmp_path / "desk"
    login_in_process(monkeypatch, data, server.url)
    base = ("--data-dir", str(data))

    first = run(file_keyring, *base, "send", conv, "Are you still there?", "--json")
    assert first.code == 0, first  # a rejection is reported, the command itself worked
    sent = first.json()
    assert sent["state"] == "rejected" and sent["synced"] is True
    assert sent["message"].startswith("rejected by the server: ")
    assert cli.main([*base, "send", conv, "Last reminder"]) == 0  # setup: in-process

    listing = run(file_keyring, *base, "outbox", "--json")
    assert listing.code == 0, listing
    intents = listing.json()
    assert [(i["name"], i["state"], i["args"]["body"]) for i in intents] == [
        ("send_message", "rejected", "Are you still there?"),
        ("send_message", "rejected", "Last reminder")]
    assert all(i["error_code"] and i["error_message"] for i in intents)
    assert intents[0]["error_message"] == sent["error_message"]

    # Give up on one; the customer opts back in; queue the other again and sync.
    discard, retry = run_many(
        file_keyring,
        ((*base, "outbox", "--discard", str(intents[0]["id"])), ""),
        ((*base, "outbox", "--retry", str(intents[1]["id"])), ""),
    )
    assert discard.code == 0 and "Discarded" in discard.stdout, discard
    assert retry.code == 0 and "Queued again" in retry.stdout, retry
    assert outbox_rows(data) == [(intents[1]["id"], "send_message", "pending")]
    api.inbound(ws, "a_sms", "+15550100009", "START")
    synced = run(file_keyring, *base, "sync", "--json")
    assert synced.code == 0, synced
    assert synced.json()["rejected"] == 0 and synced.json()["pending"] == 0
    bodies = [o.body for o in api.outbound(ws, "a_sms")]
    api.close()
    assert bodies.count("Last reminder") == 1
    assert "Are you still there?" not in bodies
    assert outbox_rows(data) == []


def test_secrets_never_leak_and_logout_forgets(server, ws, file_keyring, tmp_path):
    conv = seed(server, ws)["sms"]
    data = tmp_path / "desk"
    base = ("-v", "--data-dir", str(data))
    runs = [run(file_keyring, *base, "login", "--server", server.url, "--email", ALICE,
                stdin=PASSWORD + "\n")]
    runs.append(run(file_keyring, *base, "send", conv, "On its way"))  # syncs as well
    for r in runs:
        assert r.code == 0, r
    assert runs[1].stdout.rstrip().endswith(": sent"), runs[1]
    assert "DEBUG" in runs[1].stderr  # -v really logs debug messages

    entry = keyring_entries(file_keyring)[f"relaydesk\0{server.url}|{ALICE}"]
    tokens = json.loads(entry)
    secrets = [tokens["access_token"], tokens["refresh_token"], PASSWORD]
    assert all(len(s) >= 10 for s in secrets)
    files = [p for p in data.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"mirror.sqlite3", "outbox.sqlite3", "workspace.json"}
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"a secret is in {path.name}"
    for r in runs:
        for secret in secrets:
            assert secret not in r.stdout and secret not in r.stderr, r.args

    logout = run(file_keyring, "--data-dir", str(data), "logout")
    assert logout.code == 0, logout
    assert not any(key.startswith("relaydesk\0") for key in keyring_entries(file_keyring))
    after = run(file_keyring, "--data-dir", str(data), "sync")
    assert after.code == 3, after
    sentence_error(after)
    assert "login" in after.stderr
    # The revoked token no longer works on the server either.
    with Api(server.url) as api:
        api.token = tokens["access_token"]
        assert api.get("/sync/pull", params={"cursor": 0}).status_code == 401


def test_watch_follows_the_server_and_stops_on_sigterm(server, ws, file_keyring, tmp_path,
                                                      monkeypatch):
    seed(server, ws)
    data = tmp_path / "desk"
    login_in_process(monkeypatch, data, server.url)
    proc = spawn(file_keyring, "--data-dir", str(data), "sync", "--watch", stdin=False)
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()

    def saw(predicate) -> bool:
        while True:
            try:
                seen.append(lines.get_nowait())
            except queue.Empty:
                return any(predicate(ln) for ln in seen)

    try:
        assert wait_until(lambda: saw(lambda ln: ln.startswith("up_to_date")
                                      and ln.endswith(", live)")), timeout=30), seen
        api = Api(server.url)
        new = api.inbound(ws, "a_sms", "+15550100001", "Hello again")
        api.close()

        def mirrored() -> bool:
            conn = mirror_db(data)
            try:
                return conn.execute("SELECT 1 FROM messages WHERE id = ?",
                                    (new.message_id,)).fetchone() is not None
            finally:
                conn.close()
        assert wait_until(mirrored, timeout=3.0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    saw(lambda ln: False)
    state_line = r"^(offline|connecting|bootstrapping|syncing|up_to_date|sign_in_required|error)"
    assert seen and all(re.match(state_line + r": .+ \(pending \d+, rejected \d+", ln)
                        for ln in seen), seen
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()


def test_status_counts_what_the_agent_did_and_outbox_shows_a_held_reply(
        server, ws, file_keyring, tmp_path, monkeypatch, capsys):
    from sync import outbox
    from sync.store import Store

    convs = seed(server, ws)
    data = tmp_path / "desk"
    login_in_process(monkeypatch, data, server.url)
    assert cli.main(["--data-dir", str(data), "sync"]) == 0
    # What a desk queues while offline: an automatic mark-read when a conversation is
    # opened, and a reply held for its undo delay (it leaves at ``not_before``).
    held_until = int(time.time() * 1000) + 3_600_000
    store = Store(data)
    store.open()
    try:
        with store.write_outbox() as conn:
            outbox.enqueue(conn, "mark_read", {"conversation_id": convs["sms"]},
                           int(time.time() * 1000))
            outbox.enqueue(conn, "send_message", {"conversation_id": convs["sms"],
                                                  "body": "On its way"},
                           int(time.time() * 1000), not_before=held_until)
    finally:
        store.close()
    capsys.readouterr()

    assert cli.main(["--data-dir", str(data), "status", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["outbox"] == {"pending": 1, "rejected": 0}  # the reply; not the mark-read

    assert cli.main(["--data-dir", str(data), "outbox", "--json"]) == 0
    listed = {i["name"]: i for i in json.loads(capsys.readouterr().out)}
    assert listed["send_message"]["not_before"] == held_until
    assert listed["mark_read"]["not_before"] is None
    assert cli.main(["--data-dir", str(data), "outbox"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "send_message" in ln)
    assert "held until " + cli._fmt_time(held_until) in line
