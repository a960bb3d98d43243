"""Names the desk shows for statuses, priorities and kinds of channel, and channel icons:
one home, so the inbox, navigation, conversation and customer panel say the same thing."""

from __future__ import annotations

import re

from PySide6.QtCore import QCoreApplication, QLocale
from PySide6.QtGui import QIcon

from app import times
from protocol import events
from sync.display import display_safe

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


def pending_changes_label(n: int) -> str:
    """How many of the agent's changes to a conversation wait to be sent."""
    if n == 1:
        return translate("Labels", "1 change waiting to be sent")
    return translate("Labels", "{n} changes waiting to be sent").format(n=n)


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


def system_event_text(body: str) -> str:
    """A system message (what happened to the conversation) in the agent's language: the
    server writes it from one of ``protocol.events``' English sentences; a body none of them
    makes is shown as it is."""
    found = events.recognise(body)
    if found is None:
        return body
    event, values = found
    if "status" in values:
        values = {**values, "status": status_label(values["status"])}
    if "until" in values:  # written in UTC: shown in the agent's locale and time zone
        values = {**values, "until": times.date_time_text(events.instant_ms(values["until"]))}
    return event.sentence(values, translate)


def language_name(code: str) -> str:
    """A language code ("ja", "pt-BR") as the language's own name ("日本語"); else the code."""
    locale = QLocale(code)
    if locale.language() in (QLocale.Language.C, QLocale.Language.AnyLanguage):
        return display_safe(code, isolate=False)  # a value Qt does not know, hidden parts shown
    if not re.search(r"[-_]", code):  # "en" is English, not "American English"
        world = QLocale(locale.language(), QLocale.Country.World)
        if world.language() == locale.language() and world.nativeLanguageName():
            locale = world
    return locale.nativeLanguageName() or display_safe(code, isolate=False)


def channel_icon(channel_type: str) -> QIcon | None:
    """The channel's icon in the current theme's colours (app.icons caches per colour), or
    None: an icon is decoration, and the tooltip still names the channel."""
    try:
        from app import icons

        icon = icons.channel_icon(channel_type)
    except Exception:  # a broken icon file must not take a list down with it
        return None
    return icon if isinstance(icon, QIcon) else None


def final_refusal_note() -> str:
    """Said of a refused change that Retry cannot get through (``protocol.rules``)."""
    return translate("Labels", "Sending it again would be refused too.")


def rejection_label(code: str | None, message: str | None) -> str:
    """Why the server refused an intent, as a translated sentence: the server's own words
    (English) are used only for a reason this desk does not know, or as the detail of an
    invalid request."""
    known = {
        "not_permitted": translate(
            "Labels", "You are not permitted to change this conversation."),
        "conversation_gone": translate("Labels", "This conversation no longer exists."),
        "window_closed": translate(
            "Labels", "The messaging window is closed; wait for the customer to write."),
        "template_required": translate(
            "Labels", "More than 24 hours have passed since the customer's last message: "
                      "only an approved template can be sent."),
        "human_agent_tag_required": translate(
            "Labels", "More than 24 hours have passed since the customer's last message: "
                      "replies need the human-agent tag (allowed up to 7 days)."),
        "contact_opted_out": translate(
            "Labels", "The contact opted out of messages on this channel."),
        "unknown_template": translate(
            "Labels", "There is no approved template with that name for this channel."),
        "unknown_agent": translate("Labels", "That agent does not exist or is not active."),
        "unknown_team": translate("Labels", "That team does not exist."),
        "unknown_mutation": translate("Labels", "The server does not know this kind of change."),
    }
    if code in known:
        return known[code]
    if code == "invalid":
        if message:
            return translate("Labels", "The server did not accept this change: {detail}").format(
                detail=message)
        return translate("Labels", "The server did not accept this change.")
    return message or code or translate("Labels", "The server refused this change.")
