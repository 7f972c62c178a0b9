"""Where the mock's own time goes: one bench path, in process, without a server.

``python -m bench.profile craftkit-409`` builds the mock's app as ``mock-server`` does
(the bench's fixtures, memory store), calls it directly as an ASGI app with the path's
request (no sockets, no server: only the app's own work), and prints its CPU time per
request, then the functions that cost the most (cProfile, sorted by own time). The
numbers are the app's share of a request; the server and the kernel add theirs (a bare
handler on uvicorn costs ~35 µs per request in all, docs/performance.md).

``--without lane`` answers every request through the layers (``mock_server/http/lane.py``:
the express lane answers ordinary ones without them); ``--without journal,cors,boundary``
takes those layers out of the app built, and the lane with them (an experiment, never a
way to serve: the journal records nothing then, answers lack their ``Vary: Origin``): the
difference in CPU per request is what each costs a request (docs/performance.md, "the
ratio against an app's own work").

Fresh paths (``craftkit-200``, ``firma-200``) get their records created beforehand,
through the control plane, as the benchmark does; ``--world N`` creates N more first (a
world grown while serving). The garbage collector's pauses are reported, with the
collector set as ``mock-server`` sets it (``mock_server/collector.py``): while the
records are created, and during the measured requests. In process the collector runs
less often than under a server (no connections, no server objects): the pauses under
load are the bench's.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import gc
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.paths import BATCH, PATHS, BenchPath, Fresh, Request, write_fixtures

__all__ = ["main"]


def _scope(request: Request) -> dict[str, Any]:
    path, _, query = request.path.partition("?")
    headers = [(b"host", b"127.0.0.1:8000")]
    headers += [(n.lower().encode(), v.encode()) for n, v in request.headers]
    headers.append((b"content-length", str(len(request.body)).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": request.method,
        "root_path": "",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers,
    }


async def _call(app: Any, request: Request) -> int:
    """One request through the app; its status."""
    body = request.body
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # as a server would: nothing more until a disconnect
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(request), receive, send)
    return status


class _Pauses:
    """The collector's pauses while enabled, by generation (``gc.callbacks``): each as
    elapsed time and as the thread's CPU time (on a shared machine the elapsed time of a
    pause also counts the moments another process had the core)."""

    def __init__(self) -> None:
        self.by_generation: dict[int, list[tuple[float, float]]] = {0: [], 1: [], 2: []}
        self._started = (0.0, 0.0)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = (time.perf_counter(), time.thread_time())
        else:
            elapsed = time.perf_counter() - self._started[0]
            cpu = time.thread_time() - self._started[1]
            self.by_generation[info["generation"]].append((elapsed, cpu))

    def summary(self) -> str:
        counts = ", ".join(f"gen{g} {len(p)}" for g, p in self.by_generation.items())
        pauses = [(pause, g) for g, p in self.by_generation.items() for pause in p]
        (elapsed, _), g = max(pauses, default=((0.0, 0.0), 0))
        (_, cpu), g_cpu = max(pauses, key=lambda pause: pause[0][1], default=((0.0, 0.0), 0))
        return (
            f"collections: {counts}; longest {elapsed * 1000:.1f} ms (gen{g}), "
            f"{cpu * 1000:.1f} ms of CPU (gen{g_cpu}); over 5 ms of CPU: "
            f"{sum(cpu > 0.005 for (_, cpu), _ in pauses)}"
        )


async def _create(app: Any, fresh: Fresh, ids: list[str]) -> None:
    for creating in fresh.creating(ids):
        status = await _call(app, creating)
        if status != fresh.created:
            raise SystemExit(f"creating records answered {status}")


LAYERS = ("lane", "journal", "cors", "boundary")
"""What ``--without`` can take out of the app."""


def _without(app: Any, layers: Sequence[str]) -> None:
    """Take ``layers`` out of the built app's vendor route: the express lane, then any
    layers named (the lane would answer the path's requests without them: taking a layer
    out takes it too). The session layer runs the journal, which runs the error boundary,
    which runs the dispatcher (app.py); CORS runs the app's router."""
    if not layers:
        return
    app._lane = None
    sessions = app._vendor
    journal = sessions._app
    boundary = journal._app
    after_journal = boundary._app if "boundary" in layers else boundary
    if "boundary" in layers:
        journal._app = after_journal
    if "journal" in layers:
        sessions._app = after_journal
    if "cors" in layers:
        app._app = app._route


