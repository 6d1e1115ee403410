"""A real HTTP server on loopback that speaks Jira Cloud's or Jira Server's REST dialect.

    with FakeJiraServer(FakeJiraData.realistic(), flavor="cloud") as srv:
        jira = srv.client()                      # a jira.JIRA with the right credentials
        srv.fail_next(r"/search/jql", 429)       # then inspect srv.requests

Everything is served from ``FakeJiraData``; payloads are rendered per request
(nothing big is held as JSON). Credentials never appear in the request log,
in error bodies or on stdout/stderr.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import socket
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .catalog import STATUS_CATEGORIES, create_screen
from .jql import Evaluator, JqlError, parse, user_zone
from .model import FakeJiraData, Issue
from .render import FieldSelection, Renderer, jira_timestamp

if TYPE_CHECKING:
    from jira import JIRA

CLOUD_EMAIL = "alice@example.com"
CLOUD_API_TOKEN = "fake-cloud-api-token-7Hq2xR"
SERVER_USERNAME = "alice"
SERVER_PASSWORD = "fake-server-password-9Kp"
SERVER_PAT = "fake-server-pat-NjM0MjE5ODc"

REDACTED = "<redacted>"


@dataclass
class Credentials:
    """What the fake accepts.

    Cloud: basic ``email:api_token``. Server: ``Bearer <pat>`` or basic ``username:password``.
    """

    user: str = "alice"  # the data's user handle these credentials log in as
    email: str = CLOUD_EMAIL
    api_token: str = CLOUD_API_TOKEN
    username: str = SERVER_USERNAME
    password: str = SERVER_PASSWORD
    pat: str = SERVER_PAT


@dataclass
class RecordedRequest:
    """One request as the fake saw it, with secrets removed."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # canonical names; Authorization/Cookie values become "<scheme> <redacted>"
    body: Any  # parsed JSON body, if any
    auth_scheme: str | None  # "basic" | "bearer" | None
    principal: str | None  # the email/username presented with basic auth (never the secret)
    user: str | None  # the user handle authenticated as; None when anonymous or rejected
    status: int | None = None  # 0: the connection was dropped without an answer

    def param(self, name: str, default: str | None = None) -> str | None:
        """A parameter from the query string, or from the JSON body of a POST."""
        if name in self.query:
            return self.query[name][0]
        if isinstance(self.body, dict) and name in self.body:
            return str(self.body[name])
        return default


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds between two bytes of the answer (status line included): a server or proxy that
    # trickles, which defeats per-read socket timeouts (see FakeJiraServer.trickle).
    trickle: float = 0.0


@dataclass
class _Fault:
    kind: str  # "fail" | "delay" | "malformed" | "trickle"
    pattern: re.Pattern[str]
    method: str | None
    remaining: int | None  # None: every matching request
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    seconds: float = 0.0


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    user: str | None
    api_version: str
    renderer: Renderer

    def param(self, name: str, default: Any = None) -> Any:
        if isinstance(self.body, dict) and name in self.body:
            return self.body[name]
        values = self.query.get(name)
        return values[0] if values else default

    def params(self, name: str) -> list[str]:
        """Every value of a repeatable parameter (``?fields=a&fields=b,c`` or a JSON list)."""
        if isinstance(self.body, dict) and name in self.body:
            raw = self.body[name]
            values = raw if isinstance(raw, list) else [] if raw is None else [raw]
        else:
            values = self.query.get(name, [])
        return [p.strip() for v in values for p in str(v).split(",") if p.strip()]

    def int_param(self, name: str, default: int) -> int:
        raw = self.param(name)
        if raw in (None, ""):
            return default
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise _HttpError(400, f"The value '{raw}' is not a valid number for '{name}'.") from None


