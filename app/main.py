"""``relaydesk``: the desk's entry point.

Python 3.11 has no ``asyncio.run(loop_factory=...)``: an ``asyncio.Runner`` with a qasync
loop factory runs the Qt event loop and asyncio as one. Start-up work that touches the disk
or the network (opening the mirror, starting the demo backend, signing in) runs off the GUI
thread; the window appears as soon as the local mirror is open, online or not.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app import display_check
from sync.private_files import private_umask

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

log = logging.getLogger("relaydesk.main")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="relaydesk", description="Relaydesk — the contact-center agent desk.")
    p.add_argument("--demo", action="store_true",
                   help="open the embedded demo workspace (backend started in-process)")
    p.add_argument("--demo-role", choices=["agent", "trainee", "supervisor"], default=None,
                   help="who to sign in as in the demo workspace (implies --demo)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="workspace data directory (default: the user data directory; env "
                        "RELAYDESK_DATA_DIR)")
    p.add_argument("--language", choices=["system", "en", "ja"], default=None,
                   help="user-interface language (default: the saved setting, else the OS)")
    return p


def import_before_qt() -> None:
    """Import the Qt-free modules the first paint needs before PySide6: once imported,
    PySide6 reads the source of every module imported after it (its ``__feature__``
    check). The sync engine and what it loads (SQLAlchemy, httpx, pydantic) are not among
    them: the session loads them after the first paint (``DeskSession.connect``)."""
    import app.logs
    import app.settings  # noqa: F401
    import sync.display
    import sync.queries
    import sync.status  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.demo_role:
        args.demo = True

    # Whatever this process creates (ours, Qt's, the demo server's) is the user's alone.
    with private_umask():
        return _run(args)


def _cannot_start(sentence: str) -> int:
    print(f"relaydesk: {sentence}", file=sys.stderr, flush=True)
    return EXIT_FAILURE


def _open_application(argv: list[str]) -> QApplication:
    """The QApplication; where Qt would abort with its own words because no platform plugin
    loads (no X server, a missing library), our one sentence and exit code 1 instead. What
    Qt logs meanwhile is held for that sentence, and printed as usual when Qt starts."""
    from PySide6.QtCore import QtMsgType, qFormatLogMessage, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    held: list[str] = []

    def hold(kind: QtMsgType, context: object, message: str) -> None:
        if kind == QtMsgType.QtFatalMsg:
            _cannot_start(display_check.explain_qt_failure([*held, message]))
            os._exit(EXIT_FAILURE)  # Qt aborts when this returns
        held.append(qFormatLogMessage(kind, context, message))

    previous = qInstallMessageHandler(hold)
    try:
        app = QApplication(argv)
    finally:
        qInstallMessageHandler(previous)
    for line in held:
        print(line, file=sys.stderr)
    return app


def _run(args: argparse.Namespace) -> int:
    # Without a display Qt aborts with its own message: say so in ours, before loading Qt.
    no_display = display_check.no_display(os.environ)
    if no_display:
        return _cannot_start(no_display)
    import_before_qt()
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError as error:  # a system library Qt needs is missing
        sentence = display_check.explain_import_failure(error)
        if sentence is None:
            raise
        return _cannot_start(sentence)
    import qasync

    from app import i18n, logs, theme
    from app.settings import DeskSettings, settings_path

    app = QApplication.instance() or _open_application(sys.argv[:1])
    app.setApplicationName("Relaydesk")
    app.setOrganizationName("Relaydesk")
    app.setApplicationDisplayName("Relaydesk")
    app.setQuitOnLastWindowClosed(False)  # we quit after closing the session cleanly
    # Logging first, so a warning about the settings or translations reaches the log.
    recent = logs.setup_logging()
    settings_file = settings_path()
    settings = DeskSettings.load(settings_file)
    i18n.install_translations(app, args.language or settings.language)
    theme.apply_theme(app, settings.theme)

    from app.crash import install_excepthook
    from app.desk import Desk

    desk = Desk(app, args, settings, lambda s: s.save(settings_file))
    install_excepthook(recent, lambda: desk.window)
    try:
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            return runner.run(desk.run())
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        logs.close_logging()


if __name__ == "__main__":
    sys.exit(main())
