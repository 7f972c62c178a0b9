"""The requests the benchmark sends, each with the one status every answer must have.

A path is one fixed request that does not change the world, so that thousands of them
in a row measure the same thing: the Craftkit cancel of a terminal request (``409``)
and the Firma revoke of an already revoked JWT (``400``). Firma counts every revoke
against the key's quota (120 writes a minute in the bundled fixture: past it, ``429``),
so the servers get a copy of the bundled Firma fixture with the quota raised out of
reach (:func:`write_fixtures`); the Craftkit fixture is the bundled one.

(The ``200`` paths need a fresh record per request, created beforehand: a later
extension, as a path whose request changes from one call to the next.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["PATHS", "ROOT", "BenchPath", "Request", "write_fixtures"]

ROOT = Path(__file__).resolve().parents[1]

# A completed request of proj_acme, and the key that owns it (fixtures/craftkit.yaml).
CRAFTKIT_TERMINAL = "b50e3956-c1dc-5ef7-b899-e9d0d63cb704"
CRAFTKIT_KEY = "ck_test_acme_0001"
# A JWT of ws_acme revoked in the fixture, and the key that owns it (fixtures/firma.yaml).
FIRMA_REVOKED = "8ca89319-c2b2-5822-9e56-fcd81cfafe1a"
FIRMA_KEY = "firma_acme_0001"
FIRMA_BASE = "/functions/v1/signing-request-api"
# Writes per minute per key in the bench's Firma fixture: far beyond any run's count.
FIRMA_QUOTA = 1_000_000_000


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def raw(self, host: str) -> bytes:
        """The request as HTTP/1.1 bytes on a keep-alive connection."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass(frozen=True)
class BenchPath:
    """One path under load: the request, and the status each answer must have."""

    name: str
    title: str
    request: Request
    expected: int


PATHS: tuple[BenchPath, ...] = (
    BenchPath(
        "craftkit-409",
        "Craftkit cancel of a completed request",
        Request(
            "POST",
            f"/v1/signatures/{CRAFTKIT_TERMINAL}/cancel",
            (("Authorization", f"Bearer {CRAFTKIT_KEY}"),),
        ),
        409,
    ),
    BenchPath(
        "firma-400",
        "Firma revoke of an already revoked JWT",
        Request(
            "POST",
            f"{FIRMA_BASE}/jwt/revoke-signing-request",
            (("Authorization", FIRMA_KEY), ("Content-Type", "application/json")),
            json.dumps({"jwt_id": FIRMA_REVOKED}).encode(),
        ),
        400,
    ),
)


def write_fixtures(directory: Path) -> list[Path]:
    """The fixture files every server of the run loads, written into ``directory``.

    Firma: the bundled file with ``rate_limits.write_per_minute`` raised to
    :data:`FIRMA_QUOTA` (docs/fixtures.md); Craftkit: the bundled file as it is.
    """
    firma = yaml.safe_load((ROOT / "fixtures" / "firma.yaml").read_text(encoding="utf-8"))
    firma.setdefault("rate_limits", {})["write_per_minute"] = FIRMA_QUOTA
    path = directory / "bench-firma.yaml"
    path.write_text(
        "# The bundled Firma fixture, its quota raised for the benchmark (bench/paths.py).\n"
        + yaml.safe_dump(firma, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return [ROOT / "fixtures" / "craftkit.yaml", path]
