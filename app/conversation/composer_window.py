"""The composer's banner: what the messaging window allows right now, and what it needs.

Time left for free replies, the human-agent tag after 24 h on Messenger/Instagram, a template
picker (a field per parameter, labelled by its name) after 24 h on WhatsApp, a closed window,
an opted-out SMS contact. The rules themselves are ``protocol.rules``; this only shows them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.conversation.placeholders import (
    GREETING_PARAMETERS,
    PLACEHOLDER,
    fill,
    first_name,
    readable_name,
    templates_for,
    unfilled,
)
from app.labels import language_name
from protocol.rules import HOUR_MS, WindowKind, WindowState, window_state
from sync.display import display_safe
from sync.queries import ConversationRow, TemplateInfo

MINUTE_MS = 60_000
# (light theme, dark theme) text colours by level
_TONES = {"warning": ("#9a5b00", "#f5b94a"), "error": ("#b42318", "#ff8a80"),
          "note": ("#7a5a00", "#e8c66a")}


def effective_window(row: ConversationRow, now_ms: int) -> WindowState:
    """``row.window``, moved on when its deadline passed since the row was read."""
    state = row.window
    if state.open_until is None or state.open_until > now_ms:
        return state
    try:
        return window_state(row.channel_type, row.last_inbound_at, now_ms)
    except ValueError:  # a channel type this desk does not know
        return WindowState(WindowKind.CLOSED)


def _columns(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _keep(text: str, columns: int, *, tail: bool) -> tuple[str, bool]:
    """At most ``columns`` (a CJK character counts 2) of ``text``: its end when ``tail``,
    else its start, on a word boundary when the text has spaces; and whether it was cut."""
    chars = list(reversed(text)) if tail else list(text)
    kept, used = [], 0
    for char in chars:
        used += _columns(char)
        if used > columns:
            break
        kept.append(char)
    else:
        return text, False
    part = "".join(reversed(kept)) if tail else "".join(kept)
    if tail and " " in part[:-1]:
        part = part[part.index(" ") + 1:]
    elif not tail and " " in part[1:]:
        part = part[:part.rindex(" ")]
    return part, True


def placeholder_context(body: str, name: str, before: int = 26, after: int = 18) -> str:
    """The template words around ``{{name}}`` ("…Electronics order {{2}}: {{3}}…"), so an
    empty value field says where its text goes; "" when ``body`` lacks it."""
    match = next((m for m in PLACEHOLDER.finditer(body) if m.group(1) == name), None)
    if match is None:
        return ""
    head, cut_head = _keep(body[:match.start()].replace("\n", " "), before, tail=True)
    tail, cut_tail = _keep(body[match.end():].replace("\n", " "), after, tail=False)
    return ("…" if cut_head else "") + head + match.group(0) + tail + ("…" if cut_tail else "")


def set_tone(label: QLabel, level: str) -> None:
    """Colour a label's text for ``level`` ("", "warning", "error", "note"), readable on
    a light or a dark palette."""
    palette = label.palette()
    if level in _TONES:
        dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
        palette.setColor(QPalette.ColorRole.WindowText, QColor(_TONES[level][int(dark)]))
    else:
        parent = label.parentWidget()
        base = parent.palette() if parent is not None else palette
        palette.setColor(QPalette.ColorRole.WindowText,
                         base.color(QPalette.ColorRole.WindowText))
    label.setPalette(palette)


class WindowBanner(QWidget):
    changed = Signal()  # the tag, the template or a template value changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._templates: list[TemplateInfo] = []
        self._contact = self._agent = ""
        self._context: tuple[object, ...] = ()
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setAccessibleName(self.tr("Messaging window"))
        self.human_tag = QCheckBox(self.tr("Send with the human agent tag"), self)
        self.human_tag.setAccessibleName(self.tr("Send with the human agent tag"))
        self.human_tag.setToolTip(self.tr(
            "Messenger and Instagram allow replies up to 7 days after the customer's last "
            "message when a person (not automation) answers. Tick to confirm."))
        self.human_tag.toggled.connect(self.changed)
        self.template_box = QComboBox(self)
        self.template_box.setAccessibleName(self.tr("Message template"))
        self.template_box.setToolTip(self.tr("Only an approved template can be sent now"))
        self.template_box.currentIndexChanged.connect(self._template_changed)
        self.params: dict[str, QLineEdit] = {}
        self._picker = QWidget(self)
        self._params_box = QWidget(self._picker)  # a labelled field per {{n}}: rebuilt
        self._picker_layout = QVBoxLayout(self._picker)
        self._picker_layout.setContentsMargins(0, 0, 0, 0)
        self._picker_layout.setSpacing(4)
        self._picker_layout.addWidget(self.template_box)
        self._picker_layout.addWidget(self._params_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.label)
        layout.addWidget(self.human_tag)
        layout.addWidget(self._picker)
        self.human_tag.hide()
        self._picker.hide()

    # ------------------------------------------------------------------ content

    def set_context(self, channel_type: str, templates: Sequence[TemplateInfo],
                    contact_name: str, agent_name: str, locale: str | None = None) -> None:
        """The conversation's templates (those in the customer's language, ``locale``,
        first) and names (a new conversation resets choices)."""
        context = (channel_type, tuple(templates), contact_name, agent_name, locale)
        if context == self._context:
            return  # a re-read row: keep the chosen template and its typed values
        self._context = context
        keep = self.template()
        self._contact, self._agent = contact_name, agent_name
        self._templates = templates_for(
            [t for t in templates if t.channel_type == channel_type], locale)
        self.template_box.blockSignals(True)
        self.template_box.clear()
        if self._templates:
            self.template_box.addItem(self.tr("Choose a template…"))
        else:
            self.template_box.addItem(self.tr("No approved templates for this channel"))
        for t in self._templates:  # by name and language: "Order update · 日本語" (plain)
            self.template_box.addItem(f"{display_safe(readable_name(t.name), isolate=False)}"
                                      f" · {language_name(t.locale)}")
            self.template_box.setItemData(self.template_box.count() - 1,
                                          t.body, Qt.ItemDataRole.ToolTipRole)
        self.template_box.setEnabled(bool(self._templates))
        if keep is not None and keep in self._templates:
            self.template_box.setCurrentIndex(self._templates.index(keep) + 1)
        self.template_box.blockSignals(False)
        self._template_changed()

    def reset(self) -> None:
        self.human_tag.setChecked(False)
        self.template_box.setCurrentIndex(0)

    def template(self) -> TemplateInfo | None:
        index = self.template_box.currentIndex() - 1
        return self._templates[index] if 0 <= index < len(self._templates) else None

    def template_text(self) -> str:
        """The chosen template with names and the values typed so far filled in."""
        t = self.template()
        if t is None:
            return ""
        values = {k: e.text().strip() for k, e in self.params.items() if e.text().strip()}
        return fill(t.body, self._contact, self._agent, values)

    def template_complete(self) -> bool:
        return self.template() is not None and not unfilled(self.template_text())

    def _template_changed(self) -> None:
        # A new box rather than removed rows: Ctrl+Enter in a value field sends, and the
        # reset that follows must not delete the field still handling that key.
        old = self._params_box
        old.hide()
        old.deleteLater()
        box = QWidget(self._picker)
        form = QFormLayout(box)
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(2)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._picker_layout.replaceWidget(old, box)
        self._params_box = box
        self.params = {}
        t = self.template()
        body = fill(t.body, self._contact, self._agent) if t else ""
        for name in unfilled(body):
            edit = QLineEdit(box)
            mark = "{{" + name + "}}"
            edit.setPlaceholderText(placeholder_context(body, name) or mark)
            title = self.parameter_label(name)
            edit.setAccessibleName(self.tr("Template value: {name}").format(name=title))
            edit.setToolTip(self.tr("Replaces {mark} in the template").format(mark=mark))
            if name in GREETING_PARAMETERS:  # the greeting: the contact's name
                edit.setText(first_name(self._contact))
            edit.textChanged.connect(self.changed)
            label = QLabel(self.tr("{name}:").format(name=title), box)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setToolTip(edit.toolTip())
            label.setBuddy(edit)
            form.addRow(label, edit)
            self.params[name] = edit
        box.setVisible(bool(self.params))
        self.changed.emit()

    def parameter_label(self, name: str) -> str:
        """What a template asks for, by its parameter's name: known names in the agent's
        language, others as words ("pickup_point" → "Pickup point"); a numbered one
        ({{2}}) has no name to give."""
        known = {
            "customer_name": self.tr("Customer name"),
            "first_name": self.tr("First name"),
            "name": self.tr("Name"),
            "order_number": self.tr("Order number"),
            "order_status": self.tr("Order status"),
            "delivery_time": self.tr("Delivery time"),
            "delivery_date": self.tr("Delivery date"),
            "tracking_number": self.tr("Tracking number"),
        }
        if name in known:
            return known[name]
        if name.isdigit():
            return self.tr("Value {n}").format(n=name)
        return display_safe(readable_name(name), isolate=False)

    # ------------------------------------------------------------------ state

    def show_state(self, state: WindowState, now_ms: int, note_mode: bool) -> None:
        kind = state.kind
        text, level = "", ""
        if note_mode:
            text, level = self.tr("Internal note: only your team sees it."), "note"
        elif kind is WindowKind.OPEN:
            left = state.remaining_ms(now_ms) or 0
            text = self.tr("Window open — {time} left").format(time=self.duration(left))
            level = "warning" if left < HOUR_MS else ""
        elif kind is WindowKind.HUMAN_AGENT_ONLY:
            text = self.tr("More than 24 h since the customer's last message: replies need "
                           "the human agent tag ({time} left).").format(
                time=self.duration(state.remaining_ms(now_ms) or 0))
            level = "warning"
        elif kind is WindowKind.TEMPLATE_ONLY:
            text = self.tr("More than 24 h since the customer's last message: only an "
                           "approved template can be sent.")
            level = "warning"
        elif kind is WindowKind.CLOSED:
            text = self.tr("The messaging window is closed: you can reply when the customer "
                           "writes again. Internal notes are still possible.")
            level = "error"
        elif kind is WindowKind.OPTED_OUT:
            text = self.tr("This contact replied STOP (opted out of SMS). "
                           "You can't message them on SMS.")
            level = "error"
        self.label.setText(text)
        self.label.setVisible(bool(text))
        set_tone(self.label, level)
        self.human_tag.setVisible(not note_mode and kind is WindowKind.HUMAN_AGENT_ONLY)
        self._picker.setVisible(not note_mode and kind is WindowKind.TEMPLATE_ONLY)
        self.setVisible(bool(text))

    def duration(self, ms: int) -> str:
        minutes = -(-ms // MINUTE_MS)  # round up: "1 min" until the very end
        if minutes < 1:
            return self.tr("less than a minute")
        days, rest = divmod(minutes, 24 * 60)
        hours, mins = divmod(rest, 60)
        if days and hours:
            return self.tr("{d} d {h} h").format(d=days, h=hours)
        if days:
            return self.tr("{d} d").format(d=days)
        if hours:
            return self.tr("{h} h {m} min").format(h=hours, m=mins)
        return self.tr("{m} min").format(m=mins)
