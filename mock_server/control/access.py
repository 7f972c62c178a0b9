"""Who may drive the control plane (issue #4).

Without ``--admin-token`` only loopback clients may: the control plane can
rewrite any session's world, so it is not offered to the network by default.
With a token every caller must present it as ``Authorization: Bearer <token>``,
from anywhere.
"""

from __future__ import annotations

import hmac
import ipaddress
import json

from starlette.responses import Response
from starlette.types import Scope

__all__ = ["ControlAccess", "is_loopback"]

PROBLEM = "application/problem+json"


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address, or ``localhost``) is this machine.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "10.0.0.5", "0.0.0.0")]
    [True, True, True, False, False]
    """
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ControlAccess:
    """The rule, applied before a control-plane request reaches its operation."""

    def __init__(self, admin_token: str | None) -> None:
        self.admin_token = admin_token

    def refusal(self, scope: Scope) -> Response | None:
        """``None`` when the caller may proceed, else the 401/403 to answer."""
        if self.admin_token is None:
            client = scope.get("client")
            if is_loopback(client[0] if client else None):
                return None
            shown = client[0] if client else "an unknown address"
            return _problem(
                403,
                "Forbidden",
                f"the control plane answers loopback clients only ({shown} is not one); "
                "start the mock with --admin-token to drive it from elsewhere",
            )
        presented = _bearer(scope)
        if presented is not None and hmac.compare_digest(
            presented.encode(), self.admin_token.encode()
        ):
            return None
        detail = (
            "the admin token does not match"
            if presented is not None
            else "send the mock's admin token as 'Authorization: Bearer <token>'"
        )
        return _problem(401, "Unauthorized", detail, {"WWW-Authenticate": "Bearer"})


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return str(token.strip())
    return None


def _problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail})
    return Response(body, status_code=status, headers=headers, media_type=PROBLEM)
