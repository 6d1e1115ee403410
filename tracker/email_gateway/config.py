"""Whether the email gateway is on, and the addresses it answers to (read from settings)."""

from __future__ import annotations

from django.conf import settings


def enabled() -> bool:
    """On once EMAIL_GATEWAY_DOMAIN is set: notifications carry a Reply-To, workers run on its queue."""
    return bool(settings.EMAIL_GATEWAY_DOMAIN)


def domain() -> str:
    return settings.EMAIL_GATEWAY_DOMAIN


def is_ours(address: str) -> bool:
    """An address at the gateway's domain."""
    return enabled() and address.rpartition("@")[2].lower() == domain()


def prefix() -> str:
    return settings.EMAIL_GATEWAY_PREFIX
