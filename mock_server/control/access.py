"""Who may drive the control plane and read the docs pages (issues #4, #13).

Without ``--admin-token`` only this machine may: the request must name this
machine in its ``Host`` (:class:`HostRule`: a page on a DNS-rebound name is a
page of another site), the caller must be a loopback peer and, when a browser
says which page sent the request (``Origin``), that page must be one CORS allows
(any page's simple POST reaches the server whatever CORS says; CORS only stops
it reading the answer). An opaque ``Origin: null`` (a sandboxed page, a file) is
a page like any other: allowed only with ``--cors-origin '*'``. With a token
every caller must present it as ``Authorization: Bearer <token>``, from any
address and under any ``Host``; wrong guesses are throttled per address
(:class:`Throttle`).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.responses import PlainTextResponse, Response
from starlette.types import Scope

from mock_server._http import problem_response

__all__ = ["ControlAccess", "HostRule", "Throttle", "host_name", "is_host_name", "is_loopback"]

log = logging.getLogger("mock_server")

_FIX = "start the mock with --admin-token to drive it from elsewhere"
_NAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]{0,251}[a-z0-9_])?")


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
    address = _address(host)
    return address is not None and address.is_loopback


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``host`` as an address (``[...]`` stripped, IPv4-mapped IPv6 as IPv4), or ``None``."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return mapped or address


def is_host_name(text: str) -> bool:
    """Whether ``text`` is a host name or an address alone (no scheme, port or path).

    >>> [is_host_name(t) for t in ("mock.internal", "10.0.0.5", "[fd00::1]", "fd00::1")]
    [True, True, True, True]
    >>> [is_host_name(t) for t in ("mock.internal:80", "http://x", "x/docs", "a b", "ab:80")]
    [False, False, False, False, False]
    """
    return _address(text) is not None or _NAME.fullmatch(text.lower()) is not None


def host_name(header: str) -> str:
    """The name a ``Host`` header gives, without its port, lower case, no final dot.

    >>> [host_name(h) for h in ("LocalHost:8000", "[::1]:80", "[::1]", "x.example.", "10.0.0.5")]
    ['localhost', '[::1]', '[::1]', 'x.example', '10.0.0.5']
    """
    name = header.strip().lower()
    if name.startswith("["):
        name = name[: name.find("]") + 1] or name
    else:
        head, colon, port = name.rpartition(":")
        if colon and port.isdigit():
            name = head
    return name.removesuffix(".")


class HostRule:
    """Which ``Host`` names the control plane and the docs pages answer (DNS rebinding).

    A page on ``attacker.example`` whose name the attacker then points at 127.0.0.1 is,
    to the browser, the same origin as the mock: it could read the state and drive the
    control plane. The ``Host`` it sends still names ``attacker.example``. So these
    routes answer only a ``Host`` naming this machine: ``localhost`` (and
    ``*.localhost``), a loopback address, the address bound with ``--host`` (unless it
    is ``0.0.0.0`` or ``::``: the machine's names are unknown, give them with
    ``--allowed-host``), or a name given with ``--allowed-host`` (``*``: any). Any port.
    A request without ``Host`` (HTTP/1.0) is no browser's: it passes.

    >>> rule = HostRule("0.0.0.0", ["mock.internal"])
    >>> [rule.allows(h) for h in ("localhost:3000", "127.0.0.1", "[::1]:8000", "a.localhost")]
    [True, True, True, True]
    >>> [rule.allows(h) for h in ("MOCK.internal:80", "attacker.example", "0.0.0.0", "10.0.0.5")]
    [True, False, False, False]
    >>> other = HostRule("10.0.0.5", ["fd00::1"])
    >>> other.allows("10.0.0.5:8000"), other.allows("[fd00::1]:80"), other.allows("10.0.0.6")
    (True, True, False)
    """

    def __init__(self, bound: str, allowed: Iterable[str]) -> None:
        names = set()
        for name in allowed:  # an address as the one spelling _address gives
            address = _address(name)
            names.add(host_name(name) if address is None else str(address))
        self.any = "*" in names
        address = _address(bound)
        if address is None:
            names.add(host_name(bound))  # --host given as a name
        elif not address.is_unspecified:
            names.add(str(address))
        self._names = frozenset(names)

    def allows(self, header: str | None) -> bool:
        if header is None or self.any:
            return True
        name = host_name(header)
        if is_loopback(name) or name in self._names:
            return True
        address = _address(name)
        return address is not None and str(address) in self._names

    def refusal(self, scope: Scope, *, control: bool) -> Response | None:
        """``None`` when the request's ``Host`` is allowed, else the 403 to answer."""
        header = _header(scope, b"host")
        if self.allows(header):
            return None
        assert header is not None
        shown = header[:100]
        name = host_name(shown)
        fix = (
            f"start the mock with --allowed-host {name} to allow it"
            if is_host_name(name)
            else "start the mock with --allowed-host NAME to allow a name"
        )
        what = "the control plane answers" if control else "the docs pages answer"
        detail = (
            f"{what} requests addressed to this machine only (DNS rebinding): "
            f"Host {shown!r} is not localhost, a loopback address or an --allowed-host; "
            f"{fix}" + (", or with --admin-token" if control else "")
        )
        if control:
            return problem_response(403, detail)
        return PlainTextResponse(f"403 Forbidden: {detail}\n", status_code=403)


