"""What one worker process cannot go below: the CPU time of reading and rendering a changeset's email.

A worker is one Python process: whatever it overlaps (the read-ahead thread renders while the main
thread waits on the mail server), its Python code runs on one core at a time (the GIL). So the CPU
time it spends per changeset just to read it (``notifier.prepare``: the changeset, its history, its
recipients, the rendered email) and to serialize the message (``MailSession.prepare``) bounds its
rate from above, with no database write, no Redis and no SMTP counted:

    ceiling (emails/s) = recipients per changeset / CPU seconds per changeset

Plain smtplib replays bytes rendered already, so it pays none of this. ``bench.notifications``
prints the ceiling beside its measured worker / smtplib ratios: a goal above the ceiling cannot be met
by a faster connection or fewer round trips, only by reading and rendering for less.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Floor:
    recipients: int
    reading_and_rendering: float  # CPU seconds per changeset (notifier.prepare), the best pass
    serializing: float  # CPU seconds per changeset (Python's email package), the same pass

    @property
    def cpu_per_changeset(self) -> float:
        return self.reading_and_rendering + self.serializing

    @property
    def ceiling(self) -> float:
        """The most emails per second one process doing this work could send."""
        return self.recipients / self.cpu_per_changeset


def measure(changeset_ids: list[int], recipients: int, passes: int = 3) -> Floor:
    """CPU time per changeset of ``prepare`` + serialization, best of ``passes`` over the same changesets.

    The first pass is a warm-up (templates compiled, the database's pages cached): a worker sending
    a backlog is in that state too. Only this process's CPU is counted (``time.process_time``).
    """
    from tracker.models import NotificationRecord
    from tracker.notifications import notifier
    from tracker.notifications.mailer import MailSession

    records = list(
        NotificationRecord.objects.filter(changeset_id__in=changeset_ids).select_related("changeset")
    )
    if len(records) != len(changeset_ids):
        raise SystemExit(f"{len(changeset_ids)} changesets but {len(records)} notification records")
    session = MailSession()  # serializes only: never opened
    passes_seen = []
    for _ in range(passes + 1):
        fields: dict = {}  # tracker id -> its fields, read once per pass as a job reads them once
        reading = serializing = 0.0
        for record in records:
            started = time.process_time()
            prepared = notifier.prepare(record, fields)
            rendered = time.process_time()
            for group in prepared.messages or []:
                session.prepare(group.message)
            reading += rendered - started
            serializing += time.process_time() - rendered
        passes_seen.append(Floor(recipients, reading / len(records), serializing / len(records)))
    # passes_seen[0] was the warm-up; the best pass is the one the rest of the machine disturbed least.
    return min(passes_seen[1:], key=lambda floor: floor.cpu_per_changeset)
