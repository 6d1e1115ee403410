"""Redis clients: one per process, kind of caller and URL, with deadlines suited to each caller, and
the breaker that makes every caller skip a Redis that just failed (see the package's docstring)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry as RedisRetry
from redis.sentinel import Sentinel

from tracker.redaction import redact_url

# Clients ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadlines:
    """How long one kind of caller may wait for Redis: connect and per-command timeouts, retries."""

    name: str
    connect: float | None
    command: float | None
    # redis-py retries without backoff; None keeps redis-py's own default (retries with backoff).
    retries: int | None
    health_check_interval: int = 0

    def client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"socket_connect_timeout": self.connect, "socket_timeout": self.command}
        if self.retries is not None:
            options["retry"] = RedisRetry(NoBackoff(), self.retries)
        if self.health_check_interval:
            options["health_check_interval"] = self.health_check_interval
        return options


# Short: a save must never wait long on an unreachable or frozen Redis (the record is safe in the
# database either way: sent inline, or recovered by the sweep). A loaded Redis answers an enqueue in
# well under a millisecond; these are the budget of one save, with no retry.
ENQUEUE = Deadlines("enqueue", connect=0.3, command=0.5, retries=0, health_check_interval=30)
# redis-py retries three times with backoff by default: seconds per event while Redis is down.
METRICS = Deadlines("metrics", connect=1, command=2, retries=0)
# Long enough for a loaded server, short enough that an unreachable Redis does not stall the run.
SYSTEM_CHECK = Deadlines("system_check", connect=3, command=5, retries=None)
# The supervisor's loop restarts dead workers: a hung Redis must not hold it (it tries again next round).
SUPERVISOR = Deadlines("supervisor", connect=2, command=5, retries=0)
# An rq Worker raises the socket timeout of its client's pool above its blocking dequeue; never give it
# a client another caller shares.
RQ_WORKER = Deadlines("rq_worker", connect=None, command=None, retries=None)

_clients: dict[tuple[str, str], redis.Redis] = {}
_clients_lock = threading.Lock()


def _connect(url: str, deadlines: Deadlines) -> redis.Redis:
    """The one place a URL becomes a client (with Sentinel, the master it names)."""
    if settings.REDIS_SENTINEL is None:
        return redis.Redis.from_url(url, **deadlines.client_options())
    # redis-py's SentinelConnectionPool asks the sentinels for the master's address whenever one of
    # its connections (re)connects, and drops its idle connections when that address changed
    # (redis/sentinel.py, SentinelConnectionPoolProxy.get_master_address): after a failover the next
    # command that fails on the old master disconnects, and the one after it reaches the new master,
    # with no restart. A demoted master's READONLY answer also disconnects (SentinelManagedConnection).
    return sentinel_manager(deadlines).master_for(
        settings.REDIS_SENTINEL.master,
        redis_class=redis.Redis,
        **_node_options(url),
        **deadlines.client_options(),
    )


# A sentinel answers from memory: this bounds each question to one when a caller sets no deadline
# of its own (the rq Worker's client), so a dead sentinel host costs seconds, not the OS's minutes.
SENTINEL_QUESTION_SECONDS = 2.0


def sentinel_manager(deadlines: Deadlines) -> Sentinel:
    """The sentinels of ``settings.REDIS_SENTINEL``, asked with ``deadlines`` (each sentinel in turn)."""
    config = settings.REDIS_SENTINEL
    if config is None:
        raise RuntimeError("REDIS_SENTINELS is not set")
    sentinel_options: dict[str, Any] = {
        "socket_connect_timeout": deadlines.connect or SENTINEL_QUESTION_SECONDS,
        "socket_timeout": deadlines.command or SENTINEL_QUESTION_SECONDS,
        "retry": RedisRetry(NoBackoff(), 0),
    }
    if config.password:
        sentinel_options["password"] = config.password
    return Sentinel(list(config.sentinels), sentinel_kwargs=sentinel_options)


def _node_options(url: str) -> dict[str, Any]:
    """What of ``REDIS_URL`` applies to the master the sentinels name: credentials, database, TLS."""
    options = parse_url(url)
    node: dict[str, Any] = {"db": options.get("db", 0)}
    for key in ("username", "password"):
        if options.get(key):
            node[key] = options[key]
    if url.startswith("rediss:"):
        node["ssl"] = True
    return node


def redis_label(url: str) -> str:
    """Which Redis a client of ``url`` uses, for a message: the URL without its password, or with
    Sentinel the master's name and the sentinels (the URL's host is then not used)."""
    config = settings.REDIS_SENTINEL
    if config is None:
        return redact_url(url)
    return f"master {config.master!r} of the sentinels {config.addresses}"


def master_address(deadlines: Deadlines = SYSTEM_CHECK) -> tuple[str, int]:
    """Where the sentinels say the master is now; raises redis.ConnectionError (MasterNotFoundError)."""
    manager = sentinel_manager(deadlines)
    try:
        return manager.discover_master(settings.REDIS_SENTINEL.master)
    finally:
        manager.close()


def redis_client(deadlines: Deadlines = ENQUEUE, *, url: str | None = None) -> redis.Redis:
    """The process's client for this kind of caller and URL (``REDIS_URL`` unless told)."""
    key = (deadlines.name, url or settings.REDIS_URL)
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = _connect(key[1], deadlines)
    return client


