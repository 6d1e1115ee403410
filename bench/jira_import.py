"""Jira import benchmark: ``python -m bench.jira_import``.

Against the fake Jira Cloud (``tests/support/fake_jira``, a real HTTP server on loopback) serving a
generated project of BENCH_JIRA_ISSUES (2,000) issues, each with 5 changelog entries, 3 comments and
one 10 KB attachment (every issue made a Task, so that one import of one issue type takes them all),
in a throw-away SQLite database (or BENCH_DATABASE_URL, an empty database you can drop afterwards):

1. time: the whole import (``run_import``: create metadata, search pages, attachment downloads,
   bulk writes, the link pass) divided by the time the ``jira`` library alone needs to fetch the same
   data from the same server (the same search pages with changelog and rendered fields, every
   attachment's bytes) -- goal <= 2.0. Both are measured in fresh processes, after a warm-up pass
   that lets the fake server build its issues once, in BENCH_JIRA_ROUNDS (3) interleaved rounds whose
   best times make the ratio (the way ``timeit`` advises: on a shared machine the others add noise);
2. memory: the peak resident size (VmHWM, see :func:`peak_rss_kb`) of a fresh process importing 2,000
   issues minus that of one importing 200 -- goal < 50 MB (the import streams page by page);
3. SQL statements per imported issue (counted with ``connection.execute_wrapper``), printed.

The same three figures for the whole-project case: another generated project of 2,000 issues over
4 issue types (Task, Bug, Story, and every 10th a Sub-task of the issue before it; every 50th is made
an Epic, the four issues after it its children through the epic link), each issue in one of 10
sprints of a scrum board and with 2 work logs, imported in one run into one tracker per issue type
(plus the Sprints tracker). Its fetch baseline asks the library for the same: every issue type's
issues, the work log and sprint fields, every attachment.

And the update from Jira (:mod:`bench.jira_update`): once the rounds' imports are in, 50 of the 2,000
issues change in Jira and each round's import is updated; the update's time divided by the import's
-- goal <= 0.1.

Not a test: it prints the figures of one run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import jira_update

ROOT = Path(__file__).resolve().parent.parent
ISSUES = int(os.environ.get("BENCH_JIRA_ISSUES", "2000"))
SMALL = int(os.environ.get("BENCH_JIRA_SMALL", "200"))
ROUNDS = int(os.environ.get("BENCH_JIRA_ROUNDS", "3"))
PAGE_SIZE = 50
TASK = "10001"


def say(message: str) -> None:
    print(message, flush=True)


# -- the fake Jira, in this process -------------------------------------------------------------------


def every_issue_a_task(data: Any) -> None:
    """The generator mixes issue types; one import takes one type, so make them all Tasks."""
    for generated in data._generated:
        build = generated._build

        def as_task(index: int, build: Any = build) -> Any:
            issue = build(index)
            issue.initial["issuetype"] = "Task"
            issue.invalidate()
            return issue

        generated.build = functools.lru_cache(maxsize=4096)(as_task)


def whole_project(data: Any, generated: Any, sprints: list[int]) -> None:
    """Epics with children, sprints and work logs on a generated project (its issues built lazily)."""
    from tests.support.fake_jira.model import Worklog

    build = generated._build
    epic_of = {index: index - index % 50 for index in range(generated.n) if 0 < index % 50 <= 4}

    def with_agile_life(index: int) -> Any:
        issue = build(index)
        if index % 50 == 0 and not generated.is_subtask(index):
            issue.initial["issuetype"] = "Epic"
        elif index in epic_of and not generated.is_subtask(index):
            issue.initial["customfield_10024"] = generated.key(epic_of[index])
        issue.initial["customfield_10026"] = [sprints[index % len(sprints)]]
        issue.worklogs = [
            Worklog(
                50_000_000 + generated.id_base + 2 * index + n,
                ("alice", "bob")[n],
                issue.created,
                1800 * (n + 1),
                f"log {n}",
                issue.created,
            )
            for n in range(2)
        ]
        issue.invalidate()
        return issue

    generated.build = functools.lru_cache(maxsize=4096)(with_agile_life)


def fake_jira() -> Any:
    from tests.support.fake_jira import FakeJiraData, FakeJiraServer

    data = FakeJiraData.generated(
        ISSUES, changelog_per_issue=5, comments_per_issue=3, attachment_bytes=10_240
    )
    data.add_generated_project(
        "SMALL", SMALL, changelog_per_issue=5, comments_per_issue=3, attachment_bytes=10_240
    )
    every_issue_a_task(data)
    for key, count in (("WHOLE", ISSUES), ("WSMALL", SMALL)):
        data.add_generated_project(
            key, count, changelog_per_issue=5, comments_per_issue=3, attachment_bytes=10_240
        )
        board = data.add_board(key, f"{key} board")
        sprints = [data.add_sprint(board, f"{key} sprint {n + 1}", "closed").id for n in range(10)]
        whole_project(data, data._generated[-1], sprints)
    return FakeJiraServer(data, flavor="cloud")


# -- the measured processes ---------------------------------------------------------------------------


def child_fetch(url: str, key: str, raw: bool) -> dict[str, Any]:
    """What the jira library alone needs to fetch the import's data: search pages and attachments
    (every issue type, the work logs and sprints too for the whole-project case)."""
    whole = key.startswith("W")
    from jira import JIRA

    from tests.support.fake_jira import CLOUD_API_TOKEN, CLOUD_EMAIL

    started = time.perf_counter()
    jira = JIRA(server=url, basic_auth=(CLOUD_EMAIL, CLOUD_API_TOKEN), options={"check_update": False})
    fields = [
        "summary", "issuetype", "status", "resolution", "resolutiondate", "created", "updated", "creator",
        "reporter", "attachment", "issuelinks", "subtasks", "parent", "comment", "description", "priority",
        "labels", "components", "fixVersions", "assignee", "duedate",
    ] + [f"customfield_{n}" for n in range(10010, 10029)] + ["worklog"]  # fmt: skip
    token, issues, attachments, size = None, 0, 0, 0
    where = f'project = "{key}"' if whole else f'project = "{key}" AND issuetype = {TASK}'
    while True:
        page = jira.enhanced_search_issues(
            f"{where} ORDER BY created ASC, key ASC",
            nextPageToken=token,
            maxResults=PAGE_SIZE,
            fields=fields,
            expand="changelog,renderedFields",
            json_result=raw,
        )
        found = page["issues"] if raw else list(page)
        for issue in found:
            metas = issue["fields"]["attachment"] if raw else issue.fields.attachment
            for meta in metas:
                content = jira._session.get(meta["content"]).content if raw else meta.get()
                attachments += 1
                size += len(content)
        issues += len(found)
        token = page.get("nextPageToken") if raw else page.nextPageToken
        if not token:
            break
    return {
        "seconds": time.perf_counter() - started,
        "issues": issues,
        "attachments": attachments,
        "bytes": size,
    }


def peak_rss_kb() -> int:
    """This process's peak resident size, in KB.

    ``/proc/self/status`` VmHWM where there is one: on Linux ``ru_maxrss`` keeps, across ``exec``, the
    size of the process that forked (here the benchmark with its fake Jira), which would hide ours.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_import(url: str, key: str, run: str) -> dict[str, Any]:
    """One whole import, timed, its SQL statements counted, in this fresh process."""
    import django

    django.setup()
    from django.db import connection

    from tests.support.fake_jira import CLOUD_API_TOKEN, CLOUD_EMAIL
    from tracker.jira_import import services
    from tracker.jira_import.credentials import JiraCredentials
    from tracker.models import Project

    project = Project.objects.get(shortname="bench")
    credentials = JiraCredentials(url, CLOUD_EMAIL, CLOUD_API_TOKEN)
    if key.startswith("W"):  # the whole project: every issue type, one tracker each
        jira_import = services.create_import(
            project=project,
            requested_by=None,
            credentials=credentials,
            jira_project_key=key,
            issue_type_ids=[],
        )
    else:
        jira_import = services.create_import(
            project=project,
            requested_by=None,  # nobody to email: the benchmark writes no mail file
            credentials=credentials,
            jira_project_key=key,
            issue_type_id=TASK,
            tracker_name=f"{key} tasks {run}",
            tracker_shortname=f"{key.lower()}-{run}",
        )
    statements = 0

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    rss_before = peak_rss_kb()
    # Linux: restart the peak from the current size, to see the import's own high-water mark too.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        jira_import = services.run_import(jira_import)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "status": jira_import.status,
        "error": jira_import.error,
        "counts": jira_import.counts,
        "statements": statements,
        "maxrss_kb": max(peak_rss_kb(), rss_before),
        "import_peak_kb": peak_rss_kb(),
    }


