from __future__ import annotations

from django.apps import AppConfig


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = "Tracker"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Receivers and checks register themselves on import. (Worker processes warm up in their
        # command, tracker/management/commands/rqworker.py.)
        from tracker import checks, receivers  # noqa: F401
