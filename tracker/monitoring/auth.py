"""Basic authentication for ``/metrics``: user ``metrics``, password from the environment.

The secret comes from ``METRICS_SECRET`` or, when that is empty, from the file named by
``METRICS_SECRET_FILE`` (read at each scrape, so rotating it needs no restart).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)
# Problems of the configuration already logged by this process: Prometheus scrapes every 15 s, and one
# line saying what to set is enough (the 503 answer says it again on every scrape).
_logged: set[str] = set()


def log_once(level: int, message: str) -> None:
    """Log ``message`` the first time this process meets it."""
    if message not in _logged:
        _logged.add(message)
        logger.log(level, "%s", message)


METRICS_USER = "metrics"
MINIMUM_SECRET_LENGTH = 16
REALM = "Tuleap /metrics authentication"


def metrics_secret() -> str | None:
    """The configured secret, or None when there is none (or its file cannot be read)."""
    if settings.METRICS_SECRET:
        return settings.METRICS_SECRET
    path = settings.METRICS_SECRET_FILE
    if not path:
        return None
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        log_once(
            logging.ERROR,
            f"METRICS_SECRET_FILE={path} cannot be read ({error.strerror}); /metrics stays closed.",
        )
        return None
    return secret or None


def secret_problem(secret: str | None) -> str | None:
    """One line saying why ``/metrics`` cannot be served with this secret, or None when it can."""
    if secret is None:
        return (
            "/metrics is disabled: set METRICS_SECRET (or METRICS_SECRET_FILE) "
            f"to a secret of at least {MINIMUM_SECRET_LENGTH} characters."
        )
    if len(secret) < MINIMUM_SECRET_LENGTH:
        return (
            f"/metrics is disabled: the metrics secret is shorter than {MINIMUM_SECRET_LENGTH} characters; "
            "set a longer METRICS_SECRET (or METRICS_SECRET_FILE)."
        )
    return None


def has_valid_credentials(request: HttpRequest, secret: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, separator, password = decoded.partition(":")
    if not separator:
        return False
    # Compare both parts in constant time, and both always, so timing tells nothing about either.
    user_ok = hmac.compare_digest(user.encode(), METRICS_USER.encode())
    password_ok = hmac.compare_digest(password.encode(), secret.encode())
    return user_ok and password_ok
