"""How the cost of a ``/metrics`` scrape grows with the data: ``python -m bench.metrics_scrape``.

Scrapes ``/metrics`` (through Django's test client, auth included) with 100 and then with 100,000
artifacts, changesets and pending notification records, in a throw-away database (SQLite, or the
PostgreSQL server of ``DATABASE_URL``) and a private redis-server, and prints the median scrape
time of each and their ratio. The goal: a ratio under 3, i.e. the scrape never reads the rows,
only counts them through indexes. Not a test: it prints figures measured in one run.

The ratio is taken on the best of the scrapes (as ``timeit`` advises): on a shared machine the
median also measures the neighbours; both are printed.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from datetime import timedelta

SMALL = 100
LARGE = 100_000
BATCH = 5_000
SCRAPES = 50
SECRET = "bench-metrics-secret-0123456789"


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tuleap_backend.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-never-used-in-production-0123456789")
    from tests.support.redis_server import RedisServer

    with RedisServer("--appendonly", "no") as redis_server:
        os.environ["REDIS_URL"] = redis_server.url
        import django

        django.setup()
        from django.conf import settings
        from django.db import connection

        settings.METRICS_SECRET = SECRET
        settings.ALLOWED_HOSTS = ["testserver"]
        original_name = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        try:
            return run(connection.vendor)
        finally:
            connection.creation.destroy_test_db(original_name, verbosity=0)


def run(vendor: str) -> int:
    from tracker.models import User
    from tracker.services.projects import create_project
    from tracker.services.trackers import TrackerSpec, create_tracker

    alice = User.objects.create_user("alice", "alice@example.com", "bench-password-0123")
    project = create_project(shortname="bench", name="Bench", creator=alice, is_public=True)
    tracker = create_tracker(project, TrackerSpec(name="Bugs", shortname="bug"))

    grow_to(SMALL, tracker, alice)
    small = scrape_times()
    grow_to(LARGE, tracker, alice)
    large = scrape_times()

    ratio = min(large) / min(small)
    print(f"database: {vendor}; {SCRAPES} scrapes of /metrics each (best / median)")
    for rows, times in ((SMALL, small), (LARGE, large)):
        print(
            f"  {rows:>7,} artifacts, changesets and pending notifications: "
            f"{min(times) * 1000:7.2f} ms / {statistics.median(times) * 1000:7.2f} ms"
        )
    print(f"  ratio of the best times: {ratio:.2f} (goal: under 3) -> {'OK' if ratio < 3 else 'TOO SLOW'}")
    print(f"  ratio of the medians:    {statistics.median(large) / statistics.median(small):.2f}")
    return 0 if ratio < 3 else 1


def grow_to(total: int, tracker: object, author: object) -> None:
    """Bulk-create artifacts, each with one changeset and one pending notification, up to ``total``."""
    from django.db import connection
    from django.utils import timezone

    from tracker.models import Artifact, Changeset, NotificationRecord

    start = timezone.now() - timedelta(days=1)
    while (count := Artifact.objects.count()) < total:
        size = min(BATCH, total - count)
        artifacts = Artifact.objects.bulk_create(
            Artifact(
                tracker=tracker,
                title=f"Bug {count + n}",
                submitted_by=author,
                submitted_on=start,
                last_updated_by=author,
                last_updated_on=start,
            )
            for n in range(size)
        )
        changesets = Changeset.objects.bulk_create(
            Changeset(artifact=artifact, author=author, submitted_on=start, is_creation=True)
            for artifact in artifacts
        )
        NotificationRecord.objects.bulk_create(
            NotificationRecord(changeset=changeset, mode=NotificationRecord.Mode.ASYNC)
            for changeset in changesets
        )
    # As autovacuum keeps a live database: statistics for the planner and, on PostgreSQL, the
    # visibility map that lets a count read an index alone (an index-only scan).
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def scrape_times() -> list[float]:
    from django.test import Client

    from tests.monitoring.conftest import basic_auth

    gc.collect()
    client = Client()
    authorization = basic_auth("metrics", SECRET)
    durations = []
    for attempt in range(SCRAPES + 3):
        started = time.perf_counter()
        response = client.get("/metrics", HTTP_AUTHORIZATION=authorization)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"/metrics answered {response.status_code}: {response.content[:200]!r}")
        if attempt >= 3:  # the first ones warm caches and connections
            durations.append(elapsed)
    return durations


if __name__ == "__main__":
    sys.exit(main())
