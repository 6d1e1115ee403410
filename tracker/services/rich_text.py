"""Imported rich text (Jira's HTML, sanitized when stored) edited as Markdown, so nobody edits tags.

The edit form shows an imported artifact's text fields converted to Markdown by markdownify (a
maintained HTML-to-Markdown converter on BeautifulSoup); what the person sends back is rendered
by our own Markdown renderer (:mod:`tracker.services.rendering`: CommonMark with tables and
strikethrough, no raw HTML, under its budget) into the sanitized HTML the artifact stores, so its pages,
history and emails read it as before. A value sent back unchanged is no change (the form compares it
with the converted text), so merely opening and saving never rewrites an imported description.
"""

from __future__ import annotations

from markdownify import markdownify

from tracker.services.rendering import BudgetExceeded, markdown_to_html, plain_text_html


def html_to_markdown(html: str) -> str:
    """The Markdown a person edits for ``html``: every word kept, tags turned into Markdown syntax."""
    if not html:
        return ""
    # ATX headings and "-" bullets are what people type; a backslash line break survives editors
    # that trim trailing spaces (markdownify's default for <br> is two trailing spaces).
    return markdownify(html, heading_style="ATX", bullets="-", newline_style="BACKSLASH").strip()


def markdown_to_stored_html(text: str) -> str:
    """The sanitized HTML stored for an edited imported text; past the renderer's budget, the text as
    plain paragraphs (formatting lost, never a word)."""
    if not text.strip():
        return ""
    try:
        return markdown_to_html(text)
    except BudgetExceeded:
        return plain_text_html(text)
