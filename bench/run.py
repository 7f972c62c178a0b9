"""One benchmark run: every target × every path, repeated; raw samples, no statistics.

Each repeat starts every target afresh (so ready time and memory are sampled once per
repeat too), and within a start drives each path in turn: one request first, which
must get the path's expected status (else the path is reported broken and not
loaded), then a warm-up whose numbers are dropped, then the measured load. Targets are
interleaved within a repeat, so a noisy minute on a shared machine spreads over all of
them instead of falling on one. The paths that change nothing share a start; each fresh
path gets a start of its own (:func:`_per_start`).

A fresh path (``craftkit-200``, ``firma-200``) first gets its records: enough ids for
the warm-up and the measured load at the rate the path is expected to run
(:func:`fresh_count`), created through the mock's control plane before any load, a
thousand a request (the bare handler answers any id, so it only gets the ids). Requests
past the last id name a used record again: their answers are not the path's status, so
they are never counted, and the run says the records ran out.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import LoadGenerator, Records
from bench.paths import BenchPath, Request
from bench.procs import machine_ticks
from bench.targets import Running, Target, Unavailable, start
from bench.wire import create_all, exchange

__all__ = ["Results", "Sample", "Start", "fresh_count", "run"]

MIB = 1024 * 1024

FRESH_MARGIN = 2.0
"""Fresh records for twice the expected rate over the warm-up and the measured load (records
cost little in batches; a noisy machine ran a 200 path 1.3× faster than its 409 path)."""
FRESH_SPARE = 200
"""And these few more: the first request, and requests in flight as a load ends."""
FRESH_DEFAULT_RATE = 10_000.0
"""req/s assumed for a fresh path when nothing of the run says better (above any server
measured here: too many records cost only time)."""


@dataclass(frozen=True)
class Sample:
    """One measured load of one path on one start of a target."""

    repeat: int
    rps: float  # answers with the expected status, per second
    p50_ms: float
    p99_ms: float
    answers: int  # every answer, whatever its status
    seconds: float  # how long the measured load ran
    cpu_us: float | None  # the server's CPU time (all its processes) per answer
    statuses: dict[str, int]  # the measured answers by status
    unexpected: dict[str, int]  # other statuses and errors, warm-up included
    fresh: int | None = None  # a fresh path: the records made for this load
    reused: int = 0  # a fresh path: requests past the last record (warm-up included)
    steal_pct: float | None = None  # the machine's CPU time the hypervisor took meanwhile


@dataclass(frozen=True)
class Start:
    """One start of a target: ready time, and memory once every path has run."""

    repeat: int
    ready_s: float
    rss_mib: float  # summed over the server's processes
    pss_mib: float  # shared pages shared out (what workers really add)
    processes: int


@dataclass
class Results:
    targets: list[str]
    paths: list[BenchPath]
    servers: dict[str, str] = field(default_factory=dict)  # target -> its server
    baselines: dict[str, str] = field(default_factory=dict)  # server -> its bare target
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    starts: dict[str, list[Start]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    not_run: dict[str, str] = field(default_factory=dict)  # target -> why it was not started
    problems: list[str] = field(default_factory=list)  # each one fails the run


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _complaints(server: Running, since: int, most: int = 3) -> str:
    """The server's first few distinct warnings and errors logged after offset ``since``, to
    say why it answered otherwise (a message repeated a thousand times is shown once, with
    its count)."""
    seen: Counter[str] = Counter()
    for line in server.log()[since:].splitlines():
        _, _, message = line.partition(" WARNING ")
        if not message:
            _, _, message = line.partition(" ERROR ")
        if message:
            seen[message.strip()] += 1
    if not seen:
        return ""
    shown = [f"{text} (×{n})" for text, n in list(seen.items())[:most]]
    return "; its log: " + " | ".join(shown)


def fresh_count(rate: float, seconds: float, warmup: float) -> int:
    """How many records a fresh path needs at ``rate`` req/s for a warm-up and a load
    (each rounded up to whole seconds, as wrk runs them), with a margin.

    >>> fresh_count(1000, seconds=5, warmup=1)
    12200
    >>> fresh_count(1000, seconds=0.5, warmup=0)
    2200
    """
    whole = max(1, math.ceil(seconds)) + (math.ceil(warmup) if warmup > 0 else 0)
    return math.ceil(rate * whole * FRESH_MARGIN) + FRESH_SPARE


def _expected_rate(results: Results, target: Target, path: BenchPath) -> tuple[float, str]:
    """The req/s ``path`` may run at on ``target``, and what says so: the target's best on
    any path of the run so far (the paths that change nothing run first, and are faster;
    on a shared machine a later repeat may well beat an earlier one by half), else the
    bare handler's on the same server and path, else a default."""

    def best(name: str, paths: Sequence[str]) -> float | None:
        rates = [
            s.answers / s.seconds
            for p in paths
            for s in results.samples.get((name, p), [])
            if s.seconds > 0
        ]
        return max(rates) if rates else None

    own = best(target.name, [p.name for p in results.paths])
    if own is not None:
        return own, "its best so far"
    bare = results.baselines.get(target.server)
    rate = best(bare, [path.name]) if bare is not None and bare != target.name else None
    if rate is not None:
        return rate, f"{bare} on this path"
    return FRESH_DEFAULT_RATE, "a default"


