"""``Idempotency-Key`` on the artifact writes, and no 500 once a write has committed."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection, connections

from tests.conftest import client_for
from tracker.models import Artifact, Changeset, IdempotencyKey, Tracker, User

CREATE = "/api/artifacts/"


def create(user: User, tracker: Tracker, key: str | None = None, title: str = "Crash") -> object:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client_for(user).post(
        CREATE, {"tracker": tracker.pk, "values": {"title": title}}, format="json", **headers
    )


def test_the_same_post_with_the_same_key_creates_one_artifact_and_answers_the_same(
    bugs: Tracker, alice: User
) -> None:
    first = create(alice, bugs, key="7c1e4f0e-retry-me")
    second = create(alice, bugs, key="7c1e4f0e-retry-me")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Artifact.objects.filter(tracker=bugs).count() == 1


def test_another_user_s_request_with_the_same_key_is_independent(
    bugs: Tracker, alice: User, bob: User
) -> None:
    mine = create(alice, bugs, key="shared-key")
    theirs = create(bob, bugs, key="shared-key")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["submitted_by"] == "bob"
    assert Artifact.objects.filter(tracker=bugs).count() == 2


def test_without_a_key_every_post_creates(bugs: Tracker, alice: User) -> None:
    create(alice, bugs)
    create(alice, bugs)

    assert Artifact.objects.filter(tracker=bugs).count() == 2
    assert not IdempotencyKey.objects.exists()


def test_the_same_key_with_another_request_is_refused(bugs: Tracker, alice: User) -> None:
    create(alice, bugs, key="k-1", title="First")

    reused = create(alice, bugs, key="k-1", title="Something else")

    assert reused.status_code == 422
    assert "different request" in reused.json()["detail"]
    assert Artifact.objects.filter(tracker=bugs).count() == 1


def test_a_key_older_than_a_day_is_forgotten(bugs: Tracker, alice: User) -> None:
    import datetime as dt

    from django.utils import timezone

    create(alice, bugs, key="old-key")
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))

    again = create(alice, bugs, key="old-key")

    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert Artifact.objects.filter(tracker=bugs).count() == 2
    assert IdempotencyKey.objects.count() == 1


def test_a_patch_with_a_key_adds_one_changeset(bugs: Tracker, alice: User) -> None:
    artifact_id = create(alice, bugs).json()["id"]
    client = client_for(alice)

    answers = [
        client.patch(
            f"/api/artifacts/{artifact_id}/", {"comment": "Seen"}, format="json", HTTP_IDEMPOTENCY_KEY="p"
        )
        for _ in range(2)
    ]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert Changeset.objects.filter(artifact_id=artifact_id).count() == 2  # creation + one update


def test_a_malformed_key_is_a_400(bugs: Tracker, alice: User) -> None:
    answer = create(alice, bugs, key="x" * 300)

    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()
    assert not Artifact.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_identical_posts_at_the_same_time_create_one_artifact(bugs: Tracker, alice: User) -> None:
    answers: list[object] = []

    def post() -> None:
        try:
            answers.append(create(alice, bugs, key="concurrent"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answer.status_code for answer in answers) == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert Artifact.objects.filter(tracker=bugs).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_database_going_away_after_the_commit_does_not_turn_the_answer_into_a_500(
    bugs: Tracker, alice: User, settings
) -> None:
    # As during a PostgreSQL restart: once the changeset's transaction is over, every query fails.
    armed = {"seen_transaction": False}

    def database_gone_after_commit(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        if connection.in_atomic_block and sql.startswith("INSERT") and '"tracker_changeset"' in sql:
            armed["seen_transaction"] = True
        elif armed["seen_transaction"] and not connection.in_atomic_block:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    client = client_for(alice)
    with connection.execute_wrapper(database_gone_after_commit):
        answer = client.post(
            CREATE,
            {"tracker": bugs.pk, "values": {"title": "Stored"}},
            format="json",
            HTTP_IDEMPOTENCY_KEY="pg",
        )

    # It should answer what it stored, so that the client has no reason to send it again.
    assert answer.status_code == 201, answer.content
    assert armed["seen_transaction"]
    [artifact] = Artifact.objects.filter(tracker=bugs)
    assert answer.json()["id"] == artifact.pk and answer.json()["title"] == "Stored"
    # And if it does send it again, it gets the same answer, not a duplicate.
    again = client.post(
        CREATE, {"tracker": bugs.pk, "values": {"title": "Stored"}}, format="json", HTTP_IDEMPOTENCY_KEY="pg"
    )
    assert again.json() == answer.json() and Artifact.objects.count() == 1
