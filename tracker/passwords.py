"""Password rules of our own, beside Django's validators (settings.AUTH_PASSWORD_VALIDATORS)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class NotMostlyWhitespaceValidator:
    """At least ``min_length`` characters that are not spaces: ten spaces are not a password.

    Django's MinimumLengthValidator counts every character, so "          " passes it.
    """

    def __init__(self, min_length: int = 8) -> None:
        self.min_length = min_length

    def validate(self, password: str, user: Any = None) -> None:
        if sum(not char.isspace() for char in password) < self.min_length:
            raise ValidationError(
                f"This password has too few characters other than spaces: use at least {self.min_length}.",
                code="password_mostly_whitespace",
            )

    def get_help_text(self) -> str:
        return f"Your password must contain at least {self.min_length} characters other than spaces."
