"""``manage.py import_jira``: the same import from a terminal, credentials from the environment only."""

from __future__ import annotations

import subprocess
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.support.fake_jira import CLOUD_API_TOKEN, CLOUD_EMAIL, SERVER_PAT
from tracker.models import Artifact, JiraImport, Tracker


def test_it_imports_with_a_progress_bar(server, public_project, alice, monkeypatch, mailoutbox) -> None:
    monkeypatch.delenv("JIRA_USERNAME", raising=False)  # absent: the token is a Bearer token
    monkeypatch.setenv("JIRA_TOKEN", SERVER_PAT)
    out, err = StringIO(), StringIO()

    call_command(
        "import_jira",
        "--url", server.url, "--project", "DEMO", "--issue-type", "bug", "--into", "demo", "--as", "alice",
        stdout=out,
        stderr=err,
    )  # fmt: skip

    tracker = Tracker.objects.get(project=public_project, shortname="demo-bug")
    assert tracker.name == "Demo Project Bug"  # named after the Jira project and issue type
    assert Artifact.objects.filter(tracker=tracker).count() == 7
    assert "Done: import #" in out.getvalue() and "7 issues" in out.getvalue()
    assert "Every field was imported." in out.getvalue()  # the epic link became links
    assert "Permissions are not imported" in out.getvalue()
    assert "7/7 issues" in err.getvalue()
    assert {r.auth_scheme for r in server.requests} == {"bearer"}
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["alice@example.com"]


def test_it_takes_the_names_it_is_given(cloud, public_project, alice, monkeypatch) -> None:
    monkeypatch.setenv("JIRA_USERNAME", CLOUD_EMAIL)
    monkeypatch.setenv("JIRA_TOKEN", CLOUD_API_TOKEN)
    call_command(
        "import_jira",
        "--url", cloud.url, "--project", "demo", "--issue-type", "Story", "--into", "demo",
        "--tracker-name", "Stories", "--tracker-shortname", "story",
        stdout=StringIO(),
        stderr=StringIO(),
    )  # fmt: skip
    assert Artifact.objects.filter(tracker__shortname="story").count() == 6
    assert JiraImport.objects.get().requested_by is None


@pytest.mark.parametrize(
    ("arguments", "environment", "message"),
    [
        (["--issue-type", "Bug"], {}, "Set JIRA_TOKEN"),
        (
            ["--issue-type", "Bug", "--into", "nowhere"],
            {"JIRA_TOKEN": SERVER_PAT},
            "No project with the short name",
        ),
        (
            ["--issue-type", "Incident"],
            {"JIRA_TOKEN": SERVER_PAT},
            "has no issue type 'Incident'; it has: Task",
        ),
        (
            ["--issue-type", "Bug", "--as", "nobody"],
            {"JIRA_TOKEN": SERVER_PAT},
            "No active user named 'nobody'",
        ),
        (["--issue-type", "Bug", "--as", "bob"], {"JIRA_TOKEN": SERVER_PAT}, "Only an administrator"),
    ],
)
def test_bad_input_is_an_error_naming_the_problem(
    server, public_project, bob, monkeypatch, arguments, environment, message
) -> None:
    monkeypatch.delenv("JIRA_USERNAME", raising=False)
    monkeypatch.delenv("JIRA_TOKEN", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    options = {"--url": server.url, "--project": "DEMO", "--into": "demo"}
    for flag, value in zip(arguments[::2], arguments[1::2], strict=True):
        options[flag] = value
    with pytest.raises(CommandError, match=message):
        call_command("import_jira", *[part for pair in options.items() for part in pair], stdout=StringIO())
    assert not Tracker.objects.filter(shortname="demo-bug").exists()


def import_demo_bugs(manage_py: list[str], url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``manage.py import_jira`` of DEMO's bugs into the public project, in a process of its own."""
    options = ["--url", url, "--project", "DEMO", "--issue-type", "Bug", "--into", "demo"]
    return subprocess.run(
        [*manage_py, "import_jira", *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_a_failed_import_exits_non_zero_with_the_error(
    cloud, public_project, alice, subprocess_env, manage_py
) -> None:
    env = {**subprocess_env, "JIRA_ALLOWED_HOSTS": "127.0.0.1", "JIRA_USERNAME": CLOUD_EMAIL}
    env["JIRA_TOKEN"] = "not-the-right-token-5d1f"
    cloud.fail_next(r"/search/jql$", 500, times=10)  # once the checks pass, the import fails

    refused = import_demo_bugs(manage_py, cloud.url, env)
    assert refused.returncode != 0
    assert "refused these credentials (401 Unauthorized)" in refused.stderr
    assert "not-the-right-token-5d1f" not in refused.stdout + refused.stderr

    env["JIRA_TOKEN"] = CLOUD_API_TOKEN
    failed = import_demo_bugs(manage_py, cloud.url, env)
    assert failed.returncode != 0
    assert "The import failed: Jira at 127.0.0.1" in failed.stderr
    assert "server error (500) when reading which fields the issues of DEMO carry" in failed.stderr
    assert CLOUD_API_TOKEN not in failed.stdout + failed.stderr
    assert not Tracker.objects.filter(shortname="demo-bug").exists()
