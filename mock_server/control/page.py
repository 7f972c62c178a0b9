"""``/__mock/ui/``: the state dashboard, plain HTML, JavaScript and CSS shipped in the package
(``ui/``, read with :mod:`importlib.resources`, so a wheel serves what a checkout does).

The files are code, not data: every datum the page shows it fetches from the control plane
with the caller's own rights (``control/access.py``), so with an admin token the files are
served without it and the page asks for the token when the control plane answers 401.
Without a token they follow the control plane's rules (``Host``, loopback, ``Origin``).
No file takes inline script or style: the Content-Security-Policy allows this origin only.

>>> page = Page()
>>> Page.owns("/__mock/ui"), Page.owns("/__mock/ui/app.js"), Page.owns("/__mock/uix")
(True, True, False)
>>> sorted(page.files)
['app.css', 'app.js', 'index.html']
"""

from __future__ import annotations

from importlib.resources import files

from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from mock_server._http import problem_response

__all__ = ["HEADERS", "PATH", "Page"]

PATH = "/__mock/ui"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}

HEADERS = {
    # This origin only: no inline script or style, no other host, never inside a frame
    # (a page of another site framing the reset button).
    "Content-Security-Policy": (
        "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
"""Every answer of the page's routes carries these."""


class Page:
    """ASGI app for ``/__mock/ui`` (a redirect to ``/__mock/ui/``) and the files under it;
    another name is a 404, another method than GET or HEAD a 405."""

    def __init__(self) -> None:
        folder = files("mock_server.control") / "ui"
        self.files: dict[str, tuple[bytes, str]] = {}
        for entry in folder.iterdir():
            suffix = "." + entry.name.rpartition(".")[2]
            if entry.is_file() and suffix in _TYPES:
                self.files[entry.name] = (entry.read_bytes(), _TYPES[suffix])

    @staticmethod
    def owns(path: str) -> bool:
        return path == PATH or path.startswith(PATH + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._answer(scope)(scope, receive, send)

    def _answer(self, scope: Scope) -> Response:
        path: str = scope["path"]
        if scope["method"] not in ("GET", "HEAD"):
            return problem_response(
                405,
                f"{path} is the dashboard's page: GET only",
                {"Allow": "GET, HEAD", **HEADERS},
            )
        if path == PATH:
            query = scope.get("query_string", b"").decode("latin-1")
            return RedirectResponse(
                PATH + "/" + (f"?{query}" if query else ""), status_code=307, headers=HEADERS
            )
        name = path[len(PATH) + 1 :] or "index.html"
        found = self.files.get(name)
        if found is None:
            return problem_response(
                404, f"the dashboard has no file {name[:100]!r} (open {PATH}/)", HEADERS
            )
        body, media_type = found
        return Response(body, media_type=media_type, headers=HEADERS)
