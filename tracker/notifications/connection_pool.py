"""SMTP connections kept open from job to job in a worker process, and a job's share of them.

Opening a connection (TCP, the greeting, EHLO, STARTTLS and AUTH with a real relay) costs more than
the email of a one-recipient job. A notification worker runs its jobs in its own process
(``tracker.workers.classes.InProcessWorker``), one at a time, so the process keeps what its jobs opened:

- up to ``NOTIFICATION_SMTP_CONNECTIONS`` connections (default 1) are kept between jobs;
- before a kept connection is used again, it is asked ``NOOP``: a mail server restarted in between (or
  one that closed the idle connection, as Postfix does after ``smtpd_timeout``) answers nothing, and a
  new connection is opened, so the job neither fails nor sends anything twice (nothing was sent on the
  dead connection);
- a connection is never kept after an error other than one refused address (smtplib resets the
  transaction after a refused RCPT; after anything else the connection's state is unknown);
- a kept connection is closed (QUIT) after ``EMAIL_CONNECTION_MAX_IDLE`` seconds unused, by a thread of
  the pool, and all of them when the worker stops (``InProcessWorker.teardown``, which RQ's
  ``Worker.work`` runs in its ``finally``: burst end, warm and cold shutdown alike). ``0``: none kept.

Web processes do not keep connections (the pool is off unless a worker turns it on): a gunicorn worker
may sit idle for hours, and the request that sends inline emails is rare; each opens and closes its own,
as before. A job (``JobConnections``) may use up to ``NOTIFICATION_SMTP_CONNECTIONS`` connections at
once, one sending thread each, when the pool is on; with the pool off it sends over one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType

from django.conf import settings

from tracker.notifications.mailer import DeliveryError, MailSession, Prepared

logger = logging.getLogger("tracker.notifications.connections")

# A refusal handed to the delivery loop: the address and what the server said.
Refusal = tuple[str, DeliveryError]


def _config() -> tuple[object, ...]:
    """What a kept connection was opened with: a change (tests, a reload) means new connections."""
    names = ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD")
    names += ("EMAIL_USE_TLS", "EMAIL_USE_SSL", "EMAIL_TIMEOUT")
    return tuple(getattr(settings, name, None) for name in names)


class ConnectionPool:
    """The process's kept connections; thread-safe. Off (nothing kept) until ``enable()``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._idle: list[tuple[MailSession, float]] = []  # (connection, monotonic time it came back)
        self._config: tuple[object, ...] | None = None
        self._pid = os.getpid()
        self._reaper: threading.Thread | None = None
        self.enabled = False

    # Turning it on and off ------------------------------------------------------------------------

    def enable(self) -> None:
        """Keep connections from job to job in this process (a worker's)."""
        self.enabled = True

    def close_all(self) -> None:
        """QUIT every kept connection (the worker stops); the pool stays usable."""
        with self._lock:
            closing, self._idle = self._idle, []
            self._changed.notify_all()
        for session, _returned in closing:
            session.close()
        if closing:
            logger.info("Closed %s kept SMTP connection(s).", len(closing))

    @property
    def idle_count(self) -> int:
        with self._lock:
            return len(self._idle)

    # Borrowing ------------------------------------------------------------------------------------

    def borrow(self) -> MailSession:
        """An open connection: a kept one that answers NOOP, else a new one (DeliveryError if none)."""
        while True:
            session = self._take_idle()
            if session is None:
                return MailSession().open()
            try:
                session.noop()
            except DeliveryError as error:
                logger.info("A kept SMTP connection no longer answers (%s); opening a new one.", error)
                session.close()
                continue
            return session

    def give_back(self, session: MailSession, *, reusable: bool) -> None:
        keep = reusable and not session.broken and session.smtp and self._keeps()
        if keep:
            with self._lock:
                keep = len(self._idle) < settings.NOTIFICATION_SMTP_CONNECTIONS
                if keep:
                    self._idle.append((session, time.monotonic()))
                    self._start_reaper()
                    self._changed.notify_all()
        if not keep:
            session.close()

    def _keeps(self) -> bool:
        return self.enabled and settings.EMAIL_CONNECTION_MAX_IDLE > 0

    def _take_idle(self) -> MailSession | None:
        stale: list[MailSession] = []
        try:
            with self._lock:
                if self._pid != os.getpid():
                    # A forked child: the sockets are its parent's, never write to them (no QUIT).
                    self._idle, self._reaper, self._pid = [], None, os.getpid()
                config = _config()
                if config != self._config:
                    stale, self._idle, self._config = [session for session, _ in self._idle], [], config
                if not self._idle or not self._keeps():
                    stale += [session for session, _ in self._idle]
                    self._idle = []
                    return None
                # The most recently used: the likeliest to be alive, and the others get to expire.
                session, returned = self._idle.pop()
                if time.monotonic() - returned >= settings.EMAIL_CONNECTION_MAX_IDLE:
                    stale.append(session)  # past its idle time; the reaper had not got to it yet
                    return None
                return session
        finally:
            for session in stale:
                session.close()

    # Closing idle connections ---------------------------------------------------------------------

    def _start_reaper(self) -> None:
        """Called with the lock held."""
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap, name="smtp-idle-close", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        while True:
            with self._lock:
                while not self._idle:
                    self._changed.wait()
                max_idle = settings.EMAIL_CONNECTION_MAX_IDLE
                now = time.monotonic()
                expired = [session for session, returned in self._idle if now - returned >= max_idle]
                self._idle = [(s, returned) for s, returned in self._idle if now - returned < max_idle]
                if not expired:
                    oldest = min(returned for _, returned in self._idle)
                    self._changed.wait(max(oldest + max_idle - now, 0.05))
                    continue
            for session in expired:
                session.close()
            logger.info(
                "Closed %s SMTP connection(s) unused for %s s (EMAIL_CONNECTION_MAX_IDLE).",
                len(expired),
                max_idle,
            )


