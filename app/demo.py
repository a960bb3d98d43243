"""The demo workspace: the reference backend served in-process on a loopback port.

Layout of the demo's own data directory (never the agent's real workspace)::

    <demo>/server/          the backend's SQLite database (seeded once) and its files
    <demo>/desk-agent/      the desk's mirror and outbox for the demo agent
    <demo>/desk-trainee/    … one per role, so switching roles never mixes mirrors

The server keeps its port between starts when it can (the desk's sign-in in the keyring is
filed under the server URL); when that port is taken it gets another one, and ``open_demo``
rewrites the desk's ``workspace.json`` with the URL of this start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import uvicorn

from app import tasks
from server.app import create_app
from server.config import ServerSettings
from server.db import Database, sqlite_url_for
from server.demo_data import AGENTS
from server.seed import seed_demo
from sync.private_files import private_database, private_dir, write_private_text
from sync.workspace import WorkspaceConfig, default_data_dir

log = logging.getLogger("relaydesk.demo")

ROLES = ("agent", "trainee", "supervisor")
PORT_FILE = "demo-port"
START_TIMEOUT_S = 30.0


def demo_data_dir(base: Path | None = None) -> Path:
    """Where the demo lives: ``base`` if given, else a ``demo`` folder next to the default
    workspace (so ``RELAYDESK_DATA_DIR`` moves it along)."""
    if base is not None:
        return Path(base).expanduser()
    return default_data_dir().parent / "demo"


def desk_data_dir(base: Path, role: str) -> Path:
    """The desk's mirror and outbox for one demo role."""
    _check_role(role)
    return base / f"desk-{role}"


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown demo role {role!r}; use one of {', '.join(ROLES)}")


class DemoServer:
    """The reference backend with the seeded demo, in a daemon thread of this process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.server_dir = self.data_dir / "server"
        self.url = ""
        self.port: int | None = None
        self.seeded = False  # True when this start created the demo data
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @staticmethod
    def credentials(role: str = "agent") -> tuple[str, str]:
        """(email, password) of the demo account for ``role``."""
        _check_role(role)
        agent = next(a for a in AGENTS if a.role == role)
        return agent.email, agent.password

    async def start(self) -> None:
        """Migrate, seed (first time only) and serve; the blocking work runs off the GUI
        thread. Raises ``RuntimeError`` when the server does not come up."""
        if self.running:
            return
        await tasks.run(self._start_blocking)

    async def stop(self) -> None:
        await tasks.run(self._stop_blocking)

    # ------------------------------------------------------------------ blocking parts

    def _start_blocking(self) -> None:
        private_dir(self.data_dir)  # the demo's desks and server live under it
        private_dir(self.server_dir)
        db = Database(sqlite_url_for(self.server_dir))
        # The demo's customers and agents' password hashes: 0600 before SQLite creates it.
        private_database(Path(str(db.url.database)))
        try:
            db.migrate()
            self.seeded = seed_demo(db).created
        except BaseException:
            db.dispose()
            raise
        sock = self._bind(self._last_port())
        self._sock = sock
        self.port = sock.getsockname()[1]
        settings = ServerSettings(database_url=sqlite_url_for(self.server_dir),
                                  data_dir=self.server_dir)
        app = create_app(settings, db)  # the app's shutdown disposes ``db``
        # log_config=None: uvicorn's records go to the desk's own logging setup.
        # proxy_headers=False: uvicorn would take X-Forwarded-For from any loopback client
        # and hand out fresh sign-in budgets (the app trusts only --trusted-proxy peers).
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False,
                                               log_config=None, timeout_graceful_shutdown=1,
                                               proxy_headers=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                  name="relaydesk-demo-server", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                self._stop_blocking()
                raise RuntimeError("The demo server did not start.")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.port}"
        with contextlib.suppress(OSError):
            write_private_text(self.server_dir / PORT_FILE, str(self.port))
        log.info("demo server listening on %s (%s)", self.url,
                 "seeded" if self.seeded else "existing data")

    def _stop_blocking(self) -> None:
        server, thread, sock = self._server, self._thread, self._sock
        self._server = self._thread = self._sock = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(10)
            if thread.is_alive():
                log.warning("the demo server did not stop within 10 s")
        if sock is not None:
            sock.close()

    def _last_port(self) -> int:
        try:
            port = int((self.server_dir / PORT_FILE).read_text(encoding="utf-8").strip())
        except (OSError, ValueError):
            return 0
        return port if 1024 <= port <= 65535 else 0

    @staticmethod
    def _bind(port: int) -> socket.socket:
        # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (as serve does).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        if os.name != "nt":  # rebind past TIME_WAIT; on Windows it would allow port theft
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                if port == 0:
                    raise
                sock.bind(("127.0.0.1", 0))  # the last port is taken: any free one
        except BaseException:
            sock.close()
            raise
        return sock


async def open_demo(role: str = "agent", base_dir: Path | None = None
                    ) -> tuple[DemoServer, WorkspaceConfig, Path, tuple[str, str]]:
    """Start the demo server and point the role's desk directory at it.

    Returns the running server, the saved workspace config (its ``server_url`` is this
    start's URL), the desk's data directory and the demo account's (email, password)."""
    _check_role(role)
    base = demo_data_dir(base_dir)
    server = DemoServer(base)
    await server.start()
    desk_dir = desk_data_dir(base, role)
    email, password = server.credentials(role)
    try:
        if server.seeded:  # a new database: mirrors of an earlier one belong to other ids
            await tasks.run(_forget_desks, base)
        config = await tasks.run(_point_desk_at, desk_dir, server.url, email)
    except BaseException:
        await server.stop()
        raise
    return server, config, desk_dir, (email, password)


def _forget_desks(base: Path) -> None:
    for role in ROLES:
        path = desk_data_dir(base, role)
        if path.exists():
            log.info("the demo database is new; clearing the old demo mirror %s", path)
            shutil.rmtree(path, ignore_errors=True)


def _point_desk_at(desk_dir: Path, url: str, email: str) -> WorkspaceConfig:
    try:
        config = WorkspaceConfig.load(desk_dir)
    except ValueError:  # unreadable: rewrite it, the demo knows what belongs there
        config = None
    if config is None or config.email != email:
        config = WorkspaceConfig(url, email)
    config.server_url = url
    config.save(desk_dir)
    return config
