"""``manage.py rqworker-pool <queue>``: django-rq's worker pool, set up as ``manage.py rqworker`` is."""

from __future__ import annotations

import importlib
from typing import Any

from tracker.management.commands.rqworker import check_queue_names, prepare_worker_process

# django-rq's module name has a hyphen: no import statement can name it.
rqworker_pool = importlib.import_module("django_rq.management.commands.rqworker-pool")


class Command(rqworker_pool.Command):
    help = (
        "Run a pool of RQ workers on the queue named, logging to WORKER_LOG (as manage.py rqworker). "
        "`manage.py backend_workers start` is what runs the platform's workers."
    )

    def execute(self, *args: Any, **options: Any) -> Any:
        check_queue_names(args, command="rqworker-pool")
        return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        prepare_worker_process()
        super().handle(*args, **options)
