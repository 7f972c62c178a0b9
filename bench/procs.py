"""What ``/proc`` says about a server's processes: the tree, memory, CPU time (Linux only)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Machine", "Usage", "descendants", "ensure", "machine_ticks", "usage"]

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")


def ensure(script: Path) -> tuple[str | None, str]:
    """Run one of ``tools/ensure_*`` (installs its program when missing and it can):
    the program's path, or ``None`` and why in one line (the script's last one)."""
    name = f"tools/{script.name}"
    try:
        done = subprocess.run([str(script)], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{name} failed: {exc}"
    said = done.stdout.strip().splitlines()
    if done.returncode != 0 or not said:
        lines = done.stderr.strip().splitlines()
        return None, lines[-1] if lines else f"{name} exited {done.returncode}"
    return said[-1], ""


def _parent(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (the workers a supervisor forked), alive now."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            parent = _parent(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 1000:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


@dataclass(frozen=True)
class Usage:
    """Memory and CPU time of some processes, summed.

    ``rss`` counts pages shared between a supervisor and its forked workers once per
    process; ``pss`` shares them out (the honest total for several workers).
    """

    processes: int
    rss_bytes: int
    pss_bytes: int
    cpu_seconds: float  # user + system, since each process started


def _field_kib(text: str, name: str) -> int:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def usage(pids: list[int]) -> Usage:
    """What ``pids`` use now; processes gone meanwhile count as nothing."""
    count = rss = pss = 0
    cpu = 0.0
    for pid in pids:
        base = PROC / str(pid)
        try:
            status = (base / "status").read_text()
            stat = (base / "stat").read_text().rsplit(")", 1)[1].split()
            try:
                rollup = (base / "smaps_rollup").read_text()
            except OSError:
                rollup = ""
        except OSError:
            continue
        count += 1
        rss += _field_kib(status, "VmRSS") * 1024
        pss += _field_kib(rollup, "Pss") * 1024
        # fields after "(comm)": state is [0], utime [11], stime [12]
        cpu += (int(stat[11]) + int(stat[12])) / TICKS
    return Usage(count, rss, pss, cpu)


@dataclass(frozen=True)
class Machine:
    """The machine's CPU time so far, all cores (``/proc/stat``), in clock ticks."""

    total: int
    steal: int
    """Taken by the hypervisor for other guests: this machine's processes waited meanwhile."""

    def steal_pct(self, since: Machine) -> float | None:
        """Of the CPU time since ``since``, the share stolen, in percent.

        >>> Machine(1200, 30).steal_pct(Machine(1000, 10))
        10.0
        >>> Machine(1000, 10).steal_pct(Machine(1000, 10)) is None
        True
        """
        total = self.total - since.total
        return 100 * (self.steal - since.steal) / total if total > 0 else None


def machine_ticks(stat: Path = PROC / "stat") -> Machine | None:
    r"""Now, or ``None`` where ``/proc/stat`` has no steal column (not Linux, or an old one).

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w") as file:
    ...     _ = file.write("cpu  100 2 30 400 5 0 6 7 0 0\ncpu0 1 2 3 4\n")
    ...     file.flush()
    ...     machine_ticks(Path(file.name))
    Machine(total=550, steal=7)
    """
    try:
        first = stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is
    # counted in user and nice already)
    if len(first) < 9 or first[0] != "cpu":
        return None
    ticks = [int(value) for value in first[1:9]]
    return Machine(total=sum(ticks), steal=ticks[7])
