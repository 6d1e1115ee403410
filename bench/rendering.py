"""What a hostile Markdown comment costs now that comments are rendered once: ``python -m bench.rendering``.

An artifact with 60 copies of the issue's bomb (``"**_~~[" * 3333``, 20,000 characters) beside one with
60 one-line comments, in a throw-away database: the artifact page and the API history of each, read
through Django's test client; and what one write costs (the service storing the comment), bomb against
one line. Also what each read used to cost: rendering the 60 comments, as the history did on every view
before. Not a test: it prints ratios measured side by side in one run (best of the repeats).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

COMMENTS = 60
REPEATS = 15
BOMB = "**_~~[" * 3333 + "**"
SLOW = "*_" * 10_000  # not nested: the time limit stops it


def best(action: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tuleap_backend.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-never-used-in-production-0123456789")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    original_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        return run()
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)


def run() -> int:
    from django.test import Client
    from markdown_it import MarkdownIt
    from rest_framework.test import APIClient

    from tracker.models import Changeset, User
    from tracker.services.artifacts import create_artifact, update_artifact
    from tracker.services.projects import create_project
    from tracker.services.trackers import TrackerSpec, create_tracker

    alice = User.objects.create_user("alice", "alice@example.com", "bench-password-0123")
    project = create_project(shortname="bench", name="Bench", creator=alice, is_public=True)
    tracker = create_tracker(project, TrackerSpec(name="Bugs", shortname="bug"))

    def artifact_with(text: str) -> int:
        artifact = create_artifact(tracker, author=alice, values={"title": "Bench"}, notify=False).artifact
        first = update_artifact(artifact, author=alice, comment=text, comment_format="markdown", notify=False)
        Changeset.objects.bulk_create(
            Changeset(
                artifact=artifact,
                author=alice,
                submitted_on=first.submitted_on,
                comment=first.comment,
                comment_format=first.comment_format,
                comment_html=first.comment_html,
            )
            for _ in range(COMMENTS - 1)
        )
        return artifact.pk

    bombed, plain = artifact_with(BOMB), artifact_with("Reproduced on **Firefox 128** only.")
    browser = Client()
    browser.force_login(alice)
    api = APIClient()
    api.force_authenticate(alice)

    page = {pk: best(lambda pk=pk: browser.get(f"/artifacts/{pk}/")) for pk in (bombed, plain)}
    history = {pk: best(lambda pk=pk: api.get(f"/api/artifacts/{pk}/changesets/")) for pk in (bombed, plain)}
    unbudgeted = MarkdownIt("commonmark", {"html": False, "maxNesting": 20}).enable(
        ["table", "strikethrough"]
    )
    before = best(lambda: [unbudgeted.render(BOMB) for _ in range(COMMENTS)], repeats=2)

    target = create_artifact(tracker, author=alice, values={"title": "Writes"}, notify=False).artifact
    writes = {
        name: best(
            lambda text=text: update_artifact(
                target, author=alice, comment=text, comment_format="markdown", notify=False
            ),
            repeats=5,
        )
        for name, text in (("bomb", BOMB), ("slow", SLOW), ("one line", "Fixed in **main**."))
    }

    print(f"{COMMENTS} comments per artifact, best of {REPEATS} reads")
    print(
        f"  artifact page, bombs / one-liners: {page[bombed] * 1000:.1f} / {page[plain] * 1000:.1f} ms"
        f" = {page[bombed] / page[plain]:.2f}"
    )
    print(
        f"  API history (50 per page), bombs / one-liners: {history[bombed] * 1000:.1f} / "
        f"{history[plain] * 1000:.1f} ms = {history[bombed] / history[plain]:.2f}"
    )
    print(
        f"  rendering the {COMMENTS} bombs on each read, as before / the page now: {before * 1000:.0f} / "
        f"{page[bombed] * 1000:.1f} ms = {before / page[bombed]:.0f}"
    )
    print(
        f"  one write, bomb / one line: {writes['bomb'] * 1000:.1f} / {writes['one line'] * 1000:.1f} ms"
        f" = {writes['bomb'] / writes['one line']:.2f}"
    )
    print(
        f"  one write, slow unnested text (time limit) / one line: {writes['slow'] * 1000:.1f} / "
        f"{writes['one line'] * 1000:.1f} ms = {writes['slow'] / writes['one line']:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
