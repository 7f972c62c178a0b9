"""Who may drive the control plane (issue #4).

Without ``--admin-token`` only this machine may: the caller must be a loopback
peer and, when a browser says which page sent the request (``Origin``), that
page must be one CORS allows (any page's simple POST reaches the server
whatever CORS says; CORS only stops it reading the answer). With a token every
caller must present it as ``Authorization: Bearer <token>``, from anywhere.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import Scope

from mock_server._http import problem_response

__all__ = ["ControlAccess", "is_loopback"]

_FIX = "start the mock with --admin-token to drive it from elsewhere"


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address, or ``localhost``) is this machine.

    >>> hosts = ("127.0.0.1", "::1", "::ffff:127.0.0.1", "localhost", "10.0.0.5", "0.0.0.0")
    >>> [is_loopback(h) for h in hosts]
    [True, True, True, True, False, False]
    """
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return bool((mapped or address).is_loopback)


class ControlAccess:
    """The rule, applied before a control-plane request reaches its operation."""

    def __init__(self, admin_token: str | None, *, origin_allowed: Callable[[str], bool]) -> None:
        self.admin_token = admin_token.encode() if admin_token is not None else None
        self._origin_allowed = origin_allowed

    def refusal(self, scope: Scope) -> Response | None:
        """``None`` when the caller may proceed, else the 401/403 to answer."""
        headers = dict(scope.get("headers", []))
        if self.admin_token is not None:
            return self._token_refusal(headers.get(b"authorization"))
        client = scope.get("client")
        peer = client[0] if client else None
        if not is_loopback(peer):
            shown = peer or "an unknown address"
            return _forbidden(
                f"the control plane answers loopback clients only ({shown} is not one)"
            )
        origin = headers.get(b"origin", b"").decode("latin-1")
        if origin and origin != "null" and not self._origin_allowed(origin):
            return _forbidden(
                f"the control plane refuses pages from {origin} (not an allowed --cors-origin)"
            )
        return None

    def _token_refusal(self, authorization: bytes | None) -> Response | None:
        scheme, _, token = (authorization or b"").strip().partition(b" ")
        presented = token.strip() if scheme.lower() == b"bearer" else b""
        # Raw bytes on both sides: a non-ASCII token matches however it is typed.
        if presented and hmac.compare_digest(presented, self.admin_token or b""):
            return None
        detail = (
            "the admin token does not match"
            if presented
            else "send the mock's admin token as 'Authorization: Bearer <token>'"
        )
        return problem_response(401, detail, {"WWW-Authenticate": "Bearer"})


def _forbidden(reason: str) -> Response:
    return problem_response(403, f"{reason}; {_FIX}")
