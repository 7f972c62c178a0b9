"""Load generators: Debian's ``wrk`` (preferred), else a bounded Python one.

Both keep ``connections`` keep-alive connections busy for a fixed time, each sending one
path's request again as soon as its answer is in, and return a :class:`LoadResult`:
every answer counted by status (so an answer other than the path's expected one is
seen, never taken for speed), socket errors, and latency percentiles.

A fresh path's request names a record of its own (:data:`bench.paths.ID`): given
:class:`Records`, each request takes the next id of the list (wrk's threads take every
n-th), from ``Records.start`` on; past the end it starts again from the first id, and
counts those requests as ``reused`` (their records are used up: the answers are not
the path's status, and the run says the records ran out).
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.paths import ID, ROOT, BenchPath, Request
from bench.procs import ensure
from bench.wire import HOST, close, read_answer

__all__ = [
    "LoadGenerator",
    "LoadResult",
    "Records",
    "PythonLoad",
    "Wrk",
    "find_wrk",
    "percentile",
    "wrk_script",
]

REQUEST_TIMEOUT = 5.0
ENSURE_WRK = ROOT / "tools" / "ensure_wrk"
MARK = "BENCH-RESULT "


@dataclass(frozen=True)
class LoadResult:
    seconds: float  # how long the load ran, measured
    statuses: dict[int, int]  # answers by status
    errors: int  # connect/read/write errors and timeouts: requests with no answer
    p50_ms: float
    p99_ms: float
    used: int = 0  # ids of the Records taken (from its start on), whatever the answers
    reused: int = 0  # requests sent past the last id (naming a used record again)

    def count(self, status: int) -> int:
        return self.statuses.get(status, 0)

    def unexpected(self, expected: int) -> dict[str, int]:
        """Answers with another status than ``expected``, and errors, by kind."""
        found = {str(s): n for s, n in sorted(self.statuses.items()) if s != expected}
        if self.errors:
            found["errors"] = self.errors
        return found


@dataclass(frozen=True)
class Records:
    """A fresh path's record ids, in the order they are to be used, from ``start`` on;
    ``file`` holds them one per line (for wrk's script)."""

    ids: Sequence[str]
    file: Path
    start: int = 0

    def __post_init__(self) -> None:
        if not self.ids:
            raise ValueError("no record ids")

    def at(self, index: int) -> tuple[str, bool]:
        """The id of the ``index``-th request from ``start`` on, and whether it is used
        again (past the end)."""
        position = self.start + index
        return self.ids[position % len(self.ids)], position >= len(self.ids)

    @classmethod
    def write(cls, ids: Sequence[str], file: Path) -> Records:
        file.write_text("".join(f"{record}\n" for record in ids), encoding="ascii")
        return cls(ids, file)


class LoadGenerator(Protocol):
    @property
    def name(self) -> str: ...

    def run(
        self,
        port: int,
        path: BenchPath,
        seconds: float,
        workdir: Path,
        records: Records | None = None,
    ) -> LoadResult:
        """Load ``127.0.0.1:port`` with ``path`` for ``seconds``; ``workdir`` for files;
        ``records`` for a fresh path."""
        ...


def find_wrk() -> tuple[str | None, str]:
    """wrk's path (installed by ``tools/ensure_wrk`` when missing and run as root), and
    a line for the report: its version, or why it cannot be had."""
    path, why = ensure(ENSURE_WRK)
    if path is None:
        return None, why
    try:  # "wrk -v" prints its version and usage, and exits 1
        version = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{path} -v failed: {exc}"
    words = (version.stdout + version.stderr).split()
    return path, " ".join(words[:2]) if words else "wrk"  # "wrk debian/4.1.0-3+b2"


def _lua_string(text: str | bytes) -> str:
    """A Lua string literal for any bytes: printable ASCII as is, the rest escaped."""
    data = text.encode() if isinstance(text, str) else text
    out = []
    for byte in data:
        char = chr(byte)
        if char.isalnum() or char in " -_./:;,{}[]=+*#@!?()<>|~^&%$'":
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def _lua_naming(text: str | bytes) -> str:
    """A Lua expression for ``text`` with :data:`ID` replaced by the variable ``id``.

    >>> _lua_naming("/v1/{id}/cancel"), _lua_naming(b"")
    ('"/v1/" .. id .. "/cancel"', '""')
    """
    data = text.encode() if isinstance(text, str) else text
    return " .. id .. ".join(_lua_string(part) for part in data.split(ID.encode()))


def wrk_script(request: Request, records: Records | None = None, threads: int = 1) -> str:
    """The Lua script that sends ``request`` and counts answers by status over all threads.

    With ``records``, each request names the next id of ``records.file`` (thread k of
    n takes the ids k, k + n, k + 2n, ... from ``records.start`` on); ``done`` also
    prints how far the threads got (``next``) and how many requests went past the end
    (``reused``).
    """
    headers = "\n".join(
        f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}"
        for name, value in request.headers
    )
    fresh = ""
    fresh_done = ""
    if records is not None:
        fresh = f"""
local ids_file = {_lua_string(str(records.file))}
local first = {records.start}
local stride = {threads}

function request()
  local i = position
  position = position + stride
  if i >= count then
    reused = reused + 1
    i = i % count
  end
  local id = ids[i + 1]
  return wrk.format(nil, {_lua_naming(request.path)}, nil, {_lua_naming(request.body)})
end
"""
        fresh_done = """
  local next, again = 0, 0
  for _, thread in ipairs(threads) do
    next = math.max(next, thread:get("position") or 0)
    again = again + (thread:get("reused") or 0)
  end
  fresh = string.format(', "next": %d, "reused": %d', next, again)"""
    init_fresh = (
        """
  ids = {}
  for line in io.lines(ids_file) do
    ids[#ids + 1] = line
  end
  count = #ids
  position = first + slot
  reused = 0"""
        if records is not None
        else ""
    )
    return f"""\
-- written by bench/load.py for one path
wrk.method = {_lua_string(request.method)}
wrk.path = {_lua_string(request.path)}
wrk.body = {_lua_string(request.body)}
{headers}
{fresh}
local threads = {{}}

function setup(thread)
  thread:set("slot", #threads)
  table.insert(threads, thread)
end

function init(args)
  statuses = {{}}{init_fresh}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {{}}
  for _, thread in ipairs(threads) do
    local seen = thread:get("statuses") or {{}}
    for status, n in pairs(seen) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local parts = {{}}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  local fresh = ""{fresh_done}
  local e = summary.errors
  io.write(string.format(
    '{MARK}{{"duration_us": %d, "requests": %d, "statuses": {{%s}}, ' ..
    '"errors": %d, "p50_us": %d, "p99_us": %d%s}}\\n',
    summary.duration, summary.requests, table.concat(parts, ", "),
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), fresh))
end
"""


