"""What `make run` (tuleap_backend/run.py) says about the Redis it uses."""

from __future__ import annotations

from tests.conftest import TestRedis
from tests.support.redis_server import RedisServer
from tuleap_backend import run


def test_make_run_names_the_redis_it_uses_without_its_password(test_redis: TestRedis, capsys) -> None:
    env = {"REDIS_URL": test_redis.url}

    assert run.redis_for_run(env) is None  # it answers: nothing started

    said = capsys.readouterr().out
    assert "Using the Redis that answers at redis://:***@127.0.0.1:" in said
    assert "no password" not in said
    assert env["REDIS_URL"] == test_redis.url


def test_make_run_warns_when_the_redis_it_uses_has_no_password(capsys) -> None:
    with RedisServer() as server:
        env = {"REDIS_URL": server.url}
        assert run.redis_for_run(env) is None

    said = capsys.readouterr().out
    assert f"Using the Redis that answers at {server.url}." in said
    assert "Warning: that Redis has no password in REDIS_URL" in said
