from __future__ import annotations

from django.apps import AppConfig


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = "Tracker"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings

        # Receivers and checks register themselves on import.
        from tracker import checks, receivers  # noqa: F401

        if getattr(settings, "RQ_WORKER_PROCESS", False):
            # Load once what each job's forked work horse would otherwise load again.
            from tracker.workers.warmup import warm_up

            warm_up()
