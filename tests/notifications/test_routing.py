"""ASYNC_EMAILS: every accepted form, the refused ones, and what each means for a project."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tracker.notifications.routing import async_enabled, is_async
from tuleap_backend.env import AsyncEmails, ConfigurationError, parse_async_emails


@pytest.mark.parametrize("raw", [None, "", "  ", "0", " 0 "])
def test_unset_empty_or_zero_means_every_project_inline(settings, raw: str | None) -> None:
    settings.ASYNC_EMAILS = AsyncEmails(parse_async_emails(raw))

    assert not async_enabled()
    assert not is_async(1)
    assert not is_async(3)


@pytest.mark.parametrize("raw", ["all", "ALL", " All "])
def test_all_sends_every_project_through_workers(settings, raw: str) -> None:
    settings.ASYNC_EMAILS = AsyncEmails(parse_async_emails(raw))

    assert async_enabled()
    assert is_async(1) and is_async(3) and is_async(123456)


@pytest.mark.parametrize("raw", ["3, 7,12", "3,7,12", " 3 ,7 , 12 ", "12,7,3,3"])
def test_a_list_of_ids_sends_those_projects_through_workers(settings, raw: str) -> None:
    settings.ASYNC_EMAILS = AsyncEmails(parse_async_emails(raw))

    assert async_enabled()
    assert [project_id for project_id in range(1, 14) if is_async(project_id)] == [3, 7, 12]


def test_a_single_id_is_a_list_of_one(settings) -> None:
    settings.ASYNC_EMAILS = AsyncEmails(parse_async_emails("1"))

    assert is_async(1) and not is_async(2)


@pytest.mark.parametrize("raw", ["yes", "true", "1,x", "3,,7", "3;7", "-3", "0,3", "all,3", "3.5", "x"])
def test_any_other_value_is_refused_naming_the_variable_and_the_accepted_forms(raw: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_async_emails(raw)

    message = str(error.value)
    assert "ASYNC_EMAILS" in message
    assert "'all'" in message and "'3, 7,12'" in message and "0" in message


def test_a_bad_value_stops_the_start_up_with_one_line() -> None:
    env = {**os.environ, "ASYNC_EMAILS": "yes", "DEBUG": "1"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )

    assert result.returncode == 2
    assert result.stderr.startswith("Configuration error: ASYNC_EMAILS='yes' is not valid")
    assert "Traceback" not in result.stderr
