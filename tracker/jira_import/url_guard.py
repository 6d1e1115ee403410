"""Refusing Jira URLs that would make the server reach inside its own network (SSRF).

A Jira URL must be http or https, and its host must resolve only to public addresses, unless the host
is listed in ``JIRA_ALLOWED_HOSTS`` (for an on-premises Jira, and for the tests' loopback server).
Redirects are held to the same rule by :class:`GuardedAdapter`.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from tracker.jira_import import deadline

# Cloud metadata endpoints that are not covered by the private/link-local ranges everywhere.
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class RefusedURL(ValueError):
    """The URL may not be reached from this server; the message says why, for the user."""

    field = "url"  # what to correct, as for JiraAccessError


def allowed_hosts() -> set[str]:
    return {host.strip().lower() for host in getattr(settings, "JIRA_ALLOWED_HOSTS", []) if host.strip()}


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Only globally routable addresses; IPv6 forms that embed an IPv4 address are judged by it."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            address = embedded
    return address.is_global and not address.is_multicast and address not in METADATA_ADDRESSES


def _resolve(host: str, port: int) -> Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise RefusedURL(f"The host {host!r} cannot be found; check the Jira URL.") from None
    return {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}


def check_url(url: str) -> str:
    """The URL, normalized (no trailing slash), or RefusedURL with a message for the user."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise RefusedURL("This is not a valid URL.") from None
    if parts.scheme not in {"http", "https"}:
        raise RefusedURL("The Jira URL must start with http:// or https://.")
    if not parts.hostname:
        raise RefusedURL("The Jira URL has no host name.")
    if parts.username or parts.password:
        raise RefusedURL("Do not put credentials in the URL; use the credential fields.")
    host = parts.hostname.lower()
    if host not in allowed_hosts():
        port = port or (443 if parts.scheme == "https" else 80)
        refused = [str(address) for address in _resolve(host, port) if not _is_public(address)]
        if refused:
            raise RefusedURL(
                f"{host} resolves to an internal address ({', '.join(sorted(refused))}); this server does "
                "not connect to internal addresses. An administrator may allow it in JIRA_ALLOWED_HOSTS."
            )
    return url.rstrip("/")


class _PeerCheckedConnection:
    """Checks the address a connection actually reached, not only what an earlier lookup said.

    The host name is resolved again when connecting: a DNS answer that changed in between (DNS
    rebinding) would otherwise lead a public-looking name to an internal address.
    """

    host: str

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        if self.host.lower() not in allowed_hosts():
            peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
            if not _is_public(peer):
                sock.close()
                raise RefusedURL(
                    f"{self.host} led to an internal address ({peer}); this server does not connect to "
                    "internal addresses. An administrator may allow it in JIRA_ALLOWED_HOSTS."
                )
        return sock


class _CheckedHTTPConnection(_PeerCheckedConnection, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_PeerCheckedConnection, HTTPSConnection):
    pass


class _WatchedPool:
    """Tells the request's deadline watch which connection carries it (:mod:`.deadline`)."""

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        deadline.attach(conn)
        return super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]


class _CheckedHTTPConnectionPool(_WatchedPool, HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(_WatchedPool, HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """Checks every request (redirects included) against :func:`check_url` before sending it, and
    every connection against the address it really reached."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }

    def send(self, request: Any, **kwargs: Any) -> Any:
        check_url(request.url)
        return super().send(request, **kwargs)
