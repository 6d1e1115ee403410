"""A timed SMTP relay in a process of its own, for the benchmarks that run the web side in theirs.

Why a process: the tests' aiosmtpd server runs in a thread, and a thread of the benchmark's process
waits for the interpreter whenever that process is busy serving API requests (up to the 5 ms switch
interval at each SMTP command). The workers' emails would then wait for the benchmark, not for the
relay: a real relay is never inside the web process. The relay notes each email's arrival time (wall
clock) and answers the benchmark's questions over a pipe.
"""

from __future__ import annotations

import multiprocessing
import re
import time
from multiprocessing.connection import Connection
from typing import Any

ARTIFACT_HEADER = re.compile(rb"^X-Tuleap-Artifact-Id: *(\d+)", re.MULTILINE | re.IGNORECASE)


def _serve(pipe: Connection) -> None:
    from tests.support.smtp import Received, SMTPServer

    arrivals: list[tuple[float, int | None, int]] = []  # (arrived, artifact id, envelope recipients)

    class TimedSink(SMTPServer):
        def record(self, received: Received) -> None:
            arrived = time.time()  # first thing in DATA: the email is in the mailbox from here
            super().record(received)
            match = ARTIFACT_HEADER.search(received.content)
            with self._lock:
                arrivals.append((arrived, int(match.group(1)) if match else None, len(received.rcpt_tos)))

    sink = TimedSink()
    pipe.send(sink.port)
    while True:
        command, *args = pipe.recv()
        if command == "stop":
            sink.stop()
            pipe.send(None)
            return
        with sink._lock:
            if command == "delay":
                sink.behaviour.rcpt_delay = args[0]
                answer: Any = None
            elif command == "clear":
                arrivals.clear()
                answer = None
            elif command == "count":
                answer = sum(count for _, _, count in arrivals)
            elif command == "arrivals":
                answer = list(arrivals)
            elif command == "addresses":
                answer = None
            else:
                answer = ValueError(f"unknown relay command {command!r}")
        if command == "clear":
            sink.clear()
        elif command == "addresses":
            answer = sink.addresses()
        pipe.send(answer)


class RelayProcess:
    """The benchmark's side: start, ask, stop."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        self.port: int = self._answer(timeout=60)

    def _answer(self, timeout: float = 30) -> Any:
        if not self.pipe.poll(timeout):
            raise SystemExit("the relay process did not answer")
        answer = self.pipe.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _ask(self, *command: Any) -> Any:
        self.pipe.send(command)
        return self._answer()

    def set_rcpt_delay(self, seconds: float) -> None:
        self._ask("delay", seconds)

    def clear(self) -> None:
        self._ask("clear")

    def delivered(self) -> int:
        """Emails delivered, counted once per envelope recipient."""
        return int(self._ask("count"))

    def wait_for_addresses(self, count: int, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.delivered() < count:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def addresses(self) -> list[str]:
        """Every envelope recipient of every email received, in arrival order."""
        return list(self._ask("addresses"))

    def last_arrival(self) -> float:
        return max((arrived for arrived, _, _ in self._ask("arrivals")), default=0.0)

    def arrivals_by_artifact(self) -> dict[int, list[float]]:
        """Artifact id -> the arrival time of each email sent for it, once per envelope recipient."""
        by_artifact: dict[int, list[float]] = {}
        for arrived, artifact, count in self._ask("arrivals"):
            if artifact is not None:
                by_artifact.setdefault(artifact, []).extend([arrived] * count)
        return by_artifact

    def stop(self) -> None:
        if self.process.is_alive():
            self._ask("stop")
        self.process.join(timeout=30)
