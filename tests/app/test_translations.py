"""The Japanese translation: complete for every string in the code, faithful to its
placeholders, accelerators and keys, and what the desk actually shows once the .qm is loaded."""

from __future__ import annotations

import ast
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication

from app import i18n
from sync import outbox
from sync.engine import EngineState, EngineStatus

REPO_TS = i18n.TRANSLATIONS_DIR / "relaydesk_ja.ts"

_PLACEHOLDER = re.compile(r"\{[A-Za-z_]\w*\}|%n|%L?\d+")
_ACCELERATOR = re.compile(r"&(?=[^&\s])")
_KEY = re.compile(r"\b(?:Ctrl|Shift|Alt|Meta)\+\w+")
_TRANSLATING = re.compile(r"(?:^|[._])(?:tr|translate)$")  # self.tr, _tr, ….translate
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
# Names the Japanese UI keeps as they are (products, channels, examples, pure placeholders).
_KEPT_AS_IS = re.compile(r"Relaydesk|WhatsApp|Messenger|Instagram|LINE|SMS|\S+@\S+")


@dataclass(frozen=True)
class Message:
    context: str
    source: str
    comment: str
    translation: str
    finished: bool

    def __str__(self) -> str:
        comment = f" (comment {self.comment!r})" if self.comment else ""
        return f"context {self.context!r}: {self.source!r}{comment}"


def read_ts(path: Path) -> list[Message]:
    messages = []
    for ctx in ET.parse(path).getroot().iter("context"):
        name = ctx.findtext("name") or ""
        for m in ctx.iter("message"):
            tr = m.find("translation")
            assert tr is not None, f"{name}: {m.findtext('source')!r} has no <translation>"
            forms = [f.text or "" for f in tr.iter("numerusform")] or [tr.text or ""]
            finished = tr.get("type") not in ("unfinished", "vanished", "obsolete") \
                and all(f.strip() for f in forms)
            messages.append(Message(name, m.findtext("source") or "",
                                    m.findtext("comment") or "", " | ".join(forms), finished))
    return messages


# --------------------------------------------------------------------------- completeness


def test_every_string_in_the_code_has_a_japanese_translation(tmp_path: Path) -> None:
    """lupdate over today's app/ into a copy of the .ts: nothing new, nothing unfinished."""
    shutil.copy(REPO_TS, tmp_path / REPO_TS.name)
    ts = i18n.update_ts("ja", directory=tmp_path)  # every app/**/*.py, like `make translations`
    messages = read_ts(ts)
    assert len(messages) > 250  # the whole desk, not a stray file
    missing = [str(m) for m in messages if not m.finished]
    assert not missing, ("strings without Japanese (run `python -m app.i18n update`, then "
                         "translate them in resources/translations/relaydesk_ja.ts):\n  "
                         + "\n  ".join(missing))
    # the committed file is what the update produces: no translation hides in a stale entry
    repo = {(m.context, m.source) for m in read_ts(REPO_TS)}
    current = {(m.context, m.source) for m in messages}
    assert repo == current, f"stale entries in the .ts: {sorted(repo - current)}"


