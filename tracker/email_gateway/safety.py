"""Messages the gateway records and ignores, never answering them: answering is how mail loops start.

- auto-generated: ``Auto-Submitted`` other than ``no``, vacation replies (``X-Autoreply``,
  ``X-Autorespond``, ``X-Auto-Response-Suppress``, ``Precedence: bulk/junk/list/auto_reply``);
- bounces: a null sender, a delivery (or read) report (``multipart/report``), mailer-daemon;
- loops: a message from the gateway's domain or our sender address, or one of our notifications;
- a reply through a mailing list to one of our notifications that list received.
"""

from __future__ import annotations

import re
from email.utils import parseaddr

from django.conf import settings

from tracker.email_gateway import config
from tracker.email_gateway.parsing import Parsed
from tracker.models import InboundEmail
from tracker.notifications.emails import mail_domain

AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Autoresponse")
BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|noreply|no-reply)@", re.IGNORECASE)


def _our_domains() -> set[str]:
    domains = {mail_domain().lower()}
    if config.enabled():
        domains.add(config.domain())
    return domains


def ignore_reason(parsed: Parsed, record: InboundEmail) -> str | None:
    """Why this message must be ignored, or None for a message a person wrote."""
    message = parsed.message
    auto = parsed.header("Auto-Submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return f"auto-generated (Auto-Submitted: {auto[:50]})"
    for name in AUTO_HEADERS:
        if name in message:
            return f"automatic reply ({name})"
    precedence = parsed.header("Precedence").strip().lower()
    if precedence in BULK_PRECEDENCE:
        return f"automatic or bulk message (Precedence: {precedence})"
    if message.get_content_type() == "multipart/report":
        return f"delivery or read report ({message.get_param('report-type') or 'multipart/report'})"
    null_envelope = record.via == InboundEmail.Via.LMTP and record.envelope_from.strip("<> ") == ""
    if null_envelope or parsed.header("Return-Path").strip() == "<>" or not parsed.from_address:
        return "bounce (null sender)"
    if DAEMONS.match(parsed.from_address):
        return f"bounce or automatic sender ({parsed.from_address})"
    _, ours = parseaddr(settings.DEFAULT_FROM_EMAIL)
    sender_domain = parsed.from_address.rpartition("@")[2]
    message_id_domain = parsed.message_id.strip("<> ").rpartition("@")[2].lower()
    # Not the site's host name: people may well have addresses there. The gateway's domain is ours alone.
    if parsed.from_address == ours.lower() or (config.enabled() and sender_domain == config.domain()):
        return f"loop: sent from our own address ({parsed.from_address})"
    if message_id_domain and message_id_domain in _our_domains() and "X-Tuleap-Changeset-Id" in message:
        return "loop: one of our own notifications came back"
    in_reply_to = parsed.header("In-Reply-To") + " " + parsed.header("References")
    through_list = "List-Id" in message or "List-Post" in message
    if through_list and ".notification-list@" in in_reply_to:
        return "reply through a mailing list to a notification that list received"
    return None


def authenticated(parsed: Parsed) -> bool:
    """Whether our receiving server's Authentication-Results say DKIM or SPF passed for the sender.

    Only the topmost header is read: it is the one our server added; the ones below came with the
    message and prove nothing.
    """
    header = parsed.message.get("Authentication-Results")
    if header is None:
        return False
    domain = parsed.from_address.rpartition("@")[2]
    for result in str(header).split(";")[1:]:
        words = result.strip().lower()
        if re.match(r"(dkim|spf)\s*=\s*pass\b", words) and re.search(
            rf"(header\.d|header\.i|smtp\.mailfrom|header\.from)\s*=\s*[^\s;]*\b{re.escape(domain)}\b", words
        ):
            return True
    return False
