"""One desk per workspace: a second start asks the running one to come forward, then quits.

The running desk listens on a local socket (a named pipe on Windows) whose name is derived
from the workspace's data directory and the user name; a second start for the same
workspace connects, sends ``activate`` and exits.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger("relaydesk.single_instance")

ACTIVATE = b"activate"
CONNECT_TIMEOUT_MS = 300


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment (rare; containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "user"


def server_name(key: str) -> str:
    """A short, filesystem-safe name for ``key`` (e.g. a data directory) and this user."""
    digest = hashlib.sha256(f"{_user()}\0{key}".encode()).hexdigest()[:24]
    return f"relaydesk-{digest}"


def key_for(data_dir: Path) -> str:
    """The key of a workspace: its resolved data directory."""
    return str(Path(data_dir).expanduser().resolve())


class SingleInstance(QObject):
    """``try_claim()`` once at start-up; keep the object alive while the desk runs."""

    activated = Signal()  # another start of the same workspace asked us to come forward

    def __init__(self, key: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(key)
        self._server: QLocalServer | None = None
        self._clients: list[QLocalSocket] = []

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.isListening()

    def try_claim(self) -> bool:
        """True when this process now owns the workspace; False when another desk runs it
        (that desk has been told to come forward)."""
        if self.listening:
            return True
        if self._ping_running():
            return False
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        server.newConnection.connect(self._on_new_connection)
        if not server.listen(self.name):
            # Nobody answered, so a name left over from a crash is stale: remove and retry.
            QLocalServer.removeServer(self.name)
            if not server.listen(self.name):
                # Run anyway: refusing to start is worse than a missed activation.
                log.warning("cannot listen for other starts on %s: %s", self.name,
                            server.errorString())
                server.deleteLater()
                return True
        self._server = server
        return True

    def release(self) -> None:
        """Stop listening (on quit), so the next start becomes the owner at once."""
        clients, self._clients = self._clients, []
        for client in clients:
            client.readyRead.disconnect(self._read_pending)
            client.disconnected.disconnect(self._drop_closed)
            client.abort()
            client.deleteLater()
        if self._server is not None:
            self._server.close()
            self._server.deleteLater()
            self._server = None

    # ------------------------------------------------------------------ internals

    def _ping_running(self) -> bool:
        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if not sock.waitForConnected(CONNECT_TIMEOUT_MS):
            return False
        sock.write(ACTIVATE)
        sock.flush()
        sock.waitForBytesWritten(CONNECT_TIMEOUT_MS)
        sock.disconnectFromServer()
        if sock.state() != QLocalSocket.LocalSocketState.UnconnectedState:
            sock.waitForDisconnected(CONNECT_TIMEOUT_MS)
        return True

    # Slots are bound methods of this QObject (not lambdas), so Qt cuts the connections
    # when it is destroyed, before its sockets are: no call into a half-deleted object.
    def _on_new_connection(self) -> None:
        assert self._server is not None
        while (client := self._server.nextPendingConnection()) is not None:
            self._clients.append(client)
            client.readyRead.connect(self._read_pending)
            client.disconnected.connect(self._drop_closed)
        self._read_pending()

    def _read_pending(self) -> None:
        for client in self._clients:
            if client.bytesAvailable() and ACTIVATE in bytes(client.readAll().data()):
                self.activated.emit()

    def _drop_closed(self) -> None:
        self._read_pending()  # a quick sender may be gone before we read it
        for client in [c for c in self._clients
                       if c.state() == QLocalSocket.LocalSocketState.UnconnectedState]:
            self._clients.remove(client)
            client.readyRead.disconnect(self._read_pending)
            client.disconnected.disconnect(self._drop_closed)
            client.deleteLater()
