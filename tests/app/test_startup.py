"""Start-up: the embedded demo server, one desk per workspace, the welcome and sign-in
dialogs — against the real backend on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QDir, QPoint
from PySide6.QtWidgets import QApplication, QDialog

from app.demo import DemoServer, demo_data_dir, open_demo
from app.session import DeskSession
from app.signin import SignInDialog, WelcomeDialog, sign_in_error_text
from app.single_instance import SingleInstance, server_name
from sync.client import ApiClient, AuthRequired, Unreachable
from sync.engine import EngineOptions, EngineState
from sync.workspace import WorkspaceConfig
from tests.app.conftest import DEMO_AGENT, TEST_OPTIONS, until


@pytest.fixture(autouse=True)
def _closing_a_dialog_does_not_quit(qapp: QApplication) -> Iterator[None]:
    """As in the desk at start-up: no window is open yet while these dialogs close (Qt
    would otherwise quit, stopping the loop the test runs in)."""
    before = qapp.quitOnLastWindowClosed()
    qapp.setQuitOnLastWindowClosed(False)
    yield
    qapp.setQuitOnLastWindowClosed(before)


# --------------------------------------------------------------------------- demo server


async def _login(url: str, email: str, password: str) -> str:
    client = ApiClient(url)
    try:
        return (await client.login(email, password)).agent.id
    finally:
        await client.aclose()


def _port_is_free(port: int) -> bool:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        return True
    except OSError:
        return False
    finally:
        sock.close()


async def test_demo_server_serves_the_demo_and_keeps_it(qloop: object, tmp_path: Path) -> None:
    base = tmp_path / "demo"
    first = DemoServer(base)
    await first.start()
    try:
        assert first.seeded
        assert (base / "server").is_dir()
        agent_id = await _login(first.url, *first.credentials("agent"))
        supervisor_id = await _login(first.url, *first.credentials("supervisor"))
        assert agent_id != supervisor_id
        with pytest.raises(AuthRequired):
            await _login(first.url, first.credentials("agent")[0], "not-the-password")
    finally:
        await first.stop()
    port = first.port
    assert port is not None and _port_is_free(port)
    with pytest.raises(Unreachable):
        await _login(first.url, *first.credentials("agent"))

    second = DemoServer(base)
    await second.start()
    try:
        assert not second.seeded  # same data, same accounts
        assert await _login(second.url, *second.credentials("agent")) == agent_id
        assert second.port == port  # the URL (and the sign-in filed under it) stays
    finally:
        await second.stop()


async def test_demo_server_takes_no_forwarded_address_from_its_clients(qloop: object,
                                                                       tmp_path: Path) -> None:
    """The demo server is a real backend on loopback: a client naming another address in
    X-Forwarded-For must not get a fresh sign-in budget (uvicorn trusts it by default)."""
    import httpx

    from server.throttle import PAIR_FREE_FAILURES

    server = DemoServer(tmp_path / "demo")
    await server.start()
    try:
        email = server.credentials("agent")[0]
        async with httpx.AsyncClient(base_url=server.url) as http:
            for n in range(PAIR_FREE_FAILURES):
                answer = await http.post("/api/v1/auth/login", json={
                    "email": email, "password": "not-the-password"},
                    headers={"X-Forwarded-For": f"203.0.113.{n}"})
                assert answer.status_code == 401
            answer = await http.post("/api/v1/auth/login", json={
                "email": email, "password": "not-the-password"},
                headers={"X-Forwarded-For": "198.51.100.9"})
        assert answer.status_code == 429, answer.text  # still the one loopback address
    finally:
        await server.stop()


async def test_open_demo_points_the_role_desk_at_this_start(qloop: object, tmp_path: Path
                                                            ) -> None:
    base = tmp_path / "demo"
    server, config, desk_dir, (email, password) = await open_demo("trainee", base)
    try:
        assert desk_dir == base / "desk-trainee"
        assert email == "trainee@demo.relaydesk.test"
        assert WorkspaceConfig.load(desk_dir) == config
        assert config.server_url == server.url and config.email == email
        # The desk signs in to the demo and syncs it, as the welcome screen will.
        session = DeskSession(desk_dir, config, options=EngineOptions(**TEST_OPTIONS))
        try:
            await session.open()
            await session.sign_in(email, password)
            await until(lambda: session.status.state is EngineState.UP_TO_DATE, 30,
                        what="the demo's first sync")
            await session.refresh_directory()
            assert session.me is not None and session.me.name == "Jamie Chen"
        finally:
            await session.close()
    finally:
        await server.stop()

    # Someone else took the port meanwhile: the next start moves, and the desk follows.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", server.port or 0))
    blocker.listen()
    try:
        again, config2, _, _ = await open_demo("trainee", base)
        try:
            assert again.url != server.url
            assert config2.server_url == again.url
            saved = WorkspaceConfig.load(desk_dir)
            assert saved is not None and saved.server_url == again.url
            assert await _login(again.url, email, password)
        finally:
            await again.stop()
    finally:
        blocker.close()

    # Another role gets its own mirror directory.
    other, _, agent_dir, creds = await open_demo("agent", base)
    await other.stop()
    assert agent_dir == base / "desk-agent" and creds == DEMO_AGENT
    assert (desk_dir / "workspace.json").exists()


def test_demo_data_dir_follows_the_workspace_setting(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYDESK_DATA_DIR", str(tmp_path / "mine" / "default"))
    assert demo_data_dir() == tmp_path / "mine" / "demo"
    assert demo_data_dir(tmp_path / "x") == tmp_path / "x"
    with pytest.raises(ValueError):
        DemoServer.credentials("admin")


# --------------------------------------------------------------------------- single instance


@pytest.fixture
def instances(qapp: object) -> Iterator[list[SingleInstance]]:
    made: list[SingleInstance] = []
    yield made
    for inst in made:
        inst.release()


def test_a_second_start_activates_the_first(qtbot, instances, tmp_path: Path) -> None:
    key = str(tmp_path / "workspace")
    first, second = SingleInstance(key), SingleInstance(key)
    instances += [first, second]
    assert first.try_claim()
    with qtbot.waitSignal(first.activated, timeout=3000):
        assert not second.try_claim()
    assert not second.listening

    other = SingleInstance(str(tmp_path / "another-workspace"))
    instances.append(other)
    assert other.try_claim()  # a different workspace runs side by side

    first.release()
    third = SingleInstance(key)
    instances.append(third)
    assert third.try_claim()  # after the first quits, the next start owns the workspace


@pytest.mark.skipif(os.name == "nt", reason="named pipes leave nothing behind on Windows")
def test_a_name_left_by_a_crash_is_taken_over(qtbot, instances, tmp_path: Path) -> None:
    key = str(tmp_path / "crashed")
    path = os.path.join(QDir.tempPath(), server_name(key))
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)  # a socket file nobody listens on, as a killed desk leaves it
    stale.close()
    assert os.path.exists(path)
    inst = SingleInstance(key)
    instances.append(inst)
    assert inst.try_claim() and inst.listening


# --------------------------------------------------------------------------- welcome


def test_welcome_demo_choice_carries_the_role(qtbot) -> None:
    dialog = WelcomeDialog()
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.role_combo.setCurrentIndex(dialog.role_combo.findData("supervisor"))
    with qtbot.waitSignal(dialog.demoChosen) as signal:
        dialog.demo_button.click()
    assert signal.args == ["supervisor"]
    assert (dialog.choice, dialog.role) == (WelcomeDialog.DEMO, "supervisor")
    assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible()

    other = WelcomeDialog()
    qtbot.addWidget(other)
    other.open()
    other.sign_in_button.click()
    assert other.choice == WelcomeDialog.SIGN_IN


def test_welcome_quit_rejects_and_the_dialog_has_no_empty_tail(qtbot) -> None:
    dialog = WelcomeDialog()
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    # just as tall as its content: Quit sits right below the last choice
    quit_rect = dialog.quit_button.rect().translated(dialog.quit_button.mapTo(dialog,
                                                                              QPoint(0, 0)))
    gap = quit_rect.top() - dialog.sign_in_button.geometry().bottom()
    assert 0 < gap < 40
    assert dialog.height() - quit_rect.bottom() < 24
    dialog.quit_button.click()
    assert dialog.result() == QDialog.DialogCode.Rejected and dialog.choice is None


# --------------------------------------------------------------------------- sign-in


class Attempts:
    """The sign-in a desk makes without a session: a real login through ApiClient."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.cancelled = False

    async def __call__(self, url: str, email: str, password: str) -> object:
        self.calls.append((url, email))
        client = ApiClient(url)
        try:
            return await client.login(email, password)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            await client.aclose()


