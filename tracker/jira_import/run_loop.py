"""Running an import or an update in this process: the one loop both share, told what differs.

    claim the row --> the engine, with the row's token --> an outcome and a message --> the run's finish

What the engine raises becomes the outcome: a cancel request ends it cancelled; our errors and Jira's
(their messages are written for the user) end it failed; a timeout of the worker's job and any other
error too, with a message of ours and, for the unexpected, the details in the log only. A run taken
over by another (:class:`~tracker.jira_import.runs.RunSuperseded`) writes nothing more. Each row's
owner (:mod:`.runs`, :mod:`.sync_runs`) records the end: its token erased, its emails, its metric.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from rq.timeouts import JobTimeoutException

from tracker.jira_import import vault
from tracker.jira_import.credentials import JiraCredentials
from tracker.jira_import.deadline import RequestCancelled
from tracker.jira_import.errors import JiraAccessError
from tracker.jira_import.runs import ImportCancelled, ImportFailed, RunSuperseded
from tracker.jira_import.url_guard import RefusedURL
from tracker.models import JiraImport, JiraSyncRun

if TYPE_CHECKING:
    from tracker.jira_import.importer import Importer, Progress

logger = logging.getLogger("tracker.jira_import")

Row = TypeVar("Row", JiraImport, JiraSyncRun)


class Claimed(Protocol):
    """A run's hold on its row (:class:`~.runs.ImportRun`, :class:`~.sync_runs.SyncRun`)."""

    jira_import: JiraImport

    def finish(self, outcome: str, message: str) -> Any: ...


@dataclass(frozen=True)
class RunKind(Generic[Row]):
    """What differs between running an import and running an update."""

    name: str  # how the log names a row: "Jira import 12", "Update 3"
    noun: str  # how a message to the user names it: "The import stopped..."
    claim: Callable[[Row], Claimed | None]
    # What the row is of, in the log's "started" line: the Jira project, the import.
    of: Callable[[Row], str]
    engine: Callable[[Any, JiraCredentials, Progress | None], Importer]
    timeout_message: str
    after_finish: Callable[[Row], None] | None = None


def run(kind: RunKind[Row], row: Row, progress: Progress | None = None) -> Row:
    """Claim ``row`` and run it to its end; the row as it ended, or as another run left it."""
    claimed = kind.claim(row)
    if claimed is None:
        return row  # cancelled while pending, or ended already
    logger.info("%s %s of %s started.", kind.name, row.pk, kind.of(row))
    status = row.Status
    outcome, message = status.DONE, ""
    engine: Importer | None = None
    try:
        if row.cancel_requested:
            raise ImportCancelled
        jira_import = claimed.jira_import
        credentials = JiraCredentials(
            jira_import.jira_url, jira_import.username, vault.decrypt(row.token_encrypted)
        )
        engine = kind.engine(claimed, credentials, progress)
        engine.run()
    except RunSuperseded:
        logger.info("%s %s: another run has taken over; this one stops.", kind.name, row.pk)
        row.refresh_from_db()
        return row
    except (ImportCancelled, RequestCancelled):
        outcome = status.CANCELLED
    except (JiraAccessError, RefusedURL, vault.TokenUnavailable, ImportFailed) as error:
        outcome, message = status.FAILED, str(error)
    except JobTimeoutException:
        outcome, message = status.FAILED, kind.timeout_message
    except Exception as error:
        outcome = status.FAILED
        message = (
            f"The {kind.noun} stopped on an unexpected error ({type(error).__name__}); the administrators "
            "will find the details in the worker's log."
        )
        logger.error("%s %s failed unexpectedly: %s", kind.name, row.pk, describe(error))
    finally:
        if engine is not None and engine.client is not None:
            engine.client.close()
    ended: Row = claimed.finish(outcome, message)
    if kind.after_finish is not None:
        kind.after_finish(ended)
    return ended


def describe(error: BaseException) -> str:
    """A log-safe account of an unexpected error: types and frames; messages only of our own code.

    The messages of the jira library's and requests' exceptions can hold request headers.
    """
    parts = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__
        if module.split(".")[0] in {"jira", "requests", "urllib3", "http"}:
            parts.append(f"{module}.{type(current).__name__} (message withheld)")
        else:
            parts.append(f"{module}.{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    frames = "".join(traceback.format_tb(error.__traceback__))
    return " <- ".join(parts) + "\n" + frames
