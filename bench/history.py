"""Long histories stay fast: ``python -m bench.history``.

In a throw-away SQLite database: an artifact with 500 changesets (status and description changes,
every other one with a comment, by six people) beside one with a single changeset, both with the same
five people in CC; and a tracker of 10,000 artifacts beside one of 100. Measured side by side in one
run, the two sides alternating, p50 of each:

- the artifact page (Django's test client, logged in), and the first page of the changesets API (also
  against an artifact of 20 changesets: both pages full, only the depth differs);
- the notification job of one update (``notifier.notify`` in this process, as a worker runs it, to an
  aiosmtpd server on loopback; the enqueue goes to a private redis-server that no worker reads);
- an update through ``PATCH /api/artifacts/{id}/`` (the history must not slow a write either);
- the tracker's list page.

Not a test: it prints ratios (goals from issue 17), and the queries of each read.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.support.smtp import SMTPServer

Action = Callable[[], object]

REPEATS = 41
LONG = 500
SMALL_TRACKER, LARGE_TRACKER = 100, 10_000
GOALS = {
    "artifact page": 1.5,
    "changesets API page": 1.5,
    "changesets API page, both full": 1.5,
    "notification job": 1.3,
    "update (PATCH)": 1.5,
    "tracker list": 1.5,
}


def p50_pair(first: Action, second: Action, repeats: int = REPEATS) -> tuple[float, float]:
    """Median seconds of each, run alternately so that the machine's noise hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for round_ in range(repeats + 1):
        for side, action in enumerate((first, second)):
            started = time.perf_counter()
            action()
            if round_:  # the first round warms caches and connections
                times[side].append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tuleap_backend.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-never-used-in-production-0123456789")
    os.environ.pop("DATABASE_URL", None)  # SQLite, the database of make run
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from tests.support.redis_server import RedisServer
    from tests.support.smtp import SMTPServer

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOGGING_CONFIG = None
    original_name = connection.settings_dict["NAME"]
    redis_server = RedisServer("--appendonly", "no")
    smtp = SMTPServer()
    settings.REDIS_URL = redis_server.url
    for queue in settings.RQ_QUEUES.values():
        queue["URL"] = redis_server.url
    for name, value in smtp.settings().items():
        setattr(settings, name, value)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        return run(smtp)
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
        smtp.stop()
        redis_server.stop()


