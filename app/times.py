"""Times and dates as the agent's locale writes them, in their time zone: one home, so the
inbox, the thread, the customer panel, the outbox list and the status bar write a time of
day (``time_of_day``) and a date (``date_text``) the same way on one screen.
"""

from __future__ import annotations

import re
from datetime import datetime

from PySide6.QtCore import QDate, QDateTime, QLocale, QTime


def _local(ms: int) -> datetime:
    # Python's clock conversion: a tenth of QDateTime's cost, and a thread page does 200.
    return datetime.fromtimestamp(ms / 1000)


def month_day_format(locale: QLocale) -> str:
    """The locale's date without year or weekday ("MMM d", "d. MMM", "M月d日")."""
    fmt = date_format(locale)
    fmt = re.sub(r"[\s,،]*(?:'[^']*'\s*)?y+[\s\u202f]*(?:'[^']*')?[^\sdM']*", "", fmt)
    fmt = fmt.strip(" ,.،\u202f")
    if "d" not in fmt or "M" not in fmt or "y" in fmt or "(" in fmt:
        return "MMM d"  # a layout the patterns above do not know
    return fmt


def date_format(locale: QLocale) -> str:
    """The locale's long date without the weekday, months abbreviated, the year in four
    digits ("MMM d, yyyy", "yyyy年M月d日", "d. MMM yyyy")."""
    fmt = locale.dateFormat(QLocale.FormatType.LongFormat)
    fmt = re.sub(r"^d{3,}[^dMy']*|[\s,،]*d{3,}$", "", fmt)  # the weekday, first or last
    fmt = fmt.replace("MMMM", "MMM").strip(" ,،\u202f")
    if "d" not in fmt or "M" not in fmt or "yyyy" not in fmt or "ddd" in fmt:
        return "MMM d, yyyy"  # a layout the patterns above do not know
    return fmt


def time_of_day(ms: int) -> str:
    """The local time of day as the locale writes it ("19:46", "7:46 PM")."""
    when = _local(ms)
    return QLocale().toString(QTime(when.hour, when.minute), QLocale.FormatType.ShortFormat)


def date_text(ms: int, today: QDate | None = None) -> str:
    """The local date: month and day this year ("Dec 6", "12月6日"), with the year otherwise
    ("Dec 6, 2025")."""
    when = _local(ms)
    day = QDate(when.year, when.month, when.day)
    today = today or QDate.currentDate()
    locale = QLocale()
    fmt = month_day_format(locale) if day.year() == today.year() else date_format(locale)
    return locale.toString(day, fmt)


def when_text(ms: int, today: QDate | None = None) -> str:
    """Compact, for a list: the time of day today, else the date."""
    when = _local(ms)
    today = today or QDate.currentDate()
    if QDate(when.year, when.month, when.day) == today:
        return time_of_day(ms)
    return date_text(ms, today)


def date_time_text(ms: int, today: QDate | None = None) -> str:
    """A moment to come or gone, with its date unless it is today ("Dec 8 9:00 AM")."""
    when = _local(ms)
    today = today or QDate.currentDate()
    if QDate(when.year, when.month, when.day) == today:
        return time_of_day(ms)
    return f"{date_text(ms, today)} {time_of_day(ms)}"


def full_text(ms: int) -> str:
    """Date and time in full (day and month names included), for a tooltip."""
    return QLocale().toString(QDateTime.fromMSecsSinceEpoch(ms), QLocale.FormatType.LongFormat)


def date_time_format(locale: QLocale) -> str:
    """The format of ``date_format`` followed by the time of day (a date-time field)."""
    return f"{date_format(locale)} {locale.timeFormat(QLocale.FormatType.ShortFormat)}"
