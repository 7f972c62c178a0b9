"""``mock-server``: serve both vendor contracts, stateful, from fixture files."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import os
import re
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import uvicorn

from mock_server._resources import bundled
from mock_server._version import version
from mock_server.app import MockApp
from mock_server.asgi import serve_app
from mock_server.control import Throttle, is_host_name, is_loopback
from mock_server.errors import FixtureError, StartupError
from mock_server.serving import (
    SHUTDOWN_GRACE,
    WATCHDOG,
    ConnectionLimits,
    Server,
)
from mock_server.serving import config as serving_config
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.state import Limits
from mock_server.state.urls import EXAMPLES as STORE_EXAMPLES
from mock_server.state.urls import StoreUrlError, shown
from mock_server.watch import FixtureWatcher

__all__ = ["build_parser", "main"]

log = logging.getLogger("mock_server")
address_log = logging.getLogger("mock_server.address")
"""Where the mock says the address it listens on: at INFO, whatever ``--log-level`` hides
(:func:`main` sets its level), since with ``--port 0`` the log is the only way to learn
the port."""

BUNDLED = "bundled:"
"""How ``--fixtures`` names a bundled fixture: ``bundled:craftkit``, ``bundled:firma``."""

EPILOG = """\
examples:
  mock-server                                  both APIs on 127.0.0.1:8000, bundled fixtures
  mock-server --port 0                         any free port (the log says which)
  mock-server --fixtures staging-craftkit.yaml craftkit from your file, firma bundled
  mock-server --fixtures bundled:firma my-craftkit.yaml
                                               the same, naming the bundled file
  mock-server --watch --fixtures my.yaml       reload my.yaml whenever it is saved
  mock-server --store sqlite:///mock.db        sessions survive restarts (and kill -9)
  mock-server --workers 4 --store redis://127.0.0.1:6379/0
                                               4 processes on one port, one shared world
  MOCK_ADMIN_TOKEN=$(cat token) mock-server --host 0.0.0.0
                                               reachable from other machines (containers, CI)
  mock-server --allowed-host mock.internal     /__mock and /docs/ for http://mock.internal:8000

served:
  Craftkit  POST /v1/signatures/{id}/cancel                              at /
  Firma     POST /jwt/revoke-signing-request   at /functions/v1/signing-request-api and /api/v1

browse:
  /                landing page: what is served, links to everything below
  /docs/           Swagger UI for Craftkit, Firma and the control plane
  /__mock/ui/      state dashboard: a session's records, journal and faults, live
  /__mock/...      control plane: reset, state, create records, events, journal, faults
                   (X-Mock-Session: <name> on any request selects an isolated world)

fixtures:
  One YAML file per API; its 'api:' key (craftkit or firma) says which. ${VAR} and
  ${VAR:-default} are read from the environment. A bad file stops start-up with
  exit code 2 and names the file, record, field and fix. Format: docs/fixtures.md.
  An API given no file serves its bundled one; bundled:NAME names them:
{bundled}

