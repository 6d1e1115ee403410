"""Signals other parts of the platform hook onto. Keep receivers one line that calls a named function.

``changeset_recorded`` is sent *inside* the transaction that stores a changeset: receivers may only
write rows that must commit (or roll back) with it, such as the notification outbox record.

``artifact_saved`` is sent once the transaction has committed, exactly once per stored changeset and
never for a rolled-back one: receivers may talk to the outside world (mail, Redis).

Neither is sent by saves made with ``notify=False`` (data imports, demo seeding).

Events with a single place where they happen are not signals: the notifier counts the emails it sent
and the system check the events it ended, by calling ``tracker.monitoring.metrics`` directly.
"""

from __future__ import annotations

from django.dispatch import Signal

# kwargs: changeset (tracker.models.Changeset), created (bool)
changeset_recorded = Signal()
# kwargs: changeset (tracker.models.Changeset), created (bool)
artifact_saved = Signal()
