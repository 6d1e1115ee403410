from __future__ import annotations

from typing import Any

from django.contrib.auth import models as auth_models
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.password_validation import validate_password
from django.db import models
from django.db.models.functions import Lower


class UserManager(auth_models.UserManager):
    """Django's, but an account is never created with a password the validators refuse.

    ``createsuperuser`` lets an operator bypass the validators, and skips them with ``--noinput``
    (``DJANGO_SUPERUSER_PASSWORD``); both end here, where its ValidationError becomes the command's
    error. An account without a password (``None``: unusable) is allowed.
    """

    def _create_user_object(
        self, username: str, email: str | None, password: str | None, **extra: Any
    ) -> Any:
        user = super()._create_user_object(username, email, password, **extra)
        if password is not None:
            validate_password(password, user)
        return user

    def active_named(self, username: str) -> User | None:
        """The active account people mean by ``username``: the exact one, else the only one whose
        username differs in case alone ("BOB" for bob). Usernames are unique as typed, so two accounts
        may differ in case only; then nobody is guessed."""
        username = username.strip()
        if not username:
            return None
        exact = self.filter(username=username, is_active=True).first()
        if exact is not None:
            return exact
        found = list(self.filter(username__iexact=username, is_active=True)[:2])
        return found[0] if len(found) == 1 else None


class User(AbstractUser):
    """A person. Emails are unique whatever their case: notifications and the Jira import match by email."""

    notify_own_changes = models.BooleanField(
        default=False, help_text="Also email me about the changes I make myself."
    )
    plain_text_emails = models.BooleanField(
        default=False, help_text="Send me notification emails as plain text only (no HTML part)."
    )

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="user_email_ci_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        full = self.get_full_name()
        return f"{full} ({self.username})" if full else self.username
