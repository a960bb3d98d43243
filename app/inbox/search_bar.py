"""Above the inbox list: the search field, the view's size and order, and where a search looked.

Two short rows instead of one long one (search and Save view; the count and the sort), so
the list can be narrow (a 1024-pixel screen) without a control being cut or drawn over
another. While the agent searches, a third row says which conversations the search looked
through — a view such as All holds only open and pending ones — and offers to look through
every status.
"""

from __future__ import annotations

from PySide6.QtCore import QLocale, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.labels import status_label
from app.widgets import ElidedLabel
from sync.queries import ACTIVE_STATUSES, ALL_STATUSES, InboxFilter, Sort


def every_status(statuses: tuple[str, ...] | None) -> bool:
    """Whether a filter's statuses leave nothing out."""
    return statuses is None or set(ALL_STATUSES) <= set(statuses)


class SearchBar(QWidget):
    everyStatusChanged = Signal(bool)  # the agent widened (True) or narrowed the search

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText(self.tr("Search customer, subject or message (Ctrl+K)"))
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(self.tr("Search conversations"))
        self.search.setMinimumWidth(120)
        self.save_button = QToolButton(self)
        self.save_button.setText(self.tr("Save view"))
        self.save_button.setToolTip(self.tr("Save this view with its search under a name, "
                                            "in Saved views"))
        self.count_label = ElidedLabel(parent=self, mode=Qt.TextElideMode.ElideRight)
        self.count_label.setAccessibleName(self.tr("Conversation count"))
        self.sort_box = QComboBox(self)
        self.sort_box.setAccessibleName(self.tr("Sort conversations"))
        self.sort_box.setToolTip(self.tr("Order of the list"))
        for label, sort in ((self.tr("Last activity"), Sort.LAST_ACTIVITY),
                            (self.tr("Waiting longest"), Sort.WAITING),
                            (self.tr("Priority"), Sort.PRIORITY)):
            self.sort_box.addItem(label, sort.value)
        # As wide as its longest choice in the agent's language, never squeezed below it.
        self.sort_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.sort_box.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

        self.scope_row = QWidget(self)
        self.scope_label = QLabel(self.scope_row)
        self.scope_label.setObjectName("searchScope")
        self.scope_label.setTextFormat(Qt.TextFormat.PlainText)
        self.scope_label.setWordWrap(True)  # a long view name wraps rather than being cut
        self.scope_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                       QSizePolicy.Policy.Preferred)
        self.scope_button = QToolButton(self.scope_row)
        self.scope_button.setObjectName("searchEveryStatus")
        self.scope_button.clicked.connect(self._scope_clicked)

        first = QHBoxLayout()
        first.setContentsMargins(0, 0, 0, 0)
        first.addWidget(self.search, 1)
        first.addWidget(self.save_button)
        second = QHBoxLayout()
        second.setContentsMargins(0, 0, 0, 0)
        second.addWidget(self.count_label, 1)
        second.addWidget(self.sort_box)
        third = QHBoxLayout(self.scope_row)
        third.setContentsMargins(0, 0, 0, 0)
        third.addWidget(self.scope_label, 1)
        third.addWidget(self.scope_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(first)
        layout.addLayout(second)
        layout.addWidget(self.scope_row)
        self.scope_row.hide()

        self.view_name = ""  # the navigation entry the list shows ("All", a team…)
        self.every_status = False  # the agent asked to search every status

    # ------------------------------------------------------------------ public

    def set_search_text(self, text: str) -> None:
        """Put a search in the field as a view brings it (no typing signals)."""
        old = self.search.blockSignals(True)
        self.search.setText(text)
        self.search.blockSignals(old)

    def show_count(self, n: int | None) -> None:
        if n is None:  # a search, still counting: no number rather than the last view's
            self.count_label.setText(self.tr("Counting…"))
        elif n == 1:
            self.count_label.setText(self.tr("1 conversation"))
        else:
            self.count_label.setText(self.tr("{n} conversations").format(
                n=QLocale().toString(n)))

    def show_scope(self, shown: InboxFilter, view: InboxFilter, total: int | None) -> None:
        """Say where the search in ``shown`` looked (nothing without a search): which
        statuses of which view, whether it found anything, and offer every status when the
        view leaves some out (or the view's own statuses again after widening)."""
        if not shown.text:
            self.scope_row.hide()
            return
        name = self.view_name or self.tr("this view")
        if every_status(shown.statuses):
            where = self.tr("Searched conversations of every status in “{view}”.").format(
                view=name)
        elif set(shown.statuses or ()) == set(ACTIVE_STATUSES):
            where = self.tr("Searched open and pending conversations in “{view}”.").format(
                view=name)
        else:
            where = self.tr("Searched {statuses} conversations in “{view}”.").format(
                statuses=self.tr(", ").join(status_label(s) for s in shown.statuses or ()),
                view=name)
        if total == 0:
            where = self.tr("Nothing matches “{text}”.").format(text=shown.text) + " " + where
        self.scope_label.setText(where)
        font = self.scope_label.font()
        font.setBold(total == 0)
        self.scope_label.setFont(font)
        widened = self.every_status and not every_status(view.statuses)
        self.scope_button.setText(self.tr("Only the view's statuses") if widened
                                  else self.tr("Search every status"))
        self.scope_button.setToolTip(
            self.tr("Search only the statuses this view shows") if widened else
            self.tr("Search snoozed and resolved conversations too"))
        self.scope_button.setVisible(widened or not every_status(shown.statuses))
        self.scope_row.show()

    # ------------------------------------------------------------------ internals

    def _scope_clicked(self) -> None:
        self.every_status = not self.every_status
        self.everyStatusChanged.emit(self.every_status)
