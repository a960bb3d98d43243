"""The desk's platform layer: settings, theme, translations, logs, crash reporting, icons."""

from __future__ import annotations

import errno
import json
import logging
import secrets
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QLocale, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

from app import crash, i18n, icons, logs, settings, theme
from sync.client import Unreachable
from sync.queries import InboxFilter
from sync.store import OutboxUnreadable

# --------------------------------------------------------------------------- settings


def test_settings_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "settings.json"
    s = settings.DeskSettings(language="ja", theme="dark", notifications=False,
                              notify_sound=True, window_geometry="AdnQywADAAA=",
                              last_workspace="/data/ws")
    workspace = s.workspace("/data/ws")
    workspace.inbox_sort, workspace.last_view = "waiting", "all"
    workspace.save_filter("VIP waiting", InboxFilter(assignee="me", tag="vip",
                                                     statuses=("open",)))
    s.save(path)

    loaded = settings.load(path)
    assert loaded == s
    assert loaded.workspace("/data/ws").filters() == [
        ("VIP waiting", InboxFilter(assignee="me", tag="vip", statuses=("open",)))]
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temp file left


def test_settings_path_follows_the_environment(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.CONFIG_DIR_ENV, str(tmp_path))
    assert settings.settings_path() == tmp_path / "settings.json"
    settings.DeskSettings(theme="light").save()
    assert settings.load().theme == "light"


def test_corrupt_settings_are_kept_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                         ) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"theme": "dark", ', encoding="utf-8")
    with caplog.at_level(logging.WARNING, "relaydesk.settings"):
        loaded = settings.load(path)
    assert loaded == settings.DeskSettings()
    aside = list(tmp_path.glob("settings.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text(encoding="utf-8") == '{"theme": "dark", '
    assert not path.exists()
    assert "unreadable" in caplog.text


def test_invalid_values_fall_back_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"theme": "purple", "language": "ja", "notifications": "yes",
                                "access_token": "should-not-survive"}), encoding="utf-8")
    loaded = settings.load(path)
    assert (loaded.theme, loaded.language, loaded.notifications) == ("system", "ja", True)
    loaded.save(path)
    assert "access_token" not in path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- theme


@pytest.fixture
def restore_look(qapp: QApplication) -> Iterator[QApplication]:
    palette, sheet = QPalette(qapp.palette()), qapp.styleSheet()
    style = qapp.style().name() or "fusion"
    yield qapp
    qapp.setStyle(style)
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)
    if hasattr(qapp.styleHints(), "unsetColorScheme"):
        qapp.styleHints().unsetColorScheme()
    icons.clear_cache()


def test_theme_switches_palette(restore_look: QApplication) -> None:
    app = restore_look
    assert theme.apply_theme(app, "dark") is True
    assert theme.is_dark(app)
    window = app.palette().color(QPalette.ColorRole.Window)
    text = app.palette().color(QPalette.ColorRole.Text)
    assert window.lightness() < 64 and text.lightness() > 200
    dark_failed = theme.color("failed")

    assert theme.apply_theme(app, "light") is False
    assert not theme.is_dark(app)
    assert app.palette().color(QPalette.ColorRole.Window).lightness() > 200
    assert theme.color("failed") != dark_failed
    for name in theme.SEMANTIC:
        assert theme.color(name, dark=True) != theme.color(name, dark=False), name


def test_system_theme_follows_the_os(restore_look: QApplication) -> None:
    app = restore_look
    assert theme.apply_theme(app, "system") is theme.system_is_dark(app)
    assert theme.is_dark(app) is theme.system_is_dark(app)
    assert theme.current_choice() == "system"


# --------------------------------------------------------------------------- translations

TINY_TS = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="ja" sourcelanguage="en">
<context>
    <name>PlatformTest</name>
    <message>
        <source>Resolve</source>
        <translation>解決</translation>
    </message>
