"""The Redis back-end: any number of workers on any number of hosts share one world.

Through redis-py's asyncio client. Every read-modify-write is one atomic step on
the server: a transition is an optimistic compare-and-set (read, ``decide`` in
Python, then a Lua script that writes only if the record is still what was read,
else the transition reads and decides again); sessions, the journal and faults
are Lua scripts. No locks are taken, so a worker killed at any point leaves
nothing held. A standalone Redis (or a primary with replicas) is needed: the
scripts touch keys they derive, which Redis Cluster does not allow.

Key layout (``{p}`` = ``mock:{namespace}``)::

    mock:world                 hash: the fixture fingerprint last served -> namespace
    mock:seq                   counter: journal and fault ids, first-change order
    {p}:sessions               zset: session -> last used (epoch seconds)
    {p}:s:{session}:rec        hash: "table<US>key" -> record (JSON)
    {p}:s:{session}:order      zset: "table<US>key" -> order of first change
    {p}:s:{session}:journal    list: "id JSON", oldest first
    {p}:s:{session}:jbytes     counter: bytes in the journal list
    {p}:s:{session}:faults     list: fault (JSON), in the order consulted

Durability is Redis's own (``appendonly``, ``save``): README says which to choose.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, NoScriptError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mock_server.state.base import (
    Begun,
    Decide,
    Fault,
    JournalEntry,
    Logged,
    Outcome,
    Read,
    Record,
    StoreUnavailable,
    Touched,
    Window,
)
from mock_server.state.limits import DEFAULT_SESSION, Limits

__all__ = ["BATCH", "CONNECTIONS", "IN_FLIGHT", "TIMEOUT", "RedisBackend"]

log = logging.getLogger("mock_server.state")

TIMEOUT = 2.0
"""Seconds any one command may take (connecting included) before the request gets a 503."""
CONNECTIONS = 32
"""Connections each worker keeps to Redis at most; more concurrent requests queue for one."""
BATCH = 256
"""Commands sent in one round trip at most (see :class:`_Batcher`)."""
IN_FLIGHT = 2
"""Batches a worker has on their way to Redis at once; later commands gather for the next."""
MAX_RETRIES = 100
"""Compare-and-set attempts of one transition before giving up (only under heavy contention)."""

_SEP = "\x1f"  # between table and key in a record's field name

_SESSION_KEYS = ("rec", "order", "journal", "jbytes", "faults")

# Lua functions the scripts share (one definition each).
#   drop(prefix, name): delete one session's keys.
#   touch(sessions, name, now, ttl, max, prefix, default): register a request to a session;
#     2 if it starts afresh because it was found idle beyond ttl, 1 if afresh otherwise
#     (new, or forgotten before: idle beyond ttl, evicted), else 0. Sweeps
#     idle sessions and the ones beyond max (least recently used first), never 'default'
#     nor the session touched.
#   take(faults, api, operation): the first fault for the call, counted down (removed at its
#     last use); false if none.
_FUNCTIONS = """
local function drop(prefix, name)
  redis.call('DEL', prefix .. name .. ':rec', prefix .. name .. ':order',
    prefix .. name .. ':journal', prefix .. name .. ':jbytes', prefix .. name .. ':faults')
end

local function touch(sessions, name, now, ttl, max, prefix, default)
  local created = 0
  local last = redis.call('ZSCORE', sessions, name)
  if not last then
    created = 1
    drop(prefix, name)  -- what requests wrote after it was forgotten (evicted, expired)
  elseif name ~= default and now - tonumber(last) > ttl then
    created = 2
    drop(prefix, name)
  end
  redis.call('ZADD', sessions, now, name)
  local idle = redis.call('ZRANGEBYSCORE', sessions, '-inf', '(' .. (now - ttl), 'LIMIT', 0, 8)
  for _, old in ipairs(idle) do
    if old ~= default and old ~= name then
      drop(prefix, old)
      redis.call('ZREM', sessions, old)
    end
  end
  local over = redis.call('ZCARD', sessions) - max
  if over > 0 then
    local oldest = redis.call('ZRANGE', sessions, 0, over)
    for _, old in ipairs(oldest) do
      if over > 0 and old ~= default and old ~= name then
        drop(prefix, old)
        redis.call('ZREM', sessions, old)
        over = over - 1
      end
    end
  end
  return created
