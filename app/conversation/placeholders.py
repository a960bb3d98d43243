"""Placeholders in canned replies and templates, and finding a canned reply: no Qt here.

Canned replies say ``{{contact.first_name}}`` or ``{{agent.name}}``; WhatsApp templates say
``{{1}}``. ``fill`` replaces what it knows and leaves the rest visible, so an agent sees a
placeholder that still needs a value instead of sending a silent gap to a customer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sync.queries import CannedReplyInfo

PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def first_name(name: str) -> str:
    """The first whitespace-separated word; a name without spaces
    (a Japanese name written as 山田花子) is used whole."""
    words = name.split()
    return words[0] if words else ""


def fill(template_body: str, contact_name: str, agent_name: str,
         extra: Mapping[str, str] | None = None) -> str:
    """``template_body`` with known placeholders replaced. Unknown placeholders, and known
    ones without a value (a contact with no name), stay as they were."""
    values: dict[str, str] = {
        "contact.first_name": first_name(contact_name),
        "contact.name": contact_name.strip(),
        "agent.first_name": first_name(agent_name),
        "agent.name": agent_name.strip(),
    }
    values.update(extra or {})

    def one(match: re.Match[str]) -> str:
        return values.get(match.group(1)) or match.group(0)

    return PLACEHOLDER.sub(one, template_body)


def unfilled(text: str) -> list[str]:
    """The placeholder names still in ``text``, in order of appearance, each once."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(text):
        seen.setdefault(match.group(1), None)
    return list(seen)


def find_canned(canned: Sequence[CannedReplyInfo], query: str) -> list[CannedReplyInfo]:
    """Canned replies matching ``query`` (with or without the leading "/"), case-insensitive:
    shortcuts starting with it first, then shortcuts containing it, then titles containing
    it; each group keeps the given order. An empty query lists them all."""
    q = query.strip().removeprefix("/").casefold()
    if not q:
        return list(canned)
    prefix, inner, titled = [], [], []
    for reply in canned:
        shortcut = reply.shortcut.casefold()
        if shortcut.startswith(q):
            prefix.append(reply)
        elif q in shortcut:
            inner.append(reply)
        elif q in reply.title.casefold():
            titled.append(reply)
    return prefix + inner + titled