def _records(
    server: Running,
    path: BenchPath,
    count: int,
    workdir: Path,
    label: str,
) -> Records | str:
    """``count`` new ids for a fresh path, created in the server when it keeps state."""
    assert path.fresh is not None
    ids = [str(uuid.uuid4()) for _ in range(count)]
    if server.target.stateful:
        began = time.perf_counter()
        try:
            # Two connections: a batch is CPU work in the mock's one event loop, so more
            # at once only queue there (16 batches of 1,000 Craftkit records held a Redis
            # answer past the store's 2 s timeout: a 503).
            create_all(server.port, path.fresh.creating(ids), path.fresh.created, connections=2)
        except (OSError, ValueError) as exc:
            return f"creating {count} {path.fresh.what}s failed: {exc}"
        took = time.perf_counter() - began
        _say(f"{label}: {count:,} {path.fresh.what}s created in {took:.1f} s")
    return Records.write(ids, workdir / f"{path.name}.ids")


def _drive(
    server: Running,
    path: BenchPath,
    load: LoadGenerator,
    seconds: float,
    warmup: float,
    repeat: int,
    workdir: Path,
    fresh: tuple[int, str] | None = None,
    label: str = "",
) -> Sample | str:
    """Load one path (``fresh``: how many records, and why); the sample, or what went
    wrong (one line)."""
    records: Records | None = None
    request = path.request
    if path.fresh is not None:
        assert fresh is not None
        made = _records(server, path, fresh[0], workdir, label)
        if isinstance(made, str):
            return made
        request = request.naming(made.ids[0])
        records = Records(made.ids, made.file, start=1)
    try:
        first = exchange(server.port, request)
    except (OSError, ValueError) as exc:
        return f"the first request got no answer: {exc}"
    if first.status != path.expected:
        body = first.body[:300].decode("utf-8", "replace")
        return f"expected {path.expected}, the first request got {first.status}: {body}"
    unexpected: Counter[str] = Counter()
    reused = 0
    try:
        if warmup > 0:
            warm = load.run(server.port, path, warmup, workdir, records)
            unexpected.update(warm.unexpected(path.expected))
            reused += warm.reused
            if records is not None:
                records = Records(records.ids, records.file, records.start + warm.used)
        before, ticks = server.usage().cpu_seconds, machine_ticks()
        result = load.run(server.port, path, seconds, workdir, records)
        cpu = server.usage().cpu_seconds - before
        ticks_after = machine_ticks()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return f"{load.name} failed: {exc}"
    unexpected.update(result.unexpected(path.expected))
    reused += result.reused
    answers = sum(result.statuses.values())
    if not answers:
        return f"no answer in {seconds:g} s of load ({dict(unexpected) or 'no error either'})"
    return Sample(
        repeat=repeat,
        rps=result.count(path.expected) / result.seconds if result.seconds > 0 else 0.0,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        answers=answers,
        seconds=result.seconds,
        cpu_us=cpu * 1e6 / answers if answers else None,
        statuses={str(status): n for status, n in sorted(result.statuses.items())},
        unexpected=dict(unexpected),
        fresh=None if records is None else len(records.ids),
        reused=reused,
        steal_pct=None if ticks is None or ticks_after is None else ticks_after.steal_pct(ticks),
    )


def _probe(paths: Sequence[BenchPath]) -> Request:
    """What the ready probe sends (any answer will do): a path that changes nothing, else
    a fresh path's request naming no record."""
    for path in paths:
        if path.fresh is None:
            return path.request
    return paths[0].request.naming(str(uuid.UUID(int=0)))