def _dialog(qtbot, attempt: object, url: str, email: str = DEMO_AGENT[0],
            password: str = DEMO_AGENT[1]) -> SignInDialog:
    dialog = SignInDialog(attempt)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.server_edit.setText(url)
    dialog.email_edit.setText(email)
    dialog.password_edit.setText(password)
    return dialog


async def _submit_and_settle(dialog: SignInDialog) -> None:
    dialog.sign_in_button.click()
    await until(lambda: not dialog.busy, 30, what="the sign-in attempt")


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


async def test_sign_in_wrong_password(qtbot, backend, qloop) -> None:
    attempts = Attempts()
    dialog = _dialog(qtbot, attempts, backend.url, password="wrong-password")
    await _submit_and_settle(dialog)
    assert dialog.status_label.text() == "Wrong email or password."
    assert sign_in_error_text(AuthRequired("x", status=401)) == "Wrong email or password."
    assert dialog.password_edit.text() == ""
    assert dialog.isVisible() and dialog.password_edit.isEnabled()
    assert len(attempts.calls) == 1


async def test_sign_in_unreachable_server(qtbot, qloop) -> None:
    dialog = _dialog(qtbot, Attempts(), f"http://127.0.0.1:{_closed_port()}")
    await _submit_and_settle(dialog)
    assert dialog.status_label.text().startswith("The server could not be reached.")
    assert dialog.password_edit.text() == "" and dialog.isVisible()


