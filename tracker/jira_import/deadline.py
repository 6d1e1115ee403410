"""Wall-clock deadlines for Jira requests, connect to last byte, and cancels that cut a request short.

``requests``' ``timeout=`` bounds each socket operation, not the whole call: a server sending one
byte a second keeps a read alive for ever, and a body read in 64 KB chunks blocks inside one chunk.
So every request of a :class:`~tracker.jira_import.client.JiraClient` runs under a :class:`Watch`
(its deadline, and optionally a probe saying whether the import was cancelled), and one
:class:`Watchdog` thread per client shuts the request's socket down when the deadline passes or the
probe says so: the blocked read returns at once, whatever the server does. The client also checks the
deadline between the chunks it reads, so a fast but endless body stops too.

The connection a request uses is known from the URL guard's connection pools
(:mod:`tracker.jira_import.url_guard`), which call :func:`attach` with it before sending.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

# Probing for a cancel costs a query: only for requests that have lasted this long, this often.
PROBE_AFTER = 1.0
PROBE_EVERY = 1.0
TICK = 0.1

_active = threading.local()

CancelProbe = Callable[[], bool]


class RequestCancelled(Exception):
    """The import was cancelled while this request was in flight; it was cut short."""


class Watch:
    """One request's deadline (``time.monotonic()`` seconds), and why it was aborted, if it was."""

    def __init__(self, deadline: float, probe: CancelProbe | None) -> None:
        self.deadline = deadline
        self.probe = probe
        self.started = time.monotonic()
        self.last_probe = self.started
        self.connection: Any = None
        self.reason: str | None = None  # "deadline" or "cancelled"

    @property
    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def attach(self, connection: Any) -> None:
        self.connection = connection

    def abort(self, reason: str) -> None:
        """Shut the connection down: a read blocked on it returns now. Safe to call again."""
        self.reason = self.reason or reason
        sock = getattr(self.connection, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError, ValueError):
                sock.shutdown(socket.SHUT_RDWR)

    def check(self) -> None:
        """For the reading loop: raise TimeoutError once the deadline has passed."""
        if self.reason is None and time.monotonic() >= self.deadline:
            self.abort("deadline")
        if self.reason is not None:
            raise TimeoutError(self.reason)


def attach(connection: Any) -> None:
    """Called by the URL guard's pools with the connection about to carry this thread's request."""
    watch: Watch | None = getattr(_active, "watch", None)
    if watch is not None:
        watch.attach(connection)
        if watch.reason is not None:
            watch.abort(watch.reason)


class Watchdog:
    """Aborts the request in flight (one at a time: the client sends one request at a time)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._watch: Watch | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self, deadline: float, probe: CancelProbe | None = None) -> Iterator[Watch]:
        watch = Watch(deadline, probe)
        _active.watch = watch
        with self._condition:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="jira-request-watchdog", daemon=True)
                self._thread.start()
            self._watch = watch
            self._condition.notify_all()
        try:
            yield watch
        finally:
            _active.watch = None
            with self._condition:
                self._watch = None
                self._condition.notify_all()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while True:
                with self._condition:
                    while self._watch is None and not self._closed:
                        self._condition.wait()
                    if self._closed:
                        return
                    watch = self._watch
                    self._condition.wait(timeout=max(0.0, min(TICK, watch.remaining)))
                    if self._watch is not watch:
                        continue
                if watch.reason is not None:
                    watch.abort(watch.reason)  # the socket may have appeared since
                elif watch.remaining <= 0:
                    watch.abort("deadline")
                elif watch.probe is not None and self._probe_due(watch) and _probe(watch.probe):
                    watch.abort("cancelled")
        finally:
            _close_thread_connections()

    @staticmethod
    def _probe_due(watch: Watch) -> bool:
        now = time.monotonic()
        if now - watch.started < PROBE_AFTER or now - watch.last_probe < PROBE_EVERY:
            return False
        watch.last_probe = now
        return True


def _probe(probe: CancelProbe) -> bool:
    try:
        return bool(probe())
    except Exception:  # a database hiccup is not a cancel; the import's checkpoints look again
        return False


def _close_thread_connections() -> None:
    # The probe queries the database from this thread: Django opened a connection for it.
    from django.db import connections

    connections.close_all()
