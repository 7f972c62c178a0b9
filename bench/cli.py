"""``python -m bench`` (``make bench``): the command line, and what it prints."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.load import LoadGenerator, PythonLoad, Wrk, find_wrk
from bench.paths import PATHS, write_fixtures
from bench.report import (
    Goal,
    describe_machine,
    goals,
    machine,
    servers_table,
    steal,
    table,
    to_json,
)
from bench.run import FRESH_MARGIN, Results, run
from bench.stores import NOT_RUN, Stores, catalogue, select
from bench.targets import MockTarget, PrismTarget, Target, compile_bytecode, find_prism

__all__ = ["build_parser", "main"]

EPILOG = """\
targets (--only NAME, or a group: {groups}): {targets}
  bare-*: the bare handler (bench/bare.py), the baseline of its server; it runs whenever
  a target of its server does. memory-2 is not one: the mock refuses --workers 2 with the
  memory store, by design.
paths (--path NAME): {paths}

Each repeat starts every target afresh on a free loopback port (one process serving,
access log off), and for each path: sends one request (it must get the path's status,
else the path is reported broken); loads it for the warm-up, then for --duration;
req/s counts only answers with the path's status, and any other answer or socket error
is listed and fails the run (exit 1). The 200 paths name a record of their own in each
request: the run creates them beforehand through the mock's control plane, enough for
{margin}× the rate expected (the target's best on any path so far, else the bare
handler's; --fresh-rate overrides), and says so if they ran out; each runs in a start
of its own. The table shows medians over the repeats; × bare is req/s over the bare
handler's on the same server and path, × memory-1 over the mock's with the memory
store on uvicorn. A target that cannot run here (no redis-server, Granian not
installed, no npm for Prism) is reported unavailable, with the reason.

prism-craftkit, prism-firma: Stoplight Prism (npm's @stoplight/prism-cli, on the Node.js
it needs, both pinned in bench/prism/; tools/ensure_prism installs them with npm), the
peer the mock is compared with, one process per vendor document serving only its API's
paths. Prism is stateless: each request asks for its path's status (Prefer: code=NNN),
and names no base path. Its × memory-1 is its req/s over the mock's.

load: Debian's wrk (tools/ensure_wrk installs it when run as root), else a Python load
generator in this process (slower: its numbers are not wrk's; the output says which).

examples:
  make bench                                   everything, 3 repeats of 5 s per path
  python -m bench --only memory-1 --repeat 1   the mock and the bare handler, uvicorn
  python -m bench --only granian,memory-1 --path craftkit-409,craftkit-200
  python -m bench --duration 1 --warmup 0 --repeat 1 --json /tmp/bench.json
"""


def _choices(text: str, known: Sequence[str], groups: Sequence[str], what: str) -> list[str]:
    names = [word.strip() for word in text.split(",") if word.strip()]
    for name in names:
        if name not in known and name not in groups:
            raise argparse.ArgumentTypeError(
                f"{name!r} is no {what}; choose from {', '.join([*known, *groups])}"
            )
    return names


def _catalogue() -> list[Target]:
    """Every target, for the names only (no store is started)."""
    return catalogue(Stores(Path(tempfile.gettempdir())), fixtures=())


def build_parser() -> argparse.ArgumentParser:
    targets = _catalogue()
    names = [t.name for t in targets]
    groups = sorted({group for t in targets for group in t.groups})
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Throughput and latency of mock-server beside a bare handler on the "
        "same server (uvicorn, Granian), per store and worker count, and beside Stoplight "
        "Prism, on four paths.",
        epilog=EPILOG.format(
            groups=", ".join(groups),
            targets=", ".join(names),
            paths=", ".join(f"{p.name} ({p.title})" for p in PATHS),
            margin=FRESH_MARGIN,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--repeat", type=int, default=3, metavar="N", help="runs, medians reported (default: 3)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="measured load per path and run (default: 5; wrk rounds up to whole seconds)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="load before each measurement, not counted; 0 for none (default: 1)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=16,
        metavar="N",
        help="concurrent keep-alive connections (default: 16)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, metavar="N", help="wrk threads (default: 1)"
    )
    parser.add_argument(
        "--only",
        action="append",
        type=lambda text: _choices(text, names, groups, "target"),
        metavar="NAME",
        help="run only these targets (repeatable, or comma-separated): a name, or a group "
        "(a store, bare, mock, prism, or a server: uvicorn, granian); the bare handler of "
        "each server they use runs too",
    )
    parser.add_argument(
        "--path",
        action="append",
        type=lambda text: _choices(text, [p.name for p in PATHS], [], "path"),
        metavar="NAME",
        help="drive only these paths (repeatable, or comma-separated)",
    )
    parser.add_argument(
        "--fresh-rate",
        type=float,
        default=None,
        metavar="REQ_PER_S",
        help="size the 200 paths' records for this rate instead of the run's own (they are "
        f"made for {FRESH_MARGIN}× the rate over the warm-up and the load)",
    )
    parser.add_argument(
        "--load",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator: auto (wrk if it can be had, else python), wrk (fail without "
        "it), python (default: auto)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="also write the results here"
    )
    return parser


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _load(args: argparse.Namespace) -> tuple[LoadGenerator, dict[str, Any]] | str:
    """The load generator, and how the output describes it; or why there is none."""
    described: dict[str, Any] = {"connections": args.connections}
    if args.load in ("auto", "wrk"):
        path, line = find_wrk()
        if path is not None:
            described.update(tool="wrk", version=line, threads=args.threads)
            return Wrk(path, args.connections, args.threads), described
        if args.load == "wrk":
            return f"wrk cannot be had: {line}"
        described["why_not_wrk"] = line
    described.update(tool="python", version=f"asyncio, Python {sys.version.split()[0]}")
    return PythonLoad(args.connections), described


def refused(args: argparse.Namespace) -> str | None:
    """What is wrong with the load options (``--repeat``, ``--connections``,
    ``--threads``, ``--duration``, ``--warmup``), naming the flag and the value; or None."""
    for flag, value in (
        ("--repeat", args.repeat),
        ("--connections", args.connections),
        ("--threads", args.threads),
    ):
        if value < 1:
            return f"{flag} must be at least 1 (got {value})"
    if not 0 < args.duration <= 600 or not 0 <= args.warmup <= 600:
        return (
            f"--duration in (0, 600], --warmup in [0, 600] "
            f"(got {args.duration:g} and {args.warmup:g})"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    wrong = refused(args)
    if wrong is not None:
        sys.stderr.write(f"python -m bench: {wrong}\n")
        return 2
    if args.fresh_rate is not None and not 0 < args.fresh_rate <= 1_000_000:
        sys.stderr.write("python -m bench: --fresh-rate in (0, 1000000]\n")
        return 2
    path_names = {word for group in args.path or [[p.name for p in PATHS]] for word in group}
    paths = [p for p in PATHS if p.name in path_names]

    chosen = _load(args)
    if isinstance(chosen, str):
        sys.stderr.write(f"python -m bench: {chosen}\n")
        return 2
    load, described = chosen
    described.update(seconds=args.duration, warmup=args.warmup, repeat=args.repeat)

    if not compile_bytecode():  # the run goes on: each start compiles what it imports
        sys.stderr.write(
            "python -m bench: warning: mock_server's bytecode could not all be written "
            "(a read-only checkout?): ready times include compiling it\n"
        )
    with tempfile.TemporaryDirectory(prefix="mock-bench-") as tmp:
        workdir = Path(tmp)
        stores = Stores(workdir)
        try:
            everything = catalogue(stores, write_fixtures(workdir))
            wanted = {word for group in args.only or [] for word in group}
            targets = select(everything, wanted) if wanted else everything

            def check(target: Target) -> None:
                if isinstance(target, MockTarget):
                    stores.check(target.store)
                elif isinstance(target, PrismTarget):
                    target.check()

            results = run(
                targets,
                paths,
                load,
                repeat=args.repeat,
                seconds=args.duration,
                warmup=args.warmup,
                workdir=workdir,
                check=check,
                fresh_rate=args.fresh_rate,
            )
            ran = any(
                results.starts.get(name) for name, on in results.servers.items() if on == "prism"
            )
            info = machine(stores.redis_version, find_prism()[1] if ran else None)
        finally:
            stores.close()

    reached = goals(results)
    not_run = {name: why for name, why in NOT_RUN.items() if args.only is None}
    not_run.update(results.not_run)
    _print(results, info, described, reached, not_run)
    if args.json is not None:
        data = to_json(results, info, described, reached, not_run)
        args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    if results.problems:
        _out("\nFAILED: the rows below got answers other than their path's status, or none:")
        for problem in results.problems:
            _out(f"  {problem}")
        return 1
    return 0


def _print(
    results: Results,
    info: dict[str, Any],
    load: dict[str, Any],
    reached: list[Goal],
    not_run: dict[str, str],
) -> None:
    _out("## mock-server benchmark")
    _out()
    for line in describe_machine(info):
        _out(line)
    tool = load["tool"] + (f" ({load['version']})" if load.get("version") else "")
    threads = f", {load['threads']} thread(s)" if "threads" in load else ""
    _out(
        f"load: {tool}, {load['connections']} connections{threads}; {load['seconds']:g} s "
        f"per path after a {load['warmup']:g} s warm-up; {load['repeat']} repeat(s), medians"
    )
    if "why_not_wrk" in load:
        _out(f"  (not wrk: {load['why_not_wrk']})")
    for path in results.paths:
        fresh = f" (a fresh {path.fresh.what} each request)" if path.fresh else ""
        _out(f"path {path.name}: {path.title}; every answer must be {path.expected}{fresh}")
    _out()
    _out(table(results))
    _out()
    _out(
        "req/s: answers with the path's status per second; CPU: the server's processes' "
        "CPU time per answer; × bare: req/s over the bare handler's on the same server; "
        "× memory-1: over the mock's with the memory store on uvicorn (on a prism row: "
        "Prism's over the mock's); ready: process "
        "start to the first answer; memory after the paths that change nothing, summed "
        "over the server's processes (PSS shares out what they share)."
    )
    stolen = steal(results)
    if stolen is not None:
        _out(stolen)
    servers = servers_table(results)
    if servers is not None:
        _out()
        _out("Granian over uvicorn, same target and path (req/s: above 1 is faster; CPU per")
        _out("request: below 1 is cheaper):")
        _out()
        _out(servers)
    _out()
    for name, why in not_run.items():
        _out(f"not run: {name}: {why}")
    for name, why in results.unavailable.items():
        _out(f"unavailable: {name}: {why}")
    for goal in reached:
        _out(goal.text)