def test_sign_in_rejects_an_invalid_address_without_trying(qtbot) -> None:
    attempts = Attempts()
    dialog = _dialog(qtbot, attempts, "ftp://x")
    dialog.sign_in_button.click()
    assert attempts.calls == []
    assert dialog.status_label.text().startswith("Enter the server address")
    assert dialog.isVisible()


async def test_sign_in_untrusted_certificate(qtbot, qloop, tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    with _self_signed_tls_server(tmp_path) as port:
        dialog = _dialog(qtbot, Attempts(), f"https://127.0.0.1:{port}")
        await _submit_and_settle(dialog)
    assert dialog.status_label.text().startswith("The server's certificate could not be "
                                                 "verified.")


async def test_cancel_abandons_a_hanging_sign_in(qtbot, qloop) -> None:
    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    attempts = Attempts()
    try:
        dialog = _dialog(qtbot, attempts, f"http://127.0.0.1:{silent.getsockname()[1]}")
        dialog.sign_in_button.click()
        await until(lambda: attempts.calls, 10, what="the attempt to start")
        assert dialog.busy and not dialog.sign_in_button.isEnabled()
        dialog.cancel_button.click()
        await until(lambda: attempts.cancelled, 10, what="the attempt to be cancelled")
        assert dialog.result() == QDialog.DialogCode.Rejected and not dialog.isVisible()
    finally:
        silent.close()


async def test_sign_in_with_a_desk_session(qtbot, backend, qloop, tmp_path: Path) -> None:
    sessions: list[DeskSession] = []

    async def attempt(url: str, email: str, password: str) -> DeskSession:
        config = WorkspaceConfig(url, email)
        session = DeskSession(tmp_path / "desk", config, options=EngineOptions(**TEST_OPTIONS))
        sessions.append(session)
        await session.open()
        await session.sign_in(email, password)
        return session

    dialog = SignInDialog(attempt, WorkspaceConfig(backend.url, DEMO_AGENT[0]))
    qtbot.addWidget(dialog)
    assert dialog.server_edit.text() == backend.url  # pre-filled from the workspace
    assert dialog.email_edit.text() == DEMO_AGENT[0]
    waiting = asyncio.ensure_future(dialog.ask())
    await until(dialog.isVisible, 5, what="the dialog to open")
    dialog.password_edit.setText(DEMO_AGENT[1])
    dialog.sign_in_button.click()
    try:
        outcome = await asyncio.wait_for(waiting, 30)
        assert outcome is sessions[0] and outcome.agent_id
        assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible()
        assert dialog.password_edit.text() == ""
    finally:
        for session in sessions:
            await session.close()


# --------------------------------------------------------------------------- helpers


class _self_signed_tls_server:
    """A TLS listener on loopback with a certificate nobody trusts."""

    def __init__(self, tmp_path: Path) -> None:
        cert, key = _make_cert(tmp_path)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            try:
                with self.ctx.wrap_socket(conn, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass  # the client refuses the certificate, as it should

    def __enter__(self) -> int:
        self.thread.start()
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def _make_cert(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relaydesk-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_the_first_paint_loads_neither_the_engine_nor_the_network_stack_nor_sqlalchemy(
        ) -> None:
    """What the desk imports before its inbox paints: the engine and what it loads (httpx,
    keyring, pydantic's wire models, SQLAlchemy, Alembic) load only once the session
    connects, after the paint; the first screen is read with plain sqlite3; the conversation
    pane (thread, composer, nh3) is built after the paint too (start-up time:
    benchmarks/desk.py)."""
    code = ("import sys\n"
            "from app.main import import_before_qt\n"
            "import_before_qt()\n"
            "import app.desk, app.window\n"
            "print(','.join(m for m in ('httpx', 'keyring', 'pydantic', 'protocol.wire',\n"
            "                            'sqlalchemy', 'alembic', 'sync.engine',\n"
            "                            'sync.mirror', 'app.conversation.pane',\n"
            "                            'app.conversation.thread', 'nh3')\n"
            "               if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True, env={**os.environ, "QT_QPA_PLATFORM":
                                                        "offscreen"})
    assert out.stdout.strip() == "", f"loaded before the first paint: {out.stdout.strip()}"


_IMPORTED_WHERE = """
import asyncio, sys, tempfile, threading
from pathlib import Path

HEAVY = ('sqlalchemy', 'alembic', 'httpx', 'httpx_sse', 'keyring', 'pydantic', 'protocol.wire',
         'sync.engine')
on_gui_thread = {}


class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in HEAVY and name not in sys.modules:
            on_gui_thread.setdefault(name, threading.current_thread() is threading.main_thread())
        return None


sys.meta_path.insert(0, Spy())
from PySide6.QtCore import QCoreApplication
from app.session import DeskSession
from sync.workspace import WorkspaceConfig

app = QCoreApplication([])
data = Path(tempfile.mkdtemp())
url, email, password = sys.argv[1:4]


async def run():
    session = DeskSession(data, WorkspaceConfig(url, email))
    await session.open(connect=False)
    await session.connect()
    await session.sign_in(email, password)  # the engine's first requests and answers
    await session.close()

asyncio.run(run())
print(sorted(name for name, gui in on_gui_thread.items() if gui))
print(sorted(on_gui_thread))
"""


def test_the_engine_and_its_modules_load_off_the_gui_thread(backend) -> None:
    """SQLAlchemy, Alembic, httpx, keyring and the wire models load on the session's worker
    threads (opening the files, connecting), not on the GUI thread, which would stop for them
    (~0.15 s for the wire models alone at the engine's first request)."""
    out = subprocess.run([sys.executable, "-c", _IMPORTED_WHERE, backend.url, *DEMO_AGENT],
                         capture_output=True, text=True, timeout=120, check=True,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    on_gui, loaded = out.stdout.strip().splitlines()[-2:]
    assert on_gui == "[]", f"imported on the GUI thread: {on_gui}"
    assert "'protocol.wire'" in loaded and "'httpx_sse'" in loaded  # (the spy saw them)


async def test_a_desk_whose_sign_in_is_gone_shows_its_inbox_then_asks_to_sign_in(
        qtbot, backend, desks, qapp: QApplication) -> None:
    """Start-up shows the mirror first; the engine, started after the first paint, finds no
    sign-in (the token is gone) and the desk asks for one over the window, nothing lost."""
    from app.desk import Desk
    from app.main import build_parser
    from app.settings import DeskSettings

    first = await desks.session(backend)  # signed in and synced once
    data_dir = first.data_dir
    await desks.close(first)  # (tests keep tokens in memory: gone with it)
    desk = Desk(qapp, build_parser().parse_args(["--data-dir", str(data_dir)]),
                DeskSettings(), lambda _settings: None)
    run = asyncio.ensure_future(desk.run())
    try:
        await until(lambda: desk.window is not None, 20, what="the window")
        qtbot.addWidget(desk.window)
        await until(lambda: desk._sign_in_dialog is not None, 20, what="the sign-in dialog")
        assert desk.window.inbox_model.rowCount() > 0  # the inbox came from the mirror
        assert desk.session.status.state is EngineState.SIGN_IN_REQUIRED
        dialog = desk._sign_in_dialog
        dialog.password_edit.setText(DEMO_AGENT[1])
        dialog.submit()
        await until(lambda: desk.session.status.state is EngineState.UP_TO_DATE, 30,
                    what="syncing again after signing in")
    finally:
        desk._finish(0)
        assert await run == 0