def seconds(results: list[dict[str, Any]]) -> str:
    return ", ".join(f"{result['seconds']:.2f}" for result in results)


def run_child(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.jira_import", "--child", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench child {args} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare_database(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    script = (
        "import django; django.setup()\n"
        "from tracker.models import User\n"
        "from tracker.services.projects import create_project\n"
        "alice = User.objects.create_user('alice', 'alice@example.com', 'bench-password-0123')\n"
        "create_project(shortname='bench', name='Bench', creator=alice, is_public=True)\n"
    )
    subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, check=True)


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="bench-jira-"))
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}"),
        "DJANGO_SETTINGS_MODULE": "tuleap_backend.settings",
        "JIRA_ALLOWED_HOSTS": "127.0.0.1",
        "JIRA_IMPORT_PAGE_SIZE": str(PAGE_SIZE),
        "MEDIA_ROOT": str(workdir / "media"),
        "LOGGER_LEVEL": "warning",
        "EMAIL_HOST": "",
        "PYTHONPATH": str(ROOT),
    }
    try:
        prepare_database(env)
        with fake_jira() as jira:
            say(
                f"fake Jira Cloud at {jira.url}: {ISSUES} + {SMALL} issues "
                "(5 changes, 3 comments, a 10 KB file each)"
            )
            run_child(env, "fetch", jira.url, "BENCH", "raw")  # warm-up: the fake builds each issue once
            run_child(env, "fetch", jira.url, "SMALL", "raw")
            fetches, imports = [], []
            # Interleaved rounds, best of each: on a shared machine a single run also times the neighbours.
            for round_ in range(ROUNDS):
                fetches.append(run_child(env, "fetch", jira.url, "BENCH", "raw"))
                imports.append(run_child(env, "import", jira.url, "BENCH", str(round_)))
            fetch_resources = run_child(env, "fetch", jira.url, "BENCH", "resources")
            small = run_child(env, "import", jira.url, "SMALL", "0")
            # The update: 50 of the 2,000 issues change in Jira, then each round's import is updated.
            jira_update.change_issues(jira.data, "BENCH", ISSUES)
            updates = [run_child(env, "update", jira.url, "BENCH", str(round_)) for round_ in range(ROUNDS)]
            run_child(env, "fetch", jira.url, "WHOLE", "raw")  # warm-up
            run_child(env, "fetch", jira.url, "WSMALL", "raw")
            whole_fetches, whole_imports = [], []
            for round_ in range(ROUNDS):
                whole_fetches.append(run_child(env, "fetch", jira.url, "WHOLE", "raw"))
                whole_imports.append(run_child(env, "import", jira.url, "WHOLE", str(round_)))
            whole_resources = run_child(env, "fetch", jira.url, "WHOLE", "resources")
            whole_small = run_child(env, "import", jira.url, "WSMALL", "0")
        fetch_raw = min(fetches, key=lambda r: r["seconds"])
        big = min(imports, key=lambda r: r["seconds"])
        say(f"rounds: fetch {seconds(fetches)} s; import {seconds(imports)} s")
        single = report(fetch_raw, fetch_resources, big, small)
        say("")
        say("update from Jira:")
        updated = jira_update.report(updates, imports, say)
        say("")
        say("whole project (4 issue types, epics, sprints, work logs):")
        say(f"rounds: fetch {seconds(whole_fetches)} s; import {seconds(whole_imports)} s")
        whole = report(
            min(whole_fetches, key=lambda r: r["seconds"]),
            whole_resources,
            min(whole_imports, key=lambda r: r["seconds"]),
            whole_small,
        )
        return single or whole or updated
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def report(fetch_raw: dict, fetch_resources: dict, big: dict, small: dict) -> int:
    for result in (big, small):
        if result["status"] != "done":
            say(f"the import failed: {result['error']}")
            return 1
    ratio = big["seconds"] / fetch_raw["seconds"]
    memory_mb = (big["maxrss_kb"] - small["maxrss_kb"]) / 1024
    per_issue = big["statements"] / big["counts"]["issues"]
    say(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}, "
        f"Python {platform.python_version()}"
    )
    say(
        f"jira library alone, fetching {fetch_raw['issues']} issues and "
        f"{fetch_raw['attachments']} attachments: "
        f"{fetch_raw['seconds']:.2f} s as JSON, {fetch_resources['seconds']:.2f} s as Resource objects"
    )
    counts = big["counts"]
    say(
        f"import of {counts['issues']} issues ({counts['changesets']} changesets, "
        f"{counts['comments']} comments, {counts['attachments']} attachments, {counts['links']} links, "
        f"{counts.get('sprints', 0)} sprints, {counts.get('time_entries', 0)} time entries): "
        f"{big['seconds']:.2f} s"
    )
    say(
        f"  time ratio import / fetch (JSON): {ratio:.2f} (goal <= 2.0) -> "
        f"{'OK' if ratio <= 2.0 else 'TOO SLOW'}"
    )
    say(f"  (import / fetch as Resource objects: {big['seconds'] / fetch_resources['seconds']:.2f})")
    say(
        f"  peak memory: {big['maxrss_kb'] / 1024:.1f} MB at {counts['issues']} issues, "
        f"{small['maxrss_kb'] / 1024:.1f} MB at {small['counts']['issues']}: difference {memory_mb:.1f} MB "
        f"(goal < 50) -> {'OK' if memory_mb < 50 else 'TOO MUCH'}"
    )
    say(
        f"  (peak while importing: {big['import_peak_kb'] / 1024:.1f} MB at {counts['issues']} issues, "
        f"{small['import_peak_kb'] / 1024:.1f} MB at {small['counts']['issues']})"
    )
    say(
        f"  SQL statements: {big['statements']} for {counts['issues']} issues = {per_issue:.2f} per issue "
        f"({small['statements'] / small['counts']['issues']:.2f} per issue at {small['counts']['issues']})"
    )
    return 0 if ratio <= 2.0 and memory_mb < 50 else 1


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind, url, key = sys.argv[2:5]
        if kind == "fetch":
            result = child_fetch(url, key, raw=sys.argv[5] == "raw")
        elif kind == "update":
            result = jira_update.child_update(url, sys.argv[5])
        else:
            result = child_import(url, key, sys.argv[5])
        print(json.dumps(result))
        sys.exit(0)
    sys.exit(main())
