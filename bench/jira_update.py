"""The update half of ``python -m bench.jira_import``: bring a 2,000-issue import up to date when 50
of its issues changed in Jira (a comment and a changed summary each), timed against the first import.

The update asks Jira only for the issues updated since the import started (less the margin), plus one
id-only listing of the project to find the issues gone from it, so its time should be a small part of
the import's: goal <= 0.1. Each import round of the benchmark is updated once, in a fresh process; the
best time makes the ratio, as for the import.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

CHANGED = 50


def change_issues(data: Any, key: str, issues: int, count: int = CHANGED) -> list[str]:
    """``count`` issues of the generated project ``key``, spread over it, changed in Jira now."""
    now = dt.datetime.now(dt.UTC)
    step = max(1, issues // count)
    changed = []
    for n in range(count):
        issue_key = f"{key}-{1 + n * step}"
        builder = data.edit(issue_key)
        builder.comment("alice", f"Written in Jira after the import ({n}).", at=now + dt.timedelta(seconds=n))
        builder.change(
            "bob", summary=f"Renamed in Jira after the import ({n})", at=now + dt.timedelta(seconds=n + 1)
        )
        changed.append(issue_key)
    return changed


def child_update(url: str, run: str) -> dict[str, Any]:
    """One update of the import of round ``run``, timed, its SQL statements counted (a fresh process)."""
    import django

    django.setup()
    from django.db import connection

    from tests.support.fake_jira import CLOUD_API_TOKEN
    from tracker.jira_import import update_notifications, update_service
    from tracker.models import JiraImport

    jira_import = JiraImport.objects.get(tracker_shortname=f"bench-{run}", status="done")
    sync_run = update_service.create_update(jira_import, requested_by=None, token=CLOUD_API_TOKEN)
    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    # The artifacts' notifications are timed apart: an inline project sends its emails in the run (an
    # async one hands them to the notifications queue), which the first import never does.
    notifying = 0.0
    notify = update_notifications.notify_changes

    def timed_notify(run: Any) -> int:
        nonlocal notifying
        began = time.perf_counter()
        try:
            return notify(run)
        finally:
            notifying += time.perf_counter() - began

    update_notifications.notify_changes = timed_notify  # what sync_runs.finish calls
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        sync_run = update_service.run_update(sync_run)
    total = time.perf_counter() - started
    return {
        "seconds": total - notifying,
        "notifying": notifying,
        "total": total,
        "status": sync_run.status,
        "message": sync_run.message,
        "counts": sync_run.counts,
        "statements": statements,
    }


def report(updates: list[dict[str, Any]], imports: list[dict[str, Any]], say: Any) -> int:
    for result in updates:
        if result["status"] != "done":
            say(f"the update failed: {result['message']}")
            return 1
    best = min(updates, key=lambda r: r["seconds"])
    first = min(imports, key=lambda r: r["seconds"])
    ratio = best["seconds"] / first["seconds"]
    counts = best["counts"]
    rounds = ", ".join(f"{r['seconds']:.2f}" for r in updates)
    say(f"rounds: update {rounds} s (without sending the notifications)")
    say(
        f"update of the {first['counts']['issues']}-issue import after {CHANGED} issues changed in Jira "
        f"({counts.get('updated_issues', 0)} updated issues, "
        f"{counts.get('new_changesets', 0)} new changesets): "
        f"{best['seconds']:.2f} s, {best['statements']} SQL statements (with the notifications)"
    )
    say(
        f"  then its {counts.get('updated_issues', 0) + counts.get('new_issues', 0)} notifications, "
        f"sent inline: {best['notifying']:.2f} s (in all {best['total']:.2f} s, "
        f"{best['total'] / first['seconds']:.3f} of the import)"
    )
    say(
        f"  time ratio update / first import: {ratio:.3f} (goal <= 0.1) -> "
        f"{'OK' if ratio <= 0.1 else 'TOO SLOW'}"
    )
    return 0 if ratio <= 0.1 else 1
