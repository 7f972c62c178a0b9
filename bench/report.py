"""From raw samples to what is printed: medians, ratios to baselines, tables, JSON.

The tables are Markdown, so that a run's output pastes into ``docs/performance.md`` as
it is. Two ratio columns divide a row's req/s by another target's on the same path:
``× bare``, by the bare handler's on the same server (issue #12: what the mock itself
costs), and ``× memory-1``, by the mock's with the memory store and one worker on
uvicorn (issue #11: what sharing the state costs; on ``memory-1-granian``, what the
server changes). A second table puts the servers side by side.
"""

from __future__ import annotations

import operator
import os
import platform
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from importlib import metadata
from typing import Any

from bench.paths import ROOT
from bench.run import Results

__all__ = [
    "Goal",
    "Row",
    "describe_machine",
    "goals",
    "machine",
    "rows",
    "servers_table",
    "table",
    "to_json",
]

VERSIONS = (
    "esign-contract-mock",
    "uvicorn",
    "uvloop",
    "httptools",
    "granian",
    "starlette",
    "redis",
    "hiredis",
)
STORES_BASELINE = "memory-1"


@dataclass(frozen=True)
class Row:
    target: str
    server: str
    path: str
    expected: int
    rps: float
    p50_ms: float
    p99_ms: float
    vs_bare: float | None  # rps over the bare handler's on the same server and path
    vs_memory: float | None  # a mock's rps over memory-1's on the same path
    cpu_us: float | None
    unexpected: dict[str, int]  # summed over the repeats


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _rps(results: Results, target: str | None, path: str) -> float | None:
    samples = results.samples.get((target, path)) if target is not None else None
    return _median([s.rps for s in samples]) if samples else None


def _over(value: float, base: float | None) -> float | None:
    return value / base if base else None


def rows(results: Results) -> list[Row]:
    """One row per target and path measured, medians over the repeats."""
    found = []
    for target in results.targets:
        server = results.servers.get(target, "")
        bare = results.baselines.get(server)
        for path in results.paths:
            samples = results.samples.get((target, path.name))
            if not samples:
                continue
            rps = _median([s.rps for s in samples])
            cpu = [s.cpu_us for s in samples if s.cpu_us is not None]
            unexpected: dict[str, int] = {}
            for sample in samples:
                for kind, n in sample.unexpected.items():
                    unexpected[kind] = unexpected.get(kind, 0) + n
            is_bare = target in results.baselines.values()
            found.append(
                Row(
                    target=target,
                    server=server,
                    path=path.name,
                    expected=path.expected,
                    rps=rps,
                    p50_ms=_median([s.p50_ms for s in samples]),
                    p99_ms=_median([s.p99_ms for s in samples]),
                    vs_bare=_over(rps, _rps(results, bare, path.name)),
                    vs_memory=None
                    if is_bare
                    else _over(rps, _rps(results, STORES_BASELINE, path.name)),
                    cpu_us=_median(cpu) if cpu else None,
                    unexpected=unexpected,
                )
            )
    return found


