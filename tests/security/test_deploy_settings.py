"""The production settings of the README: ``manage.py check --deploy`` is clean, the HTTPS settings come
from the environment, and the proxy settings that contradict each other are reported."""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest
from django.core import checks
from django.test import Client

from tests.conftest import ROOT

# The README's "Security" section: what a production environment file sets.
PRODUCTION = {
    "DEBUG": "0",
    "SITE_URL": "https://tuleap.example.com",
    "ALLOWED_HOSTS": "tuleap.example.com",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "TRUSTED_PROXIES": "1",
}


def run_check(**env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "REDIS_URL": f"redis://:{secrets.token_urlsafe(32)}@127.0.0.1:6379/0",
        "DATABASE_URL": "sqlite:///:memory:",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_the_documented_production_settings() -> None:
    result = run_check(**PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.slow
def test_without_them_check_deploy_asks_for_hsts_and_the_redirect() -> None:
    result = run_check(**{k: v for k, v in PRODUCTION.items() if not k.startswith("SECURE_")})

    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


@pytest.mark.slow
def test_a_header_name_that_is_not_one_stops_start_up() -> None:
    result = run_check(**{**PRODUCTION, "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https"})

    assert result.returncode == 2
    assert result.stderr.startswith("Configuration error: SECURE_PROXY_SSL_HEADER=")


def tracker_ids() -> list[str]:
    return sorted(
        m.id
        for m in checks.run_checks(include_deployment_checks=True)
        if (m.id or "").startswith("tracker.W00")
    )


def test_a_proxy_ssl_header_without_trusted_proxies_is_w004(settings) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXIES = 0

    assert "tracker.W004" in tracker_ids()
    settings.TRUSTED_PROXIES = 1
    assert "tracker.W004" not in tracker_ids()


def test_an_ssl_redirect_without_the_proxy_header_is_w005(settings) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = None

    assert "tracker.W005" in tracker_ids()


def test_the_https_settings_take_effect(settings, db: None) -> None:
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client()

    plain = client.get("/login/")
    behind_tls = client.get("/login/", headers={"X-Forwarded-Proto": "https"})

    assert plain.status_code == 301 and plain["Location"] == "https://testserver/login/"
    assert behind_tls.status_code == 200
    assert behind_tls["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
