"""A Redis Sentinel setup owned by the tests: a master, a replica and three sentinels on loopback.

Debian ships no ``redis-sentinel`` binary in the ``redis-server`` package, but ``redis-server
<conf> --sentinel`` is the same program in sentinel mode (redis.io, "High availability with Redis
Sentinel": "redis-server /path/to/sentinel.conf --sentinel"). Each sentinel needs a configuration file
it may rewrite (it records what it learns there), so each gets its own under the setup's directory.

``down-after-milliseconds`` (1 s here; 30 s by default) is how long the master must stay silent before
a sentinel calls it subjectively down; with a quorum of 2 the sentinels then agree it is objectively
down, elect a leader, and promote the replica (``failover-timeout`` bounds a stuck attempt).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
import requests

from tests.support.redis_server import RedisServer, free_port

MASTER_NAME = "tuleap"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def _wait(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} within {timeout} seconds")


class SentinelProcess:
    def __init__(
        self, directory: Path, master_port: int, password: str, quorum: int, own_password: str = ""
    ) -> None:
        self.port = free_port()
        self.own_password = own_password
        self.config = directory / f"sentinel-{self.port}.conf"
        # With requirepass, a sentinel also authenticates with it to the other sentinels (redis.io,
        # "Configuring Sentinel instances with authentication"): every sentinel gets the same one.
        protection = [f"requirepass {own_password}"] if own_password else []
        self.config.write_text(
            "\n".join(
                [
                    *protection,
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    f"dir {directory}",
                    f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master_port} {quorum}",
                    f"sentinel auth-pass {MASTER_NAME} {password}",
                    f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
                    f"sentinel parallel-syncs {MASTER_NAME} 1",
                    "",
                ]
            )
        )
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; on Debian: apt-get install redis-server")
        self.log = directory / f"sentinel-{self.port}.log"
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [binary, str(self.config), "--sentinel"], stdout=output, stderr=subprocess.STDOUT
            )

    def client(self) -> redis.Redis:
        return redis.Redis(
            "127.0.0.1",
            self.port,
            password=self.own_password or None,
            socket_timeout=2,
            socket_connect_timeout=2,
        )

    def answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
            return True

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class SentinelSetup:
    """A master, a replica of it and three sentinels watching it (quorum 2), all with one password."""

    def __init__(
        self, password: str = "sentinel-tests-password-0123456789abcdef", sentinel_password: str = ""
    ) -> None:
        """``sentinel_password``: the sentinels' own ``requirepass`` (none by default)."""
        self.password = password
        self.sentinel_password = sentinel_password
        self.directory = Path(tempfile.mkdtemp(prefix="tuleap-sentinel-"))
        common = ("--appendonly", "yes", "--masterauth", password)
        self.master = RedisServer(*common, password=password)
        self.replica = RedisServer(
            *common, "--replicaof", "127.0.0.1", str(self.master.port), password=password
        )
        self.sentinels: list[SentinelProcess] = []
        try:
            self._wait_for_replication()
            self.sentinels = [
                SentinelProcess(self.directory, self.master.port, password, 2, sentinel_password)
                for _ in range(3)
            ]
            for sentinel in self.sentinels:
                _wait(sentinel.answers, 10, "A sentinel did not start")
            self._wait_until_the_sentinels_know_each_other()
        except BaseException:
            self.stop()
            raise

    # What the application is given -----------------------------------------------------------------

    @property
    def addresses(self) -> str:
        return ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)

    @property
    def redis_url(self) -> str:
        """REDIS_URL for the application: the password and database; its host (a closed port) is unused."""
        return f"redis://:{self.password}@127.0.0.1:{free_port()}/0"

    def env(self) -> dict[str, str]:
        env = {
            "REDIS_URL": self.redis_url,
            "REDIS_SENTINELS": self.addresses,
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
        }
        if self.sentinel_password:
            env["REDIS_SENTINEL_PASSWORD"] = self.sentinel_password
        return env

    # What the sentinels say -------------------------------------------------------------------------

    def master_port(self) -> int | None:
        """The master's port according to the first sentinel that answers."""
        for sentinel in self.sentinels:
            try:
                host_port = sentinel.client().sentinel_get_master_addr_by_name(MASTER_NAME)
            except (redis.RedisError, OSError):
                continue
            if host_port:
                return int(host_port[1])
        return None

    def kill_master(self) -> float:
        """SIGKILL the master (a crash: no goodbye to the replica); returns the monotonic time of the kill."""
        os.kill(self.master.process.pid, signal.SIGKILL)
        self.master.process.wait()
        return time.monotonic()

    def wait_for_promotion(self, timeout: float = 60) -> float:
        """Wait until every sentinel names the replica as master; the monotonic time it was seen."""

        def promoted() -> bool:
            ports = set()
            for sentinel in self.sentinels:
                address = sentinel.client().sentinel_get_master_addr_by_name(MASTER_NAME)
                ports.add(int(address[1]) if address else None)
            role = self.replica.client().execute_command("ROLE")[0]
            return ports == {self.replica.port} and role in (b"master", "master")

        _wait(promoted, timeout, "The sentinels did not promote the replica")
        return time.monotonic()

    # Life --------------------------------------------------------------------------------------------

    def _wait_for_replication(self) -> None:
        def linked() -> bool:
            info = self.replica.client().info("replication")
            return info.get("master_link_status") == "up"

        _wait(linked, 30, "The replica did not sync with the master")

    def _wait_until_the_sentinels_know_each_other(self) -> None:
        # Sentinels find each other through hello messages on the master every 2 s; a failover needs
        # the quorum to know each other, and the replica to be known (found through the master's INFO).
        def acquainted() -> bool:
            for sentinel in self.sentinels:
                state = sentinel.client().sentinel_master(MASTER_NAME)
                if int(state["num-other-sentinels"]) < 2 or int(state["num-slaves"]) < 1:
                    return False
            return True

        _wait(acquainted, 30, "The sentinels did not discover each other and the replica")

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        self.master.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> SentinelSetup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# A stream of creations through the API, for the failover test and benchmark ----------------------------


