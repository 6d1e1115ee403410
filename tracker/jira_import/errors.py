"""What can go wrong when talking to Jira, worded for the person who typed the URL and the credentials.

Every failure becomes a :class:`JiraAccessError` whose ``field`` names what to correct. Messages are
built from the status code and the exception type alone, never from the answer's body or the request
(``str(JIRAError)`` holds the ``Authorization`` header): see :mod:`tracker.jira_import.client`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings


class JiraAccessError(Exception):
    """Jira could not be used. ``str()`` is a message for the user; it never holds a secret.

    ``field`` names what to correct, as the API names it (``url``, ``username``, ``token``,
    ``jira_project_key``, ``issue_type_id``), or is None when no single field is to blame.
    """

    def __init__(self, message: str, *, status: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


class JiraResponseError(JiraAccessError):
    """Jira answered, but not with what its API documents (invalid JSON, missing keys, wrong types).

    Most likely the URL is not a Jira site's, hence the field.
    """

    def __init__(self, message: str, *, status: int | None = None, field: str | None = "url") -> None:
        super().__init__(message, status=status, field=field)


@dataclass(frozen=True)
class NotFound:
    """What a 404 answer to one request means: the message, and the field it is about."""

    message: str
    field: str | None = "url"


def host_of(url: str) -> str:
    return urlsplit(url).netloc or url


def http_error(
    status: int | None, headers: Any, *, what: str, url: str, not_found: NotFound | None = None
) -> JiraAccessError:
    """The message for an HTTP error status, built from the status alone (never from the body)."""
    host = host_of(url)
    field_: str | None = None
    if status == 401:
        message = (
            f"Jira at {host} refused these credentials (401 Unauthorized). On Jira Cloud, use your "
            "account's email address and an API token; on Jira Server or Data Center, a personal access "
            "token (with no user name) or your user name and password."
        )
        field_ = "token"
    elif (
        status == 403 and "captcha" in str((headers or {}).get("X-Authentication-Denied-Reason", "")).lower()
    ):
        message = (
            f"Jira at {host} asks for a CAPTCHA after failed logins: log in to Jira once in a browser, "
            "then try again."
        )
    elif status == 403:
        message = (
            f"These credentials may not be used for {what} on {host} (403 Forbidden); ask a Jira "
            "administrator for the Browse Projects permission."
        )
    elif status == 404:
        not_found = not_found or NotFound(
            f"Jira at {host} answered 404 Not Found when {what}; check that {url} is the address of a "
            "Jira site."
        )
        message, field_ = not_found.message, not_found.field
    elif status == 429:
        message = (
            f"Jira at {host} kept refusing requests because too many were made (429 Too Many Requests) "
            f"when {what}; try again later."
        )
    elif status == 503:
        message = f"Jira at {host} is unavailable (503 Service Unavailable) when {what}; try again later."
    elif status is not None and status >= 500:
        message = f"Jira at {host} failed with a server error ({status}) when {what}; try again later."
    else:
        message = f"Jira at {host} refused the request (HTTP {status}) when {what}."
    return JiraAccessError(message, status=status, field=field_)


def transport_error(error: Exception, *, what: str, url: str) -> JiraAccessError:
    """A request that got no answer: the URL is the thing to check (host, port, TLS, redirects)."""
    host = host_of(url)
    timeout = settings.JIRA_REQUEST_TIMEOUT
    if isinstance(error, requests.exceptions.SSLError):
        message = f"The secure connection to {host} failed (is its TLS certificate valid?) when {what}."
    elif isinstance(error, requests.exceptions.ConnectTimeout):
        message = f"Could not connect to {host} within {timeout} seconds when {what}."
    elif isinstance(error, requests.exceptions.Timeout):
        message = f"Jira at {host} did not answer in {timeout} s when {what}."
    elif isinstance(error, requests.exceptions.TooManyRedirects):
        message = f"Jira at {host} redirected too many times when {what}."
    elif isinstance(error, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema)):
        message = "This is not a valid URL."
    elif isinstance(error, requests.exceptions.ConnectionError):
        message = f"Cannot connect to {host} when {what}: check the URL and that this server can reach it."
    else:
        message = f"The connection to {host} failed when {what} ({type(error).__name__})."
    return JiraAccessError(message, field="url")