state (--store):
  memory             the default: this process only, lost when it stops
  sqlite:///PATH     a SQLite file, PATH relative to the working directory; four slashes
                     for an absolute one (sqlite:////var/lib/mock/mock.db); created if
                     absent. Survives restarts and kill -9; workers on one host share it
  redis://HOST:PORT/DB (or rediss://; password in the URL or $REDIS_PASSWORD)
                     workers on any number of hosts share one world
  Records, Firma's rate windows, sessions, the journal and faults all live there.
  Without --store: $MOCK_STORE, else memory (an empty $MOCK_STORE is unset).

connections (per process; see README "Running it for a team"):
  A request's headers must arrive within --header-timeout of the connection's opening
  or the request's first byte (else 408), its body within --body-timeout of its
  headers (else 408), its request line and headers within --max-header-bytes (else
  431, or 414 for the target alone). An idle connection closes after
  --keep-alive-timeout. Beyond --max-connections open at once, a new connection closes
  one with no request in flight (a head still coming first, then the oldest), or gets
  a 503 if every one is busy. A request body is at most 1 MiB (vendor routes: 400, as
  their contracts say; /__mock: 413).

stopping:
  SIGTERM or SIGINT: no new connections; answers in flight get --shutdown-grace
  seconds, then what is left is closed (an unfinished body, a fault's delay) and the
  process exits 0. With --workers, a worker still running 3 s after that is killed.

who may use /__mock and /docs/ (docs/behaviour.md, "What only the mock does"):
  no token     loopback clients only (for /__mock), pages from a --cors-origin only, and
               only a Host naming this machine: localhost, a loopback address, the
               --host address, an --allowed-host (DNS rebinding; any port)
  a token      'Authorization: Bearer TOKEN' on /__mock, from any address and Host; after
               5 wrong tokens from one address each further one locks it out for 1, 2,
               4 ... 300 s (429 with Retry-After; counted per worker process). At least
               16 characters. --admin-token shows in the process list to every user:
               prefer --admin-token-file PATH or $MOCK_ADMIN_TOKEN

exit codes: 0 stopped cleanly (also by SIGTERM or SIGINT), 2 bad flag, bad fixture,
store unreachable or refusing the credentials, port unavailable, or an admin token refused.
"""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535; 0 picks a free one)")
    return value


def _fixture(text: str) -> Path:
    """A fixture file, or the bundled one ``bundled:NAME`` names."""
    if not text.startswith(BUNDLED):
        return Path(text)
    name = text.removeprefix(BUNDLED)
    if name not in DEFAULT_FIXTURES:
        names = ", ".join(BUNDLED + api for api in DEFAULT_FIXTURES)
        raise argparse.ArgumentTypeError(
            f"{text!r} names no bundled fixture; the bundled ones are {names}"
        )
    return DEFAULT_FIXTURES[name]


def _count(flag: str, low: int, high: int) -> Callable[[str], int]:
    return _number(flag, int, "a whole number", low, high)


def _seconds(flag: str, low: float, high: float) -> Callable[[str], float]:
    return _number(flag, float, "a number of seconds", low, high)


Number = TypeVar("Number", int, float)


def _number(
    flag: str, kind: type[Number], what: str, low: Number, high: Number
) -> Callable[[str], Number]:
    def parse(text: str) -> Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range ({low}-{high})")
        return value

    parse.__name__ = flag
    return parse


_HOST_EXAMPLES = "e.g. 127.0.0.1 or ::1 (this machine only), 0.0.0.0 (every interface)"


def _host(text: str) -> str:
    """The interface to listen on: an address (an IPv6 one bare or in brackets) or a name."""
    name = text.strip()
    if not name:
        raise argparse.ArgumentTypeError(
            f"{text!r} is empty, which would listen on every interface; give an address, "
            + _HOST_EXAMPLES
        )
    if name.startswith("[") or name.endswith("]"):
        try:
            if not (name.startswith("[") and name.endswith("]")):
                raise ValueError(name)
            return str(ipaddress.IPv6Address(name[1:-1]))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an IPv6 address in brackets; write the address, " + _HOST_EXAMPLES
            ) from None
    if re.fullmatch(r"[0-9.]+", name):
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an IPv4 address (four numbers 0-255); give one, " + _HOST_EXAMPLES
            ) from None
    if not is_host_name(name):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an address or host name: write it alone, with no scheme, port "
            f"(that is --port) or path, {_HOST_EXAMPLES}"
        )
    return name


def _store(text: str) -> str:
    """A ``--store`` URL, checked when the store is opened; an empty one names no store."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} is empty; give one of {STORE_EXAMPLES} (or no --store: $MOCK_STORE, "
            "else memory)"
        )
    return text


def _store_url(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """``--store``, else ``$MOCK_STORE``, else ``memory``: an empty ``$MOCK_STORE`` is unset
    (as an empty ``$MOCK_ADMIN_TOKEN`` is); an empty ``--store`` the parser refused."""
    if args.store is not None:
        return str(args.store)
    return environ.get("MOCK_STORE") or "memory"


def _allowed_host(text: str) -> str:
    name = text.strip().lower()
    if name == "*" or is_host_name(name):
        return name
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a host name: write the name or address alone, with no scheme, "
        "port or path (any port is allowed), e.g. mock.internal or 10.0.0.5, or '*' for any"
    )


ADMIN_TOKEN_MIN = 16
"""Characters an admin token must have at least (a guess per second per address, at
best, against 62**16 tokens)."""


_ORIGIN_FIX = "write scheme://host[:port] with no path, e.g. http://localhost:5173, or '*' for any"


def _origin(text: str) -> str:
    """An origin as browsers send it (lower case, no default port), or ``*``: matched
    exactly, so a pattern (``http://*.example.com``) is refused, never matched literally."""
    if text == "*":
        return text
    if "*" in text:
        raise argparse.ArgumentTypeError(
            f"{text!r}: wildcards are not read (an origin is matched exactly); repeat "
            "--cors-origin for each origin, e.g. --cors-origin https://a.example.com "
            "--cors-origin https://b.example.com, or give '*' for any"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        parts, port = None, None
    scheme = parts.scheme.lower() if parts else ""
    host = parts.hostname if parts else None
    if (
        parts is None
        or scheme not in ("http", "https")
        or not host
        or not is_host_name(host)
        or parts.path
        or parts.query
        or parts.fragment
        or "?" in text
        or "#" in text
        or parts.username is not None
        or port == 0
    ):
        raise argparse.ArgumentTypeError(f"{text!r} is not an origin: {_ORIGIN_FIX}")
    shown_host = f"[{host}]" if ":" in host else host
    default = 80 if scheme == "http" else 443
    return f"{scheme}://{shown_host}" + (f":{port}" if port not in (None, default) else "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mock-server",
        description="Stateful contract mock of the Craftkit and Firma e-signature APIs.",
        epilog=EPILOG.replace(
            "{bundled}",
            "\n".join(f"    {BUNDLED}{api:<9} {path}" for api, path in DEFAULT_FIXTURES.items()),
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mock-server {version()}")
    parser.add_argument(
        "--host",
        type=_host,
        default="127.0.0.1",
        help="interface to listen on: an address of this machine (IPv6 bare or in brackets) "
        "or a name it resolves (default: %(default)s)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="TCP port; 0 picks a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--fixtures",
        nargs="+",
        type=_fixture,
        default=[],
        metavar="PATH",
        help="fixture files, at most one per API, each a PATH or bundled:NAME; an API "
        "without one serves its bundled file (where they are: see 'fixtures' below)",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="reload the fixtures when their files change; a bad edit is logged and the "
        "last good world stays live",
    )
    parser.add_argument(
        "--cors-origin",
        dest="cors_origins",
        action="append",
        type=_origin,
        default=[],
        metavar="ORIGIN",
        help="an origin browsers may call the mock from (repeatable; '*' for any); "
        "default: any http(s)://localhost, 127.0.0.1 or [::1] origin, on any port",
    )
    parser.add_argument(
        "--allowed-host",
        dest="allowed_hosts",
        action="append",
        type=_allowed_host,
        default=[],
        metavar="NAME",
        help="a Host name /__mock and /docs/ answer besides localhost, loopback addresses "
        "and the --host address (repeatable, any port; '*' for any); moot with a token",
    )
    tokens = parser.add_mutually_exclusive_group()
    tokens.add_argument(
        "--admin-token",
        default=None,
        metavar="TOKEN",
        help="require 'Authorization: Bearer TOKEN' on /__mock and accept it from any address "
        f"and Host; at least {ADMIN_TOKEN_MIN} characters. Visible to every user of the "
        "machine in the process list: prefer --admin-token-file or $MOCK_ADMIN_TOKEN "
        "(default: $MOCK_ADMIN_TOKEN; unset, /__mock answers loopback clients only)",
    )
    tokens.add_argument(
        "--admin-token-file",
        default=None,
        type=Path,
        metavar="PATH",
        help="--admin-token read from the first line of PATH (spaces around it ignored)",
    )
    parser.add_argument(
        "--store",
        type=_store,
        default=None,
        metavar="URL",
        help=f"where state lives: {STORE_EXAMPLES} (default: $MOCK_STORE, else memory; "
        "an empty $MOCK_STORE is unset)",
    )
    parser.add_argument(
        "--workers",
        type=_count("--workers", 1, 64),
        default=1,
        metavar="N",
        help="worker processes serving the one port (default: %(default)s; more than one "
        "needs a shared --store: sqlite or redis)",
    )
    parser.add_argument(
        "--max-sessions",
        type=_count("--max-sessions", 1, 1_000_000),
        default=Limits.max_sessions,
        metavar="N",
        help="sessions kept at once; beyond, the least recently used is forgotten "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--session-ttl",
        type=_count("--session-ttl", 1, 365 * 86_400),
        default=int(Limits.session_ttl),
        metavar="SECONDS",
        help="a session idle this long is forgotten (default: %(default)s, a day)",
    )
    parser.add_argument(
        "--journal-bytes",
        type=_count("--journal-bytes", 4096, 1 << 30),
        default=Limits.journal_bytes,
        metavar="BYTES",
        help="journal kept per session; the oldest exchanges go first (default: %(default)s, "
        "1 MiB)",
    )
    connections = ConnectionLimits()
    parser.add_argument(
        "--header-timeout",
        type=_seconds("--header-timeout", 0.1, 3600),
        default=connections.header_timeout,
        metavar="SECONDS",
        help="time to receive a request's headers, from the connection's opening or the "
        "request's first byte; then 408 (default: %(default)g)",
    )
    parser.add_argument(
        "--body-timeout",
        type=_seconds("--body-timeout", 0.1, 3600),
        default=connections.body_timeout,
        metavar="SECONDS",
        help="time to receive a request's body after its headers; then 408 (default: %(default)g)",
    )
    parser.add_argument(
        "--keep-alive-timeout",
        type=_seconds("--keep-alive-timeout", 0.1, 3600),
        default=connections.keep_alive,
        metavar="SECONDS",
        help="an idle connection is closed after this long (default: %(default)g)",
    )
    parser.add_argument(
        "--max-header-bytes",
        type=_count("--max-header-bytes", 1024, 1 << 20),
        default=connections.max_header_bytes,
        metavar="BYTES",
        help="request line and header fields together; beyond, 431 (default: %(default)s, 32 KiB)",
    )
    parser.add_argument(
        "--max-connections",
        type=_count("--max-connections", 1, 1_000_000),
        default=connections.max_connections,
        metavar="N",
        help="connections open at once, per process; beyond, a new one closes an idle or "
        "slow one, or gets a 503 if all are busy (default: %(default)s; lowered to fit the "
        "open-file limit)",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=_seconds("--shutdown-grace", 0, 3600),
        default=SHUTDOWN_GRACE,
        metavar="SECONDS",
        help="on SIGTERM or SIGINT, time answers in flight get before the mock exits "
        "(default: %(default)g)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        type=str.lower,  # any case: DEBUG, Info
        choices=["debug", "info", "warning", "error"],
        help="log verbosity; the line saying the address is logged at any level "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="do not log one line per request (for load tests)",
    )
    return parser


FILES_RESERVED = 64
"""Open files a process keeps beside its connections (listening socket, logs, store)."""


def _connection_limits(args: argparse.Namespace) -> ConnectionLimits:
    """The flags' limits, ``--max-connections`` lowered to fit the open-file limit (whose
    soft value is first raised to the hard one if it is too low)."""
    wanted = args.max_connections + FILES_RESERVED
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    fits = args.max_connections
    if soft != resource.RLIM_INFINITY and soft < wanted:
        fits = max(1, soft - FILES_RESERVED)
        log.warning(
            "--max-connections %d lowered to %d: the open-file limit is %d (ulimit -n; "
            "raise the hard limit to allow more)",
            args.max_connections,
            fits,
            soft,
        )
    return ConnectionLimits(
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        keep_alive=args.keep_alive_timeout,
        max_header_bytes=args.max_header_bytes,
        max_connections=fits,
    )


def _listen(host: str, port: int) -> socket.socket:
    sock: socket.socket | None = None
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        if sock is not None:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = "address already in use (choose another --port, or 0 for any free one)"
        elif isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
            reason = (
                f"{exc.strerror or exc}; give --host an address of this machine or a name "
                f"that resolves to one, {_HOST_EXAMPLES}"
            )
        else:
            reason = exc.strerror or str(exc)
        raise StartupError(f"cannot listen on {host}:{port}: {reason}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _admin_token(
    parser: argparse.ArgumentParser, args: argparse.Namespace, environ: Mapping[str, str]
) -> str | None:
    """The admin token from --admin-token, --admin-token-file or $MOCK_ADMIN_TOKEN (in
    that order), or ``None``; a bad one stops start-up (exit 2) naming its source."""
    if args.admin_token is not None:
        token, source = args.admin_token, "--admin-token"
    elif args.admin_token_file is not None:
        source = f"--admin-token-file {args.admin_token_file}"
        try:
            text = args.admin_token_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            parser.error(f"{source}: cannot read it ({reason or exc})")
        token = (text.splitlines() or [""])[0]
    elif environ.get("MOCK_ADMIN_TOKEN"):
        token, source = environ["MOCK_ADMIN_TOKEN"], "$MOCK_ADMIN_TOKEN"
    else:
        return None
    token = token.strip()
    if len(token) < ADMIN_TOKEN_MIN:
        parser.error(
            f"{source}: the admin token has {len(token)} characters; give at least "
            f"{ADMIN_TOKEN_MIN} (one way: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(24))')"
        )
    for index, char in enumerate(token, 1):
        if (char < " " and char != "\t") or char == "\x7f":  # HTTP carries any other
            parser.error(
                f"{source}: character {index} ({char!r}) of the admin token is a control "
                "character, which no request can send; use letters, digits and punctuation"
            )
    return str(token)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    admin_token = _admin_token(parser, args, os.environ)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)-7s "
        + ("[%(process)d] " if args.workers > 1 else "")
        + "%(name)s: %(message)s",
        stream=sys.stderr,
    )
    address_log.setLevel(logging.INFO)  # said at any --log-level
    log.info("mock-server %s", version())
    if args.admin_token is not None:
        log.warning(
            "--admin-token is visible to every user of this machine in the process list; "
            "prefer --admin-token-file PATH or $MOCK_ADMIN_TOKEN"
        )
    started = time.perf_counter()
    settings = Settings(
        host=args.host,
        port=args.port,
        fixtures=tuple(args.fixtures),
        environ=dict(os.environ),
        cors_origins=tuple(args.cors_origins),
        allowed_hosts=tuple(args.allowed_hosts),
        admin_token=admin_token,
        store=_store_url(args, os.environ),
        limits=Limits(
            max_sessions=args.max_sessions,
            session_ttl=float(args.session_ttl),
            journal_bytes=args.journal_bytes,
        ),
        workers=args.workers,
    )
    files = [*settings.fixtures, *DEFAULT_FIXTURES.values()] if args.watch else []
    # The files' contents are taken before they are loaded: an edit from here on, however
    # early, is seen as a change.
    watcher = _Watcher(files) if files else None
    try:
        app = serve_app(settings)
        sock = _listen(settings.host, settings.port)
    except FixtureError as exc:
        sys.stderr.write("mock-server: fixture refused:\n")
        sys.stderr.writelines(f"  {line}\n" for line in exc.problems)
        docs = bundled("docs", "fixtures.md")
        sys.stderr.write(f"the fixture format: docs/fixtures.md (installed: {docs})\n")
        return 2
    except StartupError as exc:
        if isinstance(exc, StoreUrlError) and args.store is None:  # $MOCK_STORE's URL
            exc = exc.named("$MOCK_STORE")
        sys.stderr.write(f"mock-server: {exc}\n")
        return 2
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    for api in app.apis:
        contract = api.contract
        paths = ", ".join(p or "/" for p in contract.base_paths)
        log.info("%s: %s (OpenAPI %s) at %s", contract.name, contract.path, contract.version, paths)
        log.info("%s: %s", contract.name, api.describe())
    log.info("state: %s", _describe_store(settings))
    limits = _connection_limits(args)
    log.info("connections: %s", _describe_limits(limits, args.shutdown_grace))
    _warn_if_exposed(settings)
    address_log.info(  # once, before the workers (if any) start
        "listening on http://%s:%d (ready in %.2f s); docs at http://%s:%d/docs/",
        shown_host,
        port,
        time.perf_counter() - started,
        shown_host,
        port,
    )
    if watcher is not None:
        watcher.app = app
    config = serving_config(
        app,
        limits=limits,
        refusal=app.refusal,
        log_level=args.log_level,
        access_log=args.access_log,
    )
    if settings.workers == 1:
        return _serve(app, config, sock, watcher, args.shutdown_grace)
    return _supervise(app, config, sock, watcher, settings.workers, args.shutdown_grace)


def _describe_store(settings: Settings) -> str:
    limits = settings.limits
    return (
        f"{shown(settings.store)}; {settings.workers} worker(s); at most "
        f"{limits.max_sessions} sessions, each forgotten after {limits.session_ttl:.0f} s idle, "
        f"with a journal of up to {limits.journal_bytes} bytes"
    )


def _describe_limits(limits: ConnectionLimits, grace: float) -> str:
    return (
        f"at most {limits.max_connections} open; headers within {limits.header_timeout:g} s "
        f"and {limits.max_header_bytes} bytes, bodies within {limits.body_timeout:g} s; idle "
        f"ones closed after {limits.keep_alive:g} s; on SIGTERM, {grace:g} s for answers "
        "in flight"
    )


class _Watcher(FixtureWatcher):
    """The fixture watcher of a server whose app is built after the files were read."""

    def __init__(self, files: list[Path]) -> None:
        super().__init__(files, on_change=self._reload)
        self.app: MockApp | None = None

    def _reload(self) -> object:
        return self.app.reload_from_thread() if self.app is not None else None


def _serve(
    app: MockApp,
    config: uvicorn.Config,
    sock: socket.socket,
    watcher: FixtureWatcher | None,
    grace: float,
) -> int:
    """Serve on ``sock`` in this process until a signal (then stop within ``grace``
    seconds); the fixture watcher beside it."""
    if watcher is not None:
        watcher.start()
    server = Server(config, grace=grace)
    try:
        server.run(sockets=[sock])
    finally:
        if watcher is not None:
            watcher.stop()
    if not server.started:
        sys.stderr.write("mock-server: the app did not start (see the log above)\n")
        return 2
    return 0


RESTARTS_PER_MINUTE = 10
"""Workers that die unasked are started again, at most this often (else the mock stops)."""

OVERSTAY = WATCHDOG + 1.0
"""Seconds past the grace after which the supervisor kills a worker still running (a
worker exits by itself ``WATCHDOG`` seconds past it, unless stuck)."""


def _supervise(
    app: MockApp,
    config: uvicorn.Config,
    sock: socket.socket,
    watcher: _Watcher | None,
    count: int,
    grace: float,
) -> int:
    """Fork ``count`` workers sharing ``sock`` (the fixture world loaded once, before), restart
    any that dies unasked, and stop them all on SIGTERM or SIGINT: each gets ``grace``
    seconds for its answers in flight, and is killed if still running :data:`OVERSTAY`
    seconds after."""
    children: dict[int, int] = {}
    stopping = False
    restarts: list[float] = []

    def spawn(index: int, *, again: bool = False) -> None:
        if stopping:  # a signal came while the workers were being started
            return
        # SIGTERM/SIGINT wait until stop() can see the new worker (in the worker: until the
        # supervisor's handlers are gone), else it would never be told to stop.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        pid = os.fork()
        if pid == 0:  # the worker: a server of its own over the shared socket
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
                signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            code = 1
            try:
                own = watcher
                if again and watcher is not None:  # the files may have changed since start-up
                    own = _Watcher(watcher.files)  # taken before they are read again
                    own.app = app
                    app.reread()
                code = _serve(app, config, sock, own, grace)
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = index
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        log.info("worker %d started (pid %d)", index + 1, pid)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:  # the workers' time starts at the first signal
            signal.setitimer(signal.ITIMER_REAL, grace + OVERSTAY)
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def overstayed(signum: int, _frame: object) -> None:
        for pid, index in list(children.items()):
            log.error(
                "worker %d (pid %d) still running %g s after the grace; killing it",
                index + 1,
                pid,
                OVERSTAY,
            )
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGALRM, overstayed)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for index in range(count):
        spawn(index)
    failed = False
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid not in children:
            continue
        index = children.pop(pid)
        if stopping:
            continue
        log.error("worker %d (pid %d) exited unasked (status %d)", index + 1, pid, status)
        now = time.monotonic()
        restarts = [t for t in restarts if now - t < 60] + [now]
        if len(restarts) > RESTARTS_PER_MINUTE:
            log.error("workers keep dying (%d in a minute); stopping", len(restarts))
            failed = True
            stop(signal.SIGTERM, None)
            continue
        spawn(index, again=True)
    log.info("all workers stopped")
    return 1 if failed else 0


def _warn_if_exposed(settings: Settings) -> None:
    """Say loudly what binding beyond loopback exposes (issue #4)."""
    if settings.admin_token is not None:
        log.info(
            "control plane /__mock: requires the admin token, from any address and Host "
            "(%d wrong ones from an address, then it waits)",
            Throttle.FREE,
        )
        return
    names = ["localhost", "loopback addresses", *settings.allowed_hosts]
    if not is_loopback(settings.host) and settings.host not in ("0.0.0.0", "::"):
        names.insert(2, settings.host)
    log.info(
        "control plane /__mock: loopback clients only (no --admin-token); it and the docs "
        "answer the Host names %s (--allowed-host adds one)",
        ", ".join(names),
    )
    if is_loopback(settings.host):
        return
    address_log.warning(  # said at any --log-level, as where it listens is
        "!!! listening on %s, beyond this machine, without --admin-token.\n"
        "!!! The vendor APIs and the fixture keys are reachable from the network;\n"
        "!!! the control plane /__mock will refuse every non-loopback client (403).\n"
        "!!! Set --admin-token (or MOCK_ADMIN_TOKEN) to drive it remotely, or bind 127.0.0.1.",
        settings.host,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
