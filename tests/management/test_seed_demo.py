from __future__ import annotations

import pytest
from django.core.management import call_command

from tracker.models import Artifact, Changeset, NotificationRecord, Project, User


@pytest.fixture
def var_dir(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    return tmp_path


def test_seed_demo_creates_a_world_and_prints_the_logins(db, var_dir, capsys) -> None:
    call_command("seed_demo")
    out = capsys.readouterr().out
    password = (var_dir / "demo_password").read_text().strip()
    # It should print the logins with the password, which lets alice log in.
    assert "alice, bob, carol" in out and password in out
    assert User.objects.get(username="alice").check_password(password)
    assert set(Project.objects.values_list("shortname", "is_public")) == {("demo", True), ("secret", False)}
    assert Artifact.objects.count() == 3
    assert Changeset.objects.exclude(comment="").count() == 3
    # A seed is not news: nobody is notified.
    assert not NotificationRecord.objects.exists()
    assert oct((var_dir / "demo_password").stat().st_mode & 0o777) == "0o600"


def test_seed_demo_twice_changes_nothing(db, var_dir, capsys) -> None:
    call_command("seed_demo")
    counts = (
        User.objects.count(),
        Project.objects.count(),
        Artifact.objects.count(),
        Changeset.objects.count(),
    )
    password_hash = User.objects.get(username="bob").password
    call_command("seed_demo")
    assert "nothing changed" in capsys.readouterr().out
    assert counts == (
        User.objects.count(),
        Project.objects.count(),
        Artifact.objects.count(),
        Changeset.objects.count(),
    )
    assert User.objects.get(username="bob").password == password_hash
