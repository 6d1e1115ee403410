"""The filtered artifact list at 1,000 and 100,000 artifacts: ``python -m bench.artifact_list``.

On PostgreSQL only (the database the goal is about): ``BENCH_DATABASE_URL`` names an empty database
this run migrates and fills, and that you drop afterwards (``createdb -h 127.0.0.1 -U postgres
bench_list``, then ``BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_list``).

Two trackers of one public project, 1,000 and 100,000 artifacts (bulk-created: each with the snapshot
the list reads and a creation changeset, a comment on every fifth), statuses New / In progress / Done,
one of 20 assignees or nobody, dates spread over two years. Then, side by side, the two trackers
alternating, p50 of each of:

- the tracker page (Django's test client, logged in), filtered and sorted as a person would;
- the same filters through the service alone (``matching_artifacts`` + ``page_of``: the SQL part);
- the API's artifact list with the same filters (its ``count`` is exact: DRF's page-number pagination,
  kept for the API's clients, counts every match; reported, outside the goal).

The page's own count stops at 500 (``artifact_pages.COUNT_CAP``: "more than 500 artifacts").

Prints the ratios (goal from issue 14: large / small <= 3) and PostgreSQL's plan of the first query.
Not a test.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable

Action = Callable[[], object]

REPEATS = int(os.environ.get("BENCH_REPEATS", "31"))
SMALL, LARGE = 1_000, int(os.environ.get("BENCH_LARGE", "100000"))
GOAL = 3.0
PEOPLE = 20
WORDS = [
    "login",
    "crash",
    "save",
    "editor",
    "footer",
    "theme",
    "export",
    "import",
    "report",
    "search",
    "slow",
    "button",
    "page",
    "sync",
]
CODES = 200  # each artifact's description names one of CODES tags: a search for one matches 0.5 %
SCENARIOS = {
    "open, assigned to one person, by last update": "state=open&assignee=person3&sort=-updated",
    "open, by last update, page 3": "state=open&sort=-updated&page=3",
    "two statuses, newest first": "status=New&status=In+progress",
    "search a rare word, newest first": "q=k123",
    "submitted in one month, by title": "submitted_after=2025-03-01&submitted_before=2025-03-31&sort=title",
}
# Sorting by a field's value reads every match (no index can hold each tracker's fields): linear in
# the matches by nature, measured for the record, outside the goal.
LINEAR = {"two statuses, by status": "status=New&status=In+progress&sort=status"}


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
    url = os.environ.get("BENCH_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("Set BENCH_DATABASE_URL to an empty PostgreSQL database (see the docstring).", file=sys.stderr)
        return 2
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tuleap_backend.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-never-used-in-production-0123456789")
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.LOGGING_CONFIG = None
    call_command("migrate", verbosity=0)
    return run()


def fill(tracker, count: int, people: list, author) -> None:
    """``count`` artifacts in bulk, with the values the service would store, and their first changeset."""
    from django.utils import timezone

    from tracker.models import Artifact, Changeset

    fields = {f.name: f for f in tracker.fields.all()}
    statuses = list(fields["status"].options.order_by("rank").values_list("pk", flat=True))
    rng = random.Random(count)
    start = timezone.now() - dt.timedelta(days=730)
    batch = 5_000
    for first in range(0, count, batch):
        rows = []
        for number in range(first, min(first + batch, count)):
            submitted = start + dt.timedelta(minutes=rng.randrange(730 * 24 * 60))
            assignee = rng.choice(people).pk if rng.random() > 0.1 else None
            title = f"{' '.join(rng.sample(WORDS, 3)).capitalize()} {number}"
            rows.append(
                Artifact(
                    tracker=tracker,
                    title=title,
                    current_values={
                        str(fields["title"].pk): title,
                        str(fields["description"].pk): " ".join(
                            [*rng.choices(WORDS, k=12), f"k{rng.randrange(CODES)}"]
                        ),
                        str(fields["status"].pk): rng.choice(statuses),
                        str(fields["assigned_to"].pk): assignee,
                    },
                    submitted_by=author,
                    submitted_on=submitted,
                    last_updated_by=author,
                    last_updated_on=submitted + dt.timedelta(minutes=rng.randrange(60 * 24 * 30)),
                )
            )
        made = Artifact.objects.bulk_create(rows)
        Changeset.objects.bulk_create(
            Changeset(
                artifact=artifact,
                author=author,
                submitted_on=artifact.submitted_on,
                is_creation=True,
                comment=f"Seen while {rng.choice(WORDS)}ing" if rng.random() < 0.2 else "",
            )
            for artifact in made
        )


def run() -> int:
    from django.db import connection
    from django.http import QueryDict
    from django.test import Client
    from rest_framework.test import APIClient

    from tracker.models import Membership, Tracker, User
    from tracker.services.artifact_pages import page_of
    from tracker.services.artifact_query import TrackerContext, matching_artifacts
    from tracker.services.artifact_query_params import parse_query
    from tracker.services.projects import create_project
    from tracker.services.trackers import TrackerSpec, create_tracker
    from tracker.web.trackers import ARTIFACTS_PER_PAGE

    if Tracker.objects.exists():
        print("BENCH_DATABASE_URL must name an empty database: drop and create it again.", file=sys.stderr)
        return 2
    started = time.perf_counter()
    alice = User.objects.create_user("alice", "alice@example.com", "bench-password-0123")
    bob = User.objects.create_user("bob", "bob@example.com", "bench-password-0123")
    people = [
        User.objects.create_user(f"person{n}", f"p{n}@example.com", "bench-password-0123")
        for n in range(PEOPLE)
    ]
    project = create_project(shortname="bench", name="Bench", creator=alice, is_public=True)
    Membership.objects.bulk_create([Membership(project=project, user=user) for user in [bob, *people]])
    small = create_tracker(project, TrackerSpec(name="Small", shortname="small"))
    large = create_tracker(project, TrackerSpec(name="Large", shortname="large"))
    fill(small, SMALL, people, alice)
    fill(large, LARGE, people, alice)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"Set-up: {time.perf_counter() - started:.1f} s ({SMALL:,} and {LARGE:,} artifacts, PostgreSQL)")

    browser = Client()
    browser.force_login(bob)
    api = APIClient()
    api.force_authenticate(bob)

    def page(tracker: Tracker, query: str) -> Action:
        def get() -> None:
            response = browser.get(f"/trackers/{tracker.pk}/?{query}")
            assert response.status_code == 200, response.content[:500]

        return get

    def service(tracker: Tracker, query: str) -> Action:
        def get() -> None:
            context = TrackerContext.of(tracker)
            params = QueryDict(query)
            parsed = parse_query(context, params, bob)
            page_of(matching_artifacts(bob, context, parsed), params.get("page"), ARTIFACTS_PER_PAGE)

        return get

    def api_list(tracker: Tracker, query: str) -> Action:
        def get() -> None:
            response = api.get(f"/api/trackers/{tracker.pk}/artifacts/?{query}")
            assert response.status_code == 200, response.content[:500]

        return get

    worst = 0.0
    print(f"\n{'':58} {SMALL:>9,} {LARGE:>9,}   ratio")
    for name, query in {**SCENARIOS, **LINEAR}.items():
        for kind, action in (("page", page), ("service", service), ("API", api_list)):
            small_p50, large_p50 = p50_pair(action(small, query), action(large, query))
            ratio = large_p50 / small_p50
            if kind != "API" and name in SCENARIOS:
                worst = max(worst, ratio)
            print(
                f"{kind + ': ' + name:58} {small_p50 * 1000:7.1f}ms {large_p50 * 1000:7.1f}ms  {ratio:5.2f}"
            )

    context = TrackerContext.of(large)
    first = next(iter(SCENARIOS.values()))
    plan = matching_artifacts(bob, context, parse_query(context, QueryDict(first), bob))[:ARTIFACTS_PER_PAGE]
    print(f"\nPlan at {LARGE:,} ({first}):\n{plan.explain(analyze=True)}")
    verdict = "OK" if worst <= GOAL else "over the goal"
    print(f"\nWorst ratio, page and service: {worst:.2f} (goal <= {GOAL}): {verdict}")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
