"""What a request costs in instructions: one bench path, in process, under callgrind.

``python -m bench.instructions`` counts the instructions the CPU runs for each of the
bench's paths, in the mock's app and in the bare handler, each called directly as an ASGI
app (``bench.profile``'s harness: no server, no sockets), under valgrind's callgrind. An
instruction count does not move with the machine's load, as time does (this machine's
timings of one build vary by a third from one run to the next): a change that saves 2 %
shows as 2 %. It is not time (a cache miss costs more than an instruction, and served, the
mock's code runs with its caches cold, docs/performance.md): a proxy for the app's own
work, to compare builds and see what a change saved.

The mock counted has a 128 KiB journal per session (:data:`JOURNAL_BYTES`), which the
warm-up fills. Each count is the difference of two runs of the same app, ``--warmup``
requests and then ``--warmup`` + ``--count``, divided by ``--count``: what starting the app
and creating the fresh paths' records cost (the same in both runs) falls out. The two runs
of a count go in
parallel on the memory store (one after the other on a Redis or SQLite store, which they
would share). callgrind runs the code ~50 times slower: the mock's start alone takes
~20 s.

valgrind is Debian's (``tools/ensure_valgrind`` installs it when missing and run as root).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.paths import PATHS, BenchPath
from bench.procs import ensure
from bench.profile import named

__all__ = ["APPS", "JOURNAL_BYTES", "count_per_request", "main"]

ROOT = Path(__file__).resolve().parent.parent
ENSURE_VALGRIND = ROOT / "tools" / "ensure_valgrind"

APPS = ("mock", "bare", "floor")
"""What can be counted: the mock's app (memory store unless ``--store``), the bare handler
(``bench/bare.py``), the fused floor (``bench/floor.py``, ``craftkit-409`` only)."""

JOURNAL_BYTES = 131_072
"""The mock's journal per session while counting: small enough that the warm-up fills it
(an entry of the bench's paths is ~450-1,300 bytes), so that every counted request is one
of a mock in its steady state, its journal full and each entry evicting the oldest. With
the default 1 MiB, the first ~1,000-2,500 counted requests would still be filling it, and
the collector's walks of a growing journal (~8,500 instructions a request on firma-400),
which a long-running mock does not make, would be counted."""

_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def count_per_request(small: int, large: int, count: int) -> float:
    """Instructions per request from two runs' totals, ``count`` requests apart.

    >>> count_per_request(1_000_000, 3_000_000, 1000)
    2000.0
    """
    if large < small:
        raise ValueError(f"the longer run counted fewer instructions ({large} < {small})")
    return (large - small) / count


def collected(stderr: str) -> int:
    """The total callgrind reports (``==123== Collected : 456``) in its output.

    >>> collected("==7== Events    : Ir\\n==7== Collected : 2518234946\\n==7== I   refs: 25")
    2518234946
    """
    found = _COLLECTED.search(stderr)
    if found is None:
        raise RuntimeError(f"callgrind reported no total: {stderr.strip()[-300:]!r}")
    return int(found.group(1))


def _run_under_callgrind(
    valgrind: str, path: str, app: str, store: str, fresh: int, requests: int, workdir: Path
) -> int:
    out = workdir / f"callgrind.{path}.{app}.{requests}.out"
    command = [
        valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
        sys.executable, "-m", "bench.instructions", "--child",
        path, app, store, str(fresh), str(requests),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=ROOT)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if not line.startswith("==")]
        raise RuntimeError(f"{app} on {path} failed: {' / '.join(lines[-3:]) or done.returncode}")
    return collected(done.stderr)


def _measure(
    valgrind: str, path: BenchPath, app: str, store: str, warmup: int, count: int
) -> float:
    fresh = warmup + count if path.fresh is not None else 0
    # In parallel on the memory store (each run's own); one after the other on a store
    # the two would share (a Redis database, a SQLite file).
    parallel = 2 if store == "memory" else 1
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=parallel) as runs:
        small, large = runs.map(
            lambda requests: _run_under_callgrind(
                valgrind, path.name, app, store, fresh, requests, Path(tmp)
            ),
            (warmup, warmup + count),
        )
    return count_per_request(small, large, count)


async def _child(path: BenchPath, app_name: str, store: str, fresh: int, requests: int) -> None:
    """Build the app, create ``fresh`` records for a fresh path, send ``requests``."""
    from bench.profile import _call, _create, mock_app

    app: object
    if app_name == "bare":
        from bench.bare import app
    elif app_name == "floor":
        from bench.floor import app
    else:
        app = await mock_app(store, journal_bytes=JOURNAL_BYTES)
    ids: list[str] = []
    if path.fresh is not None:
        # New ones each run: a store the runs share keeps the records of the one before.
        ids = [str(uuid.uuid4()) for _ in range(fresh)]
        if app_name == "mock":  # the bare handler answers any id as the path's
            await _create(app, path.fresh, ids)
    for index in range(requests):
        request = path.request.naming(ids[index]) if ids else path.request
        status = await _call(app, request)
        if status != path.expected:
            raise SystemExit(f"{path.name}: {app_name} answered {status}, not {path.expected}")


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["--child"]:
        name, app, store, fresh, requests = args_list[1:6]
        path = next(p for p in PATHS if p.name == name)
        asyncio.run(_child(path, app, store, int(fresh), int(requests)))
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="Counts are in process, under callgrind (~50x slower than native); "
        "docs/performance.md says how to read them.",
    )
    parser.add_argument(
        "--path",
        type=lambda text: named(text, [p.name for p in PATHS], "paths"),
        default=[p.name for p in PATHS],
        help="the bench paths to count, comma-separated (all four)",
    )
    parser.add_argument(
        "--app",
        type=lambda text: named(text, APPS, "apps"),
        default=["mock", "bare"],
        help=f"what to count, comma-separated: {', '.join(APPS)} (mock,bare)",
    )
    parser.add_argument(
        "--store", default="memory", help="the mock's store, as mock-server's --store (memory)"
    )
    parser.add_argument("--count", type=int, default=2000, help="requests counted (2000)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=500,
        help="requests before those counted (500; the first ~300 fill the mock's journal)",
    )
    args = parser.parse_args(args_list)
    if args.count < 1 or args.warmup < 1:
        parser.error(
            f"--count and --warmup must be at least 1 (got {args.count} and {args.warmup})"
        )
    if "floor" in args.app and args.path != ["craftkit-409"]:
        parser.error("the floor (bench/floor.py) answers craftkit-409 only: --path craftkit-409")
    valgrind, why = ensure(ENSURE_VALGRIND)
    if valgrind is None:
        sys.stderr.write(f"bench.instructions: no valgrind: {why}\n")
        return 1
    sys.stdout.write(
        f"instructions per request, in process under callgrind ({args.count} requests after "
        f"{args.warmup}; the mock's store: {args.store})\n\n"
        "| path | app | instructions/request | × bare |\n|---|---|---:|---:|\n"
    )
    for name in args.path:
        path = next(p for p in PATHS if p.name == name)
        counts: dict[str, float] = {}
        for app in args.app:
            sys.stderr.write(f"counting {app} on {name}...\n")
            try:
                counts[app] = _measure(valgrind, path, app, args.store, args.warmup, args.count)
            except RuntimeError as exc:
                sys.stderr.write(f"bench.instructions: {exc}\n")
                return 1
        bare = counts.get("bare")
        for app, counted in counts.items():
            ratio = f"{counted / bare:.2f}" if bare else "–"
            sys.stdout.write(f"| {name} | {app} | {counted:,.0f} | {ratio} |\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