@dataclass(frozen=True)
class Answer:
    """One request of the stream: when it left and came back (monotonic), its status (None: no answer)."""

    sent: float
    answered: float
    status: int | None

    @property
    def ok(self) -> bool:
        return self.status == 201


class CreationStream(threading.Thread):
    """Creates artifacts through the API, one request every ``pace`` seconds, until stopped."""

    def __init__(self, base: str, token: str, tracker_id: int, cc: list[str], pace: float = 0.1) -> None:
        super().__init__(name="creation-stream", daemon=True)
        self.base, self.tracker_id, self.cc, self.pace = base, tracker_id, cc, pace
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.answers: list[Answer] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        number = 0
        while not self._stopping.wait(self.pace):
            number += 1
            sent = time.monotonic()
            try:
                response = self.session.post(
                    f"{self.base}/api/artifacts/",
                    json={
                        "tracker": self.tracker_id,
                        "values": {"title": f"Stream #{number}", "cc": self.cc},
                    },
                    timeout=30,
                )
                status: int | None = response.status_code
            except requests.RequestException:
                status = None
            self.answers.append(Answer(sent, time.monotonic(), status))

    def answered_after(self, moment: float) -> int:
        return sum(1 for answer in list(self.answers) if answer.sent > moment and answer.ok)

    def stop(self) -> list[Answer]:
        self._stopping.set()
        self.join(timeout=60)
        return list(self.answers)


def longest_failure(answers: list[Answer]) -> float:
    """The longest time requests kept failing: from a failing run's first request to the next success."""
    longest, failing_since = 0.0, None
    for answer in answers:
        if not answer.ok:
            failing_since = answer.sent if failing_since is None else failing_since
        elif failing_since is not None:
            longest, failing_since = max(longest, answer.answered - failing_since), None
    if failing_since is not None and answers:
        longest = max(longest, answers[-1].answered - failing_since)
    return longest
