"""Handing emails to the mail server over one connection, and telling "try again" from "give up".

A group's email is rendered and serialized once; each recipient then gets its own copy (its address in
``To:``, one SMTP transaction) so nobody sees the others' addresses and a refusal concerns one address.
With Django's SMTP backend we call smtplib's ``sendmail`` on the backend's open connection ourselves,
with the bytes serialized once per group; other backends (files, memory) get an EmailMessage per copy.
"""

from __future__ import annotations

import contextlib
import copy
import smtplib
from dataclasses import dataclass
from types import TracebackType

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address


class DeliveryError(Exception):
    """The mail server did not take an email.

    ``permanent``: trying again will not help (a 5xx answer). ``recipient_only``: the answer concerns
    one address (its RCPT was refused); the other recipients can still be sent to. ``reason``, the label
    of ``tuleap_mail_failures_total``: ``connect`` (refused, reset, hung up), ``timeout``, ``temporary``
    (a 4xx to the whole message), ``permanent`` (a 5xx to it) or ``recipient`` (one address refused).
    """

    def __init__(
        self, message: str, *, permanent: bool = False, recipient_only: bool = False, reason: str = ""
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.recipient_only = recipient_only
        self.reason = reason or ("recipient" if recipient_only else "permanent" if permanent else "temporary")

    @property
    def server_wide(self) -> bool:
        """The mail server itself is down or busy (not one address): every record waits alike."""
        return not self.recipient_only and self.reason in SERVER_WIDE


REASONS = ("connect", "timeout", "temporary", "permanent", "recipient")
SERVER_WIDE = frozenset({"connect", "timeout", "temporary"})


def _describe(code: int, message: bytes | str) -> str:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip()


def classify(error: Exception) -> DeliveryError:
    """An SMTP or network error as a DeliveryError: 5xx answers are permanent, the rest transient."""
    if isinstance(error, DeliveryError):
        return error
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        # We send one recipient per transaction: this is that address's answer.
        [(code, answer)] = error.recipients.values() or [(450, b"refused")]
        return DeliveryError(_describe(code, answer), permanent=500 <= code < 600, recipient_only=True)
    if isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        permanent = 500 <= code < 600
        return DeliveryError(
            f"{type(error).__name__}: {_describe(code, error.smtp_error)}",
            permanent=permanent,
            reason="permanent" if permanent else "temporary",
        )
    # socket.timeout is TimeoutError since Python 3.10; smtplib raises it for connect and reads alike.
    if isinstance(error, TimeoutError):
        return DeliveryError(f"{type(error).__name__}: {error}", reason="timeout")
    # Connection refused or reset, a server that hung up (SMTPServerDisconnected), DNS: may work later.
    return DeliveryError(f"{type(error).__name__}: {error}", reason="connect")


@dataclass
class Prepared:
    """One group's email, serialized once; ``copy_for`` adds the recipient's own ``To:`` line."""

    message: EmailMessage
    from_address: str
    data: bytes

    def copy_for(self, header_address: str, reply_to: str | None = None) -> bytes:
        """``header_address``: as _header_address returns it (checked, encoded if need be)."""
        own = b"To: " + header_address.encode() + b"\r\n"
        if reply_to:
            own += b"Reply-To: " + reply_to.encode() + b"\r\n"
        return own + self.data


def _header_address(address: str, message: EmailMessage) -> str:
    if address.isascii() and not any(char in address for char in '\r\n<>,;:"'):
        return address
    # Non-ASCII or unusual: Django's checks and encoding (raises ValueError on a header injection).
    return sanitize_address(address, message.encoding or settings.DEFAULT_CHARSET)


class MailSession:
    """One connection to the mail server: ``with MailSession() as session: ...``.

    A job gets its connections from ``connection_pool`` (kept open from job to job in a worker); a probe
    opens one of its own. ``broken``: an error left the connection in a state nobody should reuse.
    """

    def __init__(self, *, timeout: float | None = None) -> None:
        # ``timeout``: shorter than EMAIL_TIMEOUT for a probe, which must not hold its caller long.
        options = {"timeout": timeout} if timeout is not None else {}
        self.backend = get_connection(fail_silently=False, **options)
        self.smtp = isinstance(self.backend, SMTPBackend)
        self.broken = False

    def open(self) -> MailSession:
        """Connect (and log in); raises DeliveryError when the server cannot be reached."""
        try:
            self.backend.open()
        except Exception as error:
            raise classify(error) from error
        return self

    def close(self) -> None:
        """QUIT and close; never raises (the emails are handed over already)."""
        with contextlib.suppress(Exception):
            self.backend.close()

    def __enter__(self) -> MailSession:
        return self.open()

    def noop(self) -> None:
        """Ask the server whether it is there (a probe); raises DeliveryError when it is not."""
        if not self.smtp or self.backend.connection is None:
            return
        try:
            code, answer = self.backend.connection.noop()
        except Exception as error:
            raise classify(error) from error
        if code >= 400:
            raise classify(smtplib.SMTPResponseException(code, answer))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def prepare(self, message: EmailMessage) -> Prepared:
        """Serialize the group's email once (no ``To:``; each copy gets its own)."""
        encoding = message.encoding or settings.DEFAULT_CHARSET
        data = message.message().as_bytes(linesep="\r\n") if self.smtp else b""
        return Prepared(message, sanitize_address(message.from_email, encoding), data)

    def send(self, prepared: Prepared, address: str, *, reply_to: str | None = None) -> None:
        """Hand one copy to the server for ``address``; raises DeliveryError when it is not taken.

        ``reply_to``: this copy's own Reply-To (the email gateway's address, plain ASCII we built).
        """
        try:
            envelope = _header_address(address, prepared.message)
        except ValueError as error:
            # Not an address we can put in a header (a line break, say): only this one is skipped.
            raise DeliveryError(f"invalid address: {error}", permanent=True, recipient_only=True) from error
        if not self.smtp:
            single = copy.copy(prepared.message)
            single.to, single.cc, single.bcc = [envelope], [], []
            single.reply_to = [reply_to] if reply_to else []
            self.backend.send_messages([single])
            return
        try:
            if self.backend.connection is None:
                raise smtplib.SMTPServerDisconnected("the connection to the mail server is closed")
            self.backend.connection.sendmail(
                prepared.from_address, [envelope], prepared.copy_for(envelope, reply_to)
            )
        except Exception as error:
            delivery_error = classify(error)
            # A refused RCPT leaves the connection usable (smtplib sends RSET); anything else (a 4xx or
            # 5xx to the whole message, a reset, a timeout in the middle of DATA) may not.
            self.broken = self.broken or not delivery_error.recipient_only
            raise delivery_error from error
