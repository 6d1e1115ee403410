"""Reading configuration from environment variables.

Every reader raises :class:`ConfigurationError` naming the variable, so a wrong value
stops start-up with one clear line instead of a traceback deep inside Django.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracker.plain_numbers import is_plain_number

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigurationError(Exception):
    """A configuration value is wrong; the message names the variable and what is accepted."""


class Env:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def str(self, name: str, default: str = "") -> str:
        return self.environ.get(name, default).strip()

    def bool(self, name: str, default: bool = False) -> bool:
        raw = self.environ.get(name)
        if raw is None:
            return default
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ConfigurationError(f"{name}={raw!r} is not a boolean; use one of: true, false, 1, 0, yes, no.")

    def int(self, name: str, default: int, *, minimum: int | None = None) -> int:
        raw = self.environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigurationError(f"{name}={raw!r} is not an integer.") from None
        if minimum is not None and value < minimum:
            raise ConfigurationError(f"{name}={value} is too small; it must be at least {minimum}.")
        return value

    def list(self, name: str, default: str = "") -> list[str]:
        return [item.strip() for item in self.str(name, default).split(",") if item.strip()]

    def matching(self, name: str, default: str, pattern: str, refusal: str, *, lower: bool = False) -> str:
        """The value (lower-cased first with ``lower``) if ``pattern`` matches all of it.

        Otherwise a ConfigurationError reading ``NAME='value'`` then ``refusal``, which says what is
        accepted (it starts with its own separator: ``" is not ..."`` or ``": use ..."``).
        """
        value = self.str(name, default)
        if lower:
            value = value.lower()
        if not re.fullmatch(pattern, value):
            raise ConfigurationError(f"{name}={value!r}{refusal}")
        return value

    def database(self, name: str, default: str) -> dict[str, Any]:
        # Imported here, like ``secrets`` below: the email gateway's pipe imports this module and
        # starts a process per message, so it pays only for what it uses.
        import dj_database_url

        raw = self.str(name, default)
        try:
            config = dj_database_url.parse(raw, conn_max_age=60, conn_health_checks=True)
        except (ValueError, KeyError) as error:
            raise ConfigurationError(
                f"{name}={hide_credentials(raw)!r} is not a database URL ({error}); "
                "use for example postgres://user:password@host:5432/name or sqlite:///path/to/db.sqlite3."
            ) from None
        if not config.get("ENGINE"):
            raise ConfigurationError(f"{name}={hide_credentials(raw)!r} names no database engine.")
        return config

    def redis_url(self, name: str, default: str) -> str:
        from urllib.parse import urlsplit

        raw = self.str(name, default)
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018 - raises ValueError on a non-numeric port
        except ValueError as error:
            raise ConfigurationError(
                f"{name}={hide_credentials(raw)!r} is not a Redis URL ({error})."
            ) from None
        if parts.scheme not in {"redis", "rediss", "unix"} or (parts.scheme != "unix" and not parts.hostname):
            raise ConfigurationError(
                f"{name}={hide_credentials(raw)!r} is not a Redis URL; use redis://[:password@]host:port/db."
            )
        return raw


def hide_credentials(url: str) -> str:
    """The URL for a start-up error message: whatever stands before its last ``@`` hidden.

    Settings are read before the app exists, so this is not the app's ``tracker.redaction.redact_url``
    (which keeps the user name for the system check's findings): a start-up error names the variable and
    where the URL points, never who connects, and never fails on a URL too broken to parse.
    """
    head, separator, rest = url.partition("://")
    if not separator:
        head, rest = "", url
    if "@" not in rest:
        return url
    return f"{head}{separator}***@{rest.rpartition('@')[2]}"


def secret_key_from_file(path: Path) -> str:
    """A per-installation secret generated once, so local runs need no configuration."""
    import secrets

    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def secret_key(env: Env, *, debug: bool, path: Path) -> str:
    """``SECRET_KEY``: required when DEBUG is off; a local run (DEBUG on) without one uses a key generated
    once into ``path``."""
    key = env.str("SECRET_KEY")
    if key:
        return key
    if not debug:
        raise ConfigurationError(
            "SECRET_KEY is required when DEBUG is off; set it, or set DEBUG=1 for a local run."
        )
    return secret_key_from_file(path)


def logger_level(env: Env) -> str:
    """``LOGGER_LEVEL``: debug, info, warning (the default) or error, in any case; upper-cased for logging."""
    level = env.str("LOGGER_LEVEL", "warning").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigurationError(
            f"LOGGER_LEVEL={level.lower()!r} is not a level; use debug, info, warning or error."
        )
    return level


def notification_retry_intervals(env: Env) -> list[int]:
    """``NOTIFICATION_RETRY_INTERVALS``: positive seconds separated by commas, ``5,10,20,40`` by default."""
    items = env.list("NOTIFICATION_RETRY_INTERVALS", "5,10,20,40")
    if not items or not all(is_plain_number(item) and int(item) > 0 for item in items):
        raise ConfigurationError(
            f"NOTIFICATION_RETRY_INTERVALS={env.str('NOTIFICATION_RETRY_INTERVALS')!r} is not valid; "
            "use positive numbers of seconds separated by commas, such as '5,10,20,40'."
        )
    return [int(item) for item in items]


def notification_smtp_connections(env: Env) -> int:
    """``NOTIFICATION_SMTP_CONNECTIONS``: 1 (the default) to 50. 50 is Postfix's default
    smtpd_client_connection_count_limit, past which a relay refuses a client's connections anyway."""
    connections = env.int("NOTIFICATION_SMTP_CONNECTIONS", 1, minimum=1)
    if connections > 50:
        raise ConfigurationError(
            f"NOTIFICATION_SMTP_CONNECTIONS={connections} is too large; use 1 to 50 "
            "(what your relay accepts from one client at once)."
        )
    return connections


def project_creators(env: Env) -> str:
    """``PROJECT_CREATORS``: ``everyone`` (the default) or ``staff``, in any case."""
    return env.matching(
        "PROJECT_CREATORS", "everyone", "everyone|staff", ": use everyone or staff.", lower=True
    )


def email_gateway_prefix(env: Env) -> str:
    """``EMAIL_GATEWAY_PREFIX``: the local part's prefix of reply addresses, ``reply`` by default."""
    return env.matching(
        "EMAIL_GATEWAY_PREFIX",
        "reply",
        r"[a-z0-9][a-z0-9_-]{0,15}",
        " is not valid; use up to 16 letters, digits, '-' or '_', such as 'reply'.",
        lower=True,
    )


def email_gateway_listen(env: Env) -> str:
    """``EMAIL_GATEWAY_LISTEN``: host:port (an IPv6 host in brackets), ``127.0.0.1:8025`` by default."""
    return env.matching(
        "EMAIL_GATEWAY_LISTEN",
        "127.0.0.1:8025",
        r"\[?[^\s\]]+\]?:\d{1,5}",
        " is not host:port, such as 127.0.0.1:8025.",
    )


def proxy_ssl_header(env: Env) -> tuple[str, str] | None:
    """``SECURE_PROXY_SSL_HEADER``: the header the proxy sets to 'https', as Django's setting of that name
    wants it (``X-Forwarded-Proto``: ``("HTTP_X_FORWARDED_PROTO", "https")``); None when unset."""
    header = env.matching(
        "SECURE_PROXY_SSL_HEADER",
        "",
        r"[A-Za-z0-9-]*",
        " is not a header name; use the header your proxy sets to 'https', such as X-Forwarded-Proto.",
    )
    return ("HTTP_" + header.upper().replace("-", "_"), "https") if header else None


ASYNC_ALL = "all"


def parse_async_emails(raw: str | None) -> str | frozenset[int]:
    """``ASYNC_EMAILS``: off (``''``/``0``/unset), ``all``, or a comma-separated list of project ids.

    Returns ``"all"`` or the (possibly empty) set of project ids notified through workers.
    """
    text = (raw or "").strip()
    if text in {"", "0"}:
        return frozenset()
    if text.lower() == ASYNC_ALL:
        return ASYNC_ALL
    ids: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        if not is_plain_number(item) or int(item) == 0:
            raise ConfigurationError(
                f"ASYNC_EMAILS={raw!r} is not valid; use '' or 0 (off), 'all', "
                "or a comma-separated list of project ids such as '3, 7,12'."
            )
        ids.add(int(item))
    return frozenset(ids)


@dataclass(frozen=True)
class AsyncEmails:
    """``settings.ASYNC_EMAILS``: which projects notify through backend workers rather than the request.

    ``projects`` is what :func:`parse_async_emails` returns: ``"all"``, or a set of project ids (empty:
    every project inline). The app asks ``covers(project_id)`` and ``enabled``, never the raw form.
    """

    projects: str | frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        projects = self.projects
        if projects == ASYNC_ALL:
            return
        if isinstance(projects, set | frozenset) and all(
            isinstance(pk, int) and not isinstance(pk, bool) and pk > 0 for pk in projects
        ):
            object.__setattr__(self, "projects", frozenset(projects))
            return
        raise ValueError(f"ASYNC_EMAILS is {projects!r}; it must be 'all' or a set of project ids.")

    @property
    def enabled(self) -> bool:
        """Whether any project notifies through backend workers, so at least one worker must run."""
        return bool(self.projects)

    def covers(self, project_id: int) -> bool:
        """Whether this project's notifications go through a backend worker rather than the request."""
        return self.projects == ASYNC_ALL or project_id in self.projects


# settings.VAR_DIR, known here too: the email gateway's pipe (tracker.email_gateway.pipe) reads its
# configuration without Django or the settings module, and must find the spool the settings name.
VAR_DIR = Path(__file__).resolve().parent.parent / "var"


@dataclass(frozen=True)
class GatewaySpool:
    """Where the email gateway's pipe spools messages, and the largest one it takes (bytes)."""

    directory: Path
    max_size: int


def email_gateway_spool(env: Env) -> GatewaySpool:
    """``EMAIL_GATEWAY_SPOOL_DIR`` and ``EMAIL_GATEWAY_MAX_SIZE``: read once here, for the settings and the
    Django-free pipe alike, so both always agree on the defaults."""
    return GatewaySpool(
        directory=Path(env.str("EMAIL_GATEWAY_SPOOL_DIR") or str(VAR_DIR / "spool" / "email")),
        max_size=env.int("EMAIL_GATEWAY_MAX_SIZE", 25 * 1024 * 1024, minimum=1024),
    )
