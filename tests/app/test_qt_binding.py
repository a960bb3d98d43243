"""The Qt binding itself must not corrupt the interpreter.

PySide6 6.12.0 under Python 3.11 drops a reference to None on every Qt call that returns
nothing (QTimer.start, QWidget.update…); the desk made thousands an hour and aborted with
"deallocating None". pyproject.toml excludes that release; this keeps it excluded.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel


def test_void_qt_calls_do_not_leak_references_to_none(qtbot):
    label = QLabel()
    qtbot.addWidget(label)
    timer = QTimer()
    before = sys.getrefcount(None)
    for _ in range(5000):
        timer.start(1000)
        timer.stop()
        label.setText("x")
        label.update()
    lost = before - sys.getrefcount(None)
    assert lost < 100, f"{lost} references to None lost in 20,000 Qt calls"