def _literal(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    return (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
            and _literal(node.left) and _literal(node.right))


def _call_name(node: ast.Call) -> str:
    return ast.unparse(node.func)


def _translate_problems(path: Path) -> Iterator[str]:
    """Translation calls lupdate cannot read as the (context, source) asked for at run time."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    qt_apps = {"QCoreApplication", "QApplication", "QGuiApplication"}
    for node in ast.walk(tree):
        where = f"{path.relative_to(i18n.ROOT)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "translate" and ast.unparse(node.value.value) in qt_apps:
            names = [ast.unparse(t) for t in node.targets]
            if names != ["translate"]:  # lupdate reads `tr(ctx, text)` as tr(text, comment)
                yield f"{where}: alias {names[0]} = {ast.unparse(node.value)}"
        if isinstance(node, ast.JoinedStr):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call) and _TRANSLATING.search(_call_name(inner)):
                    yield f"{where}: {_call_name(inner)}() inside an f-string"
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        args = node.args
        if name == "self.tr":
            if not args or not _literal(args[0]):
                yield f"{where}: {ast.unparse(node)[:80]}"
        elif (name.split(".")[-1] == "translate"
              and (name.split(".")[0] in qt_apps or (len(args) >= 2 and _literal(args[0])))
              and (len(args) < 2 or not _literal(args[0]) or not _literal(args[1]))):
            yield f"{where}: {ast.unparse(node)[:80]}"


def test_lupdate_can_read_every_translation_call() -> None:
    """A string only reaches the .ts when lupdate can read its context and source: no
    one-argument helpers around translate(), no f-strings, no calls inside f-strings."""
    problems = [p for path in sorted(i18n.APP_DIR.rglob("*.py"))
                for p in _translate_problems(path)]
    assert not problems, ("translation calls lupdate cannot extract (use literal "
                          "QCoreApplication.translate(\"Context\", \"text\") or self.tr(\"text\") "
                          "and .format() after it):\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------- fidelity


def _tokens(pattern: re.Pattern[str], text: str) -> list[str]:
    return sorted(pattern.findall(text))


def test_translations_keep_placeholders_accelerators_and_keys() -> None:
    messages = read_ts(REPO_TS)
    assert messages
    wrong = []
    for m in messages:
        if not m.finished:
            wrong.append(f"{m}: unfinished")
            continue
        if _tokens(_PLACEHOLDER, m.source) != _tokens(_PLACEHOLDER, m.translation):
            wrong.append(f"{m}: placeholders {_tokens(_PLACEHOLDER, m.source)} became "
                         f"{_tokens(_PLACEHOLDER, m.translation)} in {m.translation!r}")
        if len(_ACCELERATOR.findall(m.source)) != len(_ACCELERATOR.findall(m.translation)):
            wrong.append(f"{m}: the &accelerator is lost in {m.translation!r}")
        if _tokens(_KEY, m.source) != _tokens(_KEY, m.translation):
            wrong.append(f"{m}: keys {_tokens(_KEY, m.source)} differ in {m.translation!r}")
        english_left = _KEPT_AS_IS.sub("", _PLACEHOLDER.sub("", m.source))
        if re.search(r"[A-Za-z]{2,}", english_left) and not _CJK.search(m.translation):
            wrong.append(f"{m}: not Japanese: {m.translation!r}")
    assert not wrong, "\n  ".join(["translations that break the desk:", *wrong])


def test_terms_are_used_consistently() -> None:
    """A conversation's "Pending" status and an outbox item waiting to be sent are different
    things to an agent; each English term keeps one Japanese word everywhere."""
    by_key = {(m.context, m.source): m.translation for m in read_ts(REPO_TS)}
    assert by_key[("Labels", "Pending")] == "保留中"
    assert by_key[("Outbox", "Pending")] == "送信待ち"
    assert "送信待ち" in by_key[("SyncStatusWidget", "{n} pending")]
    expected = {"conversation": "会話", "unassigned": "未割り当て", "canned repl": "定型文",
                "internal note": "社内メモ", "outbox": "送信トレイ", "snooze": "スヌーズ",
                "sign in": "サインイン", "offline": "オフライン", "assignee": "担当者"}
    inconsistent = [f"{m}: {m.translation!r} lacks {ja}" for m in read_ts(REPO_TS)
                    for en, ja in expected.items()
                    if en in m.source.lower() and ja not in m.translation
                    and not (en == "sign in" and "signing in" in m.source.lower())]
    assert not inconsistent, "\n  ".join(["terms translated inconsistently:", *inconsistent])


# --------------------------------------------------------------------------- at run time


@pytest.fixture
def japanese(qapp: QApplication, tmp_path: Path) -> Iterator[QApplication]:
    """The desk in Japanese from a .qm that the real lrelease built from the repo's .ts;
    English (and the default locale) again afterwards, for the tests that follow."""
    locale = QLocale()
    shutil.copy(REPO_TS, tmp_path / REPO_TS.name)
    assert i18n.build_qm(tmp_path) == [tmp_path / "relaydesk_ja.qm"]
    assert i18n.install_translations(qapp, "ja", tmp_path) == "ja"
    yield qapp
    i18n.install_translations(qapp, "en")
    QLocale.setDefault(locale)


def test_status_bar_speaks_japanese(japanese: QApplication, qtbot) -> None:
    from app.statusbar import SyncStatusWidget

    widget = SyncStatusWidget()
    qtbot.addWidget(widget)
    widget.update_status(EngineStatus(EngineState.OFFLINE, "connection refused", pending=3,
                                      rejected=1))
    assert _CJK.search(widget.state_text()), widget.state_text()
    assert "オフライン" in widget.state_text()
    assert "3" in widget.pending_button.text() and "送信待ち" in widget.pending_button.text()
    assert "1" in widget.failed_button.text() and _CJK.search(widget.failed_button.text())

    widget.update_status(EngineStatus(EngineState.ERROR, "The server answered 503.",
                                      problem="server_busy"))
    assert _CJK.search(widget.state_text()) and "503" not in widget.state_text()

    i18n.install_translations(japanese, "en")
    widget.update_status(EngineStatus(EngineState.OFFLINE, "connection refused", pending=3))
    assert not _CJK.search(widget.state_text()), widget.state_text()


def test_labels_built_outside_widgets_speak_japanese(japanese: QApplication) -> None:
    """Module-level helpers translate in their own contexts: the inbox status and priority
    columns, the outbox states, the snooze menu and the thread's day separators."""
    from app import labels
    from app.conversation import pane, render
    from app.labels import rejection_label
    from app.outbox_dialog import state_label

    assert labels.status_label("pending") == "保留中"
    assert labels.priority_label("urgent") == "緊急"
    assert labels.channel_type_label("web_chat") == "Webチャット"
    assert state_label(outbox.PENDING) == "送信待ち"
    labels = [label for label, _ in pane.snooze_choices(datetime(2025, 3, 5, 14, 0))]
    assert len(labels) == 4 and all(_CJK.search(label) for label in labels), labels
    assert render.day_label(date(2025, 3, 5), date(2025, 3, 5)) == "今日"
    # why the server refused an intent: the desk's sentence, not the server's English
    refused = rejection_label("window_closed", "The messaging window is closed.")
    assert _CJK.search(refused) and "window" not in refused, refused
    invalid = rejection_label("invalid", "A reply cannot be empty.")
    assert _CJK.search(invalid) and "A reply cannot be empty." in invalid, invalid
    assert rejection_label("from_a_newer_server", "Words.") == "Words."


@pytest.mark.parametrize("language", ["en", "ja"])
async def test_every_inbox_column_shows_its_whole_title(language: str, japanese: QApplication,
                                                         backend, desks, qtbot) -> None:
    """The inbox's narrow columns are as wide as their titles in the agent's language
    ("最終アクティビティ" was cut to "最終アク"); the full name stays in the tooltip."""
    from PySide6.QtCore import Qt

    from app.inbox.model import COL_SUBJECT, InboxModel
    from app.inbox.view import InboxView

    if language == "en":
        i18n.install_translations(japanese, "en")
    session = await desks.session(backend)
    model = InboxModel(session)
    view = InboxView(model)
    qtbot.addWidget(view)
    header = view.table.horizontalHeader()
    titles = header.fontMetrics()
    shown = 0
    for col in range(model.columnCount()):
        title = model.headerData(col, Qt.Orientation.Horizontal)
        if not title or col == COL_SUBJECT:  # icon columns; the subject stretches
            continue
        assert header.sectionSize(col) >= titles.horizontalAdvance(title) + 8, title
        assert model.headerData(col, Qt.Orientation.Horizontal,
                                Qt.ItemDataRole.ToolTipRole)
        shown += 1
    assert shown >= 7
    if language == "ja":
        assert _CJK.search(model.headerData(COL_SUBJECT, Qt.Orientation.Horizontal))