def _starts(results: Results, target: str) -> dict[str, float] | None:
    starts = results.starts.get(target)
    if not starts:
        return None
    return {
        "ready_s": _median([s.ready_s for s in starts]),
        "rss_mib": _median([s.rss_mib for s in starts]),
        "pss_mib": _median([s.pss_mib for s in starts]),
        "processes": max(s.processes for s in starts),
    }


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(results: Results) -> str:
    """The Markdown table: one line per target and path; ready time and memory on the
    first line of each target."""
    head = (
        f"| target | server | path | req/s | p50 ms | p99 ms | CPU µs/req | × bare "
        f"| × {STORES_BASELINE} | ready s | RSS / PSS MiB | other answers |"
    )
    lines = [head, "|" + "---|" * 3 + "---:|" * 8 + "---|"]
    shown: set[str] = set()
    for row in rows(results):
        extra = ["", ""]
        if row.target not in shown:
            shown.add(row.target)
            starts = _starts(results, row.target)
            if starts is not None:
                extra = [
                    f"{starts['ready_s']:.2f}",
                    f"{starts['rss_mib']:.0f} / {starts['pss_mib']:.0f}",
                ]
        other = ", ".join(f"{k}: {n}" for k, n in row.unexpected.items()) or "none"
        cells = [
            row.target,
            row.server,
            row.path,
            f"{row.rps:,.0f}",
            f"{row.p50_ms:.1f}",
            f"{row.p99_ms:.1f}",
            "–" if row.cpu_us is None else f"{row.cpu_us:.0f}",
            _ratio(row.vs_bare),
            _ratio(row.vs_memory),
            *extra,
            other,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


STEAL_SKEWS = 5.0
"""Percent of the machine's CPU time taken by the hypervisor past which a run says its
numbers are skewed (a shared virtual machine: the servers and wrk wait meanwhile)."""


def steal(results: Results) -> str | None:
    """One line: how much CPU time the hypervisor took during the measured loads (median,
    and the worst load's), or ``None`` where the machine does not say (not Linux)."""
    measured = [
        (sample.steal_pct, target, path, sample.repeat)
        for (target, path), samples in results.samples.items()
        for sample in samples
        if sample.steal_pct is not None
    ]
    if not measured:
        return None
    worst, target, path, repeat = max(measured)
    median = _median([pct for pct, *_ in measured])
    line = (
        f"CPU time taken by the hypervisor (steal) during the measured loads: median "
        f"{median:.1f} %, at most {worst:.1f} % ({target}, {path}, repeat {repeat})"
    )
    if worst > STEAL_SKEWS:
        line += "; over a few percent, a load's numbers are skewed: compare ratios of one run"
    return line


SERVER_PAIRS = (("bare", "bare-uvicorn", "bare-granian"), ("mock", "memory-1", "memory-1-granian"))


def servers_table(results: Results) -> str | None:
    """Granian over uvicorn, per path, for the bare handler and the mock (memory store,
    one worker): req/s and CPU per request. None when no pair ran."""
    by_key = {(row.target, row.path): row for row in rows(results)}
    lines = []
    for path in results.paths:
        cells = [path.name]
        for _, uvicorn, granian in SERVER_PAIRS:
            fast, slow = by_key.get((granian, path.name)), by_key.get((uvicorn, path.name))
            if fast is None or slow is None:
                cells += ["–", "–"]
                continue
            cells.append(_ratio(_over(fast.rps, slow.rps)))
            cells.append("–" if fast.cpu_us is None else _ratio(_over(fast.cpu_us, slow.cpu_us)))
        if any(cell != "–" for cell in cells[1:]):
            lines.append("| " + " | ".join(cells) + " |")
    if not lines:
        return None
    head = (
        "| path | bare: req/s | bare: CPU/req | mock (memory-1): req/s | mock: CPU/req |\n"
        "|---|---:|---:|---:|---:|"
    )
    return head + "\n" + "\n".join(lines)


@dataclass(frozen=True)
class Goal:
    text: str
    met: bool | None  # None: not measured in this run
    values: dict[str, float]


def _goal(
    said: str,
    values: dict[str, float | None],
    ok: Callable[[float], bool],
    shown: Callable[[str, float], str],
    why: str | None,
) -> Goal:
    known = {k: v for k, v in values.items() if v is not None}
    if not values or len(known) < len(values):
        return Goal(f"{said}: not measured" + (f" ({why})" if why else ""), None, known)
    met = all(ok(v) for v in known.values())
    detail = ", ".join(shown(k, v) for k, v in known.items())
    return Goal(f"{said}: {'met' if met else 'NOT met'} ({detail})", met, known)


def goals(results: Results) -> list[Goal]:
    """Issue #12's goals (throughput, p99, ready time) and issue #11's (Redis over memory),
    each met, not met, or not measured in this run."""
    found = []
    path_names = [p.name for p in results.paths]

    def why(*targets: str) -> str | None:
        for target in targets:
            if target in results.unavailable:
                return f"{target}: {results.unavailable[target]}"
        return None

    for issue, subject, base, factor in (
        ("#12", "memory-1", "bare-uvicorn", 0.8),
        ("#12", "memory-1-granian", "bare-granian", 0.8),
        ("#11", "redis-1", STORES_BASELINE, 0.5),
    ):
        ratios: dict[str, float | None] = {}
        for path in path_names:
            rps = _rps(results, subject, path)
            ratios[path] = None if rps is None else _over(rps, _rps(results, base, path))
        found.append(
            _goal(
                f"goal (issue {issue}): {subject} ≥ {factor}× {base} req/s on every path",
                ratios,
                partial(operator.le, factor),
                lambda k, v: f"{k} {v:.2f}×",
                why(subject, base),
            )
        )
    samples = results.samples.get(("memory-1", "craftkit-409"))
    p99 = _median([s.p99_ms for s in samples]) if samples else None
    found.append(
        _goal(
            "goal (issue #12): memory-1 p99 ≤ 5 ms on craftkit-409",
            {"craftkit-409": p99} if "craftkit-409" in path_names else {},
            partial(operator.ge, 5.0),
            lambda k, v: f"{v:.1f} ms",
            why("memory-1"),
        )
    )
    starts = _starts(results, "memory-1")
    found.append(
        _goal(
            "goal (issue #12): memory-1 ready ≤ 0.5 s",
            {"ready": starts["ready_s"] if starts else None},
            partial(operator.ge, 0.5),
            lambda k, v: f"{v:.2f} s",
            why("memory-1"),
        )
    )
    return found


def _git() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return head + (" with uncommitted changes" if dirty else "")


def _cpu_model() -> str | None:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine(redis_server: str | None = None, prism: str | None = None) -> dict[str, Any]:
    """The machine and the versions that shape the numbers (the servers the run started
    that are no Python package: ``redis-server``, Prism, when they ran)."""
    versions: dict[str, str | None] = {}
    for name in VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["redis-server"] = redis_server
    versions["prism"] = prism
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu": _cpu_model(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": versions,
        "git": _git(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def describe_machine(info: dict[str, Any]) -> list[str]:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v is not None)
    load = ", ".join(str(x) for x in info["load_average"])
    return [
        f"machine: {info['cores']} cores ({info['usable_cores']} usable), {info['cpu']}, "
        f"{info['system']}, Python {info['python']}",
        f"versions: {versions}" + (f"; git {info['git']}" if info["git"] else ""),
        f"load average before the run: {load} (other work on the machine skews the numbers)",
    ]


def to_json(
    results: Results,
    info: dict[str, Any],
    load: dict[str, Any],
    reached: list[Goal],
    not_run: dict[str, str],
) -> dict[str, Any]:
    return {
        "machine": info,
        "load": load,
        "baselines": {"bare": results.baselines, "stores": STORES_BASELINE},
        "paths": [
            {"name": p.name, "title": p.title, "expected": p.expected, "fresh": p.fresh is not None}
            for p in results.paths
        ],
        "rows": [
            {
                **asdict(row),
                "samples": [asdict(s) for s in results.samples[(row.target, row.path)]],
            }
            for row in rows(results)
        ],
        "targets": {
            target: {
                "server": results.servers.get(target),
                **(_starts(results, target) or {}),
                "starts": [asdict(s) for s in results.starts.get(target, [])],
            }
            for target in results.targets
            if target not in results.unavailable or target in results.starts
        },
        "unavailable": results.unavailable,
        "not_run": not_run,
        "goals": [asdict(goal) for goal in reached],
        "problems": results.problems,
    }