@dataclass(slots=True)
class _Failures:
    count: int
    last: float
    until: float = 0.0


class Throttle:
    """Wrong admin tokens, counted per client address (an IPv6 /64 counts as one).

    The first :attr:`FREE` wrong tokens from an address are 401s; from then on each
    wrong token locks the address out, for 1 s, then 2, 4, ... up to :attr:`LONGEST`
    (429 with ``Retry-After``; the token is not even compared meanwhile). A right
    token clears the address's count; other addresses are never affected. An address
    quiet for :attr:`FORGET` seconds starts again; at most :attr:`ADDRESSES` are
    remembered (the least recently failing go first): under 1 MiB in all.

    >>> now = [0.0]
    >>> throttle = Throttle(clock=lambda: now[0])
    >>> [throttle.failed("10.0.0.5") for _ in range(Throttle.FREE + 1)]
    [None, None, None, None, None, 1]
    >>> throttle.locked("10.0.0.5"), throttle.locked("10.0.0.6")
    (1, None)
    >>> now[0] += 1; throttle.locked("10.0.0.5"), throttle.failed("10.0.0.5")
    (None, 2)
    """

    FREE = 5
    LONGEST = 300.0
    FORGET = 900.0
    ADDRESSES = 4096

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def locked(self, address: str | None) -> int | None:
        """Seconds ``address`` must still wait (``Retry-After``), or ``None``."""
        entry = self._failures.get(_bucket(address))
        if entry is None:
            return None
        left = min(entry.until - self._clock(), self.LONGEST)  # a clock set back: bounded
        return math.ceil(left) if left > 0 else None

    def failed(self, address: str | None) -> int | None:
        """Count a wrong token; the seconds of the lock-out it starts, if it starts one."""
        key, now = _bucket(address), self._clock()
        entry = self._failures.pop(key, None)
        if entry is None or now - entry.last > self.FORGET:
            entry = _Failures(0, now)
        entry.count += 1
        entry.last = now
        self._failures[key] = entry  # the most recent last
        while len(self._failures) > self.ADDRESSES:
            self._failures.popitem(last=False)
        if entry.count <= self.FREE:
            return None
        # The exponent capped first: 2.0 ** 1024 overflows (a 500, then no lock-out at all).
        seconds = min(2.0 ** min(entry.count - self.FREE - 1, 30), self.LONGEST)
        entry.until = now + seconds
        return math.ceil(seconds)

    def succeeded(self, address: str | None) -> None:
        self._failures.pop(_bucket(address), None)


