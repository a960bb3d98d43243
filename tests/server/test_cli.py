"""``relaydesk-server`` as an admin runs it: real subprocesses on a real database."""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from protocol import wire as p
from server import models as m
from server.cli import build_parser
from server.db import Database, sqlite_url_for
from tests.server.harness import PREFIX, Api, LiveServer, ServerProcess, Workspace

ROOT = Path(__file__).resolve().parents[2]

COMMANDS: list[tuple[str, ...]] = [
    (), ("serve",), ("migrate",), ("seed",), ("seed", "demo"), ("seed", "synthetic"),
    ("team",), ("team", "add"), ("agent",), ("agent", "add"), ("agent", "set-teams"),
    ("channel",), ("channel", "add"), ("prune",),
    ("articles",), ("articles", "import"), ("articles", "export"),
]


def cli(*args: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RELAYDESK_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], input=stdin, capture_output=True,
        text=True, timeout=timeout, env={**env, "PYTHONUNBUFFERED": "1"}, cwd=ROOT,
    )


def assert_clean_error(res: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """Exit ``code`` with a short message on stderr that says what is wrong; no traceback."""
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    err = res.stderr.strip()
    assert "Traceback" not in err
    assert err.startswith(("relaydesk-server: ", "usage: relaydesk-server")), err
    for needle in needles:
        assert needle in err, err
    return err


def counts(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        with db.read() as s:
            return {model.__tablename__: int(s.scalar(select(func.count()).select_from(model)) or 0)
                    for model in (m.Team, m.Agent, m.Channel, m.Contact, m.Conversation,
                                  m.Message, m.CannedReply, m.Tag)}
    finally:
        db.dispose()


# --------------------------------------------------------------------------- help


def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
                 ) -> list[tuple[str, ...]]:
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _subcommands(sub, (*prefix, name))
    return found


def test_every_command_is_listed_here() -> None:
    assert sorted(_subcommands(build_parser())) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_help(command: tuple[str, ...]) -> None:
    res = cli(*command, "--help")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"usage: relaydesk-server {' '.join(command)}".rstrip())
    assert res.stderr == ""


def test_no_command_is_a_usage_error() -> None:
    assert_clean_error(cli(), 2, "required")


# --------------------------------------------------------------------------- teams, agents


def test_team_add_and_duplicate(tmp_path: Path) -> None:
    """With only --data-dir, the database is a SQLite file in that directory."""
    opts = ["--data-dir", str(tmp_path / "data")]
    res = cli("team", "add", *opts, "--name", "Support")
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(r"Team 'Support' created: [0-9a-f-]{36}\n", res.stdout)
    assert_clean_error(cli("team", "add", *opts, "--name", " Support "), 2, "already exists")
    assert (tmp_path / "data" / "relaydesk-server.sqlite3").is_file()
    assert counts(sqlite_url_for(tmp_path / "data"))["teams"] == 1


def test_agent_and_channel_from_the_command_line_work_over_http(
    database_url: str, server_process_factory: Callable[..., ServerProcess]
) -> None:
    db = ["--database-url", database_url]
    team_id = cli("team", "add", *db, "--name", "Support").stdout.split()[-1]
    res = cli("agent", "add", *db, "--email", "Kim.Ito@Example.com", "--name", "Kim Ito",
              "--role", "trainee", "--team", "Support", "--password-stdin",
              stdin="long enough pass\n")
    assert res.returncode == 0, res.stderr
    assert "kim.ito@example.com" in res.stdout
    assert "long enough pass" not in res.stdout + res.stderr
    res = cli("channel", "add", *db, "--type", "sms", "--name", "SMS line", "--team", team_id)
    assert res.returncode == 0, res.stderr
    channel_id = re.search(r"id:\s+([0-9a-f-]{36})", res.stdout).group(1)  # type: ignore[union-attr]
    secret = re.search(r"secret:\s+(\S+)", res.stdout).group(1)  # type: ignore[union-attr]

    server = server_process_factory(database_url)
    with Api(server.url) as kim:
        kim.login("KIM.ITO@example.com", "long enough pass")
        assert kim.agent is not None
        assert kim.agent["role"] == "trainee"
        assert kim.agent["team_ids"] == [team_id]
        r = kim.http.post(f"{PREFIX}/channels/{channel_id}/inbound",
                          headers={"X-Relaydesk-Channel-Secret": secret},
                          json={"handle": "+15550007777", "text": "hello",
                                "provider_message_id": "first"})
        assert r.status_code == 200, r.text
        conversation_id = r.json()["conversation_id"]
        items, _cursor = kim.bootstrap()
        convs = [i.data for i in items if i.entity is p.Entity.CONVERSATION]
        assert [(c["id"], c["channel_id"]) for c in convs] == [(conversation_id, channel_id)]
        r = kim.http.post(f"{PREFIX}/auth/login",
                          json={"email": "kim.ito@example.com", "password": "long enough"})
        assert r.status_code == 401


