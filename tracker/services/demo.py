"""A small demo world for newcomers: three people, a public and a private project, some history.

Seeding is idempotent: what exists already is left as it is. It saves with ``notify=False``
(a seed is not news; nobody should get fifty emails on the first ``make run``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from tracker.models import Membership, Project, Tracker, User
from tracker.services.artifacts import create_artifact, update_artifact
from tracker.services.projects import create_project, set_member
from tracker.services.trackers import TrackerSpec, create_tracker

DEMO_USERS = (
    ("alice", "Alice", "Martin"),
    ("bob", "Bob", "Durand"),
    ("carol", "Carol", "Petit"),
)


@dataclass
class DemoResult:
    created: bool
    password: str | None
    usernames: tuple[str, ...]


def credentials_file() -> Path:
    return Path(settings.VAR_DIR) / "demo_password"


def _demo_password() -> str:
    """One random password for the demo users, generated once and kept under var/ (mode 0600)."""
    path = credentials_file()
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    path.touch(mode=0o600)
    path.write_text(password)
    return password


def _user(username: str, first: str, last: str, password: str) -> User:
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"email": f"{username}@example.com", "first_name": first, "last_name": last},
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def seed_demo() -> DemoResult:
    usernames = tuple(name for name, _, _ in DEMO_USERS)
    if Project.objects.filter(shortname="demo").exists():
        path = credentials_file()
        return DemoResult(False, path.read_text().strip() if path.exists() else None, usernames)
    password = _demo_password()
    alice, bob, carol = (_user(name, first, last, password) for name, first, last in DEMO_USERS)

    demo = create_project(
        shortname="demo",
        name="Demo project",
        creator=alice,
        description="A public project: every logged-in user can read it.",
        is_public=True,
    )
    set_member(demo, bob)
    set_member(demo, carol)
    secret = create_project(
        shortname="secret",
        name="Secret project",
        creator=alice,
        description="A private project: only its members (alice, bob) can see it.",
        is_public=False,
    )
    set_member(secret, bob, Membership.Role.MEMBER)

    bugs = create_tracker(demo, TrackerSpec(name="Bugs", shortname="bug", color="#d62728"))
    tasks = create_tracker(secret, TrackerSpec(name="Tasks", shortname="task", color="#2ca02c"))
    _seed_history(bugs, tasks, alice, bob, carol)
    return DemoResult(True, password, usernames)


def _seed_history(bugs: Tracker, tasks: Tracker, alice: User, bob: User, carol: User) -> None:
    crash = create_artifact(
        bugs,
        author=carol,
        values={
            "title": "Saving a report crashes the page",
            "description": "Open any report, press Save: the page turns blank.",
            "status": "New",
            "cc": ["alice"],
        },
        notify=False,
    ).artifact
    update_artifact(
        crash,
        author=alice,
        values={"status": "In progress", "assigned_to": "bob"},
        comment="Reproduced on Firefox and Chromium. **Bob**, can you look?",
        comment_format="markdown",
        notify=False,
    )
    update_artifact(crash, author=bob, values={"status": "Done"}, comment="Fixed in build 142.", notify=False)
    create_artifact(
        bugs,
        author=bob,
        values={"title": "Typo on the login page", "status": "New", "assigned_to": "carol"},
        notify=False,
    )
    plan = create_artifact(
        tasks,
        author=alice,
        values={"title": "Plan the 2027 roadmap", "status": "New", "assigned_to": "alice"},
        notify=False,
    ).artifact
    update_artifact(plan, author=bob, comment="I can draft the infrastructure part.", notify=False)
