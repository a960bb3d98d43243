"""The main window: navigation | inbox | conversation, the customer panel docked on the right.

Later panels (knowledge, guides) are QDockWidgets in the right dock area, tabbed with the
customer panel (``add_side_panel``): the central layout never changes for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.customer.panel import CustomerPanel
from app.drafts import DraftStore
from app.inbox.model import ROW_ROLE, InboxModel
from app.inbox.nav import NavigationPane
from app.inbox.view import InboxView
from app.layout import (
    CONVERSATION_MIN,
    SidePanelFolder,
    add_side_panel,
    first_sizes,
    make_splitter,
    remember,
    restore,
)
from app.notifications import Notifier
from app.outbox_dialog import OutboxDialog
from app.session import DeskSession
from app.settings import DeskSettings, workspace_key
from app.statusbar import OfflineBanner, SyncStatusWidget
from app.tasks import spawn
from app.undo import Undoable, UndoManager
from sync import queries
from sync.display import display_safe
from sync.queries import InboxFilter, Sort
from sync.status import EngineState, EngineStatus

if TYPE_CHECKING:
    from app.conversation.pane import ConversationPane

log = logging.getLogger("relaydesk.window")


class MainWindow(QMainWindow):
    closed = Signal()
    signInRequested = Signal()  # File → Sign in…, the status bar, F5 while signed out
    inboxShown = Signal()  # once: the inbox painted its first rows (or START_WAIT_MS passed)

    # Work the first inbox paint does not need (view counts, syncing, the mirror check)
    # waits for it; if it never comes (a hidden window), for this long.
    START_WAIT_MS = 3000
    CONVERSATION_MIN_WIDTH = CONVERSATION_MIN

    def __init__(self, session: DeskSession, settings: DeskSettings,
                 save_settings: Callable[[DeskSettings], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.settings = settings
        self.workspace = settings.workspace(workspace_key(session.data_dir))
        self._save_settings = save_settings
        self._remembered_view = self.workspace.last_view  # to open on (see _open_start_view)
        self._view_shown = False  # navigation showed a view in the inbox
        self._view_picked = False  # … that the agent picked: the start view is settled
        self._choosing_view = False  # the window itself is selecting one
        self.setObjectName("MainWindow")
        self.drafts = DraftStore(session.data_dir)

        self.nav = NavigationPane(self)
        self.inbox_model = InboxModel(session, self)
        self.inbox = InboxView(self.inbox_model, self)
        # The conversation pane is built right after the inbox's first paint (or on first
        # use): its modules and widgets would cost that paint ~0.1 s, and it has nothing to
        # show before the agent opens a conversation. Until then a blank widget holds its
        # place in the splitter.
        self._conversation: ConversationPane | None = None
        self._conversation_slot = QWidget(self)
        self.customer = CustomerPanel(self)
        self.banner = OfflineBanner(self)
        self.sync_status = SyncStatusWidget(self)
        self.notifier = Notifier(session, enabled=settings.notifications, parent=self)
        self.undo = UndoManager(session, self)  # the last action, undoable from its toast
        self.undo.undone.connect(self._undone)

        center = make_splitter(self, self.nav, self.inbox, self._conversation_slot)
        self.splitter = center
        self._sized = False
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.setSpacing(4)
        layout.addWidget(self.banner)
        layout.addWidget(center, 1)
        # Signed out: a page with no customer data takes the inbox's and the thread's place.
        self.pages = QStackedWidget(self)
        self.pages.addWidget(body)
        self.signed_out_page = self._make_signed_out_page()
        self.pages.addWidget(self.signed_out_page)
        self.setCentralWidget(self.pages)

        # Side panels fold away in a narrow window (never back while signed out).
        self.folder = SidePanelFolder(self, lambda: not self.session.signed_out)
        self.customer_dock = self.add_side_panel("customerDock", self.tr("Customer"),
                                                 self.customer)
        self.statusBar().addPermanentWidget(self.sync_status, 1)
        self.statusBar().setSizeGripEnabled(True)

        self._build_actions()
        self._connect()
        self._sized = restore(self, self.splitter, settings)
        self.inbox.start_in_order(Sort(self.workspace.inbox_sort))  # before the first view
        self.nav.set_saved_filters(self.workspace.filters())
        session.directoryChanged.connect(self._directory_changed)
        self._directory_changed(session.directory)
        self.sync_status.keyring_matters = session.remember_sign_in
        self.sync_status.update_status(session.status)
        self.banner.update_status(session.status)
        self._customer_dock_was_visible = True
        self.sign_out_box: QMessageBox | None = None
        self._update_sign_in_actions(session.status)
        self._counting = False
        self._count_again = False
        self._inbox_shown = False
        self._inbox_loaded = False
        self.inbox_model.loaded.connect(self._first_load)
        self.inbox.table.viewport().installEventFilter(self)
        QTimer.singleShot(self.START_WAIT_MS, self, self._after_first_paint)
        self._open_start_view()  # emits filterChanged: the inbox loads that view once
        if session.signed_out:
            self._show_signed_out(True)
            # No inbox paints while signed out: connect (and ask to sign in) at once.
            QTimer.singleShot(0, self, self._after_first_paint)

    # ------------------------------------------------------------------ layout

    def add_side_panel(self, name: str, title: str, widget: QWidget) -> QDockWidget:
        """Dock a panel on the right; later ones are tabbed with the customer panel. Like
        it, they fold away in a narrow window (``app.layout``)."""
        dock = add_side_panel(self, name, title, widget)
        self.folder.watch(dock)
        return dock

    def _build_actions(self) -> None:
        def action(text: str, shortcut: str | QKeySequence | None, slot: Callable[[], None],
                   name: str) -> QAction:
            act = QAction(text, self)
            act.setObjectName(name)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
                act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.triggered.connect(slot)
            self.addAction(act)
            return act

        self.act_next = action(self.tr("Next conversation"), "J", lambda: self.inbox.move(1),
                               "nextConversation")
        self.act_prev = action(self.tr("Previous conversation"), "K",
                               lambda: self.inbox.move(-1), "previousConversation")
        self.act_search = action(self.tr("Search"), "Ctrl+K", self.inbox.focus_search, "search")
        self.act_resolve = action(self.tr("Resolve"), "E", lambda: self.conversation.resolve(),
                                  "resolve")
        self.act_assign_me = action(self.tr("Assign to me"), "A",
                                    lambda: self.conversation.assign_to_me(), "assignToMe")
        self.act_snooze = action(self.tr("Snooze…"), "S",
                                 lambda: self.conversation.show_snooze_menu(), "snooze")
        self.act_undo = action(self.tr("Undo"), QKeySequence.StandardKey.Undo,
                               lambda: self.undo.undo(), "undo")
        self.act_canned = action(self.tr("Insert canned reply"), "/", self._canned, "canned")
        self.act_reply = action(self.tr("Reply"), "R", self._focus_composer, "reply")
        self.act_help = action(self.tr("Keyboard shortcuts"), "?", self.show_shortcuts,
                               "shortcuts")
        self.act_outbox = action(self.tr("Outbox…"), None, self.show_outbox, "outbox")
        self.act_about = action(self.tr("About Relaydesk"), None, self.show_about, "about")
        self.act_about.setMenuRole(QAction.MenuRole.AboutRole)
        self.act_sync = action(self.tr("Sync now"), "F5", self._sync_now, "syncNow")
        self.act_sign_in = action(self.tr("Sign in…"), None, self.signInRequested.emit,
                                  "signIn")
        self.act_sign_out = action(self.tr("Sign out…"), None, self.ask_sign_out, "signOut")
        self.act_quit = action(self.tr("Quit"), QKeySequence.StandardKey.Quit, self.close,
                               "quit")
        self.act_notify = QAction(self.tr("Desktop notifications"), self)
        self.act_notify.setCheckable(True)
        self.act_notify.setChecked(self.settings.notifications)
        self.act_notify.toggled.connect(self._toggle_notifications)
        self.act_next_after = QAction(self.tr("Open the next conversation after resolve or "
                                              "snooze"), self)
        self.act_next_after.setCheckable(True)
        self.act_next_after.setChecked(self.settings.next_after_done)
        self.act_next_after.toggled.connect(self._toggle_next_after)

        bar = self.menuBar()
        file_menu = bar.addMenu(self.tr("&File"))
        for act in (self.act_sync, self.act_outbox, self.act_sign_in, self.act_sign_out,
                    self.act_quit):
            file_menu.addAction(act)
        # What shows or acts on customer data: off while signed out.
        self._data_actions = (self.act_next, self.act_prev, self.act_search, self.act_resolve,
                              self.act_assign_me, self.act_snooze, self.act_canned,
                              self.act_reply, self.act_outbox, self.act_undo)
        conv_menu = bar.addMenu(self.tr("&Conversation"))
        for act in (self.act_next, self.act_prev, self.act_reply, self.act_canned,
                    self.act_assign_me, self.act_resolve, self.act_snooze, self.act_undo):
            conv_menu.addAction(act)
        view_menu = bar.addMenu(self.tr("&View"))
        view_menu.addAction(self.act_search)
        view_menu.addAction(self.customer_dock.toggleViewAction())
        view_menu.addAction(self.act_notify)
        view_menu.addAction(self.act_next_after)
        self._choice_menu(view_menu.addMenu(self.tr("Undo sending a reply")),
                          str(self.settings.reply_undo_s),
                          (("0", self.tr("Off: send at once")),
                           *((str(n), self.tr("For {n} seconds").format(n=n))
                             for n in (3, 5, 10))), self._set_reply_undo)
        view_menu.addSeparator()
        # Exclusive groups keep one choice checked; the actions carry their setting value.
        self._choice_menu(view_menu.addMenu(self.tr("Theme")), self.settings.theme,
                          (("system", self.tr("Follow the system")), ("light", self.tr("Light")),
                           ("dark", self.tr("Dark"))), self._set_theme)
        self._choice_menu(view_menu.addMenu(self.tr("Language")), self.settings.language,
                          (("system", self.tr("Follow the system")), ("en", "English"),
                           ("ja", "日本語")), self._set_language)
        help_menu = bar.addMenu(self.tr("&Help"))
        help_menu.addAction(self.act_help)
        help_menu.addSeparator()
        help_menu.addAction(self.act_about)

    def _connect(self) -> None:
        self.nav.filterChanged.connect(self._view_chosen)
        self.nav.deleteSavedFilter.connect(self._delete_saved_filter)
        self.inbox.conversationActivated.connect(self._activated)
        self.inbox.saveFilterRequested.connect(self._save_filter)
        self.inbox.sortChanged.connect(self._sort_chosen)
        self.customer.openConversation.connect(self.open_conversation)
        self.notifier.openConversation.connect(self.open_conversation)
        self.sync_status.outboxRequested.connect(self.show_outbox)
        self.sync_status.signInRequested.connect(self.signInRequested)
        self.session.signedOutChanged.connect(self._show_signed_out)
        self.session.statusChanged.connect(self._update_sign_in_actions)
        self.session.statusChanged.connect(self.sync_status.update_status)
        self.session.statusChanged.connect(self.banner.update_status)
        self.session.dataChanged.connect(self._refresh_counts)
        self.session.mirrorDamaged.connect(self._mirror_damaged)

    # ------------------------------------------------------------------ start-up

    def _first_load(self) -> None:
        self._inbox_loaded = True
        self.inbox_model.loaded.disconnect(self._first_load)
        self.inbox.table.viewport().update()  # the paint below, even when no row changed

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.Paint and self._inbox_loaded and not self._inbox_shown
                and watched is self.inbox.table.viewport() and self._rows_in_view()):
            # Once this paint (the first with the view's rows) is done.
            QTimer.singleShot(0, self, self._after_first_paint)
        return super().eventFilter(watched, event)

    def _rows_in_view(self) -> bool:
        """Whether the first and last rows the inbox shows have their data (or none shows)."""
        rows = self.inbox.table.visible_rows()
        return all(self.inbox_model.index(row, 0).data(ROW_ROLE) is not None
                   for row in {rows[0], rows[-1]}) if rows else True

    def _after_first_paint(self) -> None:
        """What start-up left for after the first inbox paint: the conversation pane, the
        counts beside the views, the connection to the server (signing in, syncing) and the
        deferred mirror check."""
        if self._inbox_shown:
            return
        self._inbox_shown = True
        self.inbox.table.viewport().removeEventFilter(self)
        if not self.session.is_open:  # closed meanwhile (the desk is quitting)
            return
        self.conversation  # noqa: B018  (built now: see __init__)
        self._refresh_counts()
        spawn(self.session.connect(), "connect")
        self.inboxShown.emit()

    # ------------------------------------------------------------------ behaviour

    @property
    def conversation(self) -> ConversationPane:
        """The conversation pane: thread, composer and actions (built on first use)."""
        if self._conversation is None:
            from app.conversation.pane import ConversationPane

            pane = ConversationPane(self.session, self.drafts, self)
            pane.setMinimumWidth(self.CONVERSATION_MIN_WIDTH)
            pane.contactChanged.connect(self._show_contact)
            pane.changed.connect(self._acted)
            pane.reply_delay_ms = self.settings.reply_undo_s * 1000
            pane.composer.leaveRequested.connect(
                lambda: self.inbox.table.setFocus(Qt.FocusReason.ShortcutFocusReason))
            self.undo.replyTakenBack.connect(pane.put_back_reply)
            self._conversation = pane
            slot = self._conversation_slot
            self.splitter.replaceWidget(self.splitter.indexOf(slot), pane)  # same place, size
            slot.deleteLater()
        return self._conversation

    def _activated(self, conversation_id: str) -> None:
        if not self.session.signed_out:
            self.conversation.open_conversation(conversation_id)

    def open_conversation(self, conversation_id: str) -> None:
        if self.session.signed_out:  # (a notification clicked after signing out)
            return
        if not self.inbox.select_id(conversation_id):
            self.conversation.open_conversation(conversation_id)
        self.raise_()
        self.activateWindow()

    def _acted(self, item: Undoable) -> None:
        """The agent changed the open conversation: offer to undo it; a resolved or snoozed
        one makes way for the next in the list (``next_after_done``)."""
        self.undo.push(item)
        if (item.moves_on and self.settings.next_after_done
                and self.inbox.current_id() == item.conversation_id):
            self.inbox.move(1)

    def _undone(self, item: Undoable) -> None:
        """What was undone comes back on screen (the desk may have moved on from it)."""
        if self._conversation is not None and self.conversation.conversation_id != (
                item.conversation_id):
            self.open_conversation(item.conversation_id)

    def _toggle_next_after(self, enabled: bool) -> None:
        self.settings.next_after_done = enabled
        self._persist()

    def _set_reply_undo(self, value: str) -> None:
        self.settings.reply_undo_s = int(value)
        if self._conversation is not None:
            self._conversation.reply_delay_ms = int(value) * 1000
        self._persist()

    def _sync_now(self) -> None:
        if self.session.signed_out or self.session.status.state is EngineState.SIGN_IN_REQUIRED:
            self.signInRequested.emit()  # syncing needs a sign-in first: ask for it, each time
        elif self.session.engine is not None:  # else it is about to start, and sync
            self.session.engine.trigger("user")

    # ------------------------------------------------------------------ signing in and out

    def _make_signed_out_page(self) -> QWidget:
        page = QWidget(self)
        page.setObjectName("signedOutPage")
        self.signed_out_label = QLabel(
            self.tr("You are signed out. Sign in to see your conversations."), page)
        self.signed_out_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.signed_out_label.setWordWrap(True)
        self.signed_out_button = QPushButton(self.tr("Sign in…"), page)
        self.signed_out_button.setAccessibleName(self.tr("Sign in"))
        self.signed_out_button.clicked.connect(self.signInRequested)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.signed_out_label)
        layout.addWidget(self.signed_out_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)
        return page

    def _update_sign_in_actions(self, status: EngineStatus) -> None:
        asking = self.session.signed_out or status.state is EngineState.SIGN_IN_REQUIRED
        self.act_sign_in.setEnabled(asking)
        self.act_sign_out.setEnabled(not self.session.signed_out)

    def _show_signed_out(self, signed_out: bool) -> None:
        """Signed out: the inbox, the conversation and the customer panel go out of sight
        (and out of reach of the keys) until someone signs in again."""
        if signed_out and self.pages.currentWidget() is not self.signed_out_page:
            self._customer_dock_was_visible = self.customer_dock.isVisible()
            self.customer_dock.hide()
            for dialog in self.findChildren(OutboxDialog):
                dialog.close()
            self.pages.setCurrentWidget(self.signed_out_page)
        elif not signed_out and self.pages.currentWidget() is self.signed_out_page:
            self.pages.setCurrentIndex(0)
            self.customer_dock.setVisible(self._customer_dock_was_visible)
        for act in self._data_actions:
            act.setEnabled(not signed_out)
        self.customer_dock.toggleViewAction().setEnabled(not signed_out)
        self._update_sign_in_actions(self.session.status)

    def ask_sign_out(self) -> None:
        """Sign out; with work not sent yet, say first that it stays queued."""
        unsent = self.session.status.pending
        if not unsent:
            spawn(self.session.sign_out(), "sign-out")
            return
        text = (self.tr("1 reply or change is not sent yet. It stays queued on this computer "
                        "and is sent after you sign in again.") if unsent == 1 else
                self.tr("{n} replies and changes are not sent yet. They stay queued on this "
                        "computer and are sent after you sign in again.").format(n=unsent))
        box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Sign out"), text,
                          QMessageBox.StandardButton.Cancel, self)
        sign_out = box.addButton(self.tr("Sign out"), QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)

        def answered(_result: int) -> None:
            if box.clickedButton() is sign_out:
                spawn(self.session.sign_out(), "sign-out")
            self.sign_out_box = None
            box.deleteLater()

        box.finished.connect(answered)
        self.sign_out_box = box
        box.open()  # not exec(): no nested event loop under qasync

    def _show_contact(self, contact_id: str, conversation_id: str) -> None:
        spawn(self.customer.show_contact(self.session, contact_id, conversation_id),
              "contact-view")

    def _refresh_counts(self) -> None:
        """Counts beside the views; one count at a time (a burst of changes during a sync
        makes at most one more), so they never crowd out the rows the agent is looking at."""
        if self._counting:
            self._count_again = True
            return
        self._counting = True

        async def load() -> None:
            try:
                counts = await self.session.read(queries.nav_counts, self.session.agent_id)
                self.nav.set_counts(counts)
            finally:
                self._counting = False
                if self._count_again:
                    self._count_again = False
                    self._refresh_counts()

        spawn(load(), "nav-counts")

    def _directory_changed(self, directory: queries.Directory) -> None:
        self.nav.set_directory(directory)
        self._update_title()
        if self._view_shown:  # a first start learns the agent's role and teams only now
            self._open_start_view()

    def _update_title(self) -> None:
        """Who works here, by name (the email until the directory knows them); the platform
        adds the application's name ("Alex Morgan — Relaydesk")."""
        me = self.session.me
        name = display_safe(me.name, isolate=False) if me is not None and me.name.strip() else ""
        self.setWindowTitle(name or self.session.config.email)

    # ------------------------------------------------------------------ views

    def _open_start_view(self) -> None:
        """Open on the view this workspace showed last; else on All for a supervisor (they
        watch every team), else on Mine. Until the agent picks a view themselves."""
        if self._view_picked:
            return
        me = self.session.me
        key = self._remembered_view or (
            "all" if me is not None and me.role == "supervisor" else "mine")
        if self._view_shown and self.nav.current_key() == key:
            return
        self._choosing_view = True
        try:
            if not self.nav.select_view(key) and not self._view_shown:
                self.nav.select_view("mine")  # (its team is not in the directory yet)
        finally:
            self._choosing_view = False

    def _view_chosen(self, flt: InboxFilter) -> None:
        self._view_shown = True
        if not self._choosing_view:
            self._view_picked = True
        self.workspace.last_view = self.nav.current_key()  # kept when the window closes
        self.inbox.set_filter(flt, self.nav.current_title())

    def _sort_chosen(self, sort: Sort) -> None:
        self.workspace.inbox_sort = sort.value
        self._persist()

    def _mirror_damaged(self, problem: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, self.tr("Relaydesk"),
                          self.tr("The local copy of your inbox is damaged. Restart Relaydesk "
                                  "to rebuild it from the server; your unsent work is kept."),
                          QMessageBox.StandardButton.Ok, self)
        box.setDetailedText(problem)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _focus_composer(self) -> None:
        self.conversation.composer.focus_editor()

    def _canned(self) -> None:
        if self.conversation.row is not None:
            self.conversation.composer.open_canned_picker()

    def show_outbox(self) -> None:
        dialog = OutboxDialog(self.session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def show_about(self) -> None:
        from app.about import AboutDialog
        from app.logs import log_dir
        from app.settings import settings_path

        dialog = AboutDialog({"data": self.session.data_dir, "settings": settings_path(),
                              "logs": log_dir()}, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.about_dialog = dialog

    def show_shortcuts(self) -> None:
        from app.shortcuts import ShortcutSheet

        dialog = ShortcutSheet(
            (self.act_next, self.act_prev, self.act_search, self.act_reply, "send", "leave",
             self.act_canned, "mention", self.act_assign_me, self.act_resolve, self.act_snooze,
             self.act_undo, self.act_sync, self.act_help, self.act_quit), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.shortcut_sheet = dialog

    def _choice_menu(self, menu: QMenu, current: str, choices: tuple[tuple[str, str], ...],
                     choose: Callable[[str], None]) -> None:
        group = QActionGroup(menu)
        group.setExclusive(True)
        for value, label in choices:
            act = menu.addAction(label)
            act.setCheckable(True)
            act.setChecked(current == value)
            group.addAction(act)
            act.triggered.connect(lambda _c=False, v=value: choose(v))

    def _set_theme(self, value: str) -> None:
        from PySide6.QtWidgets import QApplication

        from app import theme

        self.settings.theme = value
        app = QApplication.instance()
        if isinstance(app, QApplication):
            theme.apply_theme(app, value)
        self._persist()

    def _set_language(self, value: str) -> None:
        self.settings.language = value
        self._persist()
        self._announce_language(value)

    def _announce_language(self, value: str) -> None:
        """Say that the new language shows from the next start (every widget is built in
        one language), in that language too: its reader may not read this one."""
        from app import i18n

        text = self.tr("Relaydesk shows the language you chose the next time it starts.")
        chosen = i18n.translated_into(
            value, "MainWindow", "Relaydesk shows the language you chose the next time it "
                                 "starts.")
        box = QMessageBox(QMessageBox.Icon.Information, self.tr("Language"), text,
                          QMessageBox.StandardButton.Ok, self)
        if chosen != text:
            box.setInformativeText(chosen)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.language_notice = box
        box.open()  # not exec(): no nested event loop under qasync

    def _toggle_notifications(self, enabled: bool) -> None:
        self.settings.notifications = enabled
        self.notifier.set_enabled(enabled)
        self._persist()

    # ------------------------------------------------------------------ saved filters

    def _save_filter(self, flt: InboxFilter) -> None:
        dialog = QInputDialog(self)
        dialog.setWindowTitle(self.tr("Save view"))
        dialog.setLabelText(self.tr("Name for this view:"))

        def save(name: str) -> None:
            name = name.strip()
            if not name:
                return
            self.workspace.save_filter(name, flt)
            self.nav.set_saved_filters(self.workspace.filters())
            self._persist()

        dialog.textValueSelected.connect(save)
        dialog.open()

    def _delete_saved_filter(self, name: str) -> None:
        self.workspace.remove_filter(name)
        self.nav.set_saved_filters(self.workspace.filters())
        self._persist()

    # ------------------------------------------------------------------ persistence

    def _persist(self) -> None:
        if self._save_settings is not None:
            self._save_settings(self.settings)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:
            self._sized = True  # first run: the list gets what it needs, the thread the rest
            self.splitter.setSizes(first_sizes(self.splitter))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.folder.fit(self.width())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.ActivationChange:
            # Someone at the desk: a server that went away is looked for again sooner.
            self.session.set_agent_active(self.isActiveWindow())
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        remember(self, self.splitter, self.folder, self.settings)
        self._persist()
        super().closeEvent(event)
        self.closed.emit()
