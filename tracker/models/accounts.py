from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    """A person. Emails are unique whatever their case: notifications and the Jira import match by email."""

    notify_own_changes = models.BooleanField(
        default=False, help_text="Also email me about the changes I make myself."
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
