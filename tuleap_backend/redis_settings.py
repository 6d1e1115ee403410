"""Redis configuration: ``REDIS_SENTINELS`` and its companions, and django-rq's ``RQ_QUEUES`` built from them.

The settings read these once; ``tracker.queues`` builds every Redis client from ``settings.REDIS_SENTINEL``
and ``settings.REDIS_URL``, and django-rq connects itself from ``settings.RQ_QUEUES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tracker.plain_numbers import is_plain_number
from tuleap_backend.env import ConfigurationError, Env


@dataclass(frozen=True)
class RedisSentinel:
    """``REDIS_SENTINELS``, ``REDIS_SENTINEL_MASTER``, ``REDIS_SENTINEL_PASSWORD``: Redis behind Sentinel.

    ``sentinels`` are (host, port) pairs; ``master`` is the service name the sentinels monitor
    (``sentinel monitor <master> ...`` in their configuration); ``password`` is the sentinels' own
    (their ``requirepass``), empty when they take none. The masters' and replicas' password, user name
    and database number stay in ``REDIS_URL``, whose host and port are then not used.
    """

    sentinels: tuple[tuple[str, int], ...]
    master: str
    password: str = ""

    @property
    def addresses(self) -> str:
        """``host:port,host:port`` as an operator wrote it, for messages."""
        return ",".join(
            f"[{host}]:{port}" if ":" in host else f"{host}:{port}" for host, port in self.sentinels
        )

    def rq_connection(
        self, redis_url: str, *, connect_timeout: float, sentinel_timeout: float
    ) -> dict[str, Any]:
        """The keys of a ``settings.RQ_QUEUES`` entry that make django-rq connect through the sentinels.

        django-rq's ``get_redis_connection`` (django_rq/connection_utils.py, 4.2) uses ``URL`` first when
        an entry has one, so the entry must drop it; with ``SENTINELS`` it builds
        ``Sentinel(SENTINELS, sentinel_kwargs=SENTINEL_KWARGS, db=..., password=..., username=...,
        socket_timeout=SOCKET_TIMEOUT, **CONNECTION_KWARGS).master_for(MASTER_NAME)``. No socket timeout
        on the master's connections: an rq Worker raises it above its blocking dequeue itself, as with
        a URL; the connect timeout bounds each reconnection after a failover.
        """
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(redis_url)
        database = parts.path.lstrip("/") or "0"
        connection_kwargs: dict[str, Any] = {"socket_connect_timeout": connect_timeout}
        if parts.scheme == "rediss":
            connection_kwargs["ssl"] = True
        sentinel_kwargs: dict[str, Any] = {
            "socket_connect_timeout": sentinel_timeout,
            "socket_timeout": sentinel_timeout,
        }
        if self.password:
            sentinel_kwargs["password"] = self.password
        return {
            "SENTINELS": list(self.sentinels),
            "MASTER_NAME": self.master,
            "DB": int(database),
            "USERNAME": unquote(parts.username) if parts.username else None,
            "PASSWORD": unquote(parts.password) if parts.password else None,
            "SOCKET_TIMEOUT": None,
            "CONNECTION_KWARGS": connection_kwargs,
            "SENTINEL_KWARGS": sentinel_kwargs,
        }


def parse_sentinel_addresses(name: str, raw: str) -> tuple[tuple[str, int], ...]:
    """``host:port,host:port`` (an IPv6 host in brackets: ``[::1]:26379``) as (host, port) pairs."""
    found: list[tuple[str, int]] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        host, separator, port_text = item.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if (
            not separator
            or not host
            or not is_plain_number(port_text, max_digits=5)
            or not 0 < int(port_text) < 65536
        ):
            raise ConfigurationError(
                f"{name}={raw!r} is not a list of sentinels; use host:port pairs separated by commas, "
                "such as 10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379."
            )
        if (host, int(port_text)) not in found:
            found.append((host, int(port_text)))
    return tuple(found)


def redis_sentinel(env: Env, redis_url: str) -> RedisSentinel | None:
    """The Sentinel settings, None when ``REDIS_SENTINELS`` is unset (Redis is then ``REDIS_URL`` itself)."""
    raw = env.str("REDIS_SENTINELS")
    master = env.str("REDIS_SENTINEL_MASTER")
    password = env.str("REDIS_SENTINEL_PASSWORD")
    if not raw:
        for other, value in (("REDIS_SENTINEL_MASTER", master), ("REDIS_SENTINEL_PASSWORD", password)):
            if value:
                raise ConfigurationError(
                    f"{other} is set but REDIS_SENTINELS is not; set REDIS_SENTINELS to the sentinels' "
                    "host:port list, or unset it."
                )
        return None
    sentinels = parse_sentinel_addresses("REDIS_SENTINELS", raw)
    if not sentinels:
        raise ConfigurationError(f"REDIS_SENTINELS={raw!r} names no sentinel; use host:port,host:port,...")
    if not master or any(character.isspace() for character in master):
        raise ConfigurationError(
            f"REDIS_SENTINEL_MASTER={master!r} is not a service name; with REDIS_SENTINELS set, name the "
            "master the sentinels monitor (their `sentinel monitor <name> ...` line), such as mymaster."
        )
    if redis_url.startswith("unix:"):
        raise ConfigurationError(
            "REDIS_URL is a unix socket, but REDIS_SENTINELS is set: the sentinels hand out TCP addresses. "
            "Use redis://[:password@]any-host/db (only its password, user and database are used)."
        )
    return RedisSentinel(sentinels=sentinels, master=master, password=password)


def rq_queues(
    redis_url: str, sentinel: RedisSentinel | None, timeouts: Mapping[str, int]
) -> dict[str, dict[str, Any]]:
    """``settings.RQ_QUEUES``: each queue of ``timeouts`` with its default job timeout (seconds), at
    ``REDIS_URL``, or through the sentinels when ``sentinel`` is set."""
    if sentinel is None:
        return {name: {"URL": redis_url, "DEFAULT_TIMEOUT": timeout} for name, timeout in timeouts.items()}
    # What django-rq connects itself (manage.py rqworker, its admin pages, the RQ collector) goes through
    # the sentinels too: 5 s to connect to the master (each reconnection after a failover), 2 s per
    # sentinel question; rq's Worker sets the master's socket timeout itself.
    return {
        name: {
            "DEFAULT_TIMEOUT": timeout,
            **sentinel.rq_connection(redis_url, connect_timeout=5, sentinel_timeout=2),
        }
        for name, timeout in timeouts.items()
    }
