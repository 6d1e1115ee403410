"""Configuration from the environment: good values parse, wrong ones stop start-up with one clear line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tracker.redaction import redact_url
from tuleap_backend import env as parsers
from tuleap_backend.env import ConfigurationError, Env, parse_async_emails


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, frozenset()),
        ("", frozenset()),
        ("0", frozenset()),
        ("  ", frozenset()),
        ("all", "all"),
        ("ALL", "all"),
        ("3", frozenset({3})),
        ("3, 7,12", frozenset({3, 7, 12})),
        (" 3 ,7 ", frozenset({3, 7})),
    ],
)
def test_async_emails_accepts_its_documented_forms(raw: str | None, expected: object) -> None:
    assert parse_async_emails(raw) == expected


@pytest.mark.parametrize("raw", ["yes", "1,x", "3,,7", "-1", "all,3", "1.5", "0,3"])
def test_async_emails_refuses_anything_else_naming_the_forms(raw: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_async_emails(raw)
    assert "ASYNC_EMAILS" in str(error.value) and "'all'" in str(error.value)


def test_integers_booleans_and_urls_are_checked() -> None:
    env = Env({"PORT": "eighty", "FLAG": "maybe", "DB": "nonsense://", "R": "http://x", "N": "-1"})
    with pytest.raises(ConfigurationError, match="PORT='eighty' is not an integer"):
        env.int("PORT", 25)
    with pytest.raises(ConfigurationError, match="FLAG='maybe' is not a boolean"):
        env.bool("FLAG")
    with pytest.raises(ConfigurationError, match="DB="):
        env.database("DB", "")
    with pytest.raises(ConfigurationError, match="R='http://x' is not a Redis URL"):
        env.redis_url("R", "")
    with pytest.raises(ConfigurationError, match="N=-1 is too small"):
        env.int("N", 2, minimum=0)
    assert Env({}).int("ABSENT", 7) == 7


def test_passwords_never_appear_in_error_messages() -> None:
    assert redact_url("redis://:s3cret@host:6379/0") == "redis://:***@host:6379/0"
    with pytest.raises(ConfigurationError) as error:
        Env({"REDIS_URL": "redis://:s3cret@host:notaport/0"}).redis_url("REDIS_URL", "")
    assert "s3cret" not in str(error.value)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("ASYNC_EMAILS", "yes", "ASYNC_EMAILS"),
        ("EMAIL_PORT", "smtp", "EMAIL_PORT"),
        ("DATABASE_URL", "notadatabase", "DATABASE_URL"),
        ("REDIS_URL", "redis://:pw@localhost:port/0", "REDIS_URL"),
        ("NB_BACKEND_WORKERS", "two", "NB_BACKEND_WORKERS"),
        ("LOGGER_LEVEL", "loud", "LOGGER_LEVEL"),
        ("PROJECT_CREATORS", "admins", "PROJECT_CREATORS"),
        ("NOTIFICATION_RETRY_INTERVALS", "5,0", "NOTIFICATION_RETRY_INTERVALS"),
        # Characters str.isdigit() accepts and int() refuses: once a traceback.
        ("NOTIFICATION_RETRY_INTERVALS", "5,²", "NOTIFICATION_RETRY_INTERVALS"),
        ("ASYNC_EMAILS", "3,①", "ASYNC_EMAILS"),
        ("NOTIFICATION_SMTP_CONNECTIONS", "51", "NOTIFICATION_SMTP_CONNECTIONS"),
        ("EMAIL_GATEWAY_PREFIX", "re ply", "EMAIL_GATEWAY_PREFIX"),
        ("EMAIL_GATEWAY_LISTEN", "localhost", "EMAIL_GATEWAY_LISTEN"),
        ("SECURE_PROXY_SSL_HEADER", "X_Forwarded_Proto", "SECURE_PROXY_SSL_HEADER"),
    ],
)
def test_a_wrong_value_stops_start_up_with_one_line(variable: str, value: str, named: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 50, variable: value},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error:") and named in lines[0]
    assert "Traceback" not in result.stderr and "pw@" not in result.stderr


def test_secret_key_is_required_when_debug_is_off() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SECRET_KEY is required" in result.stderr


# The parsers of single settings (tuleap_backend/env.py): what an operator may write, what it becomes,
# and the whole line a wrong value stops start-up with.
@pytest.mark.parametrize(
    ("parser", "environ", "expected"),
    [
        (parsers.logger_level, {}, "WARNING"),
        (parsers.logger_level, {"LOGGER_LEVEL": " Debug "}, "DEBUG"),
        (parsers.notification_retry_intervals, {}, [5, 10, 20, 40]),
        (parsers.notification_retry_intervals, {"NOTIFICATION_RETRY_INTERVALS": " 1, 2 ,30"}, [1, 2, 30]),
        (parsers.notification_smtp_connections, {}, 1),
        (parsers.notification_smtp_connections, {"NOTIFICATION_SMTP_CONNECTIONS": "50"}, 50),
        (parsers.project_creators, {}, "everyone"),
        (parsers.project_creators, {"PROJECT_CREATORS": " Staff "}, "staff"),
        (parsers.email_gateway_prefix, {}, "reply"),
        (parsers.email_gateway_prefix, {"EMAIL_GATEWAY_PREFIX": "Tuleap-Reply_2"}, "tuleap-reply_2"),
        (parsers.email_gateway_listen, {}, "127.0.0.1:8025"),
        (parsers.email_gateway_listen, {"EMAIL_GATEWAY_LISTEN": "[::1]:2525"}, "[::1]:2525"),
        (parsers.proxy_ssl_header, {}, None),
        (
            parsers.proxy_ssl_header,
            {"SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"},
            ("HTTP_X_FORWARDED_PROTO", "https"),
        ),
    ],
)
def test_each_setting_parser_accepts_its_documented_forms(
    parser: Callable[[Env], object], environ: dict[str, str], expected: object
) -> None:
    assert parser(Env(environ)) == expected


@pytest.mark.parametrize(
    ("parser", "environ", "message"),
    [
        (
            parsers.logger_level,
            {"LOGGER_LEVEL": "Loud"},
            "LOGGER_LEVEL='loud' is not a level; use debug, info, warning or error.",
        ),
        (
            parsers.notification_retry_intervals,
            {"NOTIFICATION_RETRY_INTERVALS": "5,x"},
            "NOTIFICATION_RETRY_INTERVALS='5,x' is not valid; use positive numbers of seconds separated by "
            "commas, such as '5,10,20,40'.",
        ),
        (
            parsers.notification_retry_intervals,
            {"NOTIFICATION_RETRY_INTERVALS": " , "},
            "NOTIFICATION_RETRY_INTERVALS=',' is not valid; use positive numbers of seconds separated by "
            "commas, such as '5,10,20,40'.",
        ),
        (
            parsers.notification_smtp_connections,
            {"NOTIFICATION_SMTP_CONNECTIONS": "51"},
            "NOTIFICATION_SMTP_CONNECTIONS=51 is too large; use 1 to 50 (what your relay accepts from one "
            "client at once).",
        ),
        (
            parsers.notification_smtp_connections,
            {"NOTIFICATION_SMTP_CONNECTIONS": "0"},
            "NOTIFICATION_SMTP_CONNECTIONS=0 is too small; it must be at least 1.",
        ),
        (
            parsers.project_creators,
            {"PROJECT_CREATORS": "Admins"},
            "PROJECT_CREATORS='admins': use everyone or staff.",
        ),
        (
            parsers.email_gateway_prefix,
            {"EMAIL_GATEWAY_PREFIX": "a" * 17},
            f"EMAIL_GATEWAY_PREFIX='{'a' * 17}' is not valid; use up to 16 letters, digits, '-' or '_', "
            "such as 'reply'.",
        ),
        (
            parsers.email_gateway_prefix,
            {"EMAIL_GATEWAY_PREFIX": "-reply"},
            "EMAIL_GATEWAY_PREFIX='-reply' is not valid; use up to 16 letters, digits, '-' or '_', "
            "such as 'reply'.",
        ),
        (
            parsers.email_gateway_listen,
            {"EMAIL_GATEWAY_LISTEN": "127.0.0.1"},
            "EMAIL_GATEWAY_LISTEN='127.0.0.1' is not host:port, such as 127.0.0.1:8025.",
        ),
        (
            parsers.proxy_ssl_header,
            {"SECURE_PROXY_SSL_HEADER": "X_Forwarded_Proto"},
            "SECURE_PROXY_SSL_HEADER='X_Forwarded_Proto' is not a header name; use the header your proxy "
            "sets to 'https', such as X-Forwarded-Proto.",
        ),
    ],
)
def test_each_setting_parser_refuses_a_wrong_value_saying_what_is_accepted(
    parser: Callable[[Env], object], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError) as error:
        parser(Env(environ))
    assert str(error.value) == message


def test_a_secret_key_is_required_unless_debug_generates_one(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    assert parsers.secret_key(Env({"SECRET_KEY": " given "}), debug=False, path=path) == "given"
    with pytest.raises(ConfigurationError, match="SECRET_KEY is required when DEBUG is off"):
        parsers.secret_key(Env({}), debug=False, path=path)
    assert not path.exists()
    # It should generate the key once, then read the same one back on every start.
    generated = parsers.secret_key(Env({}), debug=True, path=path)
    assert len(generated) >= 50 and path.read_text() == generated
    assert parsers.secret_key(Env({"SECRET_KEY": ""}), debug=True, path=path) == generated