async def mock_app(
    store: str, without: Sequence[str] = (), journal_bytes: int | None = None
) -> Any:
    """The mock's app as ``mock-server`` builds it (the bench's fixtures, ``store``), started,
    ``without`` those layers (:func:`_without`), with ``journal_bytes`` of journal per
    session if given (``--journal-bytes``), the collector then set as ``mock-server`` sets
    it."""
    from mock_server import collector
    from mock_server.app import create_app
    from mock_server.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(fixtures=tuple(write_fixtures(Path(tmp))), store=store)
        if journal_bytes is not None:  # (Settings' own Limits: bench imports no more)
            limits = dataclasses.replace(settings.limits, journal_bytes=journal_bytes)
            settings = dataclasses.replace(settings, limits=limits)
        app = create_app(settings)
    await app.start()
    _without(app, without)
    collector.settle()  # as mock-server does once started (mock_server.asgi.serve_app)
    return app


async def _run(
    path: BenchPath,
    count: int,
    world: int,
    store: str,
    profile: cProfile.Profile | None,
    without: Sequence[str] = (),
) -> tuple[float, _Pauses, _Pauses]:
    """CPU µs per measured request, and the collector's pauses while the records were
    created and during the measured requests."""
    app = await mock_app(store, without)
    creating = _Pauses()
    gc.callbacks.append(creating)
    if world:  # records made while serving, as a frontend's or a test's seeding makes them
        api = path.name.split("-")[0]
        fresh = next(p.fresh for p in PATHS if p.fresh is not None and p.name.startswith(api))
        # A batch's ids at a time: a list of them all would be the collector's to walk, as
        # no server holds one.
        for start in range(0, world, BATCH):
            batch = min(BATCH, world - start)
            await _create(app, fresh, [str(uuid.uuid4()) for _ in range(batch)])
    ids: list[str] = []
    if path.fresh is not None:
        ids = [str(uuid.uuid4()) for _ in range(count)]
        await _create(app, path.fresh, ids)
    gc.callbacks.remove(creating)

    def request(index: int) -> Request:  # made as sent: a list of them would be walked too
        return path.request.naming(ids[index]) if ids else path.request

    status = await _call(app, request(0))
    if status != path.expected:
        raise SystemExit(f"{path.name}: answered {status}, expected {path.expected}")
    pauses = _Pauses()
    gc.callbacks.append(pauses)
    started = time.process_time()
    if profile is not None:
        profile.enable()
    for index in range(1, count):
        await _call(app, request(index))
    if profile is not None:
        profile.disable()
    spent = time.process_time() - started
    gc.callbacks.remove(pauses)
    await app.stop()
    return spent / (count - 1) * 1e6, creating, pauses


def named(text: str, known: Sequence[str], what: str) -> list[str]:
    """The comma-separated names of an option, each one of ``known`` (``what`` they are),
    else an argparse error naming them and the text given."""
    names = [word.strip() for word in text.split(",") if word.strip()]
    if not names or any(name not in known for name in names):
        raise argparse.ArgumentTypeError(
            f"{what} are {', '.join(known)} (comma-separated); got {text!r}"
        )
    return names


def _layers(text: str) -> tuple[str, ...]:
    return tuple(named(text, LAYERS, "layers"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("path", choices=[p.name for p in PATHS], help="the bench path")
    parser.add_argument("-n", "--count", type=int, default=20_000, help="requests (20000)")
    parser.add_argument(
        "--world",
        type=int,
        default=0,
        metavar="N",
        help="first create N records of the path's API through the control plane, as a "
        "seeded world grown while serving (the collector's pauses over it are reported)",
    )
    parser.add_argument(
        "--store",
        default="memory",
        metavar="URL",
        help="the state store, as mock-server's --store (memory); a Redis or SQLite one "
        "must be empty or the mock's, and a Redis server running",
    )
    parser.add_argument("--top", type=int, default=25, help="functions to list (25)")
    parser.add_argument("--no-profile", action="store_true", help="only the time per request")
    parser.add_argument(
        "--without",
        type=_layers,
        default=(),
        metavar="LAYER,...",
        help=f"take these layers out of the app ({', '.join(LAYERS)}): what each costs "
        "(an experiment: the app answers without them)",
    )
    args = parser.parse_args(argv)
    path = next(p for p in PATHS if p.name == args.path)
    plain, creating, pauses = asyncio.run(
        _run(path, args.count, args.world, args.store, None, args.without)
    )
    world = f", {args.world} records created first" if args.world else ""
    world += f", without {', '.join(args.without)}" if args.without else ""
    sys.stdout.write(
        f"{path.name}: {plain:.1f} µs of CPU per request in the app "
        f"({args.count} requests{world})\n{pauses.summary()}\n"
    )
    if args.world or path.fresh is not None:
        sys.stdout.write(f"while creating the records: {creating.summary()}\n")
    if args.no_profile:
        return 0
    profile = cProfile.Profile()
    profiled, _, _ = asyncio.run(
        _run(path, args.count, args.world, args.store, profile, args.without)
    )
    sys.stdout.write(f"(profiled: {profiled:.1f} µs per request; cProfile inflates it)\n")
    stats = pstats.Stats(profile, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
