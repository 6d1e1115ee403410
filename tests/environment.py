"""Loaded by pytest (``-p tests.environment`` in pyproject) before Django reads its settings.

A test run needs no configuration: it gets a throw-away secret key, and the files that worker
subprocesses write (their log, attachments) go to a temporary folder rather than the checkout's var/.
Everything else keeps the defaults or what the caller exported (``DATABASE_URL`` selects PostgreSQL).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-never-used-in-production-0123456789")

_scratch = Path(tempfile.mkdtemp(prefix="tuleap-tests-"))
atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
# Inherited by the worker subprocesses the tests start (subprocess_env copies os.environ).
os.environ.setdefault("WORKER_LOG", str(_scratch / "worker.log"))
os.environ.setdefault("MEDIA_ROOT", str(_scratch / "media"))
os.environ.setdefault("WORKER_RUN_DIR", str(_scratch / "run"))
# The SQLite test database is a file under var/ (settings.py), which a fresh checkout does not have yet.
(Path(__file__).resolve().parent.parent / "var").mkdir(exist_ok=True)
