"""Fixtures of the security tests: the notification tests' SMTP server and inline saves, a renderer spy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import nh3
import pytest
from markdown_it import MarkdownIt

# The real SMTP server and the inline, after-commit saves of the notification tests.
from tests.notifications.conftest import fast_password_hashing, inline, saving, smtp  # noqa: F401


@pytest.fixture
def renderer_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times Markdown was parsed and HTML sanitized, counted from now on.

    Counted at the libraries' entry points, so every way into the renderer is seen.
    """
    calls: Counter[str] = Counter()

    def spy(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return original(*args, **kwargs)

        return counted

    monkeypatch.setattr(MarkdownIt, "parse", spy("markdown", MarkdownIt.parse))
    monkeypatch.setattr(nh3, "clean", spy("sanitize", nh3.clean))
    return calls
