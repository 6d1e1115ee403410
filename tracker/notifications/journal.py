"""The delivery journal: addresses the mail server accepted, in Redis, the moment it accepted each.

The database learns a group's addresses with one INSERT at the end of the group (``records``); a job
killed in the middle of a group leaves this journal, and the next attempt skips what it holds.
"""

from __future__ import annotations

import contextlib
import logging
import os

import redis

from tracker import queues

logger = logging.getLogger("tracker.notifications.Notifier")


# One connection per process (and Redis) for the journal's writes, with replies off, kept from job to
# job: opening one per job would cost more than the writes.
_writers: dict[tuple[int, int], redis.Connection] = {}


def _journal_writer(client: redis.Redis) -> redis.Connection:
    key = (os.getpid(), id(client.connection_pool))  # never a connection inherited through a fork
    writer = _writers.get(key)
    if writer is None:
        # No health checks: a PING would wait for an answer that never comes with replies off.
        writer = queues.unpooled_connection(client, health_check_interval=0)
        writer.send_command("CLIENT", "REPLY", "OFF")
        _writers[key] = writer
    return writer


def _drop_journal_writer(client: redis.Redis) -> None:
    writer = _writers.pop((os.getpid(), id(client.connection_pool)), None)
    if writer is not None:
        with contextlib.suppress(Exception):
            writer.disconnect()


class DeliveryJournal:
    """Addresses the mail server accepted for a changeset, in Redis, written right after each one.

    The writes do not wait for Redis to answer (``CLIENT REPLY OFF``): once a command is in the kernel's
    socket buffer it reaches Redis even if the worker is killed the next instant, and the job does not
    pay a round trip per address. Best effort: if Redis fails, the journal stops (the group's INSERT
    still records the addresses; only a crash in the middle of that group could then send some again).
    ``client=None``: no journal (inline sends).
    """

    TTL_SECONDS = 7 * 24 * 3600

    def __init__(self, changeset_id: int, client: redis.Redis | None) -> None:
        self.key = f"tuleap:notifications:delivered:{changeset_id}"
        self.client = client
        self._expires = False

    def _failed(self, error: Exception) -> None:
        logger.warning("Delivery journal unavailable (%s); continuing without it.", error)
        if self.client is not None:
            _drop_journal_writer(self.client)
        self.client = None

    def addresses(self) -> set[str]:
        if self.client is None:
            return set()
        try:
            return {member.decode().lower() for member in self.client.smembers(self.key)}
        except redis.RedisError as error:
            self._failed(error)
            return set()

    def _send(self, *command: str | int) -> None:
        assert self.client is not None
        try:
            _journal_writer(self.client).send_command(*command)
        except (redis.ConnectionError, OSError):
            # The kept connection may have died with a Redis restart: one new try.
            _drop_journal_writer(self.client)
            _journal_writer(self.client).send_command(*command)

    def add(self, address: str) -> None:
        if self.client is None:
            return
        try:
            self._send("SADD", self.key, address.lower())
            if not self._expires:
                # Once, right after the first SADD created the key: a forgotten journal expires.
                self._send("EXPIRE", self.key, self.TTL_SECONDS)
                self._expires = True
        except (redis.RedisError, OSError) as error:
            self._failed(error)

    def flush(self) -> None:
        """Wait until Redis has applied every write so far (it answers ``CLIENT REPLY ON``)."""
        if self.client is None:
            return
        try:
            writer = _journal_writer(self.client)
            writer.send_command("CLIENT", "REPLY", "ON")
            writer.read_response()
            writer.send_command("CLIENT", "REPLY", "OFF")
        except (redis.RedisError, OSError) as error:
            self._failed(error)

    def clear(self) -> None:
        """Once the record is done, the database holds every address: forget the journal."""
        if self.client is None:
            return
        try:
            # On the same connection, so it comes after every SADD of this job.
            self._send("DEL", self.key)
        except (redis.RedisError, OSError) as error:
            self._failed(error)
            return
        self.flush()
