"""Loaded by pytest (``-p tests.environment`` in pyproject) before Django reads its settings.

A test run needs no configuration: it gets a throw-away secret key. Everything else keeps the
defaults or what the caller exported (``DATABASE_URL`` selects PostgreSQL in CI).
"""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-never-used-in-production-0123456789")
os.environ.setdefault("TULEAP_TESTING", "1")
