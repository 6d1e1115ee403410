"""Redis Sentinel settings: the documented forms parse, wrong ones stop start-up with one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tuleap_backend.env import ConfigurationError, Env
from tuleap_backend.redis_settings import RedisSentinel, redis_sentinel, rq_queues

URL = "redis://:data-password@unused-host:6379/2"


def sentinel_of(**environ: str) -> RedisSentinel | None:
    return redis_sentinel(Env(environ), environ.get("REDIS_URL", URL))


def test_no_sentinels_means_redis_url_is_the_server() -> None:
    assert sentinel_of() is None


def test_sentinels_master_and_password_parse() -> None:
    found = sentinel_of(
        REDIS_SENTINELS=" 10.0.0.1:26379, sentinel-b:26380,[::1]:26381 ",
        REDIS_SENTINEL_MASTER="mymaster",
        REDIS_SENTINEL_PASSWORD="sentinels-own",
    )
    assert found == RedisSentinel(
        sentinels=(("10.0.0.1", 26379), ("sentinel-b", 26380), ("::1", 26381)),
        master="mymaster",
        password="sentinels-own",
    )
    assert found.addresses == "10.0.0.1:26379,sentinel-b:26380,[::1]:26381"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"REDIS_SENTINELS": "10.0.0.1", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS="),
        ({"REDIS_SENTINELS": "10.0.0.1:port", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS="),
        ({"REDIS_SENTINELS": "10.0.0.1:70000", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS="),
        ({"REDIS_SENTINELS": ":26379", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS="),
        ({"REDIS_SENTINELS": " , ", "REDIS_SENTINEL_MASTER": "m"}, "names no sentinel"),
        ({"REDIS_SENTINELS": "h:26379"}, "REDIS_SENTINEL_MASTER=''"),
        ({"REDIS_SENTINELS": "h:26379", "REDIS_SENTINEL_MASTER": "my master"}, "REDIS_SENTINEL_MASTER="),
        ({"REDIS_SENTINEL_MASTER": "mymaster"}, "REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is not"),
        ({"REDIS_SENTINEL_PASSWORD": "x"}, "REDIS_SENTINEL_PASSWORD is set but REDIS_SENTINELS is not"),
        (
            {
                "REDIS_SENTINELS": "h:26379",
                "REDIS_SENTINEL_MASTER": "m",
                "REDIS_URL": "unix:///run/redis.sock",
            },
            "unix socket",
        ),
    ],
)
def test_wrong_sentinel_settings_are_refused_naming_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        sentinel_of(**environ)
    assert named in str(error.value)


def test_django_rq_gets_the_sentinels_the_master_and_redis_urls_credentials() -> None:
    found = sentinel_of(
        REDIS_SENTINELS="h:26379,k:26379", REDIS_SENTINEL_MASTER="m", REDIS_SENTINEL_PASSWORD="s"
    )
    assert found is not None
    options = found.rq_connection("rediss://worker:p%40ss@ignored:1/3", connect_timeout=5, sentinel_timeout=2)
    assert options == {
        "SENTINELS": [("h", 26379), ("k", 26379)],
        "MASTER_NAME": "m",
        "DB": 3,
        "USERNAME": "worker",
        "PASSWORD": "p@ss",
        "SOCKET_TIMEOUT": None,
        "CONNECTION_KWARGS": {"socket_connect_timeout": 5, "ssl": True},
        "SENTINEL_KWARGS": {"socket_connect_timeout": 2, "socket_timeout": 2, "password": "s"},
    }


def test_rq_queues_keep_their_timeouts_at_redis_url_or_behind_the_sentinels() -> None:
    timeouts = {"notifications": 300, "jira_import": 21600}
    assert rq_queues(URL, None, timeouts) == {
        "notifications": {"URL": URL, "DEFAULT_TIMEOUT": 300},
        "jira_import": {"URL": URL, "DEFAULT_TIMEOUT": 21600},
    }
    found = sentinel_of(REDIS_SENTINELS="h:26379", REDIS_SENTINEL_MASTER="m")
    behind = rq_queues(URL, found, timeouts)
    assert {name: queue["DEFAULT_TIMEOUT"] for name, queue in behind.items()} == timeouts
    for queue in behind.values():
        # django-rq takes URL over SENTINELS: it must be gone for the sentinels to be asked at all.
        assert "URL" not in queue and queue["MASTER_NAME"] == "m" and queue["DB"] == 2
    # It should give each queue its own connection options: changing one leaves the other alone.
    behind["notifications"]["CONNECTION_KWARGS"]["socket_connect_timeout"] = 1
    assert behind["jira_import"]["CONNECTION_KWARGS"]["socket_connect_timeout"] == 5


def manage_check(**environ: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 50, **environ},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_a_wrong_sentinel_list_stops_start_up_with_one_line() -> None:
    result = manage_check(REDIS_SENTINELS="10.0.0.1:26379,10.0.0.2", REDIS_SENTINEL_MASTER="mymaster")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Configuration error:") and "REDIS_SENTINELS" in lines[0]


def test_every_queue_of_django_rq_goes_through_the_sentinels() -> None:
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps({name: sorted(q) for name, q in settings.RQ_QUEUES.items()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tuleap_backend.settings",
            "SECRET_KEY": "x" * 50,
            "REDIS_URL": URL,
            "REDIS_SENTINELS": "127.0.0.1:26379",
            "REDIS_SENTINEL_MASTER": "mymaster",
        },
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    import json

    queues = json.loads(result.stdout)
    assert set(queues) == {"notifications", "jira_import", "incoming_email"}
    for keys in queues.values():
        assert "URL" not in keys and {"SENTINELS", "MASTER_NAME", "PASSWORD", "DB"} <= set(keys)
