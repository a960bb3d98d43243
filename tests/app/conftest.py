"""Fixtures for the desk: the real backend with the demo workspace on loopback, a qasync
loop for the test, and signed-in DeskSessions on real SQLite files.

Desk tests are ``async def`` and take the ``qloop`` fixture (directly or through ``desks``):
the whole test runs inside the qasync loop, so ``@asyncSlot`` handlers, the sync engine and
Qt events all run while a test awaits. Blocking calls (stopping the backend) go through
``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import qasync
from PySide6.QtWidgets import QApplication

from app.session import DeskSession
from protocol.wire import API_PREFIX
from server import seed
from server.db import Database
from sync.engine import EngineOptions, EngineState
from sync.workspace import WorkspaceConfig
from tests.server.harness import LiveServer

DEMO_AGENT = ("agent@demo.relaydesk.test", "demo-agent")
DEMO_SUPERVISOR = ("supervisor@demo.relaydesk.test", "demo-supervisor")
DEMO_TRAINEE = ("trainee@demo.relaydesk.test", "demo-trainee")


@dataclass
class DemoTemplate:
    path: Path
    channel_secrets: dict[str, tuple[str, str]]  # channel name -> (id, secret)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> DemoTemplate:
    """The demo workspace seeded once per test session; each test serves a copy."""
    path = tmp_path_factory.mktemp("demo-template") / "server.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    result = seed.seed_demo(db)
    db.dispose()
    return DemoTemplate(path, result.channel_secrets)


class DemoBackend:
    """A copy of the seeded demo database served by the real app on a loopback port."""

    def __init__(self, template: DemoTemplate, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = data_dir / "server.sqlite3"
        shutil.copy(template.path, self.db_path)
        self.data_dir = data_dir
        self.secrets = template.channel_secrets
        self.server: LiveServer | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        assert self.port is not None
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start (or restart after ``stop``) on the same port, so a desk reconnects."""
        srv = LiveServer(f"sqlite:///{self.db_path}", self.data_dir, port=self.port or 0,
                         heartbeat_s=1.0)
        srv.start()
        self.server, self.port = srv, srv.port

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    # -- what the outside world does, through the real HTTP API

    def channel(self, name: str) -> tuple[str, str]:
        return self.secrets[name]

    def inbound(self, channel_name: str, handle: str, text: str) -> dict[str, Any]:
        cid, secret = self.channel(channel_name)
        r = httpx.post(f"{self.url}{API_PREFIX}/channels/{cid}/inbound",
                       headers={"X-Relaydesk-Channel-Secret": secret},
                       json={"handle": handle, "text": text,
                             "provider_message_id": f"test-{time.time_ns()}"}, timeout=10)
        r.raise_for_status()
        return r.json()

    def outbound(self, channel_name: str) -> list[dict[str, Any]]:
        cid, secret = self.channel(channel_name)
        r = httpx.get(f"{self.url}{API_PREFIX}/channels/{cid}/outbound",
                      headers={"X-Relaydesk-Channel-Secret": secret}, timeout=10)
        r.raise_for_status()
        return r.json()["messages"]


@pytest.fixture
def backend(demo_template: DemoTemplate, tmp_path: Path) -> Iterator[DemoBackend]:
    b = DemoBackend(demo_template, tmp_path / "backend")
    b.start()
    yield b
    b.stop()


class Desks:
    """Sessions a test opened; closed in the same loop run as the test (see the hook)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.sessions: list[DeskSession] = []
        self.closers: list[Callable[[], Awaitable[Any]]] = []

    async def session(self, backend: DemoBackend, credentials: tuple[str, str] = DEMO_AGENT,
                      name: str = "desk", sign_in: bool = True, **options: Any) -> DeskSession:
        """A DeskSession on its own data directory (reused by ``name``: a restart), signed in
        and synced to up to date."""
        data_dir = self.tmp_path / name
        config = WorkspaceConfig.load(data_dir) or WorkspaceConfig(backend.url, credentials[0])
        config.save(data_dir)
        session = DeskSession(data_dir, config,
                              options=EngineOptions(**{**TEST_OPTIONS, **options}))
        self.sessions.append(session)
        await session.open()
        if sign_in:
            await session.sign_in(*credentials)
            await until(lambda: session.status.state is EngineState.UP_TO_DATE, 30,
                        what="the first sync")
            await session.refresh_directory()
        return session

    async def close(self, session: DeskSession) -> None:
        if session in self.sessions:
            self.sessions.remove(session)
            await session.close()

    async def aclose(self) -> None:
        for closer in reversed(self.closers):
            await closer()
        for session in list(self.sessions):
            await self.close(session)


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync loop on the session QApplication. Tests that use it are ``async def`` and
    run in ONE ``run_until_complete`` (the hook below): a task that outlives one run and
    is stepped in the next can find no running loop (anyio/httpx then fail)."""
    qapp.setQuitOnLastWindowClosed(False)  # closing a window must not end the test's loop
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()
    # Never let a closed loop be garbage-collected: the collector may run on a worker
    # thread, and deleting the loop's timer QObject there leaves a dangling Qt timer that
    # crashes a later test's event loop.
    _CLOSED_LOOPS.append(loop)


_CLOSED_LOOPS: list[qasync.QEventLoop] = []


@pytest.fixture
def desks(qloop: qasync.QEventLoop, tmp_path: Path) -> Desks:
    return Desks(tmp_path)


TEST_TIMEOUT_S = 120


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not (inspect.iscoroutinefunction(pyfuncitem.obj)
            and "qloop" in pyfuncitem.fixturenames):
        return None
    loop: qasync.QEventLoop = pyfuncitem.funcargs["qloop"]
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    desks: Desks | None = pyfuncitem.funcargs.get("desks")  # type: ignore[assignment]

    async def body() -> None:
        from app import tasks

        try:
            await asyncio.wait_for(pyfuncitem.obj(**kwargs), TEST_TIMEOUT_S)
        finally:
            if desks is not None:
                await desks.aclose()
            await tasks.cancel_all()

    loop.run_until_complete(body())
    return True


async def until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02,
                what: str = "condition") -> Any:
    """Wait on the running loop (Qt keeps painting) until ``predicate()`` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
        await asyncio.sleep(interval)


TEST_OPTIONS = dict(poll_interval_s=2.0, backoff_base_s=0.2, backoff_cap_s=1.0)