def queue_url(name: str) -> str:
    # With Sentinel the entries carry django-rq's SENTINELS keys instead of a URL; REDIS_URL then only
    # lends its credentials and database (_node_options).
    return settings.RQ_QUEUES[name].get("URL", settings.REDIS_URL)


def queue_client(name: str, deadlines: Deadlines = ENQUEUE) -> redis.Redis:
    """The process's client for the Redis of queue ``name`` (the delivery journal lives there too)."""
    return redis_client(deadlines, url=queue_url(name))


def new_client(url: str, deadlines: Deadlines) -> redis.Redis:
    """A client nobody else uses, for one run (the system check: rq's Worker.all rewrites its pool)."""
    return _connect(url, deadlines)


@contextlib.contextmanager
def anonymous_client(url: str, deadlines: Deadlines = SYSTEM_CHECK) -> Iterator[redis.Redis]:
    """A client of the same server without the URL's credentials, closed on exit."""
    options = parse_url(url)
    options.pop("username", None)
    options.pop("password", None)
    if settings.REDIS_SENTINEL is not None:
        options["host"], options["port"] = master_address(deadlines)
    # RESP2, so the server answers PING with the plain NOAUTH error rather than refusing HELLO.
    pool = redis.ConnectionPool(
        protocol=2,
        socket_connect_timeout=deadlines.connect,
        socket_timeout=deadlines.command,
        **options,
    )
    client = redis.Redis(connection_pool=pool)
    try:
        yield client
    finally:
        client.close()
        pool.disconnect()


def unpooled_connection(client: redis.Redis, **overrides: Any) -> redis.Connection:
    """A connected connection to ``client``'s server, outside its pool: the caller owns and closes it."""
    pool = client.connection_pool
    connection = pool.connection_class(**{**pool.connection_kwargs, **overrides})
    connection.connect()
    return connection


# Skipping a Redis that just failed --------------------------------------------------------------


# After a failure, every caller of that Redis skips it this long: the enqueue and the metrics store.
BREAKER_SECONDS = 5.0


class RedisSkipped(redis.ConnectionError):
    """Not tried: this Redis failed moments ago. ``timed_out``: it was frozen rather than refusing."""

    def __init__(self, message: str, *, timed_out: bool) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass
class Breaker:
    """Whether callers should leave a Redis alone for a moment because it failed moments ago."""

    open_until: float = field(default=0.0)
    # Whether the failure was a timeout (a frozen or overloaded Redis) rather than a refusal.
    timed_out: bool = False

    def is_open(self) -> bool:
        return self.open_until > time.monotonic()

    def trip(self, seconds: float, *, timed_out: bool = False) -> None:
        self.open_until = time.monotonic() + seconds
        self.timed_out = timed_out

    def trip_on(self, error: BaseException, seconds: float = BREAKER_SECONDS) -> None:
        self.trip(seconds, timed_out=timed_out(error))

    def close(self) -> None:
        self.open_until = 0.0
        self.timed_out = False

    def check(self) -> None:
        """Raise RedisSkipped while open."""
        if self.is_open():
            raise RedisSkipped(
                "Redis failed moments ago; not tried again for a few seconds", timed_out=self.timed_out
            )


def timed_out(error: BaseException) -> bool:
    """A Redis that did not answer in time (frozen, overloaded), as opposed to one refusing connections."""
    if isinstance(error, RedisSkipped):
        return error.timed_out
    return isinstance(error, redis.TimeoutError | TimeoutError)


_breakers: dict[str, Breaker] = {}


def breaker(url: str) -> Breaker:
    """The process's breaker for the Redis at ``url``, shared by every caller of that Redis."""
    found = _breakers.get(url)
    return found if found is not None else _breakers.setdefault(url, Breaker())


def reset() -> None:
    """Close every client and forget every failure, as a new process would (for tests)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    _breakers.clear()
    for client in clients:
        client.close()