</context>
</TS>
"""


@pytest.fixture
def restore_language(qapp: QApplication) -> Iterator[QApplication]:
    locale = QLocale()
    yield qapp
    i18n.install_translations(qapp, "en")
    QLocale.setDefault(locale)


def test_japanese_translation_from_a_built_qm(tmp_path: Path,
                                              restore_language: QApplication) -> None:
    (tmp_path / "relaydesk_ja.ts").write_text(TINY_TS, encoding="utf-8")
    assert i18n.build_qm(tmp_path) == [tmp_path / "relaydesk_ja.qm"]

    assert i18n.install_translations(restore_language, "ja", tmp_path) == "ja"
    assert QCoreApplication.translate("PlatformTest", "Resolve") == "解決"
    assert QLocale().language() == QLocale.Language.Japanese

    assert i18n.install_translations(restore_language, "en", tmp_path) == "en"
    assert QCoreApplication.translate("PlatformTest", "Resolve") == "Resolve"


def test_missing_translation_falls_back_to_english(
        tmp_path: Path, restore_language: QApplication, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "relaydesk.i18n"):
        assert i18n.install_translations(restore_language, "ja", tmp_path) == "en"
    assert "no translation" in caplog.text
    assert QCoreApplication.translate("PlatformTest", "Resolve") == "Resolve"


def test_update_collects_strings_and_keeps_translations(tmp_path: Path) -> None:
    src = tmp_path / "widget.py"
    src.write_text('from PySide6.QtCore import QCoreApplication\n'
                   'QCoreApplication.translate("PlatformTest", "Resolve")\n'
                   'QCoreApplication.translate("PlatformTest", "Snooze")\n', encoding="utf-8")
    (tmp_path / "relaydesk_ja.ts").write_text(TINY_TS, encoding="utf-8")
    ts = i18n.update_ts("ja", sources=[src], directory=tmp_path)
    text = ts.read_text(encoding="utf-8")
    assert "<source>Snooze</source>" in text
    assert "<translation>解決</translation>" in text


# --------------------------------------------------------------------------- logs


@pytest.fixture
def logging_to(tmp_path: Path) -> Iterator[tuple[logs.RecentLog, Path]]:
    root, ours = logging.getLogger(), logging.getLogger("relaydesk")
    levels = root.level, ours.level
    recent = logs.setup_logging(tmp_path / "logs")
    yield recent, tmp_path / "logs" / logs.LOG_FILE
    logs.close_logging()
    logging.captureWarnings(False)
    root.setLevel(levels[0])
    ours.setLevel(levels[1])


def test_secrets_never_reach_the_logs(logging_to: tuple[logs.RecentLog, Path]) -> None:
    recent, file = logging_to
    token, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    log = logs.get_logger("sync")
    log.info("GET /feed Authorization: Bearer %s", token)
    log.info("refresh with %s", {"refresh_token": refresh, "password": "hunter 2"})
    try:
        raise RuntimeError(f"server said access_token={token}")
    except RuntimeError:
        log.exception("request failed")
    logs.close_logging()

    for where, text in (("file", file.read_text(encoding="utf-8")), ("memory", recent.text())):
        assert "Bearer ***" in text, where
        assert token not in text and refresh not in text and "hunter 2" not in text, where
        assert "access_token=***" in text and "RuntimeError" in text, where


def test_recent_log_keeps_the_last_records(logging_to: tuple[logs.RecentLog, Path]) -> None:
    recent, _ = logging_to
    for i in range(logs.RECENT + 100):
        logs.get_logger("inbox").info("row %d", i)
    lines = recent.lines()
    assert len(lines) == logs.RECENT
    assert lines[0].endswith("row 100") and lines[-1].endswith(f"row {logs.RECENT + 99}")


# --------------------------------------------------------------------------- crash


def test_crash_dialog_copies_summary_traceback_and_log(qtbot) -> None:
    dialog = crash.CrashDialog("ValueError: boom", "Traceback (most recent call last):\n  x",
                               "12:00 INFO relaydesk.sync: synced 3 changes")
    qtbot.addWidget(dialog)
    dialog.show()
    assert "synced 3 changes" in dialog.log_view.toPlainText()
    assert dialog.log_view.isReadOnly()
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(dialog.copy_button, Qt.MouseButton.LeftButton)
    copied = QGuiApplication.clipboard().text()
    assert "ValueError: boom" in copied and "Traceback" in copied
    assert "synced 3 changes" in copied


def test_unhandled_exception_opens_one_dialog(qtbot, logging_to) -> None:
    recent, _ = logging_to
    quits: list[bool] = []
    reporter = crash.install_excepthook(recent, lambda: None, on_quit=lambda: quits.append(True))
    try:
        for message in ("first failure", "second failure"):
            try:
                raise KeyError(message)
            except KeyError:
                sys.excepthook(*sys.exc_info())
        qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible())
        dialog = reporter.dialog  # deletes itself on close
        qtbot.waitUntil(lambda: dialog.more == 1)
        assert "first failure" in dialog.summary_label.text()
        assert "second failure" in dialog.report_text()
        assert "unhandled exception" in dialog.log_view.toPlainText()
        qtbot.mouseClick(dialog.quit_button, Qt.MouseButton.LeftButton)
        assert quits == [True]
        qtbot.waitUntil(lambda: reporter.dialog is None)
    finally:
        reporter.uninstall()


def test_known_errors_get_a_sentence_not_a_crash_dialog(qtbot, logging_to) -> None:
    recent, _ = logging_to
    reporter = crash.install_excepthook(recent, lambda: None)
    try:
        from app import tasks
        assert tasks.on_error is not None
        tasks.on_error(OSError(errno.ENOSPC, "No space left on device"))
        qtbot.waitUntil(lambda: reporter.message is not None and reporter.message.isVisible())
        box: QMessageBox = reporter.message
        assert "disk is full" in box.text()
        assert reporter.dialog is None
        box.close()
        qtbot.waitUntil(lambda: reporter.message is None)
    finally:
        reporter.uninstall()


def _wrapped(inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise RuntimeError("while saving a draft") from exc
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(("exc", "words"), [
    (OSError(errno.ENOSPC, "No space left on device"), "disk is full"),
    (sqlite3.OperationalError("database is locked"), "other copies"),
    (Unreachable("connection refused"), "cannot be reached"),
    (OutboxUnreadable("The outbox /x/outbox.sqlite3 is damaged"), "/x/outbox.sqlite3"),
    (PermissionError(errno.EACCES, "Permission denied", "/srv/relaydesk"), "/srv/relaydesk"),
])
def test_describe_known_error(exc: BaseException, words: str) -> None:
    assert words in (crash.describe_known_error(exc) or "")
    assert words in (crash.describe_known_error(_wrapped(exc)) or "")


def test_unknown_errors_are_not_described() -> None:
    assert crash.describe_known_error(ValueError("bad row")) is None
    assert crash.describe_known_error(sqlite3.OperationalError("no such table: x")) is None


# --------------------------------------------------------------------------- icons


def _opaque_pixels(icon, size: int = 32) -> list[QColor]:
    image = icon.pixmap(size, size).toImage()
    return [image.pixelColor(x, y) for x in range(image.width()) for y in range(image.height())
            if image.pixelColor(x, y).alpha() > 200]


@pytest.mark.parametrize("channel_type", [*icons.CHANNEL_TYPES, "carrier_pigeon"])
def test_channel_icons_draw_something(qapp: QApplication, channel_type: str) -> None:
    icon = icons.channel_icon(channel_type)
    assert not icon.isNull()
    assert _opaque_pixels(icon)


def test_every_named_icon_exists() -> None:
    wanted = {*icons.CHANNEL_TYPES, *icons.ACTIONS,
              *(f"status_{s}" for s in icons.STATUSES),
              *(f"priority_{p}" for p in icons.PRIORITIES)}
    assert wanted <= set(icons.names())


def test_icons_take_the_theme_text_colour(restore_look: QApplication) -> None:
    theme.apply_theme(restore_look, "dark")
    assert all(c.lightness() > 180 for c in _opaque_pixels(icons.icon("send")))
    theme.apply_theme(restore_look, "light")
    assert all(c.lightness() < 80 for c in _opaque_pixels(icons.icon("send")))
    red = _opaque_pixels(icons.status_icon("resolved", "#c00000"))
    assert red and all(c.red() > 150 and c.green() < 60 for c in red)
