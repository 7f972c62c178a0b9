"""One benchmark run: every target × every path, repeated; raw samples, no statistics.

Each repeat starts every target afresh (so ready time and memory are sampled once per
repeat too), and within a start drives each path in turn: one request first, which
must get the path's expected status (else the path is reported broken and not
loaded), then a warm-up whose numbers are dropped, then the measured load. Targets are
interleaved within a repeat, so a noisy minute on a shared machine spreads over all of
them instead of falling on one.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import LoadGenerator
from bench.paths import BenchPath
from bench.targets import Running, Target, Unavailable, start
from bench.wire import exchange

__all__ = ["Results", "Sample", "Start", "run"]

MIB = 1024 * 1024


@dataclass(frozen=True)
class Sample:
    """One measured load of one path on one start of a target."""

    repeat: int
    rps: float  # answers with the expected status, per second
    p50_ms: float
    p99_ms: float
    answers: int  # every answer, whatever its status
    cpu_us: float | None  # the server's CPU time (all its processes) per answer
    statuses: dict[str, int]  # the measured answers by status
    unexpected: dict[str, int]  # other statuses and errors, warm-up included


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
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    starts: dict[str, list[Start]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
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


def _drive(
    server: Running,
    path: BenchPath,
    load: LoadGenerator,
    seconds: float,
    warmup: float,
    repeat: int,
    workdir: Path,
) -> Sample | str:
    """Load one path; the sample, or what went wrong (one line)."""
    try:
        first = exchange(server.port, path.request)
    except (OSError, ValueError) as exc:
        return f"the first request got no answer: {exc}"
    if first.status != path.expected:
        body = first.body[:300].decode("utf-8", "replace")
        return f"expected {path.expected}, the first request got {first.status}: {body}"
    unexpected: Counter[str] = Counter()
    try:
        if warmup > 0:
            warm = load.run(server.port, path, warmup, workdir)
            unexpected.update(warm.unexpected(path.expected))
        before = server.usage().cpu_seconds
        result = load.run(server.port, path, seconds, workdir)
        cpu = server.usage().cpu_seconds - before
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return f"{load.name} failed: {exc}"
    unexpected.update(result.unexpected(path.expected))
    answers = sum(result.statuses.values())
    if not answers:
        return f"no answer in {seconds:g} s of load ({dict(unexpected) or 'no error either'})"
    return Sample(
        repeat=repeat,
        rps=result.count(path.expected) / result.seconds if result.seconds > 0 else 0.0,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        answers=answers,
        cpu_us=cpu * 1e6 / answers if answers else None,
        statuses={str(status): n for status, n in sorted(result.statuses.items())},
        unexpected=dict(unexpected),
    )


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
) -> Results:
    """Measure; ``check`` raises :class:`Unavailable` for a target that cannot run here."""
    results = Results([t.name for t in targets], list(paths))
    probe = paths[0].request
    for target in targets:
        try:
            check(target)
        except Unavailable as exc:
            results.unavailable[target.name] = str(exc)
    for r in range(repeat):
        for target in targets:
            if target.name in results.unavailable:
                continue
            where = workdir / f"{target.name}-{r + 1}"
            try:
                server = start(target, where, probe)
            except Unavailable as exc:
                results.unavailable[target.name] = str(exc)
                _say(f"[{r + 1}/{repeat}] {target.name}: unavailable: {exc}")
                continue
            _say(f"[{r + 1}/{repeat}] {target.name}: ready in {server.ready_seconds:.2f} s")
            try:
                for path in paths:
                    logged = len(server.log())
                    outcome = _drive(server, path, load, seconds, warmup, r + 1, where)
                    if isinstance(outcome, str):
                        results.problems.append(f"{target.name} {path.name}: {outcome}")
                        _say(f"[{r + 1}/{repeat}] {target.name} {path.name}: {outcome}")
                        continue
                    results.samples.setdefault((target.name, path.name), []).append(outcome)
                    if outcome.unexpected:
                        results.problems.append(
                            f"{target.name} {path.name}: answers other than "
                            f"{path.expected}: {outcome.unexpected}{_complaints(server, logged)}"
                        )
                    _say(
                        f"[{r + 1}/{repeat}] {target.name} {path.name}: "
                        f"{outcome.rps:.0f} req/s, p50 {outcome.p50_ms:.1f} ms, "
                        f"p99 {outcome.p99_ms:.1f} ms"
                        + (f", UNEXPECTED {outcome.unexpected}" if outcome.unexpected else "")
                    )
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
