"""Reading a message: its sender, its new text (quote and signature removed), its attachments.

The standard library's ``email`` package with ``policy.default`` parses; the text part is preferred,
else the HTML part converted to text. ``email-reply-parser`` removes the quoted original and the
signature; before it, rules cut the quote headers it does not know: Gmail's "On ... wrote:" (also
wrapped on two lines), Outlook's "From: ... Sent: ..." block (and its underscore line, and
"-----Original Message-----"), Apple Mail's "On ..., at ..., ... wrote:" and Thunderbird's
"On .../... ... wrote:" / "... schrieb:".
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from email_reply_parser import EmailReplyParser

from tracker.plain_text import storable


class UnreadableMessage(Exception):
    """The bytes are not a message we can read (no headers, undecodable)."""


@dataclass
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Parsed:
    message: EmailMessage
    from_address: str
    subject: str
    message_id: str
    text: str
    attachments: list[Attachment] = field(default_factory=list)

    def header(self, name: str) -> str:
        return str(self.message.get(name, "") or "")

    def recipients(self) -> list[str]:
        """Addresses the message names as its destination (Delivered-To first, then To and Cc)."""
        values = [*self.message.get_all("Delivered-To", []), *self.message.get_all("X-Original-To", [])]
        values += [*self.message.get_all("To", []), *self.message.get_all("Cc", [])]
        return [address for _, address in getaddresses([str(value) for value in values]) if address]


def parse(raw: bytes) -> Parsed:
    try:
        message = email.message_from_bytes(raw, policy=default_policy)
    except Exception as error:  # the parser is lenient; this is truly broken input
        raise UnreadableMessage(f"not an email message ({error})") from None
    if not isinstance(message, EmailMessage) or not message.keys():
        raise UnreadableMessage("not an email message (no headers)")
    try:
        _, from_address = parseaddr(str(message.get("From", "") or ""))
        subject = " ".join(str(message.get("Subject", "") or "").split())
    except Exception as error:  # a header the policy cannot decode
        raise UnreadableMessage(f"unreadable headers ({error})") from None
    # An email may carry NUL characters (PostgreSQL refuses them in text): kept out of what is stored.
    return Parsed(
        message=message,
        from_address=storable(from_address.strip().lower()),
        subject=storable(subject),
        message_id=storable(str(message.get("Message-ID", "") or "").strip()),
        text=storable(body_text(message)),
        attachments=attachments(message),
    )


def body_text(message: EmailMessage) -> str:
    """The text part, or the HTML part as text; "" when there is neither."""
    plain = message.get_body(preferencelist=("plain",))
    if plain is not None:
        return _content(plain)
    html = message.get_body(preferencelist=("html",))
    if html is not None:
        return html_to_text(_content(html))
    return ""


def _content(part: EmailMessage) -> str:
    try:
        return str(part.get_content())
    except (LookupError, ValueError):  # an unknown charset: read what we can
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)


def attachments(message: EmailMessage) -> list[Attachment]:
    found = []
    for part in message.iter_attachments():
        if part.is_multipart():
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        filename = part.get_filename() or "attachment"
        found.append(Attachment(storable(filename)[:255], part.get_content_type(), data))
    return found


class _TextExtractor(HTMLParser):
    """HTML to text: blocks become lines, blockquotes (the quoted original) become "> " lines."""

    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table"})
    SKIPPED = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote_depth = 0
        self.skipping = 0

    def _newline(self) -> None:
        if self.lines[-1].strip(" >"):
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag == "blockquote":
            self._newline()
            self.quote_depth += 1
        elif tag in self.BLOCKS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag == "blockquote":
            self._newline()
            self.quote_depth = max(0, self.quote_depth - 1)
        elif tag in self.BLOCKS:
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        text = " ".join(data.split())
        if not text:
            return
        if not self.lines[-1]:
            self.lines[-1] = "> " * self.quote_depth
        elif not self.lines[-1].endswith(" "):
            text = " " + text
        self.lines[-1] += text


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return "\n".join(line.rstrip() for line in extractor.lines).strip()


# Where the quoted original starts, for the clients email-reply-parser does not recognise alone.
QUOTE_HEADERS = [
    # Gmail and Apple Mail: "On Tue, Dec 1, 2026 at 10:00 AM Tuleap <noreply@x> wrote:" (maybe on two
    # lines), Thunderbird "On 01/12/2026 10:00, Tuleap wrote:", and a few languages.
    re.compile(
        r"^\s*(On|Le|Am|El|Il|Op)\s[^\n]{0,200}(\n[^\n]{0,200})?\b(wrote|a écrit|schrieb|escribió|ha scritto|"
        r"schreef)\s*:\s*$",
        re.MULTILINE | re.IGNORECASE,
    ),
    # Outlook: "-----Original Message-----", an underscore rule, or a "From: ..." then "Sent: ..." block.
    re.compile(
        r"^\s*-{2,}\s*(Original Message|Message d'origine|Ursprüngliche Nachricht)\s*-{2,}\s*$",
        re.MULTILINE | re.IGNORECASE,
    ),
    re.compile(r"^\s*_{10,}\s*\n\s*(From|De|Von)\s*:", re.MULTILINE | re.IGNORECASE),
    re.compile(
        r"^\s*\*?(From|De|Von)\s*:\*?\s[^\n]*\n(\s*\*?(To|Cc|À|An)\s*:\*?[^\n]*\n)?\s*\*?(Sent|Date|Envoyé|Gesendet)"
        r"\s*:",
        re.MULTILINE | re.IGNORECASE,
    ),
    # Thunderbird's forward and some mobile clients.
    re.compile(r"^\s*-{2,}\s*(Forwarded message|Original message)\s*-{2,}\s*$", re.MULTILINE | re.IGNORECASE),
]
SIGNATURES = re.compile(
    r"^(--\s*|Sent from my [^\n]*|Envoyé de mon [^\n]*|Get Outlook for [^\n]*)$", re.MULTILINE
)


def new_text(text: str) -> str:
    """What the sender wrote: the quoted original, quote headers and signature removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cut = len(text)
    for pattern in QUOTE_HEADERS:
        match = pattern.search(text)
        if match is not None:
            cut = min(cut, match.start())
    text = text[:cut]
    signature = SIGNATURES.search(text)
    if signature is not None:
        text = text[: signature.start()]
    reply = EmailReplyParser.parse_reply(text)
    # Interleaved "> " lines are the original too.
    lines = [line for line in reply.split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()
