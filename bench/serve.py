"""A bench app (the bare handler, the floor) served as ``mock-server`` serves the mock: the
same uvicorn, the same protocol and server (issue #12's "on the same server").

``mock-server`` runs uvicorn (httptools, uvloop) with a protocol of its own
(:mod:`mock_server.serving`: connection limits, an answer's head and body in one write)
and its :class:`~mock_server.serving.Server`. Stock uvicorn served the bare handler 5-8 %
slower than this (docs/performance.md), which flattered every ``× bare`` of the mock by
as much: the baselines run on what the mock runs on. A request refused by a connection
limit gets a plain-text answer (these apps have no envelopes; the bench sends none such).

``python -m bench.serve --port N [APP]`` (loopback only; APP ``bench.bare:app`` unless
given).
"""

from __future__ import annotations

import argparse
import logging
import sys

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp

from bench.wire import HOST
from mock_server.serving import ConnectionLimits, Server, config

__all__ = ["main"]


def _refusal(status: int, message: str) -> ASGIApp:
    return PlainTextResponse(message, status)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.serve",
        description="Serve a bench app on 127.0.0.1 as mock-server serves the mock: uvicorn "
        "with httptools, uvloop, lifespan on, no proxy headers, no access log, and "
        "mock-server's protocol and server.",
    )
    parser.add_argument("--port", type=int, required=True, help="the loopback port to serve on")
    parser.add_argument(
        "app", nargs="?", default="bench.bare:app", help="module:attribute (bench.bare:app)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO", stream=sys.stderr)  # uvicorn's lines, as mock-server's
    # mock-server's own configuration (the event loop its default, uvloop, as there).
    server = Server(
        config(args.app, limits=ConnectionLimits(), refusal=_refusal, host=HOST, port=args.port)
    )
    server.run()


if __name__ == "__main__":
    main()
