"""From raw samples to what is printed: medians, ratios to a baseline, one table, JSON.

The table is Markdown, so that a run's output pastes into ``docs/performance.md`` as it
is. The ratio column divides each row's req/s by the baseline target's on the same path
(the memory store with one worker: issue #11's question is what sharing the state costs).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass
from importlib import metadata
from typing import Any

from bench.paths import ROOT
from bench.run import Results

__all__ = ["Goal", "Row", "describe_machine", "goal", "machine", "rows", "table", "to_json"]

VERSIONS = ("esign-contract-mock", "uvicorn", "uvloop", "httptools", "redis", "hiredis")


@dataclass(frozen=True)
class Row:
    config: str
    path: str
    expected: int
    rps: float
    p50_ms: float
    p99_ms: float
    ratio: float | None  # rps over the baseline's on the same path
    cpu_us: float | None
    unexpected: dict[str, int]  # summed over the repeats


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rows(results: Results, baseline: str) -> list[Row]:
    """One row per target and path measured, medians over the repeats."""
    medians: dict[tuple[str, str], float] = {
        key: _median([s.rps for s in samples]) for key, samples in results.samples.items()
    }
    found = []
    for target in results.targets:
        for path in results.paths:
            samples = results.samples.get((target, path.name))
            if not samples:
                continue
            base = medians.get((baseline, path.name))
            rps = medians[(target, path.name)]
            cpu = [s.cpu_us for s in samples if s.cpu_us is not None]
            unexpected: dict[str, int] = {}
            for sample in samples:
                for kind, n in sample.unexpected.items():
                    unexpected[kind] = unexpected.get(kind, 0) + n
            found.append(
                Row(
                    config=target,
                    path=path.name,
                    expected=path.expected,
                    rps=rps,
                    p50_ms=_median([s.p50_ms for s in samples]),
                    p99_ms=_median([s.p99_ms for s in samples]),
                    ratio=rps / base if base else None,
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


def table(results: Results, baseline: str) -> str:
    """The Markdown table: one line per target and path; ready time and memory on the
    first line of each target."""
    head = (
        f"| config | path | req/s | p50 ms | p99 ms | × {baseline} | CPU µs/req "
        "| ready s | RSS / PSS MiB | other answers |"
    )
    lines = [head, "|" + "---|" * 2 + "---:|" * 7 + "---|"]
    shown: set[str] = set()
    for row in rows(results, baseline):
        extra = ["", ""]
        if row.config not in shown:
            shown.add(row.config)
            starts = _starts(results, row.config)
            if starts is not None:
                extra = [
                    f"{starts['ready_s']:.2f}",
                    f"{starts['rss_mib']:.0f} / {starts['pss_mib']:.0f}",
                ]
        other = ", ".join(f"{k}: {n}" for k, n in row.unexpected.items()) or "none"
        cells = [
            row.config,
            f"{row.path}",
            f"{row.rps:,.0f}",
            f"{row.p50_ms:.1f}",
            f"{row.p99_ms:.1f}",
            "–" if row.ratio is None else f"{row.ratio:.2f}",
            "–" if row.cpu_us is None else f"{row.cpu_us:.0f}",
            *extra,
            other,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Goal:
    text: str
    met: bool | None  # None: not measured in this run
    ratios: dict[str, float]


def goal(results: Results, subject: str, baseline: str, factor: float) -> Goal:
    """Whether ``subject`` reaches ``factor`` × ``baseline``'s req/s on every path."""
    said = f"{subject} ≥ {factor}× {baseline} req/s on every path"
    ratios = {
        row.path: row.ratio
        for row in rows(results, baseline)
        if row.config == subject and row.ratio is not None
    }
    if len(ratios) < len(results.paths):
        why = results.unavailable.get(subject) or results.unavailable.get(baseline)
        return Goal(f"{said}: not measured" + (f" ({why})" if why else ""), None, ratios)
    met = min(ratios.values()) >= factor
    detail = ", ".join(f"{path} {ratio:.2f}×" for path, ratio in ratios.items())
    return Goal(f"{said}: {'met' if met else 'NOT met'} ({detail})", met, ratios)


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


def machine(redis_server: str | None = None) -> dict[str, Any]:
    """The machine and the versions that shape the numbers."""
    versions: dict[str, str | None] = {}
    for name in VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["redis-server"] = redis_server
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
    baseline: str,
    info: dict[str, Any],
    load: dict[str, Any],
    reached: Goal,
    not_run: dict[str, str],
) -> dict[str, Any]:
    return {
        "machine": info,
        "load": load,
        "baseline": baseline,
        "paths": [
            {"name": p.name, "title": p.title, "expected": p.expected} for p in results.paths
        ],
        "rows": [
            {
                **asdict(row),
                "samples": [asdict(s) for s in results.samples[(row.config, row.path)]],
            }
            for row in rows(results, baseline)
        ],
        "configs": {
            target: {
                **(_starts(results, target) or {}),
                "starts": [asdict(s) for s in results.starts.get(target, [])],
            }
            for target in results.targets
            if target not in results.unavailable or target in results.starts
        },
        "unavailable": results.unavailable,
        "not_run": not_run,
        "goal": asdict(reached),
        "problems": results.problems,
    }
