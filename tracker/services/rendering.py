"""Comments and rich text made into safe HTML once, when they are stored: reading never renders.

Three steps, each bounded:

- Markdown goes through markdown-it-py (CommonMark, no raw HTML) under a :class:`Budget`: a nesting
  depth and a wall-clock time limit, both checked by every parser rule, and a largest output.
  markdown-it is not linear on every input: ``"**_~~[" * 3333`` (20,000 characters) took about 0.5 s,
  as each ``[`` scans the rest for its label (a nesting the check now stops at the 21st), and
  ``"*_" * 10000`` about 0.3 s. Past the budget the comment is kept as escaped plain text, with a note
  saying why.
- HTML (Markdown's output, Jira's rendered HTML) is sanitized by nh3 (ammonia): an allow-list of tags
  and attributes, no scripts or event handlers, only http, https and mailto URLs.
- Images from other sites are replaced by a link to them, in pages and in emails alike: a remote
  image is a tracking pixel (it tells its owner who read what, and when), and the Content-Security-
  Policy (``img-src 'self' data:``) would refuse it anyway. Only images of this site (a path, no host)
  stay images.

What is stored is the same for every reader: references to other artifacts (``bug #42``) are made
links per reader when a page is built (``tracker.services.references``), since whether the reader may
see the target is not known here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape as html_escape
from html.parser import HTMLParser
from typing import Any

import nh3
from django.utils.html import escape, linebreaks
from markdown_it import MarkdownIt
from mdit_py_plugins.tasklists import tasklists_plugin

# Tags and attributes that survive in comments and imported descriptions shown as HTML.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "input", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody",
    "td", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"colspan"},
    "th": {"colspan"},
    "input": set(),  # task list boxes: only the attributes of TASK_LIST_INPUTS
}
# A Markdown task list ("- [x] done") renders as disabled check boxes (mdit-py-plugins' tasklists).
# Whatever the source (Markdown, imported HTML), an <input> that survives is a disabled check box,
# at most checked: nothing that takes input, no name, value or class. Each box gets an accessible name
# (axe-core's "label" rule, critical): a screen reader says "Task, check box, checked", then the item's text.
TASK_LIST_INPUTS: dict[str, Any] = {
    "tag_attribute_values": {"input": {"checked": {"checked"}}},
    "set_tag_attribute_values": {"input": {"type": "checkbox", "disabled": "disabled", "aria-label": "Task"}},
}
LINK_REL = "noopener noreferrer nofollow"

MARKDOWN = "markdown"
HTML = "html"


@dataclass(frozen=True)
class Budget:
    """What rendering one Markdown text may cost before it falls back to plain text.

    20,000 characters of ordinary Markdown (this project's README) render in about 11 ms here: the time
    limit leaves room for a busy machine, and bounds what one hostile comment costs its writer.
    """

    seconds: float = 0.1
    max_nesting: int = 20
    max_output: int = 500_000


DEFAULT_BUDGET = Budget()


class BudgetExceeded(Exception):
    """Rendering went past its budget; the message says which limit, for the note shown instead."""


# -- HTML ------------------------------------------------------------------------------------------


def sanitize_html(html: str) -> str:
    """Untrusted HTML made safe to show and to mail: no scripts, no event handlers, no javascript: URLs,
    and no image loaded from another site (each becomes a link to it)."""
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=LINK_REL,
        **TASK_LIST_INPUTS,
    )
    if "<img" not in clean:
        return clean
    return replace_remote_images(clean)


def is_local_source(src: str) -> bool:
    """A path on this site (``/attachments/3/``, ``logo.png``): no scheme, no host."""
    src = src.strip()
    return bool(src) and not src.startswith("//") and ":" not in src.split("/", 1)[0]


class _ImageFinder(HTMLParser):
    """Where each ``<img>`` start tag is in a (sanitized) document, with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[tuple[tuple[int, int], str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append((self.getpos(), self.get_starttag_text() or "", dict(attrs)))  # type: ignore[arg-type]

    handle_startendtag = handle_starttag


def _image_link(attrs: dict[str, Any]) -> str:
    src = attrs.get("src") or ""
    label = (attrs.get("alt") or attrs.get("title") or "").strip()
    text = f"[image: {label}]" if label else "[image]"
    if not src:
        return html_escape(text)
    return f'<a href="{html_escape(src)}" rel="{LINK_REL}">{html_escape(text)}</a>'


def replace_remote_images(html: str) -> str:
    """Each image of another site becomes a link to it; those of this site are kept."""
    finder = _ImageFinder()
    finder.feed(html)
    finder.close()
    if not finder.images:
        return html
    # HTMLParser counts lines by "\n" only (not str.splitlines' other separators).
    line_starts = [0]
    for line in html.split("\n"):
        line_starts.append(line_starts[-1] + len(line) + 1)
    pieces: list[str] = []
    done = 0
    for (line, column), text, attrs in finder.images:
        start = line_starts[line - 1] + column
        if is_local_source(attrs.get("src") or ""):
            continue
        pieces += [html[done:start], _image_link(attrs)]
        done = start + len(text)
    pieces.append(html[done:])
    # Through nh3 once more: whatever the splicing did, what leaves here is sanitized.
    return nh3.clean(
        "".join(pieces),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel=LINK_REL,
        **TASK_LIST_INPUTS,
    )


# -- Markdown --------------------------------------------------------------------------------------


def _budget_checked(rule: Any, max_nesting: int) -> Any:
    """A parser rule that first checks the render's deadline (kept in markdown-it's ``env``) and the
    nesting level it has reached."""

    def checked(state: Any, *args: Any) -> Any:
        deadline = state.env.get("deadline")
        if deadline is not None and time.monotonic() > deadline:
            raise BudgetExceeded("it took too long to format")
        if getattr(state, "level", 0) > max_nesting:
            raise BudgetExceeded("it nests too deeply")
        return rule(state, *args)

    return checked


def _markdown(budget: Budget) -> MarkdownIt:
    """CommonMark without raw HTML, tables, strikethrough and task lists; every rule checks the budget.

    The inline rules run from the scanning loops that are not linear (link labels), so checking in each
    rule call bounds the time whatever the input; one rule call on its own is linear. The nesting is
    checked here too, not left to markdown-it's ``maxNesting`` (kept a little higher, as a backstop):
    past it, markdown-it silently drops the rest of the text.
    """
    md = (
        MarkdownIt("commonmark", {"html": False, "maxNesting": budget.max_nesting + 5})
        .enable(["table", "strikethrough"])
        .use(tasklists_plugin)
    )
    for ruler in (md.core.ruler, md.block.ruler, md.inline.ruler, md.inline.ruler2):
        for rule in ruler.__rules__:
            rule.fn = _budget_checked(rule.fn, budget.max_nesting)
        ruler.__cache__ = None  # the rule chains are compiled from __rules__ on their next use
    return md


_PARSERS: dict[Budget, MarkdownIt] = {}


def _parser(budget: Budget) -> MarkdownIt:
    if budget not in _PARSERS:
        _PARSERS[budget] = _markdown(budget)
    return _PARSERS[budget]


def markdown_to_html(text: str, budget: Budget | None = None) -> str:
    """Sanitized HTML, or BudgetExceeded."""
    budget = budget or DEFAULT_BUDGET
    md = _parser(budget)
    env = {"deadline": time.monotonic() + budget.seconds}
    try:
        html = md.render(text, env)
    except RecursionError:
        raise BudgetExceeded("it nests too deeply") from None
    except ValueError:  # markdown-it on odd input, such as a character reference beyond Unicode
        raise BudgetExceeded("it could not be formatted") from None
    if len(html) > budget.max_output:
        raise BudgetExceeded("its formatted form is too large")
    return sanitize_html(html)


def plain_text_html(text: str) -> str:
    return str(linebreaks(escape(text)))


def fallback_html(text: str, why: str) -> str:
    """The text escaped, after a note telling the reader why it is not formatted."""
    note = f'<p class="render-note"><em>Shown as plain text: {escape(why)}.</em></p>'
    return note + plain_text_html(text)


def render_comment(text: str, comment_format: str, budget: Budget | None = None) -> str:
    """A changeset's comment as the safe HTML that is stored with it (``Changeset.comment_html``)."""
    if not text:
        return ""
    if comment_format == MARKDOWN:
        try:
            return markdown_to_html(text, budget)
        except BudgetExceeded as error:
            return fallback_html(text, str(error))
    if comment_format == HTML:
        return sanitize_html(text)
    return plain_text_html(text)
