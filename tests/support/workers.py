"""Real ``manage.py`` worker processes for tests (``rqworker``, ``backend_workers``): start, wait, kill."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT


def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` seconds have passed; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


def descendants(pid: int) -> list[int]:
    """Children, grandchildren... of a process (Linux /proc), deepest last."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(child) for child in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found.extend(children)
            pending.extend(children)
    return found


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Kill a process and everything it started, the way a crash or the OOM killer would."""
    for target in [pid, *descendants(pid)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(target, sig)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


class ManagedProcess:
    """A ``manage.py`` subprocess in its own session, output appended to a log file."""

    def __init__(self, manage_py: list[str], args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [*manage_py, *args],
                env=env,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def terminate(self, timeout: float = 30) -> int | None:
        """SIGTERM (a warm shutdown), then SIGKILL of everything it started if it does not stop."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_tree(self.pid)
                self.process.wait()
        return self.process.returncode


def kill_pids_in(run_dir: Path) -> None:
    """Leave nothing behind: workers recorded in pid files that a test did not stop."""
    for path in run_dir.glob("*.pid"):
        try:
            pid = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if alive(pid) and b"manage.py" in Path(f"/proc/{pid}/cmdline").read_bytes():
            kill_tree(pid)
