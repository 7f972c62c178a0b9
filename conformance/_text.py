"""Short renderings of values for violation details."""

from __future__ import annotations

from typing import Any

__all__ = ["short"]


def short(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters.

    >>> short("x" * 300, limit=10)
    "'xxxxxx..."
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
