"""The bare handler: the floor the mock is measured against (issue #12).

A Starlette app with one route per vendor endpoint the paths call, answering each path
a fixed body of the mock's shape and about its size, with the path's status and content
type: the cancel of the completed fixture request ``409``, of any other id ``200``; the
revoke of the revoked fixture JWT ``400``, of any other ``200``. No validation, no state,
no sessions: what is left is the server, Starlette's routing and objects, and the wire.
The benchmark serves it with each server the mock runs on, with the same options
(``bench.targets``), so that "mock / bare" is what the mock itself costs.

``python -m bench.serve --port N bench.bare:app`` (uvicorn as ``mock-server`` runs it,
its protocol too) or ``granian --interface asgi bench.bare:app``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.paths import CRAFTKIT_TERMINAL, FIRMA_REVOKE, FIRMA_REVOKED

__all__ = ["ANSWERS", "app"]

JSON = "application/json"

# The mock's answers, their ids fixed (the bodies' sizes are what matter).
ANSWERS: dict[str, tuple[int, bytes]] = {
    "craftkit-409": (
        409,
        b'{"error":{"code":"conflict","message":"Signature request is already completed '
        b'and cannot be cancelled."}}',
    ),
    "craftkit-200": (
        200,
        b'{"id":"11111111-1111-4111-8111-111111111111","renderId":"d416b32b-556d-44c7-aa9e-'
        b'65cd9744b0da","name":"Untitled agreement","status":"cancelled","expirationHours"'
        b':72,"signedDownloadUrl":null,"certificateUrl":null,"errorMessage":null,"createdAt'
        b'":"2026-11-23T03:37:19.037Z","completedAt":null,"recipients":[{"id":"rcp_1111111'
        b'1_1","firstName":"Signer1","lastName":null,"email":"signer1@example.com","design'
        b'ation":"Signer","order":1,"signedAt":null,"declinedAt":null}]}',
    ),
    "firma-400": (400, b'{"error":"Bad Request","message":"JWT has already been revoked"}'),
    "firma-200": (
        200,
        b'{"message":"JWT revoked successfully","jwt_id":"21111111-1111-4111-8111-1111111111'
        b'11","revoked":true,"revoked_at":"2026-11-23T03:37:19.067Z"}',
    ),
}

_REVOKED = FIRMA_REVOKED.encode()


def _answer(path: str) -> Response:
    status, body = ANSWERS[path]
    return Response(body, status, media_type=JSON)


async def cancel(request: Request) -> Response:
    terminal = request.path_params["id"] == CRAFTKIT_TERMINAL
    return _answer("craftkit-409" if terminal else "craftkit-200")


async def revoke(request: Request) -> Response:
    revoked = _REVOKED in await request.body()
    return _answer("firma-400" if revoked else "firma-200")


app = Starlette(
    routes=[
        Route("/v1/signatures/{id}/cancel", cancel, methods=["POST"]),
        Route(FIRMA_REVOKE, revoke, methods=["POST"]),
    ]
)
