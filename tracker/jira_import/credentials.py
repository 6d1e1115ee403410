"""What Jira credentials may hold: they travel in an HTTP header, so Latin-1 only, no control characters.

:func:`header_problem` is the rule. The wizard's form and the API's serializer use
:func:`validate_header_safe` (a form error next to the field); the client refuses what no form
checked (``manage.py import_jira``) with a JiraAccessError of its own wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

TOKEN_MAX_LENGTH = 2000
NOT_LATIN1 = "not_latin1"
CONTROL = "control"
FORM_MESSAGES = {
    NOT_LATIN1: "Use only Latin-1 characters here: Jira's sign-in header cannot carry the others.",
    CONTROL: "Remove the control characters (such as line breaks).",
}


def header_problem(value: str) -> str | None:
    """``NOT_LATIN1`` or ``CONTROL`` when ``value`` cannot be sent in a header; None when it can.

    The HTTP client cannot encode anything else: it would fail deep inside, not reach Jira.
    """
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return NOT_LATIN1
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        return CONTROL
    return None


def validate_header_safe(value: str) -> None:
    """A validator for the credential fields of forms and serializers."""
    problem = header_problem(value)
    if problem is not None:
        raise ValidationError(FORM_MESSAGES[problem], code=problem)


@dataclass(frozen=True)
class JiraCredentials:
    """Where and as whom to connect. An empty ``username`` means the token is a Bearer token (Server PAT)."""

    url: str
    username: str
    token: str = field(repr=False)

    @property
    def uses_bearer(self) -> bool:
        return not self.username
