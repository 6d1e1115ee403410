"""The pid files of the backend workers: where the supervisor and its workers say they run.

They live in ``WORKER_RUN_DIR`` (``var/run/``): ``backend_workers.pid`` for the supervisor, locked with
``flock`` for as long as it runs (a second start, ``status`` and ``stop`` see whether it really runs: the
lock dies with the process, so a stale file left by a crash is recognised), and
``worker-<queue>-<n>.pid`` (its pid, then its name) for each worker.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

SUPERVISOR_PID_FILE = "backend_workers.pid"


def run_dir() -> Path:
    return Path(settings.WORKER_RUN_DIR)


def supervisor_pid_file() -> Path:
    return run_dir() / SUPERVISOR_PID_FILE


def read_pid(path: Path) -> tuple[int | None, list[str]]:
    try:
        lines = path.read_text().split()
    except (FileNotFoundError, ValueError):
        return None, []
    try:
        return int(lines[0]), lines[1:]
    except (IndexError, ValueError):
        return None, []


def running_supervisor_pid() -> int | None:
    """The pid of the running supervisor, or None (no pid file, or a stale one: nobody holds its lock)."""
    path = supervisor_pid_file()
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, _ = read_pid(path)
            return pid
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def is_worker_process(pid: int) -> bool:
    """Alive and an rqworker (a recycled pid belongs to somebody else)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return b"rqworker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the signal


@dataclass
class WorkerState:
    queue: str
    slot: int
    pid: int | None
    name: str
    alive: bool


def worker_states() -> list[WorkerState]:
    """What the worker pid files say, and whether each process is alive."""
    states = []
    for path in sorted(run_dir().glob("worker-*.pid")):
        queue, _, slot = path.stem.removeprefix("worker-").rpartition("-")
        pid, rest = read_pid(path)
        states.append(
            WorkerState(
                queue=queue,
                slot=int(slot) if slot.isdigit() else 0,
                pid=pid,
                name=rest[0] if rest else "",
                alive=pid is not None and is_worker_process(pid),
            )
        )
    return states


def request_stop(timeout: float) -> bool:
    """Ask the running supervisor to stop (SIGTERM) and wait for it; False if it did not in time."""
    pid = running_supervisor_pid()
    if pid is None:
        return True
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_supervisor_pid() is None:
            return True
        time.sleep(0.2)
    return False


class AlreadyRunning(Exception):
    pass


class SupervisorLock:
    """The supervisor's pid file, locked for its whole life."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid, _ = read_pid(self.path)
            raise AlreadyRunning(
                f"The backend workers are already running (supervisor pid {pid}, pid file {self.path}); "
                "stop them first with `manage.py backend_workers stop`."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)
            self.fd = None
