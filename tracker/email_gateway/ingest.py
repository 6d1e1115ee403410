"""Storing the spool (``tracker.email_gateway.spool``) as inbound records, then handing them to workers.

Run by the LMTP process (``manage.py email_gateway``, about every second) and by the workers' recovery
sweep (``recovery.sweep``). Several readers may take the same file at once: the record's unique
``spool_name`` lets one INSERT win, and the others only delete the file. The file is deleted after its
record is committed, so a reader killed in between leaves a file the next reader recognises.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction

from tracker.email_gateway import inbound, receive, spool
from tracker.models import InboundEmail
from tracker.monitoring import metrics

logger = logging.getLogger("tracker.email_gateway.ingest")

BATCH = 500


def spool_directory() -> Path:
    return Path(settings.EMAIL_GATEWAY_SPOOL_DIR)


def ingest_spool(limit: int = BATCH) -> int:
    """Store up to ``limit`` spooled messages, oldest first, and enqueue their jobs; how many were stored.

    A database error stops the round and leaves the files for the next one (the mail server was told
    they were delivered: they must not be lost); Redis failing only leaves the jobs to the sweep.
    """
    stored = 0
    for spooled in spool.waiting(spool_directory(), limit):
        try:
            with transaction.atomic():  # a savepoint: a duplicate must not break a caller's transaction
                record = inbound.store(
                    spooled.raw,
                    via=InboundEmail.Via.PIPE,
                    envelope_from=spooled.sender,
                    envelope_to=spooled.recipient,
                    spool_name=spooled.name,
                )
        except IntegrityError as error:
            if InboundEmail.objects.filter(spool_name=spooled.name).exists():
                # Stored before by a reader that died before deleting the file, or by one beside us.
                spool.remove(spooled)
            else:  # another constraint: kept for a person to look at (system_check names the spool)
                logger.error("Spooled email %s cannot be stored: %s", spooled.name, error)
            continue
        except DatabaseError as error:
            logger.warning(
                "Spooled email %s not stored (%s: %s); the next round tries again.",
                spooled.name,
                type(error).__name__,
                error,
            )
            break
        spool.remove(spooled)
        receive.enqueue(record)
        metrics.record_inbound_email("received")
        stored += 1
    if stored:
        logger.info("Stored %s spooled inbound email(s).", stored)
    return stored
