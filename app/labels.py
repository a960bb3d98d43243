"""Names the desk shows for statuses, priorities and kinds of channel, and channel icons:
one home, so the inbox, navigation, conversation and customer panel say the same thing."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QIcon

# A plain name lupdate recognises (an alias called ``tr`` would be read as self.tr).
translate = QCoreApplication.translate


def status_label(status: str) -> str:
    """The translated name of a conversation status."""
    return {
        "open": translate("Labels", "Open"),
        "pending": translate("Labels", "Pending"),
        "snoozed": translate("Labels", "Snoozed"),
        "resolved": translate("Labels", "Resolved"),
    }.get(status, status)


def priority_label(priority: str) -> str:
    return {
        "urgent": translate("Labels", "Urgent"),
        "high": translate("Labels", "High"),
        "normal": translate("Labels", "Normal"),
        "low": translate("Labels", "Low"),
    }.get(priority, priority)


def channel_type_label(channel_type: str) -> str:
    """The translated name of a kind of channel."""
    return {
        "email": translate("Labels", "Email"),
        "web_chat": translate("Labels", "Web chat"),
        "sms": translate("Labels", "SMS"),
        "whatsapp": translate("Labels", "WhatsApp"),
        "messenger": translate("Labels", "Messenger"),
        "instagram": translate("Labels", "Instagram"),
        "line": translate("Labels", "LINE"),
    }.get(channel_type, channel_type)


def channel_icon(channel_type: str) -> QIcon | None:
    """The channel's icon in the current theme's colours (app.icons caches per colour), or
    None: an icon is decoration, and the tooltip still names the channel."""
    try:
        from app import icons

        icon = icons.channel_icon(channel_type)
    except Exception:  # a broken icon file must not take a list down with it
        return None
    return icon if isinstance(icon, QIcon) else None
