"""The requests the benchmark sends, each with the one status every answer must have.

Four paths, two per API:

``craftkit-409``  the cancel of a completed request of the bundled fixture (nothing changes)
``craftkit-200``  the cancel of a fresh in-flight request: one of its own per request
``firma-400``     the revoke of a JWT the bundled fixture has revoked already (nothing changes)
``firma-200``     the revoke of a fresh active JWT: one of its own per request

A *fresh* path names a record in its request (:data:`ID` marks where, in the path or
the body), a new one each time: the run creates them beforehand through the mock's
control plane, :data:`BATCH` a request (:class:`Fresh`:
``POST /__mock/craftkit/signature-requests/batch``, ``POST /__mock/firma/jwts/batch``,
with ids the run chose), and the load generators go through the ids in order. Past the
last one they start again from the first, whose answers are then ``409``/``400``: such
answers are never counted as speed, and the run says the records ran out.

Firma counts every revoke against the key's quota (120 writes a minute in the bundled
fixture: past it, ``429``), so the servers get a copy of the bundled Firma fixture with
the quota raised out of reach (:func:`write_fixtures`); the Craftkit fixture is the
bundled one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = [
    "BATCH",
    "ID",
    "PATHS",
    "ROOT",
    "BenchPath",
    "Fresh",
    "Request",
    "write_fixtures",
]

ROOT = Path(__file__).resolve().parents[1]

# A completed request of proj_acme, and the key that owns it (fixtures/craftkit.yaml).
CRAFTKIT_TERMINAL = "b50e3956-c1dc-5ef7-b899-e9d0d63cb704"
CRAFTKIT_PROJECT = "proj_acme"
CRAFTKIT_KEY = "ck_test_acme_0001"
# A JWT of ws_acme revoked in the fixture, and the key that owns it (fixtures/firma.yaml).
FIRMA_REVOKED = "8ca89319-c2b2-5822-9e56-fcd81cfafe1a"
FIRMA_WORKSPACE = "ws_acme"
FIRMA_KEY = "firma_acme_0001"
FIRMA_BASE = "/functions/v1/signing-request-api"
FIRMA_REVOKE = f"{FIRMA_BASE}/jwt/revoke-signing-request"
# Writes per minute per key in the bench's Firma fixture: far beyond any run's count.
FIRMA_QUOTA = 1_000_000_000

ID = "{id}"
"""Where a fresh path's request names its record (a uuid the run chose)."""
BATCH = 1000
"""Records created per control-plane request (the mock takes up to 10,000): ~80 KB."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def fresh(self) -> bool:
        """Whether the request names a record (:data:`ID`), a new one each time."""
        return ID in self.path or ID.encode() in self.body

    def naming(self, record: str) -> Request:
        """The request with :data:`ID` replaced by ``record``.

        >>> Request("POST", "/v1/signatures/{id}/cancel").naming("abc").path
        '/v1/signatures/abc/cancel'
        """
        return replace(
            self,
            path=self.path.replace(ID, record),
            body=self.body.replace(ID.encode(), record.encode()),
        )

    def raw(self, host: str) -> bytes:
        """The request as HTTP/1.1 bytes on a keep-alive connection."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


def _json(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


JSON = ("Content-Type", "application/json")


@dataclass(frozen=True)
class Fresh:
    """How a fresh path's records are made: control-plane requests of :data:`BATCH`
    records each, a JSON array of ``item`` with each record's id where :data:`ID` is,
    each request answered ``created``."""

    what: str  # what one record is, for the output
    path: str  # the control plane's batch route
    item: dict[str, str]
    created: int = 201

    def creating(self, ids: Sequence[str]) -> list[Request]:
        """The requests creating the records ``ids``, in order.

        >>> fresh = Fresh("JWT", "/batch", {"jwt_id": ID, "workspace": "w"})
        >>> [request.body for request in fresh.creating(["a", "b"])]
        [b'[{"jwt_id":"a","workspace":"w"},{"jwt_id":"b","workspace":"w"}]']
        """
        items = [{k: record if v == ID else v for k, v in self.item.items()} for record in ids]
        return [
            Request("POST", self.path, (JSON,), _json(items[start : start + BATCH]))
            for start in range(0, len(items), BATCH)
        ]


@dataclass(frozen=True)
class BenchPath:
    """One path under load: the request, and the status each answer must have."""

    name: str
    title: str
    request: Request
    expected: int
    fresh: Fresh | None = None  # set when the request names a record of its own

    def __post_init__(self) -> None:
        if self.request.fresh != (self.fresh is not None):
            raise ValueError(f"{self.name}: a request naming {ID} needs a Fresh, and only it")

    @property
    def api(self) -> str:
        """The vendor API the path calls: the first word of its name.

        >>> PATHS[0].api, PATHS[-1].api
        ('craftkit', 'firma')
        """
        return self.name.partition("-")[0]


CRAFTKIT_AUTH = ("Authorization", f"Bearer {CRAFTKIT_KEY}")
FIRMA_AUTH = ("Authorization", FIRMA_KEY)

PATHS: tuple[BenchPath, ...] = (
    BenchPath(
        "craftkit-409",
        "Craftkit cancel of a completed request",
        Request("POST", f"/v1/signatures/{CRAFTKIT_TERMINAL}/cancel", (CRAFTKIT_AUTH,)),
        409,
    ),
    BenchPath(
        "craftkit-200",
        "Craftkit cancel of a fresh in-flight request",
        Request("POST", f"/v1/signatures/{ID}/cancel", (CRAFTKIT_AUTH,)),
        200,
        Fresh(
            "in-flight Craftkit signature request",
            "/__mock/craftkit/signature-requests/batch",
            {"id": ID, "project": CRAFTKIT_PROJECT, "status": "sent"},
        ),
    ),
    BenchPath(
        "firma-400",
        "Firma revoke of an already revoked JWT",
        Request("POST", FIRMA_REVOKE, (FIRMA_AUTH, JSON), _json({"jwt_id": FIRMA_REVOKED})),
        400,
    ),
    BenchPath(
        "firma-200",
        "Firma revoke of a fresh active JWT",
        Request("POST", FIRMA_REVOKE, (FIRMA_AUTH, JSON), _json({"jwt_id": ID})),
        200,
        Fresh(
            "active Firma JWT",
            "/__mock/firma/jwts/batch",
            {"jwt_id": ID, "workspace": FIRMA_WORKSPACE},
        ),
    ),
)


def write_fixtures(directory: Path) -> list[Path]:
    """The fixture files every server of the run loads, written into ``directory``.

    Firma: the bundled file with ``rate_limits.write_per_minute`` raised to
    :data:`FIRMA_QUOTA` (docs/fixtures.md); Craftkit: the bundled file as it is.
    """
    import yaml  # here: bench.bare imports this module, and serves without YAML

    firma = yaml.safe_load((ROOT / "fixtures" / "firma.yaml").read_text(encoding="utf-8"))
    firma.setdefault("rate_limits", {})["write_per_minute"] = FIRMA_QUOTA
    path = directory / "bench-firma.yaml"
    path.write_text(
        "# The bundled Firma fixture, its quota raised for the benchmark (bench/paths.py).\n"
        + yaml.safe_dump(firma, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return [ROOT / "fixtures" / "craftkit.yaml", path]
