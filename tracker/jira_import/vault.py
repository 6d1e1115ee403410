"""Encrypting the Jira token at rest (Fernet), with a key derived from SECRET_KEY unless one is set."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class TokenUnavailable(Exception):
    """The stored token cannot be decrypted (erased, or the key changed)."""


def _fernet() -> Fernet:
    configured = getattr(settings, "JIRA_TOKEN_KEY", "")
    if configured:
        return Fernet(configured.encode())
    # A dedicated key: the same SECRET_KEY never signs sessions and encrypts tokens with one key.
    digest = hashlib.sha256(b"tuleap-jira-token-key:" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(token: str) -> str:
    return _fernet().encrypt(token.encode()).decode()


def decrypt(blob: str) -> str:
    if not blob:
        raise TokenUnavailable(
            "The Jira token has been erased; start the import again with your credentials."
        )
    try:
        return _fernet().decrypt(blob.encode()).decode()
    except InvalidToken:
        raise TokenUnavailable(
            "The Jira token cannot be decrypted (the server's key changed); start the import again."
        ) from None
