"""The example Prometheus configuration is valid and its alerts fire when they should."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

PROMTOOL = Path("/usr/bin/promtool")
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"

# Skipped on a developer's machine without promtool; never in CI, which installs it.
pytestmark = pytest.mark.skipif(
    not PROMTOOL.exists() and not os.environ.get("CI"),
    reason="promtool is not installed (Debian package prometheus)",
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROMTOOL), *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60)


def test_the_scrape_configuration_and_its_rules_are_valid() -> None:
    result = promtool("check", "config", "prometheus.yml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_fire_on_the_conditions_they_describe() -> None:
    # Stuck notifications, a queue without worker, lasting mail failures, Redis down (and not before).
    result = promtool("test", "rules", "tuleap-alerts.test.yml")

    assert result.returncode == 0, result.stdout + result.stderr


UNITS = DEPLOY.parent


def unit(name: str) -> dict[str, str]:
    """The ``Key=value`` lines of a systemd unit (the last one of each key)."""
    lines = (UNITS / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_the_documented_units_run_the_recovery_sweep() -> None:
    # The supervisor's unit is what heals a documented setup: it runs the sweep itself.
    assert unit("tuleap-workers.service")["ExecStart"].endswith("manage.py backend_workers start")
    # For hand-run workers, a timer runs one sweep a minute.
    assert unit("tuleap-notifications-sweep.service")["ExecStart"].endswith(
        "manage.py notifications_sweep --once"
    )
    assert unit("tuleap-notifications-sweep.timer")["Unit"] == "tuleap-notifications-sweep.service"
    assert unit("tuleap-notifications-sweep.service")["Type"] == "oneshot"
