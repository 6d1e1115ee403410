"""The signed token of a notification's ``Reply-To: reply+<token>@<EMAIL_GATEWAY_DOMAIN>``.

A token names the recipient (user id) and the artifact, signed with Django's signing under a salt of its
own, so it cannot be forged, altered, or used for another artifact; the processing job also checks
that the message comes from that user's address, so a token forwarded to somebody else is refused. Key
rotation: the current SECRET_KEY signs, SECRET_KEY_FALLBACKS still verify (Django's ``Signer``).

No timestamp: a reply to an old notification is still a reply; the job checks, when the message
arrives, that the user is active and may still write to the artifact.

Compact and case-proof: a mail server may fold the case of a local part, so the ids are base 36 and
the signature lower-case hex (128 bits of HMAC-SHA256). ``reply+`` and two seven-digit ids make 54
characters, under RFC 5321's limit of 64 for a local part.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from django.utils.crypto import salted_hmac

from tracker.email_gateway import config

SALT = "tracker.email_gateway.reply-token"
SEPARATOR = "."
SIGNATURE_HEX_DIGITS = 32
LOCAL_PART_MAX = 64  # RFC 5321, 4.5.3.1.1


class BadToken(Exception):
    """Not a token we signed (forged, altered, truncated, or signed with a key we no longer have)."""


class _HexSigner(signing.Signer):
    """Django's Signer (salt, key, fallback keys, constant-time comparison) with a lower-case signature."""

    def signature(self, value: str, key: str | None = None) -> str:
        mac = salted_hmac(self.salt + "signer", value, key or self.key, algorithm=self.algorithm)
        return mac.hexdigest()[:SIGNATURE_HEX_DIGITS]


def _signer() -> _HexSigner:
    return _HexSigner(salt=SALT, sep=SEPARATOR, algorithm="sha256")


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if number <= 0:
        raise ValueError("ids are positive")
    text = ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text


@dataclass(frozen=True)
class ReplyToken:
    user_id: int
    artifact_id: int


def make_token(user_id: int, artifact_id: int) -> str:
    return _signer().sign(f"{_b36(user_id)}.{_b36(artifact_id)}")


def read_token(token: str) -> ReplyToken:
    """The user and artifact a token names; raises BadToken."""
    try:
        value = _signer().unsign(token.strip().lower())
        user, _, artifact = value.partition(".")
        return ReplyToken(int(user, 36), int(artifact, 36))
    except (signing.BadSignature, ValueError) as error:
        raise BadToken(f"not a valid reply token ({error})") from None


def reply_address(user_id: int, artifact_id: int) -> str:
    """``reply+<token>@domain`` for this recipient and artifact (the gateway must be on)."""
    local = f"{config.prefix()}+{make_token(user_id, artifact_id)}"
    if len(local) > LOCAL_PART_MAX:  # ids beyond 36**7 (78 billion): never in practice
        raise ValueError(f"the reply address's local part would be {len(local)} characters long")
    return f"{local}@{config.domain()}"


def token_of(address: str) -> str | None:
    """The token of ``reply+<token>@domain``, or None for any other address."""
    local, _, host = address.strip().strip("<>").rpartition("@")
    if host.lower() != config.domain():
        return None
    prefix, plus, token = local.partition("+")
    if not plus or prefix.lower() != config.prefix() or not token:
        return None
    return token
