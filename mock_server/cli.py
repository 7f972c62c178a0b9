"""``mock-server``: serve both vendor contracts, stateful, from fixture files."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from mock_server.app import create_app
from mock_server.errors import FixtureError, StartupError
from mock_server.settings import DEFAULT_FIXTURES, Settings

__all__ = ["build_parser", "main"]

log = logging.getLogger("mock_server")

EPILOG = """\
examples:
  mock-server                                  both APIs on 127.0.0.1:8000, bundled fixtures
  mock-server --port 0                         any free port (the log says which)
  mock-server --fixtures staging-craftkit.yaml craftkit from your file, firma bundled

served:
  Craftkit  POST /v1/signatures/{id}/cancel                              at /
  Firma     POST /jwt/revoke-signing-request   at /functions/v1/signing-request-api and /api/v1

fixtures:
  One YAML file per API; its 'api:' key (craftkit or firma) says which. ${VAR} and
  ${VAR:-default} are read from the environment. A bad file stops start-up with
  exit code 2 and names the file, record, field and fix. Format: DESIGN.md.

exit codes: 0 stopped cleanly, 2 bad flag, bad fixture, or port unavailable.
"""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535; 0 picks a free one)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mock-server",
        description="Stateful contract mock of the Craftkit and Firma e-signature APIs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="TCP port; 0 picks a free one (default: %(default)s)",
    )
    bundled = ", ".join(str(p) for p in DEFAULT_FIXTURES.values())
    parser.add_argument(
        "--fixtures",
        nargs="+",
        type=Path,
        default=[],
        metavar="PATH",
        help=f"fixture files, at most one per API; others use the bundled ones ({bundled})",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log verbosity (default: %(default)s)",
    )
    parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="do not log one line per request (for load tests)",
    )
    return parser


def _listen(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = "address already in use (choose another --port, or 0 for any free one)"
        else:
            reason = exc.strerror or str(exc)
        raise StartupError(f"cannot listen on {host}:{port}: {reason}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    started = time.perf_counter()
    settings = Settings(
        host=args.host, port=args.port, fixtures=tuple(args.fixtures), environ=dict(os.environ)
    )
    try:
        app = create_app(settings)
        sock = _listen(settings.host, settings.port)
    except FixtureError as exc:
        sys.stderr.write("mock-server: fixture refused:\n")
        sys.stderr.writelines(f"  {line}\n" for line in exc.problems)
        return 2
    except StartupError as exc:
        sys.stderr.write(f"mock-server: {exc}\n")
        return 2
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    for api in app.apis:
        contract = api.contract
        paths = ", ".join(p or "/" for p in contract.base_paths)
        log.info("%s: %s (OpenAPI %s) at %s", contract.name, contract.path, contract.version, paths)
        log.info("%s: %s", contract.name, api.describe())
    log.info(
        "listening on http://%s:%d (ready in %.2f s)",
        shown_host,
        port,
        time.perf_counter() - started,
    )
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        log_level=args.log_level,
        access_log=args.access_log,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
