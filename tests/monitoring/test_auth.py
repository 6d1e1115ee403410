"""/metrics is served only with a long enough secret, and only to the ``metrics`` user who knows it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.test import Client

from tests.monitoring.conftest import SECRET, basic_auth
from tracker.monitoring.auth import metrics_secret

pytestmark = pytest.mark.django_db


def get_metrics(authorization: str | None = None) -> object:
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return Client().get("/metrics", **headers)


def test_without_a_secret_the_endpoint_is_closed_with_an_explanation(settings) -> None:
    settings.METRICS_SECRET = ""
    settings.METRICS_SECRET_FILE = ""

    response = get_metrics(basic_auth("metrics", "anything-at-all-long-enough"))

    # It should say, in one line, what the administrator must set.
    assert response.status_code == 503
    body = response.content.decode()
    assert body.count("\n") == 1 and "METRICS_SECRET" in body
    assert metrics_secret() is None


def test_a_short_secret_closes_the_endpoint_even_for_the_right_password(settings) -> None:
    settings.METRICS_SECRET = "short-secret"  # 12 characters
    settings.METRICS_SECRET_FILE = ""

    response = get_metrics(basic_auth("metrics", "short-secret"))

    assert response.status_code == 503
    assert "16 characters" in response.content.decode()
    assert "short-secret" not in response.content.decode()


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic_auth("metrics", "not-the-metrics-secret-at-all"),
        basic_auth("admin", SECRET),
        basic_auth("metrics", SECRET[:-1]),
        "Basic !!not-base64!!",
        "Bearer " + SECRET,
    ],
    ids=["missing", "wrong-password", "wrong-user", "truncated-password", "garbage", "other-scheme"],
)
def test_wrong_or_missing_credentials_are_challenged(with_secret: str, authorization: str | None) -> None:
    response = get_metrics(authorization)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="Tuleap /metrics authentication"'
    assert "tuleap_" not in response.content.decode()


def test_the_right_password_gets_the_metrics(with_secret: str, metrics_store: None) -> None:
    response = get_metrics(basic_auth("metrics", with_secret))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "tuleap_build_info" in response.content.decode()


def test_the_secret_can_come_from_a_file(settings, tmp_path: Path, metrics_store: None) -> None:
    secret_file = tmp_path / "metrics_secret"
    secret_file.write_text(SECRET + "\n")
    settings.METRICS_SECRET = ""
    settings.METRICS_SECRET_FILE = str(secret_file)

    # It should ignore the file's trailing newline, as files written by editors have one.
    assert get_metrics(basic_auth("metrics", SECRET)).status_code == 200
    assert get_metrics(basic_auth("metrics", SECRET + "\n")).status_code == 401


def test_an_unreadable_secret_file_closes_the_endpoint(settings, tmp_path: Path) -> None:
    settings.METRICS_SECRET = ""
    settings.METRICS_SECRET_FILE = str(tmp_path / "missing")

    assert get_metrics(basic_auth("metrics", SECRET)).status_code == 503


def test_only_reading_is_allowed(with_secret: str) -> None:
    response = Client().post("/metrics", HTTP_AUTHORIZATION=basic_auth("metrics", with_secret))

    assert response.status_code == 405


def test_an_unconfigured_endpoint_says_so_in_the_log_once_not_at_every_scrape(settings, caplog) -> None:
    settings.METRICS_SECRET = ""
    settings.METRICS_SECRET_FILE = "/nonexistent/metrics-secret"
    from tracker.monitoring import auth

    auth._logged.clear()  # forget what earlier tests of this process logged

    with caplog.at_level(logging.WARNING):
        statuses = [get_metrics().status_code for _ in range(5)]

    assert statuses == [503] * 5
    # One line for the unreadable file, one for the closed endpoint; no "Service Unavailable" per scrape.
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 2, [r.getMessage() for r in lines]
    assert "METRICS_SECRET_FILE=/nonexistent/metrics-secret cannot be read" in lines[0].getMessage()
    assert "METRICS_SECRET" in lines[1].getMessage()
    assert not [r for r in caplog.records if r.name == "django.request"]
