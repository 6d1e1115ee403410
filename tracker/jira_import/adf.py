"""Atlassian Document Format (the rich text of Jira Cloud's REST v3) as sanitized HTML.

API v2 gives wiki markup and ``renderedFields`` gives HTML, which stays the source wherever Jira
sends it; some bodies arrive only as ADF (REST v3 answers, comments and work logs written by apps).
The node and mark types are Atlassian's ("Atlassian Document Format" on developer.atlassian.com):
block nodes ``paragraph``, ``heading`` (``attrs.level``), ``bulletList``, ``orderedList``,
``listItem``, ``codeBlock``, ``blockquote``, ``rule``, ``panel``, ``expand``, ``table`` /
``tableRow`` / ``tableHeader`` / ``tableCell``, ``mediaSingle``/``mediaGroup``; inline nodes
``text`` (with ``marks``: ``strong``, ``em``, ``code``, ``strike``, ``underline``, ``link``
(``attrs.href``), ``subsup``), ``hardBreak``, ``mention`` (``attrs.text``), ``emoji``, ``date``
(``attrs.timestamp`` in ms), ``status``, ``inlineCard`` (``attrs.url``). Unknown nodes keep their
text. The result goes through the same sanitizer as every imported HTML.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from tracker.services.history import sanitize_html

MAX_DEPTH = 50

BLOCKS = {
    "paragraph": "p",
    "bulletList": "ul",
    "orderedList": "ol",
    "listItem": "li",
    "blockquote": "blockquote",
    "table": "table",
    "tableRow": "tr",
    "tableHeader": "th",
    "tableCell": "td",
    "panel": "div",
    "expand": "div",
    "nestedExpand": "div",
}
MARKS = {"strong": "strong", "em": "em", "code": "code", "strike": "s", "underline": "u"}


def is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc"


def to_html(document: Any) -> str:
    """The document as sanitized HTML ("" for anything that is not a document)."""
    if not is_adf(document):
        return ""
    return sanitize_html(_children(document, 0)).strip()


def to_text(document: Any) -> str:
    """The document's text alone, for plain-text fields (a work log's comment)."""
    from tracker.services.value_rendering import html_to_text

    return html_to_text(to_html(document))


def _children(node: dict[str, Any], depth: int) -> str:
    content = node.get("content")
    if not isinstance(content, list) or depth > MAX_DEPTH:
        return ""
    return "".join(_node(child, depth + 1) for child in content if isinstance(child, dict))


def _node(node: dict[str, Any], depth: int) -> str:
    kind = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
    if kind == "text":
        return _text(node)
    if kind == "hardBreak":
        return "<br>"
    if kind == "rule":
        return "<hr>"
    if kind == "heading":
        level = attrs.get("level")
        level = level if isinstance(level, int) and 1 <= level <= 6 else 2
        return f"<h{level}>{_children(node, depth)}</h{level}>"
    if kind == "codeBlock":
        return f"<pre><code>{_children(node, depth)}</code></pre>"
    if kind in ("mention", "emoji", "status"):
        return escape(str(attrs.get("text") or attrs.get("shortName") or ""))
    if kind == "date":
        try:
            moment = dt.datetime.fromtimestamp(int(attrs.get("timestamp")) / 1000, dt.UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            return ""
        return moment.date().isoformat()
    if kind in ("inlineCard", "blockCard", "embedCard"):
        url = str(attrs.get("url") or "")
        return f'<a href="{escape(url)}">{escape(url)}</a>' if url else ""
    if kind in ("mediaSingle", "mediaGroup", "media", "mediaInline"):
        return "<p>[attachment]</p>" if kind != "media" else ""
    tag = BLOCKS.get(str(kind))
    inner = _children(node, depth)
    if kind in ("expand", "nestedExpand") and attrs.get("title"):
        inner = f"<p><strong>{escape(str(attrs['title']))}</strong></p>{inner}"
    return f"<{tag}>{inner}</{tag}>" if tag else inner


def _text(node: dict[str, Any]) -> str:
    html = escape(str(node.get("text") or ""))
    for mark in node.get("marks") or []:
        if not isinstance(mark, dict):
            continue
        kind = mark.get("type")
        attrs = mark.get("attrs") if isinstance(mark.get("attrs"), dict) else {}
        if kind in MARKS:
            html = f"<{MARKS[kind]}>{html}</{MARKS[kind]}>"
        elif kind == "link" and attrs.get("href"):
            html = f'<a href="{escape(str(attrs["href"]))}">{html}</a>'
        elif kind == "subsup" and attrs.get("type") in ("sub", "sup"):
            html = f"<{attrs['type']}>{html}</{attrs['type']}>"
    return html