end

local function take(faults, api, operation)
  for index, item in ipairs(redis.call('LRANGE', faults, 0, -1)) do
    local fault = cjson.decode(item)
    if fault.api == api and fault.operation == operation then
      if fault.remaining ~= cjson.null then
        if fault.remaining <= 1 then
          redis.call('LREM', faults, 1, item)
        else
          fault.remaining = fault.remaining - 1
          redis.call('LSET', faults, index - 1, cjson.encode(fault))
        end
      end
      return item
    end
  end
  return false
end
"""

# KEYS: sessions zset. ARGV: name, now, ttl, max, session prefix, default name.
# Returns {created, how many faults the session has}.
_TOUCH = (
    _FUNCTIONS
    + """
local name, prefix = ARGV[1], ARGV[5]
local created = touch(KEYS[1], name, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  prefix, ARGV[6])
return {created, redis.call('LLEN', prefix .. name .. ':faults')}
"""
)

# KEYS: sessions zset, faults list, rec hash. ARGV: name, now, ttl, max, session prefix,
# default name, api ('' for none), operation, then the fields to read.
# Returns {created, the fault taken or false, the fields' values or false...}.
_BEGIN = (
    _FUNCTIONS
    + """
local created = touch(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4]), ARGV[5], ARGV[6])
local taken = false
if ARGV[7] ~= '' then
  taken = take(KEYS[2], ARGV[7], ARGV[8])
end
local result = {created, taken}
for i = 9, #ARGV do
  result[#result + 1] = redis.call('HGET', KEYS[3], ARGV[i])
end
return result
"""
)

# KEYS: rec hash, order zset, seq. ARGV: field, expected ('' with ARGV[4]='1': absent), new, absent
_CAS = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[4] == '1' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[2], 'NX', redis.call('INCR', KEYS[3]), ARGV[1])
end
return 1
"""

# KEYS: rec hash, order zset, seq. ARGV: n fields, then their n values. Stores every field,
# first changed in ARGV's order, unless any is taken: returns the fields taken (none stored).
_INSERT_ALL = """
local n = #ARGV / 2
local taken = {}
for i = 1, n do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    taken[#taken + 1] = ARGV[i]
  end
end
if #taken > 0 then
  return taken
end
local first = redis.call('INCRBY', KEYS[3], n) - n
for i = 1, n do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[n + i])
  redis.call('ZADD', KEYS[2], 'NX', first + i, ARGV[i])
end
return taken
"""

# KEYS: rec hash, order zset, seq. ARGV: field, now, window length. Returns {start, used}
# as strings: the start is kept as the text written (cjson's %.14g would round it).
_COUNT = """
local start, used = ARGV[2], 1
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local was = string.match(current, '"start":%s*([^,}%s]+)')
  local count = tonumber(string.match(current, '"used":%s*([^,}%s]+)'))
  if tonumber(ARGV[2]) < tonumber(was) + tonumber(ARGV[3]) then
    start, used = was, count + 1
  end
else
  redis.call('ZADD', KEYS[2], 'NX', redis.call('INCR', KEYS[3]), ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], '{"start":' .. start .. ',"used":' .. used .. '}')
return {tostring(start), tostring(used)}
"""

# KEYS: journal list, jbytes, seq. ARGV: payload (JSON), cap in bytes. Returns the id.
_LOG = """
local id = redis.call('INCR', KEYS[3])
local item = id .. ' ' .. ARGV[1]
redis.call('RPUSH', KEYS[1], item)
local total = redis.call('INCRBY', KEYS[2], #item)
local cap = tonumber(ARGV[2])
while total > cap and redis.call('LLEN', KEYS[1]) > 1 do
  local dropped = redis.call('LPOP', KEYS[1])
  total = redis.call('DECRBY', KEYS[2], #dropped)
end
return id
"""

# KEYS: faults list. ARGV: api, operation. Returns the fault as it was, or nil.
_TAKE = _FUNCTIONS + "return take(KEYS[1], ARGV[1], ARGV[2])\n"

# KEYS: mock:world, the world's sessions zset. ARGV: fingerprint. Makes it the world served;
# returns the one before. Sessions left from an earlier time it was served are unregistered
# in the same step (so each starts empty: see _TOUCH), never what was written since.
_WORLD = """
local before = redis.call('HGET', KEYS[1], 'fingerprint')
if before ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1])
  redis.call('DEL', KEYS[2])
end
return before
"""

# KEYS: faults list. Returns how many there were.
_CLEAR = """
local count = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return count
"""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, AuthenticationError):
        return f"authentication failed ({exc}): check the password in the URL or $REDIS_PASSWORD"
    if isinstance(exc, RedisTimeoutError):
        return f"no answer within {TIMEOUT:g} s"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


