"""Configuration problems reported by Django's check framework (``manage.py check --deploy``)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core import checks
from django.core.management import call_command

from tuleap_backend.env import AsyncEmails


def tracker_ids() -> list[str]:
    return sorted(
        m.id for m in checks.run_checks(include_deployment_checks=True) if (m.id or "").startswith("tracker.")
    )


@pytest.fixture
def clean_settings(settings) -> object:
    settings.DEBUG = False
    settings.ASYNC_EMAILS = AsyncEmails(frozenset({3, 7, 12}))
    settings.REDIS_URL = "redis://:a-redis-password-long-enough-0123456789@127.0.0.1:6379/0"
    settings.METRICS_SECRET = "a-metrics-secret-of-32-characters"
    settings.METRICS_SECRET_FILE = ""
    return settings


def test_a_sound_configuration_raises_nothing(clean_settings) -> None:
    assert tracker_ids() == []


@pytest.mark.parametrize("value", ["yes", "1,x", {"all"}, {0}, [3, 7]])
def test_an_unreadable_async_emails_is_w001(clean_settings, value: object) -> None:
    clean_settings.ASYNC_EMAILS = value

    assert tracker_ids() == ["tracker.W001"]


@pytest.mark.parametrize("value", ["all", frozenset(), frozenset({3})])
def test_every_parsed_form_of_async_emails_is_accepted(clean_settings, value: object) -> None:
    clean_settings.ASYNC_EMAILS = AsyncEmails(value)

    assert tracker_ids() == []


def test_a_redis_url_without_password_is_w002_when_debug_is_off(clean_settings) -> None:
    clean_settings.REDIS_URL = "redis://127.0.0.1:6379/0"

    assert tracker_ids() == ["tracker.W002"]
    clean_settings.DEBUG = True
    assert tracker_ids() == []


def test_a_short_metrics_secret_is_w003(clean_settings) -> None:
    clean_settings.METRICS_SECRET = "15-characters!!"

    [warning] = [m for m in checks.run_checks() if m.id == "tracker.W003"]
    assert (
        warning.msg
        == "The metrics secret is 15 characters long (fewer than 16), so /metrics refuses every scrape."
    )


def test_the_metrics_secret_file_is_checked_too(clean_settings, tmp_path: Path) -> None:
    secret_file = tmp_path / "metrics-secret"
    clean_settings.METRICS_SECRET = ""
    clean_settings.METRICS_SECRET_FILE = str(secret_file)

    secret_file.write_text("short\n")
    assert tracker_ids() == ["tracker.W003"]
    secret_file.write_text("a-metrics-secret-of-32-characters\n")
    assert tracker_ids() == []
    secret_file.unlink()
    assert tracker_ids() == ["tracker.W003"]


def test_no_metrics_secret_at_all_keeps_metrics_closed_and_is_fine(clean_settings) -> None:
    clean_settings.METRICS_SECRET = ""

    assert tracker_ids() == []


def test_manage_py_check_deploy_reports_them(clean_settings) -> None:
    clean_settings.METRICS_SECRET = "short"
    clean_settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    out, err = StringIO(), StringIO()

    call_command("check", deploy=True, stdout=out, stderr=err)

    report = out.getvalue() + err.getvalue()
    assert "(tracker.W002) REDIS_URL has no password while DEBUG is off." in report
    assert "(tracker.W003) The metrics secret is 5 characters long" in report