def _measure(
    results: Results,
    server: Running,
    path: BenchPath,
    load: LoadGenerator,
    *,
    repeat: tuple[int, int],
    seconds: float,
    warmup: float,
    workdir: Path,
    fresh_rate: float | None,
) -> None:
    """Drive one path on a running server; its sample, or its problem, into ``results``."""
    target = server.target
    label = f"[{repeat[0]}/{repeat[1]}] {target.name} {path.name}"
    fresh = None
    if path.fresh is not None:
        rate, why = (
            (fresh_rate, "--fresh-rate") if fresh_rate else _expected_rate(results, target, path)
        )
        count = fresh_count(rate, seconds, warmup)
        if not target.stateful:  # ids alone cost nothing: twice as many
            count *= 2
        fresh = (count, f"{rate:,.0f} req/s ({why})")
    logged = len(server.log())
    outcome = _drive(server, path, load, seconds, warmup, repeat[0], workdir, fresh, label)
    if isinstance(outcome, str):
        results.problems.append(f"{target.name} {path.name}: {outcome}")
        _say(f"{label}: {outcome}")
        return
    results.samples.setdefault((target.name, path.name), []).append(outcome)
    if outcome.unexpected:
        ran_out = ""
        if outcome.reused and fresh is not None:
            ran_out = (
                f"; the {outcome.fresh:,} fresh records (for {fresh[1]}) ran out: "
                f"{outcome.reused:,} requests named a used one again (--fresh-rate sizes them)"
            )
        results.problems.append(
            f"{target.name} {path.name}: answers other than {path.expected}: "
            f"{outcome.unexpected}{ran_out}{_complaints(server, logged)}"
        )
    _say(
        f"{label}: {outcome.rps:.0f} req/s, p50 {outcome.p50_ms:.1f} ms, "
        f"p99 {outcome.p99_ms:.1f} ms"
        + (f", UNEXPECTED {outcome.unexpected}" if outcome.unexpected else "")
        + (f", {outcome.reused} past the records" if outcome.reused else "")
    )


def _per_start(paths: Sequence[BenchPath]) -> list[list[BenchPath]]:
    """The paths each start of a target drives: those that change nothing together, then
    each fresh path in a start of its own (its records, and what collecting them costs,
    stay out of the other paths' numbers).

    >>> from bench.paths import PATHS
    >>> [[p.name for p in group] for group in _per_start(PATHS)]
    [['craftkit-409', 'firma-400'], ['craftkit-200'], ['firma-200']]
    """
    plain = [p for p in paths if p.fresh is None]
    return ([plain] if plain else []) + [[p] for p in paths if p.fresh is not None]


def run(
    targets: Sequence[Target],
    paths: Sequence[BenchPath],
    load: LoadGenerator,
    *,
    repeat: int,
    seconds: float,
    warmup: float,
    workdir: Path,
    check: Callable[[Target], None] = lambda target: None,
    fresh_rate: float | None = None,
) -> Results:
    """Measure; ``check`` raises :class:`Unavailable` for a target that cannot run here;
    ``fresh_rate`` (req/s) sizes the fresh paths' records instead of the run's rates.

    Ready time and memory are those of each repeat's first start of a target (after the
    paths that change nothing, when there are any)."""
    served = {t.name: [p for p in map(t.serving, paths) if p is not None] for t in targets}
    idle = [t for t in targets if not served[t.name]]  # one API's Prism, the other's paths
    targets = [t for t in targets if served[t.name]]
    results = Results([t.name for t in targets], list(paths))
    for target in idle:
        results.not_run[target.name] = "serves none of the paths run (one API's only)"
    for target in targets:
        results.servers[target.name] = target.server
        if target.bare:
            results.baselines.setdefault(target.server, target.name)
    for target in targets:
        try:
            check(target)
        except Unavailable as exc:
            results.unavailable[target.name] = str(exc)
    for r in range(repeat):
        for target in targets:
            probe = _probe(served[target.name])
            for index, group in enumerate(_per_start(served[target.name])):
                if target.name in results.unavailable:
                    break
                where = workdir / f"{target.name}-{r + 1}" / (group[0].name if index else "start")
                try:
                    server = start(target, where, probe)
                except Unavailable as exc:
                    results.unavailable[target.name] = str(exc)
                    _say(f"[{r + 1}/{repeat}] {target.name}: unavailable: {exc}")
                    break
                _say(f"[{r + 1}/{repeat}] {target.name}: ready in {server.ready_seconds:.2f} s")
                try:
                    for path in group:
                        _measure(
                            results,
                            server,
                            path,
                            load,
                            repeat=(r + 1, repeat),
                            seconds=seconds,
                            warmup=warmup,
                            workdir=where,
                            fresh_rate=fresh_rate,
                        )
                    if index == 0:
                        used = server.usage()
                        results.starts.setdefault(target.name, []).append(
                            Start(
                                repeat=r + 1,
                                ready_s=server.ready_seconds,
                                rss_mib=used.rss_bytes / MIB,
                                pss_mib=used.pss_bytes / MIB,
                                processes=used.processes,
                            )
                        )
                finally:
                    server.stop()
    return results
