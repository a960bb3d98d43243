"""``make screenshots``: render the desk's main screens to ``screenshots/*.png``, offscreen.

A fresh demo workspace is made in a temporary directory (the reference backend in-process on
loopback, as ``relaydesk --demo`` does); the real windows and dialogs are shown on it and
grabbed once the data has settled. Run with ``QT_QPA_PLATFORM=offscreen``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keyring
import qasync
from keyring.backend import KeyringBackend
from PySide6.QtCore import QCoreApplication, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QWidget

from app import i18n, tasks, theme
from app.demo import DemoServer, desk_data_dir, open_demo
from app.session import DeskSession
from app.settings import DeskSettings
from app.signin import SignInDialog, WelcomeDialog
from app.window import MainWindow
from protocol.rules import WindowKind
from sync import queries
from sync.engine import EngineState, now_ms
from sync.queries import InboxFilter
from sync.workspace import WorkspaceConfig

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"
SIZE = (1600, 950)
SMALL = (1024, 700)  # the smallest window the desk must stay usable in (a small laptop)
WRITTEN: list[Path] = []


class ShotError(RuntimeError):
    pass


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]  # counts as secure: no "session-only" notice
    _items: dict[tuple[str, str], str] = {}  # one instance per run

    def get_password(self, service: str, username: str) -> str | None:
        return self._items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._items.pop((service, username), None)


async def until(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise ShotError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.05)
    return value


async def settle(seconds: float = 0.6) -> None:
    """Let queued reads, coalesced refreshes and paints run (the qasync loop runs Qt's
    events while this waits; a processEvents() here ran the loop's own callbacks inside
    this task: "Cannot enter into task …", and the engine's event stream died)."""
    await asyncio.sleep(seconds)


def grab(widget: QWidget, name: str) -> None:
    path = OUT / name
    if not widget.grab().save(str(path)):
        raise ShotError(f"could not write {path}")
    WRITTEN.append(path)
    print(f"wrote {path.relative_to(ROOT)}", flush=True)


# ---------------------------------------------------------------------------- sessions


async def open_session(desk_dir: Path, config: WorkspaceConfig, email: str,
                       password: str) -> DeskSession:
    session = DeskSession(desk_dir, config)
    await session.open()
    await session.sign_in(email, password)
    await until(lambda: session.status.state is EngineState.UP_TO_DATE, "the first sync", 90)
    await session.refresh_directory()
    return session


async def best_conversation(session: DeskSession, flt: InboxFilter, top: int = 15) -> str:
    """Of the first ``top`` conversations of ``flt`` (so it shows without scrolling), the
    one whose thread shows the most: notes, replies, length."""
    ids = await session.read(queries.conversation_ids, flt, queries.Sort.LAST_ACTIVITY,
                             session.agent_id)
    if not ids:
        raise ShotError(f"the demo has no conversation for {flt}")
    best, score = ids[0], -1
    for cid in ids[:top]:
        page = await session.read(queries.thread_page, cid, session.agent_id, 50)
        kinds = {item.direction for item in page.items}
        points = (3 * len(kinds & {"inbound", "outbound", "note"})
                  + min(len(page.items), 8))
        if points > score:
            best, score = cid, points
    return best


async def open_in(window: MainWindow, view: str, cid: str) -> None:
    """Show the inbox ``view`` (a nav key) with ``cid`` selected and its thread loaded."""
    model = window.inbox_model
    if window.nav.current_key() != view and not window.nav.select_view(view):
        raise ShotError(f"no inbox view {view!r}")
    await until(lambda: model.row_of(cid) >= 0, f"{cid} in the inbox view {view!r}")
    window.open_conversation(cid)
    pane = window.conversation
    await until(lambda: pane.row is not None and pane.row.id == cid, "the conversation")
    await until(lambda: (shown := window.customer.contact()) is not None
                and shown.id == pane.row.contact_id, "the customer panel")
    rows = window.inbox.table.visible_rows()  # the model reads only the rows on screen
    visible = list(model.ids()[rows.start:rows.stop])
    await until(lambda: all(model.cached(i) for i in visible), "the inbox rows")
    await until(lambda: (status := window.session.status).state is EngineState.UP_TO_DATE
                and status.pending == 0, "the outbox to empty")  # opening marks it read
    await settle()


async def show_window(session: DeskSession, size: tuple[int, int] = SIZE) -> MainWindow:
    window = MainWindow(session, DeskSettings())
    window.resize(*size)
    window.show()
    await until(lambda: window.inbox_model.rowCount() > 0, "the inbox")
    return window


async def close_window(window: MainWindow) -> None:
    window.close()
    await window.drafts.flush()
    window.drafts.close()
    window.deleteLater()


# ---------------------------------------------------------------------------- shots


async def dialogs(demo: DemoServer, tmp: Path) -> None:
    welcome = WelcomeDialog()
    welcome.show()
    await settle()
    grab(welcome, "welcome.png")
    welcome.close()

    async def attempt(url: str, email: str, password: str) -> WorkspaceConfig:
        config = WorkspaceConfig(url, email)  # the product's first sign-in (app/desk.py)
        session = DeskSession(tmp / "signin", config)
        try:
            await session.open(start=False)
            await session.sign_in(email, password)
            return config
        finally:
            await session.close()

    email, _password = DemoServer.credentials("agent")
    dialog = SignInDialog(attempt, WorkspaceConfig(demo.url, email))
    dialog.show()
    dialog.password_edit.setText("not-the-password")
    dialog.submit()
    await until(lambda: not dialog.busy and dialog.status_label.isVisible(), "the sign-in error")
    await settle()
    grab(dialog, "signin.png")
    dialog.close()


async def whatsapp_template(session: DeskSession, window: MainWindow) -> None:
    channel = next((c for c in session.directory.channels if c.kind == "whatsapp"), None)
    if channel is None:
        raise ShotError("the demo agent sees no WhatsApp channel")
    view = f"channel:{channel.id}"
    ids = await session.read(queries.conversation_ids, InboxFilter(channel_id=channel.id),
                             queries.Sort.LAST_ACTIVITY, session.agent_id)
    rows = await session.read(queries.conversation_rows, ids, now_ms())
    cid = next((r.id for r in rows.values() if r.channel_type == "whatsapp"
                and r.window.kind is WindowKind.TEMPLATE_ONLY), None)
    if cid is None:
        raise ShotError("no open WhatsApp conversation is past its 24 h window in the demo")
    await open_in(window, view, cid)
    banner = window.conversation.composer.banner
    box = banner.template_box
    index = next((i for i in range(box.count()) if box.itemText(i).startswith("Order update")),
                 1 if box.count() > 1 else -1)
    if index < 0:
        raise ShotError("the template picker lists no templates")
    box.setCurrentIndex(index)
    await settle(0.2)
    for name, value in (("order_number", "#A-10482"),
                        ("order_status", "shipped today, arriving Thursday")):
        if name in banner.params:
            banner.params[name].setText(value)
    await settle()
    grab(window, "whatsapp-template.png")


def _article_to_show(store: Any) -> str | None:
    """An English article with some body to it, an internal one (its badge) if there is one."""
    with store.read_db("mirror") as db:
        row = db.execute("SELECT id FROM articles WHERE status = 'published' AND locale = 'en' "
                         "ORDER BY visibility = 'internal' DESC, length(body) DESC LIMIT 1"
                         ).fetchone()
    return row[0] if row else None


async def article_viewer(session: DeskSession) -> None:
    from app.knowledge.viewer import open_article_window

    article_id = await session.read(_article_to_show)
    if article_id is None:
        print("article-viewer.png: the demo has no articles yet, skipped", file=sys.stderr)
        return
    viewer = open_article_window(session, article_id, channel_type="sms")
    try:
        await until(lambda: viewer.article is not None, "the article")
        await settle()
        grab(viewer, "article-viewer.png")
    finally:
        viewer.close()


async def japanese(demo: DemoServer, agent: DeskSession, base: Path) -> None:
    app = QApplication.instance()
    qm = "resources/translations/relaydesk_ja.qm"
    if i18n.install_translations(app, "ja") != "ja":
        print(f"warning: no {qm} (see the log above); main-ja.png has English labels",
              file=sys.stderr)
    elif QCoreApplication.translate("MainWindow", "&File") == "&File":
        print(f"warning: {qm} translates nothing yet (relaydesk_ja.ts is untranslated); "
              "main-ja.png has English labels", file=sys.stderr)
    session, window = agent, None
    try:
        japan = next((t.id for t in agent.directory.teams if t.name == "日本サポート"), None)
        if japan is None or not await agent.read(queries.conversation_ids, InboxFilter(
                team_id=japan), queries.Sort.LAST_ACTIVITY, agent.agent_id):
            email, password = DemoServer.credentials("supervisor")  # sees every team
            config = WorkspaceConfig(demo.url, email)
            config.save(desk_data_dir(base, "supervisor"))
            session = await open_session(desk_data_dir(base, "supervisor"), config, email,
                                         password)
            japan = next((t.id for t in session.directory.teams if t.name == "日本サポート"),
                         None)
        if japan is None:
            raise ShotError("the demo has no 日本サポート team")
        window = await show_window(session)
        cid = await best_conversation(session, InboxFilter(team_id=japan))
        await open_in(window, f"team:{japan}", cid)
        grab(window, "main-ja.png")
        await close_window(window)
        window = None
        window = await small_window(session, f"team:{japan}", cid, "main-small-ja.png")
        await close_window(window)
        window = None
        mine = await best_conversation(session, InboxFilter(assignee="me"))
        await small_details(session, mine, "ja")
    finally:
        if window is not None:
            await close_window(window)
        if session is not agent:
            await session.close()
        i18n.install_translations(app, "en")


async def small_window(session: DeskSession, view: str, cid: str, name: str) -> MainWindow:
    """The main window at the smallest size the desk supports, as a new desk opens there."""
    window = await show_window(session, SMALL)
    await open_in(window, view, cid)
    grab(window, name)
    return window


async def small_details(session: DeskSession, cid: str, suffix: str) -> None:
    """At 1024×700: the composer writing a note, the Snoozed view, About and the shortcut
    sheet (``suffix``: the language)."""
    window = await show_window(session, SMALL)
    try:
        await open_in(window, "mine", cid)
        composer = window.conversation.composer
        composer.set_mode("note")
        composer.editor.setPlainText(
            "お客様から2回お電話あり。交換品の発送は保留にしてください。" if suffix == "ja" else
            "Customer called twice — please keep the replacement order on hold.")
        await settle()
        grab(window, f"note-small-{suffix}.png")
        composer.editor.clear()
        composer.set_mode("reply")

        snoozed = await session.read(queries.conversation_ids, InboxFilter(
            statuses=("snoozed",)), queries.Sort.LAST_ACTIVITY, session.agent_id)
        if not snoozed:
            raise ShotError("the demo agent has no snoozed conversation")
        await open_in(window, "status:snoozed", snoozed[0])
        grab(window, f"snoozed-small-{suffix}.png")

        window.show_about()
        await until(window.about_dialog.isVisible, "the About box")
        await settle()
        grab(window.about_dialog, f"about-{suffix}.png")
        window.about_dialog.close()

        window.show_shortcuts()
        await until(window.shortcut_sheet.isVisible, "the shortcut sheet")
        await settle()
        sheet = window.shortcut_sheet
        if sheet.frameGeometry().height() > SMALL[1] or sheet.table.verticalScrollBar().maximum():
            raise ShotError("the shortcut sheet does not fit 1024×700 without scrolling")
        grab(sheet, f"shortcuts-{suffix}.png")
        sheet.close()
    finally:
        await close_window(window)


async def offline(demo: DemoServer, session: DeskSession, window: MainWindow, cid: str
                  ) -> None:
    await open_in(window, "mine", cid)
    logging.getLogger("uvicorn.error").disabled = True  # the cut long-poll is expected
    await demo.stop()
    session.engine.trigger("user")  # notice at once rather than at the next poll
    await until(lambda: session.status.state is EngineState.OFFLINE, "the desk to go offline")
    composer = window.conversation.composer
    composer.set_mode("reply")
    composer.editor.setPlainText("Thanks for your patience — I've asked our warehouse to "
                                 "check the parcel and will update you within the hour.")
    if not composer.send():
        raise ShotError("the composer refused the offline reply: " + composer.send_button.toolTip())
    window.conversation.set_status("pending")  # Status ▸ Pending in the pane's header
    await until(lambda: session.status.pending >= 2, "two pending changes")
    await until(lambda: any(i.local_state == "pending"
                            for i in window.conversation.thread.items), "the pending reply")
    await settle(1.0)
    grab(window, "offline-pending.png")


async def render(base: Path) -> None:
    app = QApplication.instance()
    demo, config, desk_dir, (email, password) = await open_demo("agent", base)
    session: DeskSession | None = None
    window: MainWindow | None = None
    try:
        await dialogs(demo, base)
        session = await open_session(desk_dir, config, email, password)
        window = await show_window(session)
        cid = await best_conversation(session, InboxFilter(assignee="me"))
        await open_in(window, "mine", cid)
        grab(window, "main-en.png")

        small = await small_window(session, "mine", cid, "main-small-en.png")
        await close_window(small)
        await small_details(session, cid, "en")

        await whatsapp_template(session, window)
        await article_viewer(session)

        theme.apply_theme(app, "dark")  # as a desk started in the dark theme
        dark = await show_window(session)
        try:
            await open_in(dark, "mine", cid)
            grab(dark, "dark.png")
        finally:
            await close_window(dark)
            theme.apply_theme(app, "light")

        await japanese(demo, session, base)
        await offline(demo, session, window, cid)
    finally:
        if window is not None:
            await close_window(window)
        if session is not None:
            await session.close()
        await tasks.cancel_all()
        await demo.stop()


def _qt_message(_kind: QtMsgType, _context: object, message: str) -> None:
    if not message.startswith("This plugin does not support"):  # offscreen: no window manager
        print(f"qt: {message}", file=sys.stderr)


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("relaydesk.sync.credentials").setLevel(logging.ERROR)
    keyring.set_keyring(MemoryKeyring())  # the demo's tokens never reach the user's keyring
    qInstallMessageHandler(_qt_message)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Relaydesk")
    app.setOrganizationName("Relaydesk")
    app.setQuitOnLastWindowClosed(False)
    i18n.install_translations(app, "en")
    theme.apply_theme(app, "light")
    OUT.mkdir(exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="relaydesk-shots-") as tmp, \
                asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            runner.run(asyncio.wait_for(render(Path(tmp)), 600))
    except (ShotError, TimeoutError) as exc:
        print(f"screenshots failed: {exc or 'took longer than 10 minutes'}", file=sys.stderr)
        return 1
    except Exception as exc:  # the desk itself failed: show where
        traceback.print_exc()
        print(f"screenshots failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{len(WRITTEN)} screenshots in {OUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