def _bucket(address: str | None) -> str:
    """What one client is: its IPv4 address, or its IPv6 /64 (one host's share).

    >>> _bucket("2001:db8::1"), _bucket("::ffff:10.0.0.5"), _bucket(None)
    ('2001:db8::/64', '10.0.0.5', '')
    """
    parsed = _address(address) if address else None
    if parsed is None:
        return address or ""
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class ControlAccess:
    """The rule, applied before a control-plane request reaches its operation."""

    def __init__(
        self,
        admin_token: str | None,
        *,
        origin_allowed: Callable[[str], bool],
        hosts: HostRule,
        throttle: Throttle | None = None,
    ) -> None:
        self.admin_token = admin_token.encode() if admin_token is not None else None
        self._origin_allowed = origin_allowed
        self._hosts = hosts
        self._throttle = throttle or Throttle()

    def refusal(self, scope: Scope, *, navigation: bool = False) -> Response | None:
        """``None`` when the caller may proceed, else the 401/403/429 to answer;
        ``navigation``: a browser's top-level navigation may come from another site."""
        client = scope.get("client")
        peer = client[0] if client else None
        if self.admin_token is not None:
            return self._token_refusal(peer, _raw_header(scope, b"authorization"))
        refused = self._hosts.refusal(scope, control=True)
        if refused is not None:
            return refused
        if not is_loopback(peer):
            shown = peer or "an unknown address"
            return _forbidden(
                f"the control plane answers loopback clients only ({shown} is not one)"
            )
        origin = _header(scope, b"origin")
        if (
            origin
            and not self._origin_allowed(origin)
            # The mock's own page, unless any Host passes (a rebound page's is its own too).
            and (self._hosts.any or not _same_origin(scope, origin))
        ):
            return _forbidden(
                f"the control plane refuses pages from {origin[:100]} (not an allowed "
                "--cors-origin; 'null' is a sandboxed page or a file)"
            )
        site = _header(scope, b"sec-fetch-site")
        if not origin and site in ("cross-site", "same-site") and not navigation:
            # A browser's request from another site that carries no Origin (an <img>, an
            # <iframe>, a link): it may not use the control plane (e.g. hold its event
            # streams). Browsers set Sec-Fetch-Site; pages cannot.
            return _forbidden(
                f"the control plane refuses a browser's {site} request without an Origin "
                "(Sec-Fetch-Site); call it from an allowed --cors-origin page, or a tool"
            )
        return None

    def page_refusal(self, scope: Scope) -> Response | None:
        """For the dashboard's files (``page.py``: code, no data): the rule above without
        a token, but a link followed from another site's page opens them (a top-level
        navigation: ``Sec-Fetch-Mode: navigate``, ``Sec-Fetch-Dest: document``; the page's
        own calls then carry its ``Origin``); with a token, none (the page asks for the
        token when the data answer 401)."""
        if self.admin_token is not None:
            return None
        navigation = (
            _header(scope, b"sec-fetch-mode") == "navigate"
            and _header(scope, b"sec-fetch-dest") == "document"
        )
        return self.refusal(scope, navigation=navigation)

    def _token_refusal(self, peer: str | None, authorization: bytes | None) -> Response | None:
        throttle = self._throttle
        wait = throttle.locked(peer)
        if wait is not None:
            return _too_many(peer, wait)
        scheme, _, token = (authorization or b"").strip().partition(b" ")
        presented = token.strip() if scheme.lower() == b"bearer" else b""
        # Raw bytes on both sides: a non-ASCII token matches however it is typed.
        if presented and hmac.compare_digest(presented, self.admin_token or b""):
            throttle.succeeded(peer)
            return None
        if not presented:  # no guess, nothing to throttle
            detail = "send the mock's admin token as 'Authorization: Bearer <token>'"
            return problem_response(401, detail, {"WWW-Authenticate": "Bearer"})
        wait = throttle.failed(peer)
        if wait is not None:
            log.warning(
                "control plane: %d or more wrong admin tokens from %s; refused for %d s",
                Throttle.FREE,
                peer or "an unknown address",
                wait,
            )
            return _too_many(peer, wait)
        detail = "the admin token does not match"
        return problem_response(401, detail, {"WWW-Authenticate": "Bearer"})


def _same_origin(scope: Scope, origin: str) -> bool:
    """Whether ``origin`` is the request's own ``Host``: the mock's own page (its dashboard),
    whatever ``--cors-origin`` names. Asked only once the ``Host`` rule has passed, and
    never under ``--allowed-host '*'`` (any name passes it: a DNS-rebound page's ``Origin``
    names its own rebound ``Host``).

    >>> scope = {"headers": [(b"host", b"127.0.0.1:8000")]}
    >>> [_same_origin(scope, o) for o in ("http://127.0.0.1:8000", "http://127.0.0.1:3000")]
    [True, False]
    """
    host = _header(scope, b"host")
    _, separator, rest = origin.partition("://")
    return host is not None and bool(separator) and rest.lower() == host.strip().lower()


def _too_many(peer: str | None, wait: int) -> Response:
    detail = (
        f"too many wrong admin tokens from {peer or 'an unknown address'}; retry after "
        f"{wait} s (each further wrong token doubles the wait)"
    )
    return problem_response(429, detail, {"Retry-After": str(wait)})


def _raw_header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    raw = _raw_header(scope, name)
    return raw.decode("latin-1") if raw is not None else None


def _forbidden(reason: str) -> Response:
    return problem_response(403, f"{reason}; {_FIX}")
