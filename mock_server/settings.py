"""One frozen settings object, built at the edge (CLI or tests) and passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mock_server._resources import bundled
from mock_server.state.limits import Limits

__all__ = ["DEFAULT_FIXTURES", "DEFAULT_SPECS", "Settings"]

DEFAULT_SPECS: Mapping[str, Path] = {
    "craftkit": bundled("specs", "craftkit.openapi.yaml"),
    "firma": bundled("specs", "firma.openapi.yaml"),
}
DEFAULT_FIXTURES: Mapping[str, Path] = {
    "craftkit": bundled("fixtures", "craftkit.yaml"),
    "firma": bundled("fixtures", "firma.yaml"),
}


@dataclass(frozen=True)
class Settings:
    """What a mock serves and how.

    ``fixtures`` lists fixture files in any order, at most one per API (each
    names its API in its ``api:`` key); an API without one gets its bundled
    default from :data:`DEFAULT_FIXTURES`.

    >>> Settings(port=0, fixtures=(Path("staging.yaml"),)).port
    0
    """

    host: str = "127.0.0.1"
    port: int = 8000
    specs: Mapping[str, Path] = field(default_factory=lambda: dict(DEFAULT_SPECS))
    fixtures: tuple[Path, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict)
    max_body_bytes: int = 1_048_576
    cors_origins: tuple[str, ...] = ()
    """Origins browsers may call from; empty: any local development origin."""
    admin_token: str | None = None
    """Required on ``/__mock`` when set; unset, only loopback clients may use it."""
    allowed_hosts: tuple[str, ...] = ()
    """``Host`` names the control plane and docs answer besides this machine's own
    (``localhost``, loopback addresses, ``host``); ``*`` for any. Moot with a token."""
    store: str = "memory"
    """Where sessions live: ``memory``, ``sqlite:///path`` or ``redis://host:port/db``."""
    limits: Limits = field(default_factory=Limits)
    """Bounds on sessions and their journals, in every store."""
    workers: int = 1
    """Worker processes serving one port (more than one needs a shared ``store``)."""
