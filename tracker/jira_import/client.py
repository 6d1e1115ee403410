"""Talking to a Jira site with the ``jira`` library.

:func:`connect` builds a ``jira.JIRA`` for the credentials (Jira Cloud: email + API token as basic auth;
Server / Data Center: a personal access token as Bearer, or user name + password) with the URL guard
mounted on its session (redirects included), a timeout on every request and bounded retries.
:class:`JiraClient` then fetches JSON and files, and turns every failure into a :class:`JiraAccessError`
whose message is written for the person who typed the URL and the credentials, and whose ``field``
names what they should correct (set where the error is raised; the wizard and the API show it there).

Security: ``str(JIRAError)`` contains the request headers (the ``Authorization`` header, i.e. the token)
and the response body. It is never logged, stored or chained: errors are rebuilt from the status code
and raised ``from None``, so no traceback, RQ failure record or log line can carry it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

import requests
import urllib3
from django.conf import settings
from jira import JIRA, JIRAError

from tracker.jira_import import storable_json
from tracker.jira_import.credentials import CONTROL, NOT_LATIN1, JiraCredentials, header_problem
from tracker.jira_import.deadline import CancelProbe, RequestCancelled, Watch, Watchdog
from tracker.jira_import.errors import (
    JiraAccessError,
    JiraResponseError,
    NotFound,
    host_of,
    http_error,
    transport_error,
)
from tracker.jira_import.url_guard import GuardedAdapter, RefusedURL, check_url
from tracker.plain_numbers import is_plain_number

logger = logging.getLogger("tracker.jira_import")

# A JSON answer larger than this is not a Jira page we asked for (pages are bounded by maxResults).
MAX_JSON_BYTES = 64 * 1024 * 1024
CHUNK = 64 * 1024
# Answers worth asking again after a short wait: gateways and proxies in front of Jira restarting.
TRANSIENT_STATUSES = {502, 504}


def _retry_delay(attempt: int) -> float:
    return float(min(settings.JIRA_RETRY_MAX_DELAY, 2**attempt))


class JiraClient:
    """One Jira site, through one ``jira.JIRA`` session. Use :func:`connect` to build it."""

    def __init__(self, jira: JIRA, credentials: JiraCredentials, *, retries: int) -> None:
        self.jira = jira
        self.base_url = credentials.url.rstrip("/")
        self.retries = retries
        # The prefetch thread downloads while the main thread may look a user up: one request at a time
        # through the shared session (requests does not promise a Session is thread-safe).
        self._lock = threading.Lock()
        self.watchdog = Watchdog()
        # Whether the import was cancelled, asked by the watchdog during a request that lasts.
        self.cancel_probe: CancelProbe | None = None
        self.aborting = False
        # A person waiting on a form: every request of the client ends before this (monotonic) time.
        self.budget_until: float | None = None
        self.max_retry_delay = settings.JIRA_RETRY_MAX_DELAY
        self.flavor = ""
        self.version: tuple[int, ...] = (0, 0, 0)

    @property
    def is_cloud(self) -> bool:
        return self.flavor == "cloud"

    def api_url(self, path: str) -> str:
        return self.jira._get_url(path)

    def browse_url(self, key: str) -> str:
        return f"{self.base_url}/browse/{key}"

    def same_site(self, url: str) -> bool:
        """Whether ``url`` is on the Jira site itself: the credentials are never sent anywhere else."""
        ours, theirs = urlsplit(self.base_url), urlsplit(url)
        return (ours.scheme, ours.netloc.lower()) == (theirs.scheme, theirs.netloc.lower())

    def close(self) -> None:
        self.watchdog.close()
        self.jira.close()

    # -- requests ---------------------------------------------------------------------------------

    def abort(self) -> None:
        """Cut the request in flight short, as a cancel would (for the import's main thread)."""
        self.aborting = True

    def _probe(self) -> bool:
        return self.aborting or (self.cancel_probe is not None and self.cancel_probe())

    def _deadline(self) -> float:
        at = time.monotonic() + settings.JIRA_REQUEST_TIMEOUT
        return at if self.budget_until is None else min(at, self.budget_until)

    def _call(
        self,
        method: str,
        url: str,
        *,
        what: str,
        not_found: NotFound | None,
        consume: Any,
        params: dict[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """Send, then ``consume(response, watch)``, all of it before the request's deadline.

        Transient failures (429 and 503 honouring Retry-After, gateway errors, dropped connections)
        are retried with a bounded wait, never past an interactive client's budget. The library's
        own session is used for its authentication, but not its ``request`` (whose retries would
        sleep outside any deadline and which reads every body whole before we can bound it).
        """
        attempt = 0
        while True:
            if self.aborting:
                raise RequestCancelled
            outcome = self._attempt(method, url, what=what, consume=consume, params=params, body=body)
            if isinstance(outcome, _Failed):
                status, headers = outcome.status, outcome.headers
                delay = self._retry_wait(status, headers, attempt, outcome.transport)
                if delay is not None:
                    attempt += 1
                    time.sleep(delay)
                    continue
                if outcome.transport is not None:
                    raise transport_error(outcome.transport, what=what, url=self.base_url)
                raise http_error(status, headers, what=what, url=self.base_url, not_found=not_found)
            return outcome.value

    def _retry_wait(
        self, status: int | None, headers: Any, attempt: int, transport: Exception | None
    ) -> float | None:
        """How long to wait before trying again, or None when the failure is final."""
        if attempt >= self.retries:
            return None
        if transport is not None:
            retryable = isinstance(
                transport,
                (
                    requests.exceptions.ConnectionError,
                    requests.exceptions.ReadTimeout,
                    requests.exceptions.ChunkedEncodingError,
                ),
            ) and not isinstance(
                transport, (requests.exceptions.SSLError, requests.exceptions.ConnectTimeout)
            )
            if not retryable:
                return None
            delay = _retry_delay(attempt + 1)
        elif status in (429, 503):
            retry_after = str((headers or {}).get("Retry-After", "")).strip()
            suggested = float(retry_after) if is_plain_number(retry_after) else _retry_delay(attempt + 1)
            delay = min(float(self.max_retry_delay), max(1.0, suggested))
        elif status in TRANSIENT_STATUSES:
            delay = _retry_delay(attempt + 1)
        else:
            return None
        delay = min(delay, float(self.max_retry_delay))
        if self.budget_until is not None and time.monotonic() + delay >= self.budget_until:
            return None  # a person is waiting: no retry that the budget cannot hold
        return delay

    def _attempt(
        self, method: str, url: str, *, what: str, consume: Any, params: Any, body: Any
    ) -> _Done | _Failed:
        """One request under its deadline; errors other than Jira's own answers are returned, not raised."""
        timeout = settings.JIRA_REQUEST_TIMEOUT
        aborted: str | None = None
        with self._lock, self.watchdog.watching(self._deadline(), self._probe) as watch:
            remaining = max(0.05, watch.remaining)
            try:
                response = requests.Session.request(
                    self.jira._session,
                    method,
                    url,
                    params=params,
                    data=json.dumps(body) if body is not None else None,
                    stream=True,
                    timeout=(min(remaining, timeout), remaining),
                )
                try:
                    if response.status_code >= 400:
                        # The body is never read: messages come from the status alone.
                        return _Failed(response.status_code, response.headers, None)
                    return _Done(consume(response, watch))
                finally:
                    response.close()
            except RefusedURL:
                raise
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
                if watch.reason is None:
                    return _Failed(None, None, error)
                aborted = watch.reason
            except TimeoutError:  # Watch.check() between chunks
                aborted = watch.reason or "deadline"
        if aborted == "cancelled":
            raise RequestCancelled
        return _Failed(None, None, DeadlinePassed())

    def _read_json(self, what: str) -> Any:
        def consume(response: requests.Response, watch: Watch) -> Any:
            chunks = []
            size = 0
            for chunk in response.iter_content(CHUNK):
                watch.check()
                size += len(chunk)
                if size > MAX_JSON_BYTES:
                    raise JiraResponseError(
                        f"Jira at {host_of(self.base_url)} sent an answer larger than "
                        f"{MAX_JSON_BYTES // (1024 * 1024)} MB when {what}; the import stopped."
                    )
                chunks.append(chunk)
            try:
                return storable_json.loads(b"".join(chunks))
            except ValueError:
                raise JiraResponseError(
                    f"Jira at {host_of(self.base_url)} sent an answer that is not valid JSON when {what}; "
                    "check that the URL is the address of a Jira site, or try again later."
                ) from None

        return consume

    def get_json(
        self, path: str, params: dict[str, Any] | None = None, *, what: str, not_found: NotFound | None = None
    ) -> Any:
        """``GET /rest/api/2/<path>`` as JSON."""
        return self.get_url_json(self.api_url(path), params, what=what, not_found=not_found)

    def get_url_json(
        self, url: str, params: dict[str, Any] | None = None, *, what: str, not_found: NotFound | None = None
    ) -> Any:
        """``GET`` of a URL of the site (the agile API lives outside /rest/api/2) as JSON."""
        return self._call(
            "GET", url, params=params, what=what, not_found=not_found, consume=self._read_json(what)
        )

    def post_json(self, path: str, body: Any, *, what: str) -> Any:
        return self._call(
            "POST", self.api_url(path), body=body, what=what, not_found=None, consume=self._read_json(what)
        )

    def download(self, url: str, destination: IO[bytes], *, max_size: int, what: str) -> int | None:
        """Copy the file at ``url`` into ``destination``; its size, or None when over ``max_size``."""

        def consume(response: requests.Response, watch: Watch) -> int | None:
            destination.seek(0)
            destination.truncate()
            declared = response.headers.get("Content-Length")
            if declared and is_plain_number(declared) and int(declared) > max_size:
                return None
            size = 0
            for chunk in response.iter_content(CHUNK):
                watch.check()
                size += len(chunk)
                if size > max_size:  # the declared size lied, or there was none
                    return None
                destination.write(chunk)
            return size

        return self._call("GET", url, what=what, not_found=None, consume=consume)


class DeadlinePassed(requests.exceptions.ReadTimeout):
    """The request was cut short at its deadline (retried like any read timeout)."""


@dataclass
class _Done:
    value: Any


@dataclass
class _Failed:
    status: int | None
    headers: Any
    transport: Exception | None


@contextmanager
def _library_log_level_kept() -> Iterator[None]:
    # jira.JIRA() sets its logger's level (INFO) in every constructor; keep what logging configured.
    jira_logger = logging.getLogger("jira")
    level = jira_logger.level
    try:
        yield
    finally:
        jira_logger.setLevel(level)


CREDENTIAL_PROBLEMS = {
    NOT_LATIN1: "The {label} has characters Jira credentials cannot contain; paste it again.",
    CONTROL: "The {label} contains control characters; paste it again.",
}


def check_credential_characters(credentials: JiraCredentials) -> None:
    """HTTP headers carry Latin-1 only: anything else would crash inside requests, not reach Jira."""
    for label, field_, value in (
        ("user name", "username", credentials.username),
        ("token", "token", credentials.token),
    ):
        problem = header_problem(value)
        if problem is not None:
            raise JiraAccessError(CREDENTIAL_PROBLEMS[problem].format(label=label), field=field_)


def connect(credentials: JiraCredentials, *, interactive: bool = False) -> JiraClient:
    """A client for ``credentials`` with its flavor (``serverInfo``); raises RefusedURL or JiraAccessError.

    ``interactive``: a person waits on a form, so no long retries (the import itself retries more).
    """
    url = check_url(credentials.url)
    credentials = JiraCredentials(url, credentials.username, credentials.token)
    if not credentials.token:
        raise JiraAccessError("Give a Jira API token, personal access token or password.", field="token")
    check_credential_characters(credentials)
    retries = min(settings.JIRA_MAX_RETRIES, 1) if interactive else settings.JIRA_MAX_RETRIES
    auth: dict[str, Any] = (
        {"token_auth": credentials.token}
        if credentials.uses_bearer
        else {"basic_auth": (credentials.username, credentials.token)}
    )
    failure: JiraAccessError | None = None
    try:
        with _library_log_level_kept():
            jira = JIRA(
                server=url,
                options={"check_update": False, "verify": True},
                get_server_info=False,  # the first request must go through the guarded adapter too
                max_retries=retries,
                timeout=settings.JIRA_REQUEST_TIMEOUT,
                **auth,
            )
    except JIRAError as error:
        failure = http_error(error.status_code, None, what="connecting", url=url)
    except (ValueError, requests.exceptions.RequestException):
        failure = JiraAccessError("This is not a valid URL.", field="url")
    if failure is not None:
        raise failure
    session = jira._session
    session.trust_env = False  # no proxy or .netrc credentials from the worker's environment
    for prefix in ("http://", "https://"):
        session.mount(prefix, GuardedAdapter())
    client = JiraClient(jira, credentials, retries=retries)
    if interactive:
        # The whole look-up, every request of it, answers within one JIRA_REQUEST_TIMEOUT.
        client.budget_until = time.monotonic() + settings.JIRA_REQUEST_TIMEOUT
        client.max_retry_delay = min(settings.JIRA_RETRY_MAX_DELAY, 5)
    try:
        info = client.get_json("serverInfo", what="reading the server information")
        if not isinstance(info, dict):
            raise JiraResponseError(
                f"{host_of(url)} did not answer like a Jira site (serverInfo); check the URL."
            )
    except BaseException:
        client.close()  # nobody else will: its watchdog thread and session end here
        raise
    client.flavor = "cloud" if str(info.get("deploymentType", "")).lower() == "cloud" else "server"
    numbers = info.get("versionNumbers")
    if isinstance(numbers, list) and all(isinstance(n, int) for n in numbers):
        client.version = tuple(numbers)
    # What the library's own methods consult (search routing, createmeta availability).
    jira.deploymentType = "Cloud" if client.is_cloud else "Server"
    jira._version = client.version
    return client