def run(smtp: SMTPServer) -> int:
    import django_rq
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from tracker.models import Artifact, Changeset, Membership, User
    from tracker.notifications import notifier
    from tracker.services.artifacts import create_artifact, update_artifact
    from tracker.services.history_pages import HISTORY_PAGE_SIZE
    from tracker.services.projects import create_project
    from tracker.services.trackers import TrackerSpec, create_tracker
    from tuleap_backend.env import AsyncEmails

    settings.ASYNC_EMAILS = AsyncEmails("all")
    alice = User.objects.create_user("alice", "alice@example.com", "bench-password-0123")
    bob = User.objects.create_user("bob", "bob@example.com", "bench-password-0123")
    project = create_project(shortname="bench", name="Bench", creator=alice, is_public=True)
    people = [
        User.objects.create_user(f"cc{n}", f"cc{n}@example.com", "bench-password-0123") for n in range(5)
    ]
    Membership.objects.bulk_create([Membership(project=project, user=user) for user in [bob, *people]])
    bugs = create_tracker(project, TrackerSpec(name="Bugs", shortname="bug"))

    def artifact_with(changesets: int) -> Artifact:
        values = {"title": f"{changesets} changesets", "status": "New", "cc": [user.pk for user in people]}
        artifact = create_artifact(bugs, author=alice, values=values, notify=False).artifact
        statuses = ["New", "In progress", "Done"]
        authors = [alice, *people]
        for number in range(1, changesets):
            update_artifact(
                artifact,
                author=authors[number % len(authors)],
                values={"status": statuses[number % 3], "description": f"Step {number}: " + "words " * 30},
                comment=f"Comment {number}, with **Markdown**." if number % 2 else "",
                comment_format="markdown",
                notify=False,
            )
        return artifact

    started = time.perf_counter()
    short, long, full_page = artifact_with(1), artifact_with(LONG), artifact_with(HISTORY_PAGE_SIZE)
    small, large = (
        create_tracker(project, TrackerSpec(name=f"List {count}", shortname=f"list{count}"))
        for count in (SMALL_TRACKER, LARGE_TRACKER)
    )
    for tracker, count in ((small, SMALL_TRACKER), (large, LARGE_TRACKER)):
        # One artifact through the service, its snapshot copied: the list reads the snapshot only.
        model = create_artifact(
            tracker, author=alice, values={"title": "Listed", "status": "New"}, notify=False
        )
        template = model.artifact
        Artifact.objects.bulk_create(
            Artifact(
                tracker=tracker,
                title=f"Listed {number}",
                current_values=template.current_values,
                submitted_by=alice,
                submitted_on=template.submitted_on - dt.timedelta(minutes=number),
                last_updated_by=alice,
                last_updated_on=template.last_updated_on - dt.timedelta(minutes=number),
            )
            for number in range(count - 1)
        )
    print(f"Set-up: {time.perf_counter() - started:.1f} s (SQLite, {Changeset.objects.count()} changesets)")

    browser = Client()
    browser.force_login(bob)
    api = APIClient()
    api.force_authenticate(bob)
    queue = django_rq.get_queue(settings.NOTIFICATIONS_QUEUE)

    def page(artifact: Artifact) -> Action:
        def get() -> None:
            response = browser.get(f"/artifacts/{artifact.pk}/")
            assert response.status_code == 200

        return get

    def changesets_api(artifact: Artifact) -> Action:
        def get() -> None:
            response = api.get(f"/api/artifacts/{artifact.pk}/changesets/")
            assert response.status_code == 200 and response.json()["results"]

        return get

    def job(changeset_ids: list[int]) -> Action:
        def send() -> None:
            changeset_id = changeset_ids.pop(0)
            outcome = notifier.notify(changeset_id, mode="async", token=f"bench-{changeset_id}")
            assert outcome.state == "done" and outcome.sent == len(people) + 1, outcome

        return send

    def updates_to_notify(artifacts: Callable[[], Artifact]) -> list[int]:
        """Updates stored (and enqueued to a queue nobody reads) before the jobs are measured."""
        made = [
            update_artifact(artifacts(), author=bob, values={"status": status}, comment="Fixed.").pk
            for status in ["Done", "New"] * ((REPEATS + 2) // 2)
        ]
        queue.empty()
        return made

    notes = iter(range(10**6))

    def patch(artifact: Artifact) -> Action:
        def write() -> None:
            response = api.patch(
                f"/api/artifacts/{artifact.pk}/", {"comment": f"Note {next(notes)}"}, format="json"
            )
            assert response.status_code == 200, response.content

        return write

    def tracker_list(tracker: object) -> Action:
        def get() -> None:
            response = browser.get(f"/trackers/{tracker.pk}/")  # the default order, newest first
            assert response.status_code == 200

        return get

    def queries(action: Action) -> int:
        with CaptureQueriesContext(connection) as captured:
            action()
        return len(captured.captured_queries)

    print(f"{'':38} {'large':>11} {'small':>11} {'ratio':>6} {'goal':>5}  queries")
    failed = False

    def measure(name: str, big_side: Action, small_side: Action, counts: str) -> None:
        nonlocal failed
        big, little = p50_pair(big_side, small_side)
        ratio = big / little
        failed |= ratio > GOALS[name]
        label = {
            "tracker list": "tracker list (10,000 / 100 artifacts)",
            "changesets API page, both full": "API page of 20 (500 / 20 changesets)",
        }.get(name, f"{name} (500 / 1)")
        times = f"{big * 1000:8.1f} ms {little * 1000:8.1f} ms"
        print(f"{label:38} {times} {ratio:6.2f} {GOALS[name]:5.1f}  {counts}")

    # The reads first, while the small artifact still has its single changeset.
    for name, reader in (("artifact page", page), ("changesets API page", changesets_api)):
        counts = f"{queries(reader(long))} / {queries(reader(short))}"
        measure(name, reader(long), reader(short), counts)
    # The API's first page holds 20 changesets: against an artifact of 20, both pages are full.
    counts = f"{queries(changesets_api(long))} / {queries(changesets_api(full_page))}"
    measure("changesets API page, both full", changesets_api(long), changesets_api(full_page), counts)
    # Each job is about an update of the long artifact, or of a fresh artifact with one changeset.
    long_updates = updates_to_notify(lambda: long)
    short_updates = updates_to_notify(lambda: artifact_with(1))
    measure("notification job", job(long_updates), job(short_updates), "(asserted equal in a test)")
    measure("update (PATCH)", patch(long), patch(artifact_with(1)), "")
    counts = f"{queries(tracker_list(large))} / {queries(tracker_list(small))}"
    measure("tracker list", tracker_list(large), tracker_list(small), counts)
    delivered = len(smtp.received)
    print(f"Emails delivered by the measured jobs: {delivered}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
