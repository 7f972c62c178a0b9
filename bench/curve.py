"""How the ratio to the bare handler falls with the work an app does per request.

``python -m bench.curve`` serves :mod:`bench.floor` (the 409 path's irreducible stateful
work, fused into one function) with a fixed amount of pure-Python work added to each
request (``--work``, µs of a busy loop), beside the bare handler, on uvicorn as the bench
runs it, and loads each on ``craftkit-409`` as ``make bench`` does (interleaved repeats,
medians). It prints, for each amount of work, req/s, the server's CPU per answer and the
ratio to the bare handler: how much of its own work per request an app can do and stay
within a ratio (issue #12's 0.8×), on this machine, whatever the app is.

Not part of ``make bench``: a measuring stick, like the floor it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.cli import _load, _out, refused
from bench.paths import PATHS
from bench.report import rows
from bench.run import run
from bench.targets import BareTarget, EveryPath, Target, _uvicorn

__all__ = ["WORK_ENV", "FloorTarget", "main"]

WORK_ENV = "BENCH_FLOOR_WORK_US"
"""The environment variable :mod:`bench.floor` reads its added work from (µs a request)."""

PATH = next(p for p in PATHS if p.name == "craftkit-409")


@dataclass(frozen=True)
class FloorTarget(EveryPath):
    """:mod:`bench.floor` on uvicorn, with ``work_us`` of busy work added per request."""

    work_us: float
    server: str = field(default="uvicorn", init=False)
    bare: bool = field(default=False, init=False)
    stateful: bool = field(default=False, init=False)

    @property
    def name(self) -> str:
        return f"floor+{self.work_us:g}us"

    @property
    def groups(self) -> tuple[str, ...]:
        return ("floor",)

    def command(self, port: int, workdir: Path) -> list[str]:
        # `env` execs the server: its pid is the server's, as the bench's targets' are.
        return ["env", f"{WORK_ENV}={self.work_us:g}", *_uvicorn("bench.floor:app", port)]


def _works(text: str) -> list[float]:
    try:
        works = [float(word) for word in text.split(",") if word.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of µs: {text!r}") from None
    if not works or any(not 0 <= w <= 10_000 for w in works):
        raise argparse.ArgumentTypeError(
            f"each amount of work in [0, 10000] µs, at least one (got {text!r})"
        )
    return sorted(set(works))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.curve",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument(
        "--work",
        type=_works,
        default=[0.0, 5.0, 10.0, 20.0, 40.0],
        metavar="US,US,...",
        help="µs of pure-Python work added to each request, one target each (0,5,10,20,40)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs; medians shown (3)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of load (5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before each (1)")
    parser.add_argument("--connections", type=int, default=16, help="wrk's -c (16)")
    parser.add_argument("--threads", type=int, default=1, help="wrk's -t (1)")
    parser.add_argument(
        "--load",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="the load generator: wrk if installed (auto), or a bounded Python one",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    wrong = refused(args)
    if wrong is not None:
        sys.stderr.write(f"python -m bench.curve: {wrong}\n")
        return 2
    chosen = _load(args)
    if isinstance(chosen, str):
        sys.stderr.write(f"python -m bench.curve: {chosen}\n")
        return 2
    load, described = chosen
    targets: list[Target] = [BareTarget("bare-uvicorn", "uvicorn")]
    targets += [FloorTarget(work) for work in args.work]
    with tempfile.TemporaryDirectory(prefix="mock-bench-curve-") as tmp:
        results = run(
            targets,
            [PATH],
            load,
            repeat=args.repeat,
            seconds=args.duration,
            warmup=args.warmup,
            workdir=Path(tmp),
        )
    _out(f"\n## the ratio to the bare handler against the app's own work ({PATH.name})\n")
    _out(
        f"load: {described['tool']}, {args.connections} connections; {args.duration:g} s per "
        f"target after a {args.warmup:g} s warm-up; {args.repeat} repeat(s), medians; "
        f"{os.cpu_count()} cores\n"
    )
    _out("| target | added work µs | req/s | CPU µs/req | × bare |")
    _out("|---|---:|---:|---:|---:|")
    works = {t.name: t.work_us for t in targets if isinstance(t, FloorTarget)}
    for row in rows(results):
        work = works.get(row.target)
        _out(
            f"| {row.target} | {'–' if work is None else f'{work:g}'} | {row.rps:,.0f} | "
            f"{'–' if row.cpu_us is None else f'{row.cpu_us:.0f}'} | "
            f"{'–' if row.vs_bare is None else f'{row.vs_bare:.2f}'} |"
        )
    for problem in results.problems:
        _out(f"problem: {problem}")
    return 1 if results.problems else 0


if __name__ == "__main__":
    sys.exit(main())