pool = ConnectionPool()


class JobConnections:
    """One job's connections: ``with JobConnections() as session: session.deliver(...)``.

    Entering borrows the first connection (a DeliveryError here is the job's "cannot connect"); a
    group with more than one recipient may add up to ``NOTIFICATION_SMTP_CONNECTIONS - 1`` more while the
    pool is on. Leaving gives them back, or closes them all if an exception left the ``with``.
    """

    def __init__(self, connection_pool: ConnectionPool = pool) -> None:
        self.pool = connection_pool
        self.sessions: list[MailSession] = []
        self._lock = threading.Lock()

    def __enter__(self) -> JobConnections:
        self.sessions.append(self.pool.borrow())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for session in self.sessions:
            self.pool.give_back(session, reusable=exc_type is None)
        self.sessions = []

    @property
    def wanted(self) -> int:
        """Connections a group may use: more than one only in a process keeping them (a worker)."""
        if not self.pool.enabled or not self.sessions[0].smtp:
            return 1
        return settings.NOTIFICATION_SMTP_CONNECTIONS

    def prepare(self, message: object) -> Prepared:
        return self.sessions[0].prepare(message)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def deliver(
        self,
        prepared: Prepared,
        addresses: Iterable[str],
        reply_to: dict[str, str],
        accepted: Callable[[str], None],
    ) -> Iterator[Iterator[Refusal]]:
        """Send a copy to each address; yields the refusals, as they come, to the caller's loop.

        ``accepted(address)`` is called the moment the server took the address's copy, one call at a
        time (from the sending threads when there are several). The caller stops at a refusal by raising:
        the threads then stop taking addresses, and leaving waits until each has finished the copy in
        progress, so every copy the server took has been through ``accepted`` once this returns.
        """
        todo = list(addresses)
        threads = min(self.wanted, len(todo))
        if threads <= 1:
            yield self._one_by_one(self.sessions[0], prepared, todo, reply_to, accepted)
            return
        parallel = _Parallel(self, prepared, todo, reply_to, accepted, threads)
        try:
            yield parallel.refusals()
        finally:
            parallel.stop()

    def _one_by_one(
        self,
        session: MailSession,
        prepared: Prepared,
        todo: list[str],
        reply_to: dict[str, str],
        accepted: Callable[[str], None],
    ) -> Iterator[Refusal]:
        for address in todo:
            try:
                session.send(prepared, address, reply_to=reply_to.get(address))
            except DeliveryError as error:
                yield address, error
                continue
            accepted(address)

    def add_session(self) -> MailSession:
        session = self.pool.borrow()
        with self._lock:
            self.sessions.append(session)
        return session


class HeldConnections:
    """A job's connections kept across the changesets it sends one after the other (``drain``).

    Borrowed (with the pool's NOOP) at the first send rather than once per changeset, and given back
    by ``close`` when the job is done. An error in one changeset's sending gives them back at once, as
    leaving a ``JobConnections`` with an error does, so the next send borrows a checked one.
    """

    def __init__(self) -> None:
        self.job: JobConnections | None = None

    @contextlib.contextmanager
    def use(self) -> Iterator[JobConnections]:
        if self.job is None:
            job = JobConnections()
            self.job = job.__enter__()  # a DeliveryError here is this send's "cannot connect"
        try:
            yield self.job
        except BaseException as error:
            job, self.job = self.job, None
            job.__exit__(type(error), error, error.__traceback__)
            raise

    def close(self) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.__exit__(None, None, None)


class _Parallel:
    """One group over several connections: a thread per connection takes the next address."""

    def __init__(
        self,
        job: JobConnections,
        prepared: Prepared,
        todo: list[str],
        reply_to: dict[str, str],
        accepted: Callable[[str], None],
        count: int,
    ) -> None:
        self.prepared, self.reply_to, self.accepted = prepared, reply_to, accepted
        self.todo: queue.SimpleQueue[str] = queue.SimpleQueue()
        for address in todo:
            self.todo.put(address)
        self.results: queue.SimpleQueue[tuple[str, BaseException] | None] = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.accepting = threading.Lock()  # the delivery journal's connection is not thread-safe
        self.threads = [
            threading.Thread(target=self._run, args=(job, index), name=f"smtp-send-{index}", daemon=True)
            for index in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, job: JobConnections, index: int) -> None:
        try:
            if index == 0:
                session = job.sessions[0]
            else:
                try:
                    session = job.add_session()
                except DeliveryError as error:
                    # A relay limiting connections per client: the other threads send this share.
                    logger.info("Extra SMTP connection %s not opened (%s); sending over fewer.", index, error)
                    return
            while not self.stopping.is_set():
                try:
                    address = self.todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    session.send(self.prepared, address, reply_to=self.reply_to.get(address))
                except DeliveryError as error:
                    self.results.put((address, error))
                    if session.broken:
                        return  # this connection is done; the caller decides for the others
                    continue
                with self.accepting:
                    self.accepted(address)
        except BaseException as error:  # a bug must reach the job, not die with the thread
            self.results.put(("", error))
        finally:
            self.results.put(None)

    def refusals(self) -> Iterator[Refusal]:
        running = len(self.threads)
        while running:
            try:
                # A bounded wait: the job timeout's SIGALRM is handled between two waits at worst.
                item = self.results.get(timeout=1.0)
            except queue.Empty:
                continue
            if item is None:
                running -= 1
                continue
            address, error = item
            if not isinstance(error, DeliveryError):
                raise error
            yield address, error

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            # Each finishes the copy in progress, bounded by EMAIL_TIMEOUT per SMTP command.
            thread.join()