def test_agent_and_channel_add_mistakes(workspace: Workspace, database_url: str) -> None:
    db = ["--database-url", database_url]
    agent = ["agent", "add", *db, "--name", "Kim", "--password-stdin"]
    kim = [*agent, "--email", "kim@example.com"]
    channel = ["channel", "add", *db, "--name", "S"]
    ok_password = "long enough pass\n"
    cases: list[tuple[list[str], str, tuple[str, ...]]] = [
        ([*kim, "--role", "agent", "--team", "Sales"], ok_password,
         ("'Sales'", "Team Alpha", "Team Beta", "team add")),  # says how to fix it
        ([*kim, "--role", "agent"], "short\n", ("at least 8",)),
        ([*kim, "--role", "agent"], "", ("standard input",)),
        ([*kim, "--role", "boss"], ok_password, ("invalid choice", "supervisor")),
        ([*agent, "--email", "Alice@Test.Relaydesk", "--role", "agent"], ok_password,
         ("already exists",)),
        ([*channel, "--type", "sms", "--team", "Nope"], "", ("'Nope'", "Team Alpha")),
        ([*channel, "--type", "fax", "--team", "Team Alpha"], "", ("invalid choice",)),
    ]
    # Independent failures: run side by side to keep the suite quick.
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda case: cli(*case[0], stdin=case[1]), cases))
    for (_args, _stdin, needles), res in zip(cases, runs, strict=True):
        assert_clean_error(res, 2, *needles)
    found = counts(database_url)
    assert (found["agents"], found["channels"]) == (len(workspace.agents),
                                                    len(workspace.channels))


def test_set_teams_moves_an_agent_and_old_cursors_resync(
    live_server: LiveServer, workspace: Workspace, database_url: str
) -> None:
    with Api(live_server.url) as alice:
        alice.login(workspace.emails["alice"])
        _items, cursor = alice.bootstrap()
        assert alice.pull(cursor).changes == []
        res = cli("agent", "set-teams", "--database-url", database_url,
                  "--email", "ALICE@test.relaydesk", "--team", "Team Beta")
        assert res.returncode == 0, res.stderr
        r = alice.get("/sync/pull", params={"cursor": cursor})
        assert r.status_code == 410, r.text
        assert r.json()["error"] == "resync_required"
        items, fresh = alice.bootstrap()
        channels = {i.id for i in items if i.entity is p.Entity.CHANNEL}
        assert channels == {cid for key, cid in workspace.channels.items() if key[0] == "b"}
        me = next(i.data for i in items
                  if i.entity is p.Entity.AGENT and i.id == workspace.agents["alice"])
        assert me["team_ids"] == [workspace.teams["B"]]
        assert alice.pull(fresh).cursor >= fresh
    assert_clean_error(cli("agent", "set-teams", "--database-url", database_url,
                           "--email", "nobody@test.relaydesk", "--team", "Team Beta"),
                       2, "nobody@test.relaydesk")


# --------------------------------------------------------------------------- seeding


def test_seed_demo_is_idempotent_and_prints_working_credentials(
    database_url: str, server_process_factory: Callable[..., ServerProcess]
) -> None:
    first = cli("seed", "demo", "--database-url", database_url)
    assert first.returncode == 0, first.stderr
    assert "Demo workspace created." in first.stdout
    after_first = counts(database_url)
    assert after_first["conversations"] >= 200
    creds = re.findall(r"^\s+(agent|trainee|supervisor)\s+(\S+@\S+)\s+password: (\S+)$",
                       first.stdout, re.MULTILINE)
    assert {role for role, _e, _p in creds} == {"agent", "trainee", "supervisor"}

    second = cli("seed", "demo", "--database-url", database_url)
    assert second.returncode == 0, second.stderr
    assert "already present" in second.stdout
    assert counts(database_url) == after_first
    # The credentials are still printed (secrets of existing channels are not).
    assert re.findall(r"^\s+(agent|trainee|supervisor)\s+(\S+@\S+)\s+password: (\S+)$",
                      second.stdout, re.MULTILINE) == creds
    assert "rdch_" not in second.stdout

    server = server_process_factory(database_url)
    for role, email, password in creds:
        if role in ("trainee", "supervisor"):
            with Api(server.url) as api:
                api.login(email, password)
                assert api.agent is not None and api.agent["role"] == role


def test_seed_synthetic(
    database_url: str, server_process_factory: Callable[..., ServerProcess]
) -> None:
    res = cli("seed", "synthetic", "--database-url", database_url, "--conversations", "50",
              "--messages-per-conversation", "4")
    assert res.returncode == 0, res.stderr
    assert "Seeded 50 conversations and 200 messages" in res.stdout
    found = counts(database_url)
    assert (found["conversations"], found["messages"]) == (50, 200)
    login = re.search(r"Sign in as (\S+) \(supervisor\).*password: (\S+)", res.stdout)
    assert login is not None, res.stdout
    server = server_process_factory(database_url)
    with Api(server.url) as sup:
        sup.login(login.group(1), login.group(2))
        r = sup.get("/sync/bootstrap")
        assert r.status_code == 200
        totals = p.BootstrapResponse.model_validate(r.json()).totals
        assert totals is not None
        assert (totals["conversation"], totals["message"]) == (50, 200)


# --------------------------------------------------------------------------- serve


def test_serve_on_a_busy_port(tmp_path: Path, database_url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = cli("serve", "--database-url", database_url, "--port", str(port), timeout=60)
    err = assert_clean_error(res, 1, f"127.0.0.1:{port}")
    assert len(err.splitlines()) == 1
    assert "listening on" not in res.stdout


def test_serve_with_unreachable_postgres(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    res = cli("serve", "--data-dir", str(tmp_path), "--port", "0",
              "--database-url", f"postgresql+psycopg://relaydesk@127.0.0.1:{port}/relaydesk",
              timeout=60)
    err = assert_clean_error(res, 1, "cannot use the database")
    assert len(err.splitlines()) == 1, err
    assert "listening on" not in res.stdout


@pytest.mark.parametrize(("url", "code", "needle"), [
    ("not a url", 2, "not a database URL"),
])
def test_serve_with_a_bad_database_url(tmp_path: Path, url: str, code: int, needle: str) -> None:
    res = cli("serve", "--data-dir", str(tmp_path), "--port", "0", "--database-url", url)
    err = assert_clean_error(res, code, needle)
    assert len(err.splitlines()) == 1, err