class _HttpError(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def _json(obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, body, {"Content-Type": "application/json;charset=UTF-8", **(headers or {})})


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return _json({"errorMessages": [message], "errors": {}}, status, headers)


_DEFAULT_FAULT_BODIES = {
    429: "Rate limit exceeded.",
    500: "Internal server error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class FakeJiraServer:
    """A fake Jira (Cloud or Server/Data Center) on ``http://127.0.0.1:<port>``.

    Args:
        data: what to serve (default: ``FakeJiraData.realistic()``).
        flavor: ``"cloud"`` or ``"server"``.
        credentials: accepted credentials (default: ``Credentials()``).
        server_version: version reported by Server (Cloud always reports 1001.0.0).
            Server >= 9 removed ``GET issue/createmeta`` (404); < 8.4 lacks the
            paged ``issue/createmeta/{project}/issuetypes`` endpoints.
        forbidden_projects: keys whose endpoints answer ``forbidden_status``.
        changelog_embed_limit: histories embedded with ``expand=changelog``
            (default 40 on Cloud, unlimited on Server).
        page_cap: largest page the search endpoints return (default 100 on
            Cloud, 1000 on Server, like ``jira.search.views.default.max``).
        comment_embed_limit: comments embedded per issue in search answers
            (default: all); ``total`` still counts them all, as Jira does.
        strict: re-raise bugs of the fake itself (500s it did not mean) on exit.
    """

    def __init__(
        self,
        data: FakeJiraData | None = None,
        flavor: str = "cloud",
        *,
        credentials: Credentials | None = None,
        server_version: tuple[int, int, int] = (9, 12, 2),
        forbidden_projects: tuple[str, ...] | set[str] = (),
        forbidden_status: int = 403,
        changelog_embed_limit: int | Literal["default"] | None = "default",
        page_cap: int | None = None,
        comment_embed_limit: int | None = None,
        worklog_page_cap: int = 5000,
        agile_status: int | None = None,
        strict: bool = True,
    ) -> None:
        if flavor not in ("cloud", "server"):
            raise ValueError("flavor must be 'cloud' or 'server'")
        self.data = data if data is not None else FakeJiraData.realistic()
        self.flavor = flavor
        self.cloud = flavor == "cloud"
        self.credentials = credentials or Credentials()
        self.server_version = server_version
        self.forbidden: dict[str, int] = dict.fromkeys(forbidden_projects, forbidden_status)
        if changelog_embed_limit == "default":
            changelog_embed_limit = 40 if self.cloud else None
        self.changelog_embed_limit: int | None = changelog_embed_limit
        self.page_cap = page_cap or (100 if self.cloud else 1000)
        self.comment_embed_limit = comment_embed_limit
        # /issue/{key}/worklog pages at most this many (real sites: 5000; lower it to force paging).
        self.worklog_page_cap = worklog_page_cap
        # None: the agile API answers; 403 or 404: it refuses (no Jira Software, or no board access).
        self.agile_status = agile_status
        self.strict = strict
        # Jira Server locks basic auth behind a CAPTCHA after failed logins.
        self.captcha_required = False
        self.errors: list[str] = []  # tracebacks of the fake's own bugs
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._media_secret = secrets.token_bytes(16)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeJiraServer:
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler, self)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-jira", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in delay()
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # idle keep-alive connections would otherwise block the join
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeJiraServer:
        return self.start()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.stop()
        if self.strict and self.errors and exc_type is None:
            raise AssertionError("the fake Jira itself failed:\n" + "\n".join(self.errors))

    # ------------------------------------------------------------------ knobs

    def fail_next(
        self,
        path_regex: str,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: str | bytes | Mapping[str, Any] | None = None,
        *,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path matches with ``status``.

        429 and 503 default to ``Retry-After: 1`` (which the ``jira`` library
        honours: it sleeps 1-2 s then retries); the body defaults to Jira's
        ``{"errorMessages": [...]}``.
        """
        if headers is None:
            headers = {"Retry-After": "1"} if status in (429, 503) else {}
        if body is None:
            body_bytes = json.dumps(
                {"errorMessages": [_DEFAULT_FAULT_BODIES.get(status, f"HTTP {status}")], "errors": {}}
            ).encode()
        elif isinstance(body, Mapping):
            body_bytes = json.dumps(body).encode()
        else:
            body_bytes = body.encode() if isinstance(body, str) else body
        fault_headers = dict(headers)
        if body is None or isinstance(body, Mapping):
            fault_headers.setdefault("Content-Type", "application/json;charset=UTF-8")
        self._add_fault(
            _Fault("fail", re.compile(path_regex), method, times, status, fault_headers, body_bytes)
        )

    def delay(
        self, path_regex: str, seconds: float, times: int | None = None, *, method: str | None = None
    ) -> None:
        """Sleep ``seconds`` before answering matching requests (all of them unless ``times``)."""
        self._add_fault(_Fault("delay", re.compile(path_regex), method, times, seconds=seconds))

    def trickle(
        self,
        path_regex: str,
        seconds_per_byte: float = 1.0,
        times: int | None = None,
        *,
        method: str | None = None,
    ) -> None:
        """Send matching answers one byte every ``seconds_per_byte``, from the status line on.

        Each read of the client gets a byte well within any socket timeout, so only a wall-clock
        deadline on the whole request ends it (the answer would take minutes to arrive).
        """
        self._add_fault(_Fault("trickle", re.compile(path_regex), method, times, seconds=seconds_per_byte))

    def malformed(self, path_regex: str, times: int | None = 1, *, method: str | None = None) -> None:
        """Answer matching requests with 200 and a truncated (invalid) JSON body."""
        self._add_fault(_Fault("malformed", re.compile(path_regex), method, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def forbid_project(self, key: str, status: int = 403) -> None:
        """The credentials lose access to ``key``: its endpoints answer ``status``.

        Search behaves like Jira: a JQL naming the project gets a 400 ("does not
        exist for the field 'project'") and other searches silently skip it.
        """
        self.forbidden[key] = status

    def allow_project(self, key: str) -> None:
        self.forbidden.pop(key, None)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RecordedRequest]:
        pattern = re.compile(path_regex)
        return [r for r in self.requests if pattern.search(r.path) and method in (None, r.method)]

    def reset_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def client_kwargs(self) -> dict[str, Any]:
        """Arguments for ``jira.JIRA(**kwargs)`` with the credentials of this flavour."""
        if self.cloud:
            return {"server": self.url, "basic_auth": (self.credentials.email, self.credentials.api_token)}
        return {"server": self.url, "token_auth": self.credentials.pat}

    def client(self, **overrides: Any) -> JIRA:
        from jira import JIRA

        return JIRA(**{**self.client_kwargs(), **overrides})

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_faults(self, method: str, path: str) -> list[_Fault]:
        taken = []
        with self._lock:
            for fault in list(self._faults):
                if fault.method not in (None, method) or not fault.pattern.search(path):
                    continue
                if fault.kind == "fail" and any(f.kind == "fail" for f in taken):
                    continue
                taken.append(fault)
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
        return taken

    # ------------------------------------------------------------------ request handling

    def _dispatch(self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes) -> Response:
        split = urlsplit(target)
        path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        scheme, principal, user, auth_failure = self._authenticate(headers.get("Authorization"))
        body: Any = None
        bad_body = False
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                bad_body = True
        record = RecordedRequest(
            method,
            path,
            query,
            _redact(headers),
            body,
            scheme,
            principal,
            user if auth_failure is None else None,
        )
        with self._lock:
            self._requests.append(record)

        faults = self._take_faults(method, path)
        for fault in faults:
            if fault.kind == "delay" and self._stopping.wait(fault.seconds):
                # Shutting down mid-delay: drop the connection like a dying server would.
                record.status = 0
                raise ConnectionAbortedError
        failing = next((f for f in faults if f.kind == "fail"), None)
        if failing is not None:
            response = Response(failing.status, failing.body or b"", dict(failing.headers))
        elif bad_body:
            response = _error(400, "Unexpected character in the request body: it is not JSON.")
        else:
            response = self._handle(method, path, query, body, user, auth_failure, scheme)
            if any(f.kind == "malformed" for f in faults):
                response = Response(
                    200, response.body[: max(1, len(response.body) // 2)] or b"{", response.headers
                )
                response.headers["Content-Type"] = "application/json;charset=UTF-8"
        trickling = next((f for f in faults if f.kind == "trickle"), None)
        if trickling is not None:
            response.trickle = trickling.seconds
        record.status = response.status
        return response

    def _handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        user: str | None,
        auth_failure: str | None,
        scheme: str | None,
    ) -> Response:
        for route_method, pattern, handler, needs_auth in self._routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method != method:
                # Jersey answers 405 for a known resource with the wrong verb.
                if not any(m == method and p.fullmatch(path) for m, p, _, _ in self._routes):
                    return Response(405, b"", {"Allow": route_method})
                continue
            if needs_auth is not False and auth_failure is not None:
                anonymous_ok = needs_auth is None and auth_failure == "missing"
                if not anonymous_ok:
                    return self._unauthorized(auth_failure, scheme)
            version = match.groupdict().get("v") or "2"
            renderer = Renderer(
                self.data,
                cloud=self.cloud,
                base_url=self.url,
                api_version="2" if version == "latest" else version,
                changelog_embed_limit=self.changelog_embed_limit,
                changelog_field_ids=self.cloud,
                comment_embed_limit=self.comment_embed_limit,
            )
            request = _Request(method, path, query, body, user, version, renderer)
            args = {k: unquote(v) for k, v in match.groupdict().items() if k != "v"}
            try:
                return handler(request, **args)
            except _HttpError as exc:
                return _error(exc.status, exc.message, exc.headers)
            except JqlError as exc:
                return _error(400, str(exc))
            except Exception:
                self.errors.append(traceback.format_exc())
                return _error(500, "Internal server error (a bug in the fake Jira)")
        return _json({"message": f"null for uri: {self.url}{path}", "status-code": 404}, 404)

    def _authenticate(self, header: str | None) -> tuple[str | None, str | None, str | None, str | None]:
        """(scheme, principal, user handle, failure reason or None)."""
        if not header:
            return None, None, None, "missing"
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        creds = self.credentials
        if scheme == "basic":
            try:
                principal, _, secret = base64.b64decode(value.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return scheme, None, None, "malformed"
            if self.cloud:
                ok = principal == creds.email and hmac.compare_digest(secret, creds.api_token)
                if not ok and principal == creds.email and hmac.compare_digest(secret, creds.password):
                    return scheme, principal, None, "password"
            else:
                if self.captcha_required:
                    return scheme, principal, None, "captcha"
                ok = principal == creds.username and hmac.compare_digest(secret, creds.password)
            return scheme, principal, (creds.user if ok else None), (None if ok else "bad")
        if scheme == "bearer":
            ok = not self.cloud and hmac.compare_digest(value.strip(), creds.pat)
            return scheme, None, (creds.user if ok else None), (None if ok else "bad")
        return scheme, None, None, "bad"

    def _unauthorized(self, failure: str, scheme: str | None) -> Response:
        if failure == "captcha":
            # The jira library surfaces this header as the error message.
            return _error(
                403,
                "CAPTCHA required",
                {"X-Authentication-Denied-Reason": f"CAPTCHA_CHALLENGE; login-url={self.url}/login.jsp"},
            )
        if self.cloud:
            message = (
                "Basic authentication with passwords is deprecated. Use an API token."
                if failure == "password"
                else "Client must be authenticated to access this resource."
            )
            return _error(401, message, {"WWW-Authenticate": 'Basic realm="Jira"'})
        headers = {
            "WWW-Authenticate": 'OAuth realm="' + quote(self.url, safe="") + '"',
            "X-AUSERNAME": "anonymous",
        }
        if failure != "missing":
            headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
        return _error(
            401, "You are not authenticated. Authentication required to perform this operation.", headers
        )

    # ------------------------------------------------------------------ routes

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Response], bool | None]]:
        api = r"/rest/api/(?P<v>2|3|latest)/"
        # needs_auth: True, False (no auth), None (anonymous allowed, bad credentials still rejected)
        table: list[tuple[str, str, Callable[..., Response], bool | None]] = [
            ("GET", api + r"serverInfo", self._server_info, None),
            ("GET", api + r"myself", self._myself, True),
            ("GET", api + r"project", self._projects, True),
            ("GET", api + r"project/search", self._project_search, True),
            ("GET", api + r"project/(?P<key>[^/]+)", self._project, True),
            ("GET", api + r"project/(?P<key>[^/]+)/statuses", self._project_statuses, True),
            ("GET", api + r"project/(?P<key>[^/]+)/components", self._project_components, True),
            ("GET", api + r"project/(?P<key>[^/]+)/versions", self._project_versions, True),
            ("GET", api + r"issuetype", self._issue_types, True),
            ("GET", api + r"issuetype/(?P<id>[^/]+)", self._issue_type, True),
            ("GET", api + r"status", self._statuses, True),
            ("GET", api + r"statuscategory", self._status_categories, True),
            ("GET", api + r"priority", self._priorities, True),
            ("GET", api + r"resolution", self._resolutions, True),
            ("GET", api + r"issueLinkType", self._link_types, True),
            ("GET", api + r"field", self._fields, True),
            ("GET", api + r"issue/createmeta", self._createmeta, True),
            ("GET", api + r"issue/createmeta/(?P<key>[^/]+)/issuetypes", self._createmeta_types, True),
            (
                "GET",
                api + r"issue/createmeta/(?P<key>[^/]+)/issuetypes/(?P<id>[^/]+)",
                self._createmeta_fields,
                True,
            ),
            ("GET", api + r"search", self._search, True),
            ("POST", api + r"search", self._search, True),
            ("GET", api + r"search/jql", self._search_jql, True),
            ("POST", api + r"search/jql", self._search_jql, True),
            ("POST", api + r"search/approximate-count", self._approximate_count, True),
            ("GET", api + r"issue/(?P<key>[^/]+)", self._issue, True),
            ("GET", api + r"issue/(?P<key>[^/]+)/changelog", self._changelog, True),
            ("GET", api + r"issue/(?P<key>[^/]+)/editmeta", self._editmeta, True),
            ("GET", api + r"issue/(?P<key>[^/]+)/worklog", self._worklogs, True),
            ("GET", r"/rest/agile/1\.0/board", self._boards, True),
            ("GET", r"/rest/agile/1\.0/board/(?P<id>\d+)/sprint", self._board_sprints, True),
            ("GET", api + r"issue/(?P<key>[^/]+)/comment", self._comments, True),
            ("GET", api + r"issue/(?P<key>[^/]+)/comment/(?P<id>\d+)", self._comment, True),
            ("GET", api + r"attachment/meta", self._attachment_meta, True),
            ("GET", api + r"attachment/content/(?P<id>\d+)", self._attachment_content, True),
            ("GET", api + r"attachment/(?P<id>\d+)", self._attachment, True),
            ("GET", api + r"user", self._user, True),
            ("GET", api + r"user/search", self._user_search, True),
            ("GET", r"/secure/attachment/(?P<id>\d+)/(?P<filename>[^/]+)", self._secure_attachment, True),
            ("GET", r"/fake-media/file/(?P<id>\d+)/binary", self._media, False),
        ]
        return [(m, re.compile(p), h, auth) for m, p, h, auth in table]

    # ---- helpers

    def _visible_projects(self) -> set[str]:
        return {k for k in self.data.projects if k not in self.forbidden}

    def _project_or_error(self, id_or_key: str) -> Any:
        project = self.data.project_by_id_or_key(id_or_key)
        if project is None:
            raise _HttpError(404, f"No project could be found with key '{id_or_key}'.")
        if project.key in self.forbidden:
            raise _HttpError(self.forbidden[project.key], "You do not have permission to view this project.")
        return project

    def _issue_or_error(self, key: str) -> Issue:
        issue = self.data.get_issue(key)
        if issue is None:
            raise _HttpError(404, "Issue does not exist or you do not have permission to see it.")
        if issue.project_key in self.forbidden:
            raise _HttpError(
                self.forbidden[issue.project_key],
                "You do not have the permission to see the specified issue.",
            )
        return issue

    def _cloud_only(self, req: _Request) -> None:
        if not self.cloud:
            raise _HttpError(404, f"null for uri: {self.url}{req.path}")

    @staticmethod
    def _expand(req: _Request) -> frozenset[str]:
        return frozenset(req.params("expand"))

    @staticmethod
    def _page(req: _Request, default: int, cap: int) -> tuple[int, int]:
        start = req.int_param("startAt", 0)
        size = req.int_param("maxResults", default)
        if start < 0 or size < 0:
            raise _HttpError(400, "startAt and maxResults must not be negative.")
        return start, min(size, cap)

    # ---- instance

    def _server_info(self, req: _Request) -> Response:
        now = jira_timestamp(datetime.now(UTC))
        if self.cloud:
            info: dict[str, Any] = {
                "baseUrl": self.url,
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud",
                "buildNumber": 100284,
                "buildDate": "2025-03-03T00:00:00.000+0000",
                "serverTime": now,
                "scmInfo": "fakejira",
                "serverTitle": "Jira",
                "defaultLocale": {"locale": "en_US"},
                "serverTimeZone": "Etc/UTC",
            }
        else:
            info = {
                "baseUrl": self.url,
                "version": ".".join(map(str, self.server_version)),
                "versionNumbers": list(self.server_version),
                "deploymentType": "Server",  # Data Center reports "Server" as well
                "buildNumber": int("".join(f"{n:02d}" for n in self.server_version)),
                "buildDate": "2024-01-10T00:00:00.000+0000",
                "serverTime": now,
                "scmInfo": "fakejira",
                "serverTitle": "Jira",
            }
        return _json(info)

    def _myself(self, req: _Request) -> Response:
        assert req.user is not None
        me = req.renderer.user_obj(self.data.users[req.user])
        me.update(
            locale="en_US",
            groups={"size": 2, "items": []},
            applicationRoles={"size": 1, "items": []},
            expand="groups,applicationRoles",
        )
        return _json(me)

    def _fields(self, req: _Request) -> Response:
        return _json([req.renderer.field_list_entry(f) for f in self.data.catalog.fields])

    def _issue_types(self, req: _Request) -> Response:
        return _json([req.renderer.issue_type(t) for t in self.data.catalog.issue_types])

    def _issue_type(self, req: _Request, id: str) -> Response:
        try:
            return _json(req.renderer.issue_type(self.data.catalog.issue_type(id)))
        except KeyError:
            raise _HttpError(404, "The issue type with id '" + id + "' does not exist") from None

    def _statuses(self, req: _Request) -> Response:
        return _json([req.renderer.status(s) for s in self.data.catalog.statuses])

    def _status_categories(self, req: _Request) -> Response:
        return _json(
            [
                {
                    "self": req.renderer.api(f"statuscategory/{c.id}"),
                    "id": c.id,
                    "key": c.key,
                    "colorName": c.color_name,
                    "name": c.name,
                }
                for c in STATUS_CATEGORIES
            ]
        )

    def _priorities(self, req: _Request) -> Response:
        return _json([req.renderer.priority(p.name) for p in self.data.catalog.priorities])

    def _resolutions(self, req: _Request) -> Response:
        return _json([req.renderer.resolution(r.name) for r in self.data.catalog.resolutions])

    def _link_types(self, req: _Request) -> Response:
        types = [
            {
                "id": t.id,
                "name": t.name,
                "inward": t.inward,
                "outward": t.outward,
                "self": req.renderer.api(f"issueLinkType/{t.id}"),
            }
            for t in self.data.catalog.link_types
        ]
        return _json({"issueLinkTypes": types})

    # ---- projects

    def _projects(self, req: _Request) -> Response:
        expand = self._expand(req)
        visible = [p for p in self.data.projects.values() if p.key not in self.forbidden]
        return _json([req.renderer.project(p, full=False, expand=expand) for p in visible])

    def _project_search(self, req: _Request) -> Response:
        self._cloud_only(req)
        start, size = self._page(req, 50, 100)
        visible = [p for p in self.data.projects.values() if p.key not in self.forbidden]
        page = visible[start : start + size]
        return _json(
            {
                "self": req.renderer.api(f"project/search?startAt={start}&maxResults={size}"),
                "maxResults": size,
                "startAt": start,
                "total": len(visible),
                "isLast": start + size >= len(visible),
                "values": [req.renderer.project(p, full=False, expand=self._expand(req)) for p in page],
            }
        )

    def _project(self, req: _Request, key: str) -> Response:
        return _json(req.renderer.project(self._project_or_error(key)))

    def _project_statuses(self, req: _Request, key: str) -> Response:
        project = self._project_or_error(key)
        out = []
        for name in project.issue_types:
            t = self.data.catalog.issue_type(name)
            entry = req.renderer.issue_type(t)
            out.append(
                {
                    "self": entry["self"],
                    "id": t.id,
                    "name": t.name,
                    "subtask": t.subtask,
                    "statuses": [req.renderer.status(s) for s in t.statuses],
                }
            )
        return _json(out)

    def _project_components(self, req: _Request, key: str) -> Response:
        project = self._project_or_error(key)
        return _json([req.renderer.component(c) for c in project.components])

    def _project_versions(self, req: _Request, key: str) -> Response:
        project = self._project_or_error(key)
        return _json([req.renderer.version(v) for v in project.versions])

    # ---- create metadata

    def _createmeta(self, req: _Request) -> Response:
        if not self.cloud and self.server_version >= (9, 0, 0):
            # Removed in Jira 9.0; only the paged per-project endpoints remain.
            raise _HttpError(404, f"null for uri: {self.url}{req.path}")
        keys = set(req.params("projectKeys"))
        ids = set(req.params("projectIds"))
        type_ids = set(req.params("issuetypeIds"))
        type_names = set(req.params("issuetypeNames"))
        with_fields = "projects.issuetypes.fields" in self._expand(req)
        projects = []
        for p in self.data.projects.values():
            if p.key in self.forbidden or ((keys or ids) and p.key not in keys and p.id not in ids):
                continue  # createmeta silently leaves out projects you cannot create issues in
            types = []
            for name in p.issue_types:
                t = self.data.catalog.issue_type(name)
                if (type_ids or type_names) and t.id not in type_ids and t.name not in type_names:
                    continue
                entry = req.renderer.issue_type(t)
                entry.pop("avatarId", None)
                if self.cloud:
                    entry["untranslatedName"] = t.name
                entry["expand"] = "fields"
                if with_fields:
                    # Old createmeta keys the field metadata by field id.
                    entry["fields"] = dict(
                        req.renderer.field_metas(
                            p, t, create_screen(t, cloud=self.cloud), key_name="key" if self.cloud else None
                        )
                    )
                types.append(entry)
            ref = req.renderer.project_ref(p)
            ref.pop("projectTypeKey", None)
            ref.pop("simplified", None)
            projects.append({"expand": "issuetypes", **ref, "issuetypes": types})
        return _json({"expand": "projects", "projects": projects})

    def _createmeta_types(self, req: _Request, key: str) -> Response:
        self._check_paged_createmeta(req)
        project = self._project_or_error(key)
        start, size = self._page(req, 50, 200)
        types = [self.data.catalog.issue_type(n) for n in project.issue_types]
        page = types[start : start + size]
        values = []
        for t in page:
            entry = req.renderer.issue_type(t)
            entry.pop("avatarId", None)
            values.append(entry)
        if self.cloud:
            return _json({"issueTypes": values, "maxResults": size, "startAt": start, "total": len(types)})
        return _json(
            {
                "maxResults": size,
                "startAt": start,
                "total": len(types),
                "isLast": start + size >= len(types),
                "values": values,
            }
        )

    def _createmeta_fields(self, req: _Request, key: str, id: str) -> Response:
        self._check_paged_createmeta(req)
        project = self._project_or_error(key)
        try:
            t = self.data.catalog.issue_type(id)
        except KeyError:
            raise _HttpError(404, f"Issue type with id '{id}' does not exist.") from None
        if t.name not in project.issue_types:
            raise _HttpError(400, f"Issue type with id '{id}' is not valid for project '{project.key}'.")
        start, size = self._page(req, 50, 200)
        fields = req.renderer.create_fields(project, t, key_name="fieldId")
        if self.cloud:
            for meta in fields:
                meta["key"] = meta["fieldId"]
        page = fields[start : start + size]
        if self.cloud:
            return _json({"fields": page, "maxResults": size, "startAt": start, "total": len(fields)})
        return _json(
            {
                "maxResults": size,
                "startAt": start,
                "total": len(fields),
                "isLast": start + size >= len(fields),
                "values": page,
            }
        )

    def _check_paged_createmeta(self, req: _Request) -> None:
        if not self.cloud and self.server_version < (8, 4, 0):
            raise _HttpError(404, f"null for uri: {self.url}{req.path}")

    # ---- search

    def _evaluator(self, req: _Request, jql: str) -> Evaluator:
        zone = user_zone(self.data.users[req.user].time_zone) if req.user else UTC
        return Evaluator(parse(jql), self.data, zone=zone, visible_projects=self._visible_projects())

    def _search(self, req: _Request) -> Response:
        if self.cloud:
            # Atlassian removed the offset-paged search from Cloud (CHANGE-2046).
            return _error(
                410,
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
            )
        jql = req.param("jql") or ""
        start, size = self._page(req, 50, self.page_cap)
        selection = FieldSelection.parse(req.params("fields") or None, default="*navigable")
        expand = self._expand(req)
        headers = self._evaluator(req, jql).select()
        page = headers[start : start + size]
        issues = [self._render_found(req, h.key, selection, expand) for h in page]
        out: dict[str, Any] = {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(headers),
            "issues": issues,
        }
        self._search_names_schema(out, selection, expand)
        return _json(out)

    def _render_found(
        self, req: _Request, key: str, selection: FieldSelection, expand: frozenset[str]
    ) -> Any:
        issue = self.data.get_issue(key)
        assert issue is not None
        # Search puts names/schema once at the top level, not in every issue.
        return req.renderer.issue(issue, selection, expand - {"names", "schema"})

    def _search_names_schema(
        self, out: dict[str, Any], selection: FieldSelection, expand: frozenset[str]
    ) -> None:
        included = [f for f in self.data.catalog.fields if selection.wants(f.id)]
        if "names" in expand:
            out["names"] = {f.id: f.name for f in included}
        if "schema" in expand:
            out["schema"] = {f.id: f.schema for f in included if f.schema}

    def _search_jql(self, req: _Request) -> Response:
        self._cloud_only(req)
        jql = req.param("jql") or ""
        query_text = jql.strip()
        evaluator = self._evaluator(req, query_text)
        if not evaluator.query.clauses:
            raise _HttpError(
                400,
                "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
            )
        # Cloud quirk: /search/jql returns only issue ids unless fields are asked for.
        selection = FieldSelection.parse(req.params("fields") or None, default="id")
        cap = 5000 if selection.only_ids_and_keys else self.page_cap
        size = min(req.int_param("maxResults", 50), cap)
        if size <= 0:
            raise _HttpError(400, "maxResults must be positive.")
        offset = self._decode_token(req.param("nextPageToken"), query_text)
        expand = self._expand(req)
        headers = evaluator.select()
        page = headers[offset : offset + size]
        out: dict[str, Any] = {"issues": [self._render_found(req, h.key, selection, expand) for h in page]}
        self._search_names_schema(out, selection, expand)
        more = offset + size < len(headers)
        if more:
            out["nextPageToken"] = self._encode_token(offset + size, query_text)
        out["isLast"] = not more
        return _json(out)

    def _approximate_count(self, req: _Request) -> Response:
        self._cloud_only(req)
        return _json({"count": len(self._evaluator(req, req.param("jql") or "").select())})

    def _encode_token(self, offset: int, jql: str) -> str:
        payload = json.dumps({"o": offset, "q": hashlib.sha1(jql.encode()).hexdigest()[:12]}).encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=")

    def _decode_token(self, token: str | None, jql: str) -> int:
        if not token:
            return 0
        try:
            payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            if payload["q"] != hashlib.sha1(jql.encode()).hexdigest()[:12]:
                raise ValueError
            return int(payload["o"])
        except (ValueError, KeyError, TypeError):
            raise _HttpError(400, "The provided next page token is invalid or expired.") from None

    # ---- issues

    def _issue(self, req: _Request, key: str) -> Response:
        issue = self._issue_or_error(key)
        selection = FieldSelection.parse(req.params("fields") or None)
        return _json(req.renderer.issue(issue, selection, self._expand(req)))

    def _changelog(self, req: _Request, key: str) -> Response:
        # Cloud only: Server has no paged changelog, it always embeds everything.
        self._cloud_only(req)
        issue = self._issue_or_error(key)
        start, size = self._page(req, 100, 100)
        total = len(issue.histories)
        page = issue.histories[start : start + size]
        last = start + size >= total
        out: dict[str, Any] = {
            "self": req.renderer.api(f"issue/{issue.key}/changelog?startAt={start}&maxResults={size}"),
        }
        if not last:
            out["nextPage"] = req.renderer.api(
                f"issue/{issue.key}/changelog?startAt={start + size}&maxResults={size}"
            )
        out.update(
            maxResults=size,
            startAt=start,
            total=total,
            isLast=last,
            values=[req.renderer.history(h, issue) for h in page],
        )
        return _json(out)

    def _comments(self, req: _Request, key: str) -> Response:
        issue = self._issue_or_error(key)
        start, size = self._page(req, 5000, 5000)
        comments = sorted(issue.comments, key=lambda c: (c.created, c.id))
        if (req.param("orderBy") or "").startswith("-"):
            comments.reverse()
        rendered = "renderedBody" in self._expand(req)
        page = comments[start : start + size]
        out = req.renderer.comment_page(issue, page, start, size, len(comments), rendered=rendered)
        del out["self"]
        return _json(out)

    def _comment(self, req: _Request, key: str, id: str) -> Response:
        issue = self._issue_or_error(key)
        comment = next((c for c in issue.comments if str(c.id) == id), None)
        if comment is None:
            raise _HttpError(404, f"Can not find a comment for the id: {id}.")
        rendered = "renderedBody" in self._expand(req)
        return _json(req.renderer.comment(comment, issue, rendered_body=rendered))

    def _editmeta(self, req: _Request, key: str) -> Response:
        issue = self._issue_or_error(key)
        itype = self.data.catalog.issue_type(issue.current["issuetype"])
        project = self.data.projects[issue.project_key]
        from .catalog import edit_screen

        return _json(
            {"fields": dict(req.renderer.field_metas(project, itype, edit_screen(itype), key_name=None))}
        )

    def _worklogs(self, req: _Request, key: str) -> Response:
        # developer.atlassian.com "Get issue worklogs": startAt/maxResults, oldest first, with total.
        issue = self._issue_or_error(key)
        start, size = self._page(req, 5000, self.worklog_page_cap)
        worklogs = sorted(issue.worklogs, key=lambda w: (w.started, w.id))
        return _json(req.renderer.worklog_page(issue, worklogs[start : start + size], start, size))

    def _agile(self) -> None:
        if self.agile_status is not None:
            raise _HttpError(self.agile_status, "The requested board cannot be viewed.")

    def _boards(self, req: _Request) -> Response:
        self._agile()
        wanted = req.param("projectKeyOrId")
        project = self.data.project_by_id_or_key(wanted) if wanted else None
        boards = [b for b in self.data.boards if project is None or b.project_key == project.key]
        start, size = self._page(req, 50, 50)
        page = boards[start : start + size]
        return _json(
            {
                "maxResults": size,
                "startAt": start,
                "total": len(boards),
                "isLast": start + size >= len(boards),
                "values": [
                    {
                        "id": b.id,
                        "self": f"{self.url}/rest/agile/1.0/board/{b.id}",
                        "name": b.name,
                        "type": b.type,
                    }
                    for b in page
                ],
            }
        )

    def _board_sprints(self, req: _Request, id: str) -> Response:
        self._agile()
        board = next((b for b in self.data.boards if b.id == int(id)), None)
        if board is None:
            raise _HttpError(404, "Board does not exist or you do not have permission to see it.")
        if board.type != "scrum":
            raise _HttpError(400, "The board does not support sprints")
        sprints = [s for s in self.data.sprints.values() if s.board_id == board.id]
        start, size = self._page(req, 50, 50)
        page = sprints[start : start + size]
        return _json(
            {
                "maxResults": size,
                "startAt": start,
                "isLast": start + size >= len(sprints),
                "values": [req.renderer.sprint(s) for s in page],
            }
        )

    # ---- attachments

    def _attachment_lookup(self, id: str) -> tuple[Issue, Any]:
        found = self.data.find_attachment(int(id))
        if found is None:
            raise _HttpError(404, f"The attachment with id '{id}' does not exist")
        issue, attachment = found
        if issue.project_key in self.forbidden:
            raise _HttpError(
                self.forbidden[issue.project_key], "You do not have permission to view this attachment."
            )
        return issue, attachment

    def _attachment_meta(self, req: _Request) -> Response:
        return _json({"enabled": True, "uploadLimit": 10485760})

    def _attachment(self, req: _Request, id: str) -> Response:
        _, attachment = self._attachment_lookup(id)
        return _json(req.renderer.attachment(attachment))

    def _attachment_content(self, req: _Request, id: str) -> Response:
        # Cloud quirk: the advertised content URL redirects (303) to the media
        # service, which authenticates with a signed URL instead of the API token.
        self._cloud_only(req)
        _, attachment = self._attachment_lookup(id)
        if req.param("redirect") == "false":
            return self._bytes(attachment)
        location = (
            f"{self.url}/fake-media/file/{attachment.id}/binary?token={self._media_token(attachment.id)}"
            f"&name={quote(attachment.filename)}"
        )
        return Response(303, b"", {"Location": location})

    def _secure_attachment(self, req: _Request, id: str, filename: str) -> Response:
        _, attachment = self._attachment_lookup(id)
        return self._bytes(attachment)

    def _media(self, req: _Request, id: str) -> Response:
        token = req.param("token") or ""
        if not hmac.compare_digest(token, self._media_token(int(id))):
            raise _HttpError(401, "Invalid media token.")
        found = self.data.find_attachment(int(id))
        if found is None:
            raise _HttpError(404, "File not found.")
        return self._bytes(found[1])

    def _media_token(self, attachment_id: int) -> str:
        return hmac.new(self._media_secret, str(attachment_id).encode(), hashlib.sha256).hexdigest()[:32]

    @staticmethod
    def _bytes(attachment: Any) -> Response:
        return Response(
            200,
            attachment.content,
            {
                "Content-Type": attachment.mime_type,
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(attachment.filename)}",
            },
        )

    # ---- users

    def _user(self, req: _Request) -> Response:
        if self.cloud:
            for gdpr_param in ("username", "key"):
                if req.param(gdpr_param):
                    raise _HttpError(
                        400, f"The query parameter '{gdpr_param}' is not supported in GDPR strict mode."
                    )
            account_id = req.param("accountId")
            user = self.data.user_by_account_id(account_id) if account_id else None
            if user is None:
                raise _HttpError(404, "Specified user does not exist or you do not have required permissions")
        else:
            name = req.param("username") or req.param("key")
            user = self.data.user_by_name_or_key(name) if name else None
            if user is None:
                raise _HttpError(404, f"The user named '{name}' does not exist")
        return _json(req.renderer.user_obj(user))

    def _user_search(self, req: _Request) -> Response:
        # Cloud searches with ?query= (and cannot match hidden emails); Server with ?username=.
        query = req.param("query" if self.cloud else "username") or ""
        if not query:
            param = "query" if self.cloud else "username"
            raise _HttpError(400, f"The '{param}' query parameter is required.")
        start, size = self._page(req, 50, 1000)
        found = [u for u in self.data.users.values() if _matches_user(u, query)]
        return _json([req.renderer.user_obj(u) for u in found[start : start + size]])


def _matches_user(user: Any, query: str) -> bool:
    """Jira's user search: prefix match on display name words, email or username."""
    query = query.lower()
    words = user.display_name.lower().split()
    candidates = [*words, user.display_name.lower(), (user.email or "").lower(), user.handle.lower()]
    return any(c.startswith(query) for c in candidates if c)


def _redact(headers: Mapping[str, str]) -> dict[str, str]:
    """Canonical header names (clients send ``authorization`` or ``Authorization``), secrets removed."""
    out = {}
    for name, value in headers.items():
        canonical = "-".join(part.capitalize() for part in name.split("-"))
        if canonical in ("Authorization", "Cookie", "Proxy-Authorization"):
            scheme = value.split(" ", 1)[0] if canonical != "Cookie" else ""
            out[canonical] = f"{scheme} {REDACTED}".strip()
        else:
            out[canonical] = value
    return out


class _HTTPServer(ThreadingHTTPServer):
    # Non-daemon handler threads so server_close() can join them: no thread
    # outlives the context manager.
    daemon_threads = False
    block_on_close = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], owner: FakeJiraServer
    ) -> None:
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Only socket errors get here (clients timing out, shutdown): nothing to report.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like Jira behind a proxy
    server_version = "FakeJira/1.0"
    timeout = 30  # idle keep-alive connections are dropped
    # Headers and body are separate writes: without TCP_NODELAY, Nagle plus the
    # client's delayed ACK adds ~40 ms to every response.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        with self.server.owner._lock:
            self.server.owner._connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.owner._lock:
                self.server.owner._connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        # Silence: request lines may carry tokens (signed media URLs) and the
        # fake must never print anything credential-like.
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        try:
            response = self.server.owner._dispatch(self.command, self.path, self.headers, raw_body)
        except ConnectionAbortedError:
            self.close_connection = True
            return
        if response.trickle:
            self._trickle(response)
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _trickle(self, response: Response) -> None:
        head = f"HTTP/1.1 {response.status} OK\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in response.headers.items())
        head += f"Content-Length: {len(response.body)}\r\n\r\n"
        self.close_connection = True
        stopping = self.server.owner._stopping
        try:
            for byte in head.encode() + response.body:
                self.wfile.write(bytes((byte,)))
                self.wfile.flush()
                if stopping.wait(response.trickle):
                    return
        except OSError:  # the client gave up and closed the connection: what a deadline does
            return

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve
