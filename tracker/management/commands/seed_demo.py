from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from tracker.services.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demo world (alice, bob, carol; a public and a private project). Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed_demo()
        if result.created:
            self.stdout.write(self.style.SUCCESS("Demo world created."))
        else:
            self.stdout.write("Demo world already there; nothing changed.")
        if result.password:
            self.stdout.write(f"Demo logins: {', '.join(result.usernames)} — password: {result.password}")
