"""Where a worker process logs: WORKER_LOG, set up by the worker commands when they start.

``manage.py rqworker`` (and ``rqworker-pool``) write to the file only: the supervisor appends their
output to the same file already. ``manage.py backend_workers`` writes to the file and to its console,
for the service manager's journal, and its own few lines (workers started, died, restarted, stopped)
are always written, whatever LOGGER_LEVEL says.
"""

from __future__ import annotations

import copy
import logging.config
import sys
from pathlib import Path
from typing import Any

from django.conf import settings


def configure_worker_logging(*, console: bool) -> None:
    """Send this process's log to WORKER_LOG (and to the console too when ``console``).

    Exits with status 2 and one line when the log's folder cannot be created, as a wrong setting does.
    """
    try:
        Path(settings.WORKER_LOG).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        sys.stderr.write(
            f"Configuration error: WORKER_LOG={settings.WORKER_LOG!r} cannot be created ({error}).\n"
        )
        raise SystemExit(2) from None
    logging.config.dictConfig(worker_logging(settings.LOGGING, console=console))


def worker_logging(base: dict[str, Any], *, console: bool) -> dict[str, Any]:
    """``settings.LOGGING`` with the worker log's handlers in place of (or next to) the console."""
    config = copy.deepcopy(base)
    level = settings.LOGGER_LEVEL
    config["handlers"]["worker_log"] = {
        "class": "logging.handlers.WatchedFileHandler",  # reopens the file after logrotate moved it
        "filename": settings.WORKER_LOG,
        "formatter": "plain",
        "level": level,  # manage.py rqworker raises RQ's own logger to INFO; the file stays quiet
        "delay": True,
    }
    handlers = ["worker_log", "console"] if console else ["worker_log"]
    config["root"]["handlers"] = handlers
    config["loggers"]["tracker"]["handlers"] = handlers
    config["loggers"]["rq.worker"]["handlers"] = handlers
    config["loggers"]["rq"] = {"handlers": handlers, "level": level, "propagate": False}
    # The supervisor's own few lines (workers started, died, restarted, stopped) are always written.
    config["handlers"]["supervisor_log"] = {**config["handlers"]["worker_log"], "level": "DEBUG"}
    config["loggers"]["tracker.workers"] = {
        "handlers": ["supervisor_log", "console"],
        "level": "DEBUG" if level == "DEBUG" else "INFO",
        "propagate": False,
    }
    return config
