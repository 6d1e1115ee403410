"""The Jira URL guard (no reaching inside our network) and the token vault."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tracker.jira_import import url_guard, vault


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://10.0.0.5/jira",
        "http://192.168.1.10",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080",
        "http://0.0.0.0",
        "http://[::ffff:127.0.0.1]",
        "http://100.100.100.200/latest/meta-data",  # shared address space: a cloud metadata service
        "http://[2002:7f00:1::]",  # 6to4 wrapping 127.0.0.1
        "http://[2002:a00:5::]",  # 6to4 wrapping 10.0.0.5
    ],
)
def test_internal_addresses_are_refused(url: str, settings) -> None:
    settings.JIRA_ALLOWED_HOSTS = []
    with pytest.raises(url_guard.RefusedURL, match="internal address"):
        url_guard.check_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://jira.example.com", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https://", "no host"),
        ("https://user:pw@jira.example.com", "credentials"),
        ("http://jira.example.com:notaport", "not a valid URL"),
        ("", "http:// or https://"),
    ],
)
def test_malformed_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(url_guard.RefusedURL, match=message):
        url_guard.check_url(url)


def test_an_unknown_host_is_refused_clearly() -> None:
    with pytest.raises(url_guard.RefusedURL, match="cannot be found"):
        url_guard.check_url("https://no-such-host.invalid")


def test_allowed_hosts_may_be_internal(settings) -> None:
    settings.JIRA_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    assert url_guard.check_url("http://127.0.0.1:8080/jira/") == "http://127.0.0.1:8080/jira"
    assert url_guard.check_url("http://LOCALHOST:1") == "http://LOCALHOST:1"


@pytest.fixture
def redirecting_server() -> Iterator[str]:
    """A loopback server whose /jump redirects to a host name resolving to an internal address."""

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/jump":
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{self.server.server_port}/inside")
            else:
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_redirects_are_held_to_the_same_rule(settings, redirecting_server: str) -> None:
    settings.JIRA_ALLOWED_HOSTS = ["127.0.0.1"]
    session = requests.Session()
    session.mount("http://", url_guard.GuardedAdapter())
    assert session.get(f"{redirecting_server}/ok", timeout=5).status_code == 200
    # It should refuse to follow the redirect to "localhost", which is not in the allowed list.
    with pytest.raises(url_guard.RefusedURL, match="localhost resolves to an internal address"):
        session.get(f"{redirecting_server}/jump", timeout=5)


def test_tokens_are_encrypted_and_round_trip(settings) -> None:
    blob = vault.encrypt("atlassian-token-123")
    assert "atlassian-token-123" not in blob
    assert vault.decrypt(blob) == "atlassian-token-123"
    settings.SECRET_KEY = "another-key-entirely-" * 3
    with pytest.raises(vault.TokenUnavailable, match="cannot be decrypted"):
        vault.decrypt(blob)
    with pytest.raises(vault.TokenUnavailable, match="erased"):
        vault.decrypt("")


def test_a_name_that_rebinds_to_an_internal_address_is_refused_at_connection(
    settings, redirecting_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the check's lookup sees a public address, the connection's lookup loopback.

    A real rebinding DNS server cannot run here, so the resolver is the one thing replaced.
    """
    settings.JIRA_ALLOWED_HOSTS = []
    port = int(redirecting_server.rsplit(":", 1)[1])
    real_getaddrinfo = socket.getaddrinfo
    answers: list[str] = []

    def rebinding(host: str, *args: object, **kwargs: object) -> object:
        if host == "rebind.example":
            # The guard asks with proto=IPPROTO_TCP; urllib3's connection asks without it.
            ip = "93.184.216.34" if kwargs.get("proto") == socket.IPPROTO_TCP else "127.0.0.1"
            answers.append(ip)
            return real_getaddrinfo(ip, *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", url_guard.GuardedAdapter())
    with pytest.raises(url_guard.RefusedURL, match=r"led to an internal address \(127\.0\.0\.1\)"):
        session.get(f"http://rebind.example:{port}/ok", timeout=5)
    assert answers == ["93.184.216.34", "127.0.0.1"]
