"""Configuration from the environment: good values parse, wrong ones stop start-up with one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tracker.redaction import redact_url
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
