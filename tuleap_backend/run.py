"""``make run``: migrate, seed the demo once, make sure Redis answers, then serve with gunicorn and the
backend worker supervisor until Ctrl-C, which stops everything this started.

Runs before Django is configured (it decides REDIS_URL for the processes it starts), so it only uses
the standard library and redis-py.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from tracker.redaction import redact_url

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
REDIS_DIR = VAR / "redis"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def say(message: str) -> None:
    print(f"[make run] {message}", flush=True)


def fail(message: str) -> None:
    print(f"[make run] {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2).ping())
    except (redis.RedisError, ValueError):
        return False


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f":{password}@{parts.hostname}:{parts.port or 6379}"
    return urlunsplit(parts._replace(netloc=netloc))


def ensure_redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary:
        return binary
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("redis-server is missing; installing Debian's redis-server package…")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "redis-server"],
            check=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        binary = shutil.which("redis-server")
        if binary:
            return binary
    fail(
        "No Redis answers at REDIS_URL and redis-server is not installed: "
        "install it with `sudo apt-get install redis-server`, or set REDIS_URL to a running Redis."
    )
    raise AssertionError  # unreachable


def start_private_redis(url: str) -> tuple[str, subprocess.Popen[bytes]]:
    """A Redis of our own under var/redis/, with a generated password and an append-only file."""
    binary = ensure_redis_server_binary()
    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    password_file = REDIS_DIR / "password"
    if not password_file.exists():
        password_file.touch(mode=0o600)
        password_file.write_text(secrets.token_urlsafe(32))
    password = password_file.read_text().strip()
    port = urlsplit(url).port or 6379
    config = REDIS_DIR / "redis.conf"
    config.touch(mode=0o600)  # it holds requirepass: private before the password is written
    config.write_text(
        "\n".join(
            [
                "bind 127.0.0.1",
                f"port {port}",
                f"dir {REDIS_DIR}",
                f"logfile {REDIS_DIR / 'redis.log'}",
                "appendonly yes",
                "maxmemory-policy noeviction",
                f"requirepass {password}",
                "",
            ]
        )
    )
    process = subprocess.Popen([binary, str(config)], start_new_session=True)
    private_url = with_password(url, password)
    deadline = time.monotonic() + 10
    while not answers(private_url):
        if process.poll() is not None or time.monotonic() > deadline:
            fail(f"The private redis-server did not start; see {REDIS_DIR / 'redis.log'}.")
        time.sleep(0.1)
    say(f"Started a private Redis on 127.0.0.1:{port} (data and log in {REDIS_DIR}).")
    return private_url, process


def redis_for_run(env: dict[str, str]) -> subprocess.Popen[bytes] | None:
    if env.get("REDIS_SENTINELS", "").strip():
        # Behind Sentinel the master moves: the site finds it through the sentinels, never a Redis of ours.
        say(f"Using the Redis that the sentinels at {env['REDIS_SENTINELS'].strip()} name.")
        return None
    url = env.get("REDIS_URL") or DEFAULT_REDIS_URL
    if answers(url):
        env["REDIS_URL"] = url
        say(f"Using the Redis that answers at {redact_url(url)}.")
        if not urlsplit(url).password:
            say(
                "Warning: that Redis has no password in REDIS_URL: anything on this host can read and "
                "change the job queues. Give it one (requirepass) and put it in REDIS_URL, or stop it and "
                "`make run` starts a private Redis with a generated password."
            )
        return None
    password_file = REDIS_DIR / "password"
    if password_file.exists():
        # Our own Redis from an earlier run may still be up (for instance after a kill -9).
        candidate = with_password(url, password_file.read_text().strip())
        if answers(candidate):
            env["REDIS_URL"] = candidate
            return None
    env["REDIS_URL"], process = start_private_redis(url)
    return process


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True, cwd=ROOT)


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for process in reversed(processes):
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _interrupt(signum: int, frame: object) -> None:
    # A service manager's SIGTERM stops us the way Ctrl-C does.
    raise KeyboardInterrupt


def main() -> None:
    # var/ holds the database (sessions, password hashes), Redis's data and secrets: ours alone.
    os.umask(0o077)
    env = dict(os.environ)
    VAR.mkdir(exist_ok=True)
    from tuleap_backend.env import secret_key_from_file

    env.setdefault("SECRET_KEY", secret_key_from_file(VAR / "secret_key"))
    # Out of the box, notifications go through the backend workers so a newcomer sees them work.
    env.setdefault("ASYNC_EMAILS", "all")
    port = env.get("PORT", "8000")
    env.setdefault("SITE_URL", f"http://localhost:{port}")

    processes: list[subprocess.Popen[bytes]] = []
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        redis_process = redis_for_run(env)
        if redis_process is not None:
            processes.append(redis_process)
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "collectstatic", "--no-input", "-v", "0")
        manage(env, "seed_demo")
        processes.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "backend_workers", "start"],
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        )
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "tuleap_backend.wsgi",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--access-logfile",
                    "-",
                ],
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        )
        mail = "sent to EMAIL_HOST" if env.get("EMAIL_HOST") else f"written as files under {VAR / 'mail'}"
        say(f"Tuleap is running at http://localhost:{port}/ — emails are {mail}. Ctrl-C stops everything.")
        say(
            "The demo users are not site administrators: `.venv/bin/python manage.py createsuperuser` makes "
            "one, for /admin/ and the System events page."
        )
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        say("A process stopped unexpectedly; shutting down.")
    except KeyboardInterrupt:
        say("Stopping…")
    except subprocess.CalledProcessError as error:
        say(f"`{' '.join(map(str, error.cmd[1:]))}` failed with status {error.returncode}.")
    finally:
        # A second Ctrl-C (or make passing on the same signal) must not cut the shutdown short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop(processes)
        say("Stopped.")


if __name__ == "__main__":
    main()
