"""The one short explanation a rejected sender gets: at most one per address and hour, or none.

Never to an ignored message (auto-replies, bounces, loops), never when EMAIL_GATEWAY_REPLY_ON_REJECT is
off. The per-hour rule is a conditional UPDATE on the sender's row, so two workers rejecting two
messages of the same sender at the same moment send one answer between them. The answer itself is
marked ``Auto-Submitted: auto-replied``, so a well-behaved auto-responder does not answer it back.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Q
from django.utils import timezone

from tracker.email_gateway.parsing import Parsed
from tracker.models import GatewaySender

logger = logging.getLogger("tracker.email_gateway.answers")

INTERVAL = dt.timedelta(hours=1)


def _take_turn(address: str) -> bool:
    """Whether this address may get an answer now (and, if so, it is counted)."""
    now = timezone.now()
    GatewaySender.objects.get_or_create(address=address)
    return bool(
        GatewaySender.objects.filter(address=address)
        .filter(Q(last_answer_at__isnull=True) | Q(last_answer_at__lt=now - INTERVAL))
        .update(last_answer_at=now)
    )


def answer_rejection(parsed: Parsed | None, address: str, reason: str) -> bool:
    """Tell ``address`` in a few lines why its message was not taken; whether an answer was sent."""
    address = address.strip().lower()
    if not settings.EMAIL_GATEWAY_REPLY_ON_REJECT or "@" not in address or not _take_turn(address):
        return False
    subject = f"Not delivered: {parsed.subject}" if parsed is not None and parsed.subject else "Not delivered"
    headers = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
    if parsed is not None and parsed.message_id:
        headers["In-Reply-To"] = headers["References"] = parsed.message_id
    body = (
        "Your message could not be added to the tracker:\n\n"
        f"{reason}\n\n"
        "This is an automatic answer; you will get at most one per hour.\n"
    )
    try:
        EmailMessage(subject[:200], body, settings.DEFAULT_FROM_EMAIL, [address], headers=headers).send()
    except Exception as error:  # an answer is a courtesy: the record keeps the reason either way
        logger.warning("Could not answer %s about a rejected email: %s", address, error)
        return False
    return True
