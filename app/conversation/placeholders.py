"""Placeholders in canned replies and templates, and finding the ones for a conversation:
no Qt here.

Canned replies say ``{{contact.first_name}}`` or ``{{agent.name}}``; WhatsApp templates name
their parameters (``{{order_number}}``) or number them (``{{1}}``). ``fill`` replaces what
it knows and leaves the rest visible, so an agent sees a placeholder that still needs a
value instead of sending a silent gap to a customer. Canned replies and templates in the
customer's language come first (``canned_for``, ``templates_for``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from sync.queries import CannedReplyInfo, TemplateInfo

PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


# Template parameters a template fills with the customer's first name when it opens.
GREETING_PARAMETERS = frozenset({"1", "customer_name", "first_name", "name"})


def language_of(locale: str | None) -> str:
    """The language part of a locale ("ja-JP" and "ja_JP" → "ja"); "" when unknown."""
    return (locale or "").replace("_", "-").split("-")[0].strip().lower()


def canned_for(canned: Sequence[CannedReplyInfo], locale: str | None
               ) -> list[CannedReplyInfo]:
    """The canned replies for a customer whose language is ``locale``: those written in it,
    then those for any language; replies in other languages are left out. A customer of
    unknown language gets them all."""
    language = language_of(locale)
    if not language:
        return list(canned)
    return ([c for c in canned if language_of(c.locale) == language]
            + [c for c in canned if not c.locale])


def templates_for(templates: Sequence[TemplateInfo], locale: str | None
                  ) -> list[TemplateInfo]:
    """Templates in the customer's language first, then the rest: after 24 hours a template
    is the only way to reach them, so none is hidden (a customer's language may be
    unknown or wrong)."""
    language = language_of(locale)
    return sorted(templates, key=lambda t: bool(language) and language_of(t.locale) != language)


def readable_name(identifier: str) -> str:
    """A template's or a parameter's name as words: "order_update" → "Order update"."""
    words = " ".join(identifier.replace("_", " ").replace("-", " ").split())
    return words[:1].upper() + words[1:] if words else identifier


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
