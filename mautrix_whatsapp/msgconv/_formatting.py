"""Stand-in for the ``formatter`` package (WhatsApp markup → Matrix HTML), written in parallel.

Same API as ``mautrix_whatsapp.formatter``: ``whatsapp_to_matrix(text, mentions)`` →
:class:`FormattedText`, with :class:`MentionTarget`. It renders only what the converter itself
must get right (HTML escaping, line breaks, mention pills); WhatsApp's ``*bold*``, ``_italic_``,
lists, quotes and code are the formatter's job. When that branch is merged this module becomes
a re-export of it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MentionTarget:
    """The Matrix user a mentioned WhatsApp JID stands for, and the name to show."""

    user_id: str
    displayname: str


@dataclass(frozen=True)
class FormattedText:
    """``html`` is None when the text needs no HTML (nothing but plain text)."""

    body: str
    html: str | None
    mentioned_user_ids: list[str] = field(default_factory=list)


def _pill(target: MentionTarget) -> str:
    return (
        f'<a href="https://matrix.to/#/{html.escape(target.user_id)}">'
        f"{html.escape(target.displayname)}</a>"
    )


def whatsapp_to_matrix(text: str, mentions: Mapping[str, MentionTarget]) -> FormattedText:
    """Plain body and HTML for a WhatsApp text; ``@<number>`` of each mentioned JID becomes
    the target's name in the body and a pill in the HTML."""
    body = text
    formatted = html.escape(text)
    mentioned: list[str] = []
    for jid, target in mentions.items():
        token = "@" + jid.split("@", 1)[0]
        if target.user_id not in mentioned:
            mentioned.append(target.user_id)
        body = body.replace(token, target.displayname)
        formatted = formatted.replace(html.escape(token), _pill(target))
    formatted = formatted.replace("\n", "<br>")
    plain = html.escape(text).replace("\n", "<br>")
    return FormattedText(body, formatted if formatted != plain else None, mentioned)
