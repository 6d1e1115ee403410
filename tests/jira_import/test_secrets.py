"""The Jira token never shows: not in logs (even at DEBUG), not in Redis, not in the database in clear."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest
from django.db import connection

from tests.support.jira import BUG, credentials_for, new_import, pending_row, token_of
from tracker.jira_import import services
from tracker.models import JiraImport

LOGGERS = ("", "tracker", "tracker.jira_import", "jira", "urllib3", "requests", "rq", "django")


@pytest.fixture
def every_log_line(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Everything logged at DEBUG, including loggers that do not propagate to the root (tracker)."""
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        if logger.name != "root":
            logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.DEBUG)
    try:
        yield caplog
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
            logger.removeHandler(caplog.handler)


def secret_forms(token: str, username: str = "") -> list[str]:
    """The token, and the token as an Authorization header carries it."""
    forms = [token]
    if username:
        forms.append(base64.b64encode(f"{username}:{token}".encode()).decode())
    return forms


def assert_not_in(forms: list[str], text: str, where: str) -> None:
    for form in forms:
        assert form not in text, f"the token shows in {where}"


def test_the_token_never_reaches_the_logs(jira, public_project, alice, every_log_line, mailoutbox) -> None:
    credentials = credentials_for(jira)
    forms = secret_forms(credentials.token, credentials.username)
    # A successful import through a rate limit (the library logs its retries)...
    done = new_import(jira, public_project, alice, BUG)
    jira.fail_next(r"/search(/jql)?$", 429, times=1, headers={"Retry-After": "1"})
    assert services.run_import(done).status == "done"
    # ...a malformed answer, a server error and wrong credentials, which all log something.
    broken = new_import(jira, public_project, alice, BUG, name="Broken", shortname="broken")
    jira.malformed(r"/search(/jql)?$")
    assert services.run_import(broken).status == "failed"
    failing = new_import(jira, public_project, alice, BUG, name="Failing", shortname="failing")
    jira.fail_next(r"/issue/createmeta/", 500, times=5)
    assert services.run_import(failing).status == "failed"
    wrong = "wrong-token-4f9c2e7d1a"
    refused = pending_row(jira.url, public_project, alice, token=wrong, username=credentials.username)
    assert services.run_import(refused).status == "failed"

    records = every_log_line.records
    # The HTTP stack did log, at DEBUG (the jira library's session sends through requests and urllib3).
    assert any(r.name.startswith("urllib3") for r in records)
    assert any(r.name == "tracker.jira_import" for r in records)
    text = (
        "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in records)
        + every_log_line.text
    )
    assert_not_in([*forms, *secret_forms(wrong, credentials.username)], text, "the logs")
    # Nor in the emails.
    for email in mailoutbox:
        assert_not_in(forms, email.body + email.alternatives[0].content, "an email")


def test_the_token_is_not_in_redis(jira, public_project, alice, test_redis, redis_clean) -> None:
    jira_import = services.start_import(
        project=public_project,
        requested_by=alice,
        credentials=credentials_for(jira),
        jira_project_key="DEMO",
        issue_type_id=BUG,
        tracker_name="Jira bugs",
        tracker_shortname="jbug",
    )
    assert jira_import.job_id
    client = test_redis.client()
    dumped = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            dumped.append(client.get(key) or b"")
        elif kind == "hash":
            dumped += [b"%s=%s" % pair for pair in client.hgetall(key).items()]
        elif kind == "list":
            dumped += client.lrange(key, 0, -1)
        elif kind == "set":
            dumped += list(client.smembers(key))
        elif kind == "zset":
            dumped += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        dumped.append(key)
    assert any(jira_import.job_id.encode() in value for value in dumped)  # the job is there...
    everything = b"\n".join(dumped)
    for form in secret_forms(token_of(jira), credentials_for(jira).username):
        assert form.encode() not in everything  # ...but not the token


def every_text_in_the_database() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                chunks += [str(value) for value in row if value is not None]
    return "\n".join(chunks)


def test_the_token_is_encrypted_at_rest_and_erased_at_the_end(
    jira, public_project, alice, mailoutbox
) -> None:
    forms = secret_forms(token_of(jira), credentials_for(jira).username)
    jira_import = new_import(jira, public_project, alice, BUG)

    # While it waits: kept, but encrypted.
    stored = JiraImport.objects.get(pk=jira_import.pk).token_encrypted
    assert stored and token_of(jira) not in stored
    assert_not_in(forms, every_text_in_the_database(), "the database")

    services.run_import(jira_import)

    assert JiraImport.objects.get(pk=jira_import.pk).token_encrypted == ""
    assert_not_in(forms, every_text_in_the_database(), "the database")


def test_the_credentials_repr_hides_the_token(jira) -> None:
    credentials = credentials_for(jira)
    assert credentials.token not in repr(credentials) and credentials.token not in str(credentials)
