"""The customer panel (right dock): who the customer is on every channel, and all their
conversations across channels, any of which opens with a click (the 360° view).

Names, handles, attribute values, subjects and previews come from customers: every label
showing them is plain text, with hidden and bidi control characters shown (``display_safe``).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QStackedLayout,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import times
from app.labels import channel_icon, channel_type_label, language_name, status_label
from app.widgets import ElidedLabel, plain_tooltip
from sync import queries
from sync.display import display_safe
from sync.queries import ContactView

if TYPE_CHECKING:
    from app.session import DeskSession

ID_ROLE = Qt.ItemDataRole.UserRole


def attribute_label(key: str) -> str:
    """A customer attribute's key as a label: known keys translated, others made readable
    ("last_order_date" → "Last order date")."""
    known = _known_attributes()
    if key in known:
        return known[key]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").replace("-", " ")
    # "lifetimeValue" → "Lifetime value"; an acronym ("VAT", "ID") keeps its capitals
    words = " ".join(w if w.isupper() else w.lower() for w in spaced.split())
    # Keys come with the customer's data: hidden characters in them are shown too.
    return display_safe(words[:1].upper() + words[1:] if words else key, isolate=False)


def _known_attributes() -> dict[str, str]:
    """Known attribute keys and their labels, in the order the panel lists them."""
    return {
        "customer_id": QCoreApplication.translate("CustomerAttribute", "Customer ID"),
        "account_id": QCoreApplication.translate("CustomerAttribute", "Account ID"),
        "tier": QCoreApplication.translate("CustomerAttribute", "Tier"),
        "plan": QCoreApplication.translate("CustomerAttribute", "Plan"),
        "orders": QCoreApplication.translate("CustomerAttribute", "Orders"),
        "company": QCoreApplication.translate("CustomerAttribute", "Company"),
        "email": QCoreApplication.translate("CustomerAttribute", "Email"),
        "phone": QCoreApplication.translate("CustomerAttribute", "Phone"),
        "city": QCoreApplication.translate("CustomerAttribute", "City"),
        "country": QCoreApplication.translate("CustomerAttribute", "Country"),
    }


def _attribute_order(key: str) -> tuple[int, str]:
    order = list(_known_attributes())
    return (order.index(key), "") if key in order else (len(order), attribute_label(key))


def _plain(text: str = "", parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


class CustomerPanel(QWidget):
    openConversation = Signal(str)  # conversation id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName(self.tr("Customer"))
        self._view: ContactView | None = None
        self._current_id: str | None = None
        self._generation = 0

        self.empty_label = QLabel(self.tr("Select a conversation"), self)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setEnabled(False)

        body = QWidget(self)
        self.name_label = _plain("", body)
        font = self.name_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.name_label.setFont(font)
        self.name_label.setAccessibleName(self.tr("Customer name"))
        self.disguise_label = _plain(self.tr(
            "This name or an address contains hidden characters, shown as ⟨U+…⟩ codes: "
            "it may be made to look like someone else's."), body)
        self.disguise_label.setObjectName("disguised")
        self.disguise_label.setStyleSheet("color: palette(mid); font-style: italic;")
        self.locale_label = _plain("", body)
        self.locale_label.setAccessibleName(self.tr("Customer language"))

        self.identities = QWidget(body)
        self.identities.setAccessibleName(self.tr("Channels the customer uses"))
        self._identity_layout = QFormLayout(self.identities)
        self._identity_layout.setContentsMargins(0, 0, 0, 0)
        self._identity_layout.setVerticalSpacing(2)
        self.attributes = QWidget(body)
        self.attributes.setAccessibleName(self.tr("Customer details"))
        self._attribute_layout = QFormLayout(self.attributes)
        self._attribute_layout.setContentsMargins(0, 0, 0, 0)
        self._attribute_layout.setVerticalSpacing(2)

        self.conversations = QTreeWidget(body)
        self.conversations.setColumnCount(4)
        # The channel is an icon (its name in the tooltip): the subject gets the room.
        self.conversations.setHeaderLabels(["", self.tr("Subject"), self.tr("Status"),
                                            self.tr("Updated")])
        header_item = self.conversations.headerItem()
        header_item.setToolTip(0, self.tr("Channel"))
        header_item.setData(0, Qt.ItemDataRole.AccessibleTextRole, self.tr("Channel"))
        header_item.setToolTip(3, self.tr("Last activity"))
        self.conversations.setRootIsDecorated(False)
        self.conversations.setUniformRowHeights(True)
        self.conversations.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.conversations.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.conversations.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.conversations.header()
        header.setMinimumSectionSize(8)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.conversations.setAccessibleName(self.tr("The customer's conversations"))
        self.conversations.setToolTip(self.tr("Every conversation with this customer, on any "
                                              "channel. Click one to open it."))
        self.conversations.itemClicked.connect(self._on_item)
        self.conversations.itemActivated.connect(self._on_item)

        form = QVBoxLayout(body)
        form.setContentsMargins(6, 6, 6, 6)
        form.setSpacing(4)
        form.addWidget(self.name_label)
        form.addWidget(self.disguise_label)
        form.addWidget(self.locale_label)
        form.addWidget(self._heading(self.tr("Channels"), body))
        form.addWidget(self.identities)
        form.addWidget(self._heading(self.tr("Details"), body))
        form.addWidget(self.attributes)
        form.addWidget(self._heading(self.tr("Conversations"), body))
        form.addWidget(self.conversations, 1)

        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.empty_label)
        self._stack.addWidget(body)
        self._body = body

    # ------------------------------------------------------------------ public API

    def set_contact(self, view: ContactView | None, current_conversation_id: str | None) -> None:
        """Show a contact (None: the empty state); the current conversation is marked."""
        self._generation += 1
        self._view = view
        self._current_id = current_conversation_id
        if view is None:
            self._stack.setCurrentWidget(self.empty_label)
            return
        name = display_safe(view.name, isolate=False)
        self.name_label.setText(name)
        disguised = name != view.name or any(
            display_safe(i.address, isolate=False) != i.address for i in view.identities)
        self.disguise_label.setVisible(disguised)
        self.locale_label.setText(self.tr("Language: {locale}").format(
            locale=language_name(view.locale)) if view.locale else "")
        self.locale_label.setToolTip(plain_tooltip(display_safe(view.locale, isolate=False)))
        self.locale_label.setVisible(bool(view.locale))
        self._fill_identities(view)
        self._fill_attributes(view)
        self._fill_conversations(view)
        self._stack.setCurrentWidget(self._body)

    async def show_contact(self, session: DeskSession, contact_id: str | None,
                           current_conversation_id: str | None) -> None:
        """Read the contact off the GUI thread and show it (a newer call wins)."""
        self._generation += 1
        generation = self._generation
        if contact_id is None:
            self.set_contact(None, None)
            return
        view = await session.read(queries.contact_view, contact_id, int(time.time() * 1000))
        if generation == self._generation:
            self.set_contact(view, current_conversation_id)

    def contact(self) -> ContactView | None:
        return self._view

    def current_conversation_id(self) -> str | None:
        return self._current_id

    # ------------------------------------------------------------------ filling

    @staticmethod
    def _heading(text: str, parent: QWidget) -> QLabel:
        label = QLabel(text, parent)
        font = label.font()
        font.setBold(True)
        label.setFont(font)
        label.setContentsMargins(0, 6, 0, 0)
        return label

    @staticmethod
    def _clear(layout: QFormLayout) -> None:
        while layout.rowCount():
            layout.removeRow(0)

    def _fill_identities(self, view: ContactView) -> None:
        self._clear(self._identity_layout)
        for ident in view.identities:
            kind = QLabel(channel_type_label(ident.channel_type) + ":", self.identities)
            handle = ElidedLabel(display_safe(ident.address, isolate=False), self.identities)
            handle.setAccessibleName(channel_type_label(ident.channel_type))
            if ident.opted_out:
                row = QWidget(self.identities)
                box = QVBoxLayout(row)
                box.setContentsMargins(0, 0, 0, 0)
                box.setSpacing(0)
                box.addWidget(handle)
                marker = QLabel(self.tr("opted out"), row)
                marker.setObjectName("optedOut")
                marker.setToolTip(self.tr("The customer asked not to be messaged on this "
                                          "channel; replies there cannot be sent."))
                marker.setStyleSheet("color: palette(mid); font-style: italic;")
                box.addWidget(marker)
                handle.setAccessibleDescription(self.tr("opted out"))
                self._identity_layout.addRow(kind, row)
            else:
                self._identity_layout.addRow(kind, handle)
        if not view.identities:
            self._identity_layout.addRow(QLabel(self.tr("No known addresses"), self.identities))

    def _fill_attributes(self, view: ContactView) -> None:
        self._clear(self._attribute_layout)
        for key in sorted(view.attributes, key=_attribute_order):
            key_label = _plain(self.tr("{label}:").format(label=attribute_label(key)),
                               self.attributes)
            key_label.setWordWrap(False)
            key_label.setToolTip(plain_tooltip(display_safe(key, isolate=False)))
            value = _plain(display_safe(str(view.attributes[key]), isolate=False),
                           self.attributes)
            value.setAccessibleName(attribute_label(key))
            self._attribute_layout.addRow(key_label, value)
        self.attributes.setVisible(bool(view.attributes))

    def _fill_conversations(self, view: ContactView) -> None:
        self.conversations.clear()
        for row in view.conversations:
            subject = (row.subject or row.preview or "").replace("\n", " ")
            item = QTreeWidgetItem(["", display_safe(subject[:200], isolate=False),
                                    status_label(row.status),
                                    times.when_text(row.last_activity_at)])
            item.setData(0, ID_ROLE, row.id)
            icon = channel_icon(row.channel_type)
            if icon is not None:
                item.setIcon(0, icon)
            else:  # no icon set: the kind of channel in words
                item.setText(0, channel_type_label(row.channel_type))
            item.setToolTip(0, plain_tooltip(row.channel_name))
            item.setToolTip(1, plain_tooltip(display_safe(subject[:500], isolate=False)))
            item.setToolTip(3, times.full_text(row.last_activity_at))
            self.conversations.addTopLevelItem(item)
        self._mark_current()

    def _mark_current(self) -> None:
        for n in range(self.conversations.topLevelItemCount()):
            item = self.conversations.topLevelItem(n)
            current = item.data(0, ID_ROLE) == self._current_id
            for col in range(item.columnCount()):
                font = item.font(col)
                font.setBold(current)
                item.setFont(col, font)
            name = f"{item.toolTip(0)}, {item.text(1)}, {item.text(2)}"
            item.setData(0, Qt.ItemDataRole.AccessibleTextRole,
                         self.tr("{name} (open now)").format(name=name) if current else name)
            if current:
                self.conversations.setCurrentItem(item)

    def _on_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        cid = item.data(0, ID_ROLE)
        if not cid or cid == self._current_id:  # a double click also clicks: open once
            return
        self._current_id = cid
        self._mark_current()
        self.openConversation.emit(cid)