Stage = Callable[[Any], Any]
"""Queues one command on a pipeline."""


class _Batcher:
    """Auto-pipelining: commands wait while :data:`IN_FLIGHT` batches are on their way, then
    go to Redis together in one pipeline (one round trip, one pass through the client), and
    each caller gets its own reply. Alone, a command goes at once; under load, a worker's
    concurrent requests share round trips, so the client's cost per command falls as the
    load grows. Each command stays atomic on its own (no MULTI)."""

    def __init__(self, client: aioredis.Redis, scripts: list[Any]) -> None:
        self._client = client
        self.scripts = scripts
        self._pending: list[tuple[Stage, asyncio.Future[Any]]] = []
        self._in_flight = 0
        self._scheduled = False

    def run(self, stage: Stage) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((stage, future))
        if not self._scheduled and self._in_flight < IN_FLIGHT:
            self._scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        while self._pending and self._in_flight < IN_FLIGHT:
            batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
            self._in_flight += 1
            asyncio.ensure_future(self._send(batch)).add_done_callback(self._landed)

    def _landed(self, _: object) -> None:
        self._in_flight -= 1
        if self._pending and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def _send(self, batch: list[tuple[Stage, asyncio.Future[Any]]]) -> None:
        try:
            results = await self._execute(batch)
            lost = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
            if lost:  # Redis restarted: load again, and send again only what it refused
                for script in self.scripts:
                    script.sha = await self._client.script_load(script.script)
                again = await self._execute([batch[i] for i in lost])
                for i, result in zip(lost, again, strict=True):
                    results[i] = result
        except BaseException as exc:
            failed = batch
            if isinstance(exc, (RedisConnectionError, RedisTimeoutError, OSError)):
                # Redis is lost or hung: what waits behind this batch would wait for it in
                # turn, a timeout each. It is refused now, unsent (so it changes nothing).
                failed, self._pending = batch + self._pending, []
            for _, future in failed:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def _execute(self, batch: list[tuple[Stage, asyncio.Future[Any]]]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for stage, _ in batch:
                stage(pipe)
            results: list[Any] = await pipe.execute(raise_on_error=False)
            return results


class RedisBackend:
    """State in one Redis database, shared by every worker and host pointed at it."""

    def __init__(self, client: aioredis.Redis, *, url: str, limits: Limits) -> None:
        self.url = url
        self.limits = limits
        self._client = client
        self._touch = client.register_script(_TOUCH)
        self._cas = client.register_script(_CAS)
        self._log = client.register_script(_LOG)
        self._take = client.register_script(_TAKE)
        self._world = client.register_script(_WORLD)
        self._clear = client.register_script(_CLEAR)
        self._count = client.register_script(_COUNT)
        self._begin = client.register_script(_BEGIN)
        self._insert_all = client.register_script(_INSERT_ALL)
        self._batcher = _Batcher(
            client,
            [
                self._touch,
                self._cas,
                self._log,
                self._take,
                self._world,
                self._clear,
                self._count,
                self._begin,
                self._insert_all,
            ],
        )

    def _script(self, script: Any, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        """Run a Lua script in the next batch (its sha; loaded again if Redis lost it)."""
        return self._batcher.run(lambda pipe: pipe.evalsha(script.sha, len(keys), *keys, *args))

    def _command(self, *words: Any) -> asyncio.Future[Any]:
        return self._batcher.run(lambda pipe: pipe.execute_command(*words))

    @classmethod
    def from_url(cls, url: str, *, limits: Limits, environ: Mapping[str, str]) -> RedisBackend:
        """``redis://[[user]:password@]host[:port][/db]`` or ``rediss://``; without a password
        in the URL, ``$REDIS_PASSWORD`` if set."""
        from mock_server.state.urls import StoreUrlError, shown

        parts = urlsplit(url)
        if not parts.hostname:
            raise StoreUrlError(
                f"--store {shown(url)!r}: no host; write redis://HOST:PORT/DB, "
                "e.g. redis://127.0.0.1:6379/0"
            )
        db = parts.path.strip("/") or "0"
        if not db.isdigit():
            raise StoreUrlError(
                f"--store {shown(url)!r}: {db!r} is not a database number; write "
                "redis://HOST:PORT/DB with DB a number, e.g. redis://127.0.0.1:6379/0"
            )
        try:
            parts.port  # noqa: B018 - raises on a port out of range or not a number
        except ValueError as exc:
            raise StoreUrlError(f"--store {shown(url)!r}: {exc}") from exc
        password = None if parts.password else environ.get("REDIS_PASSWORD") or None
        # Requests beyond the pool wait for a connection (up to TIMEOUT), never fail at once.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=CONNECTIONS,
            timeout=TIMEOUT,
            password=password,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            # No retries: a command whose reply was lost may have run, and a batch sent
            # again would run its scripts twice (a 200 turned 409, a fault counted twice).
            # A connection Redis closed (a restart) is found stale and replaced when taken
            # from the pool; a request that fails anyway gets a 503 and may be retried.
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
            health_check_interval=30,
        )
        return cls(aioredis.Redis.from_pool(pool), url=shown(url), limits=limits)

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(_reason(exc)) from exc
        except ResponseError as exc:  # MISCONF, READONLY, OOM...: the server refuses writes
            raise StoreUnavailable(_reason(exc)) from exc
        except RedisError as exc:
            raise StoreUnavailable(_reason(exc)) from exc

    async def open(self) -> None:
        await self._call(self._client.ping())
        for script in self._batcher.scripts:  # batches run them by sha: load them once
            script.sha = await self._call(self._client.script_load(script.script))

    async def close(self) -> None:
        await self._client.aclose()

    @staticmethod
    def _prefix(namespace: str) -> str:
        return f"mock:{namespace}"

    def _key(self, namespace: str, session: str, what: str) -> str:
        return f"mock:{namespace}:s:{session}:{what}"

    async def world(self, fingerprint: str) -> str:
        """The namespace is the fingerprint itself, so workers that saw different edits on
        their way (a file read half-written) still end in one namespace. A change of world
        forgets the one served before (and the sessions left from an earlier time this one
        was served, in the same atomic step: another worker may serve it already), so no
        restart brings old sessions back."""
        before = await self._call(
            self._world(
                keys=["mock:world", f"{self._prefix(fingerprint)}:sessions"], args=[fingerprint]
            )
        )
        if before and before != fingerprint:
            log.warning(
                "%s served other fixtures (world %s); its sessions start again from these",
                self.url,
                before,
            )
            await self.forget(str(before))
        return fingerprint

    async def forget(self, namespace: str) -> None:
        pattern = f"{self._prefix(namespace)}:*"
        batch: list[str] = []
        async for key in self._client.scan_iter(match=pattern, count=500):
            batch.append(key)
            if len(batch) >= 500:
                await self._call(self._client.unlink(*batch))
                batch.clear()
        if batch:
            await self._call(self._client.unlink(*batch))

    async def begin(
        self,
        namespace: str,
        session: str,
        now: float,
        *,
        call: tuple[str, str] | None = None,
        reads: Sequence[tuple[str, str]] = (),
    ) -> Begun:
        """One script, one round trip (shared with other requests'): touch, take, read."""
        api, operation = call if call is not None else ("", "")
        reply = await self._call(
            self._script(
                self._begin,
                [
                    f"{self._prefix(namespace)}:sessions",
                    self._key(namespace, session, "faults"),
                    self._key(namespace, session, "rec"),
                ],
                [
                    session,
                    repr(now),
                    repr(self.limits.session_ttl),
                    self.limits.max_sessions,
                    f"{self._prefix(namespace)}:s:",
                    DEFAULT_SESSION,
                    api,
                    operation,
                    *(table + _SEP + key for table, key in reads),
                ],
            )
        )
        created, taken, *values = reply
        found = {
            where: Read(json.loads(raw) if raw else None, raw or None)
            for where, raw in zip(reads, values, strict=True)
        }
        fault = Fault.from_json(json.loads(taken)) if taken else None
        return Begun(created=bool(created), fault=fault, reads=found, expired=created == 2)

    async def touch(self, namespace: str, session: str, now: float) -> Touched:
        created, faults = await self._call(
            self._script(
                self._touch,
                [f"{self._prefix(namespace)}:sessions"],
                [
                    session,
                    repr(now),
                    repr(self.limits.session_ttl),
                    self.limits.max_sessions,
                    f"{self._prefix(namespace)}:s:",
                    DEFAULT_SESSION,
                ],
            )
        )
        return Touched(created=bool(created), has_faults=bool(faults), expired=created == 2)

    async def reset(self, namespace: str, session: str) -> None:
        keys = [self._key(namespace, session, what) for what in _SESSION_KEYS]
        await self._call(self._client.delete(*keys))

    async def sessions(self, namespace: str) -> list[str]:
        names = await self._call(self._client.zrange(f"{self._prefix(namespace)}:sessions", 0, -1))
        return list(names)

    async def get(self, namespace: str, session: str, table: str, key: str) -> Record | None:
        raw = await self._call(
            self._command("HGET", self._key(namespace, session, "rec"), table + _SEP + key)
        )
        return json.loads(raw) if raw is not None else None

    async def changed(self, namespace: str, session: str, table: str) -> list[tuple[str, Record]]:
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zrange(self._key(namespace, session, "order"), 0, -1)
            pipe.hgetall(self._key(namespace, session, "rec"))
            order, records = await self._call(pipe.execute())
        prefix = table + _SEP
        return [
            (field[len(prefix) :], json.loads(records[field]))
            for field in order
            if field.startswith(prefix) and field in records
        ]

    async def transition(
        self,
        namespace: str,
        session: str,
        table: str,
        key: str,
        base: Record | None,
        decide: Decide[Outcome],
        *,
        read: Read | None = None,
    ) -> Outcome:
        records = self._key(namespace, session, "rec")
        field = table + _SEP + key
        for _ in range(MAX_RETRIES):
            if read is not None:  # read as the request began: the compare-and-set checks it
                raw, read = read.token, None
            else:
                raw = await self._call(self._command("HGET", records, field))
            current = (
                json.loads(raw) if raw is not None else base  # decide never changes it
            )
            decision = decide(current)
            if decision.replacement is None:
                return decision.outcome
            # ASCII (the default): a lone surrogate, valid in JSON, is no UTF-8 to send.
            new = json.dumps(decision.replacement, separators=(",", ":"))
            absent = "1" if raw is None else "0"
            written = await self._call(
                self._script(
                    self._cas,
                    [records, self._key(namespace, session, "order"), "mock:seq"],
                    [field, raw or "", new, absent],
                )
            )
            if written:
                return decision.outcome
        raise StoreUnavailable(f"{table} {key}: still contended after {MAX_RETRIES} attempts")

    async def insert_all(
        self, namespace: str, session: str, table: str, rows: Sequence[tuple[str, Record]]
    ) -> list[str]:
        """One script: every record stored, or none."""
        if not rows:
            return []
        fields = [table + _SEP + key for key, _ in rows]
        values = [json.dumps(record, separators=(",", ":")) for _, record in rows]
        taken = await self._call(
            self._script(
                self._insert_all,
                [
                    self._key(namespace, session, "rec"),
                    self._key(namespace, session, "order"),
                    "mock:seq",
                ],
                [*fields, *values],
            )
        )
        return [field[len(table) + len(_SEP) :] for field in taken]

    async def count(
        self, namespace: str, session: str, table: str, key: str, now: float, window: float
    ) -> Window:
        start, used = await self._call(
            self._script(
                self._count,
                [
                    self._key(namespace, session, "rec"),
                    self._key(namespace, session, "order"),
                    "mock:seq",
                ],
                [table + _SEP + key, repr(now), repr(float(window))],
            )
        )
        return Window(float(start), int(used))

    async def log(self, namespace: str, session: str, entry: JournalEntry) -> None:
        payload = {
            "at": entry.at,
            "api": entry.api,
            "operation": entry.operation,
            "status": entry.status,
            "body": entry.to_json(0),
        }
        text = json.dumps(payload, separators=(",", ":"))
        await self._call(
            self._script(
                self._log,
                [
                    self._key(namespace, session, "journal"),
                    self._key(namespace, session, "jbytes"),
                    "mock:seq",
                ],
                [text, self.limits.journal_bytes],
            )
        )

    async def journal(self, namespace: str, session: str) -> list[Logged]:
        items = await self._call(
            self._client.lrange(self._key(namespace, session, "journal"), 0, -1)
        )
        logged = []
        for item in items:
            id_text, _, text = item.partition(" ")
            payload = json.loads(text)
            body = payload["body"]
            body["id"] = int(id_text)
            logged.append(
                Logged(
                    int(id_text),
                    payload["at"],
                    payload["api"],
                    payload["operation"],
                    payload["status"],
                    body,
                )
            )
        return logged

    async def clear_journal(self, namespace: str, session: str) -> None:
        await self._call(
            self._client.delete(
                self._key(namespace, session, "journal"), self._key(namespace, session, "jbytes")
            )
        )

    async def add_fault(
        self,
        namespace: str,
        session: str,
        *,
        api: str,
        operation: str,
        status: int | None,
        delay_ms: int,
        drop: bool,
        times: int | None,
    ) -> Fault:
        id = await self._call(self._client.incr("mock:seq"))
        fault = Fault(int(id), api, operation, status, delay_ms, drop, times)
        await self._call(
            self._client.rpush(self._key(namespace, session, "faults"), json.dumps(fault.to_json()))
        )
        return fault

    async def faults(self, namespace: str, session: str) -> list[Fault]:
        items = await self._call(
            self._client.lrange(self._key(namespace, session, "faults"), 0, -1)
        )
        return [Fault.from_json(json.loads(item)) for item in items]

    async def clear_faults(self, namespace: str, session: str) -> int:
        count = await self._call(self._clear(keys=[self._key(namespace, session, "faults")]))
        return int(count)

    async def take_fault(
        self, namespace: str, session: str, api: str, operation: str
    ) -> Fault | None:
        item = await self._call(
            self._script(self._take, [self._key(namespace, session, "faults")], [api, operation])
        )
        return Fault.from_json(json.loads(item)) if item is not None else None