@dataclass(frozen=True)
class Wrk:
    """``wrk -t THREADS -c CONNECTIONS -d SECONDS --latency`` with a Lua script per path.

    wrk takes whole seconds: a duration is rounded up to the next one.
    """

    executable: str
    connections: int = 16
    threads: int = 1

    @property
    def name(self) -> str:
        return "wrk"

    def run(
        self,
        port: int,
        path: BenchPath,
        seconds: float,
        workdir: Path,
        records: Records | None = None,
    ) -> LoadResult:
        threads = min(self.threads, self.connections)
        script = workdir / f"{path.name}.lua"
        script.write_text(wrk_script(path.request, records, threads), encoding="utf-8")
        whole = max(1, math.ceil(seconds))
        command = [
            self.executable,
            "-t", str(threads),
            "-c", str(self.connections),
            "-d", f"{whole}s",
            "--timeout", f"{REQUEST_TIMEOUT:.0f}s",
            "-s", str(script),
            f"http://{HOST}:{port}{path.request.path}",
        ]  # fmt: skip
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=whole + 60, check=False
        )
        for line in done.stdout.splitlines():
            if line.startswith(MARK):
                data = json.loads(line.removeprefix(MARK))
                used = 0
                if records is not None:
                    used = min(data["next"], len(records.ids)) - records.start
                return LoadResult(
                    seconds=data["duration_us"] / 1e6,
                    statuses={int(s): n for s, n in data["statuses"].items()},
                    errors=data["errors"],
                    p50_ms=data["p50_us"] / 1000,
                    p99_ms=data["p99_us"] / 1000,
                    used=max(0, used),
                    reused=data.get("reused", 0),
                )
        raise RuntimeError(
            f"wrk exited {done.returncode} without a result:\n{done.stdout}{done.stderr}"
        )


def percentile(ordered: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``ordered`` (sorted) lies (nearest rank).

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5), percentile([1.0, 2.0, 3.0, 4.0], 0.99)
    (2.0, 4.0)
    """
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class PythonLoad:
    """asyncio, one task per connection, in the benchmark's own process: slower than wrk
    (it competes with the server for the CPU), so its numbers are not wrk's."""

    connections: int = 16

    @property
    def name(self) -> str:
        return "python"

    def run(
        self,
        port: int,
        path: BenchPath,
        seconds: float,
        workdir: Path,
        records: Records | None = None,
    ) -> LoadResult:
        return asyncio.run(self._run(port, path.request, seconds, records))

    async def _run(
        self, port: int, request: Request, seconds: float, records: Records | None
    ) -> LoadResult:
        host = f"{HOST}:{port}"
        static = request.raw(host)
        statuses: Counter[int] = Counter()
        latencies: list[float] = []
        errors = sent = reused = 0
        started = time.perf_counter()
        deadline = started + seconds

        def next_request() -> bytes:
            nonlocal sent, reused
            if records is None:
                return static
            record, again = records.at(sent)
            sent += 1
            reused += again
            return request.naming(record).raw(host)

        async def connection() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                try:
                    reader, writer = await asyncio.wait_for(
                        asyncio.open_connection(HOST, port), REQUEST_TIMEOUT
                    )
                except (OSError, TimeoutError):
                    errors += 1
                    await asyncio.sleep(0.05)
                    continue
                try:
                    while time.perf_counter() < deadline:
                        raw = next_request()
                        sent_at = time.perf_counter()
                        writer.write(raw)
                        answer = await asyncio.wait_for(read_answer(reader), REQUEST_TIMEOUT)
                        latencies.append(time.perf_counter() - sent_at)
                        statuses[answer.status] += 1
                except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
                    errors += 1
                finally:
                    await close(writer)

        await asyncio.gather(*(connection() for _ in range(self.connections)))
        elapsed = time.perf_counter() - started
        latencies.sort()
        used = 0
        if records is not None:
            used = min(records.start + sent, len(records.ids)) - records.start
        return LoadResult(
            seconds=elapsed,
            statuses=dict(statuses),
            errors=errors,
            p50_ms=percentile(latencies, 0.50) * 1000,
            p99_ms=percentile(latencies, 0.99) * 1000,
            used=used,
            reused=reused,
        )
