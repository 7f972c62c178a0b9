"""CORS for browser frontends (issue #4), handed to Starlette's ``CORSMiddleware``.

By default any local development origin (``http://localhost:5173``,
``http://127.0.0.1:3000``, ...) may call the mock; ``--cors-origin`` names
others instead, and ``--cors-origin '*'`` allows every origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["EXPOSED_HEADERS", "LOCAL_ORIGINS", "cors_options"]

LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?"
"""The default: pages served from this machine, on any port."""

EXPOSED_HEADERS = [
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
    "Allow",
    "X-Mock-Session-Created",
]
"""Response headers a page's script may read (CORS hides all but the simplest)."""


def cors_options(origins: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments for ``CORSMiddleware``.

    >>> cors_options([])["allow_origin_regex"] == LOCAL_ORIGINS
    True
    >>> cors_options(["https://app.example"])["allow_origins"]
    ['https://app.example']
    """
    options: dict[str, Any] = {
        "allow_methods": ["*"],
        "allow_headers": ["*"],
        "allow_credentials": True,
        # Chrome's Private Network Access: a page of an allowed origin on another network
        # (a deployed frontend, --cors-origin https://app.example) asks before calling a
        # mock on this machine; refused, the page could not use the mock at all. Not with
        # '*': any public page could then reach a mock on this machine.
        "allow_private_network": "*" not in origins,
        "expose_headers": EXPOSED_HEADERS,
        "max_age": 600,
    }
    if origins:
        options["allow_origins"] = list(origins)
    else:
        options["allow_origin_regex"] = LOCAL_ORIGINS
    return options
