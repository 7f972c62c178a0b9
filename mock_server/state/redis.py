"""The Redis back-end: any number of workers on any number of hosts share one world.

Each worker keeps one connection to Redis (:class:`_Pipeline`): redis-py sets it up
(TLS, AUTH, SELECT, as the URL says), then the store writes its commands on it itself,
the commands of concurrent requests together, and hiredis parses the replies in the
callback that reads them. (redis-py's pipelines cost ~100 µs of CPU a request: a
connection taken from the pool and given back, a task, a timeout per read, each
argument encoded through its encoder.) Every read-modify-write is one atomic step on
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
    {p}:s:{session}:journal    list: "id size JSON" (Entry.stored), oldest first
    {p}:s:{session}:jbytes     counter: the sizes of the entries in the journal list
    {p}:s:{session}:faults     list: fault (JSON), in the order consulted

Durability is Redis's own (``appendonly``, ``save``): README says which to choose.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import select
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import hiredis
import orjson
import redis.asyncio as aioredis
from redis._parsers.base import BaseParser
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    NoPermissionError,
    NoScriptError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from mock_server._http import LEFT_TO_THE_LIBRARY
from mock_server.state.base import (
    Begun,
    Decide,
    Fault,
    JournalEntry,
    Logged,
    Outcome,
    Read,
    Record,
    StoreRefused,
    StoreUnavailable,
    Touched,
    Window,
)
from mock_server.state.journal import Entry
from mock_server.state.limits import DEFAULT_SESSION, Limits

__all__ = ["BATCH", "IN_FLIGHT", "TIMEOUT", "RedisBackend"]

log = logging.getLogger("mock_server.state")

TIMEOUT = 2.0
"""Seconds Redis has to answer a batch of commands from its write (or to be connected to)
before its requests get a 503; time the worker's loop was too busy to read an answer
that came does not count (:class:`_Connection`)."""
BATCH = 256
"""Commands sent in one round trip at most (see :class:`_Pipeline`)."""
IN_FLIGHT = 2
"""Batches a worker has on their way to Redis at once; later commands gather for the next."""
RECHECK = 0.01
"""Seconds between looks at a connection past its deadline with a reply there, not yet read."""
MAX_RETRIES = 100
"""Compare-and-set attempts of one transition before giving up (only under heavy contention)."""

_ascii = json.JSONEncoder(separators=(",", ":")).encode


def _dumps(value: object) -> str:
    r"""Compact JSON of a record or a journal entry, read back with ``json.loads``: by
    orjson (~10x the standard library's: ~4 µs an entry otherwise), in UTF-8; what orjson
    refuses or leaves alone (a lone surrogate, valid in JSON, is no UTF-8 to send; an
    integer beyond 64 bits; a subclass) in ASCII by the library, as before.

    >>> _dumps({"a": "\u00e9", "n": [1, 2.5]}) == '{"a":"\u00e9","n":[1,2.5]}'
    True
    >>> _dumps({"s": "\ud800", "big": 2**70})
    '{"s":"\\ud800","big":1180591620717411303424}'
    """
    try:
        return orjson.dumps(value, option=LEFT_TO_THE_LIBRARY).decode()
    except orjson.JSONEncodeError:
        return _ascii(value)


_SEP = "\x1f"  # between table and key in a record's field name

_SESSION_KEYS = ("rec", "order", "journal", "jbytes", "faults")


def _pack(words: Sequence[str]) -> bytes:
    """One command in RESP: an array of bulk strings."""
    body = "".join([f"${len(word)}\r\n{word}\r\n" for word in words])
    if body.isascii():  # one byte a character: the lengths are the bytes'
        return f"*{len(words)}\r\n{body}".encode()
    encoded = [word.encode() for word in words]
    return b"*%d\r\n" % len(encoded) + b"".join(
        [b"$%d\r\n%b\r\n" % (len(word), word) for word in encoded]
    )


class _Script:
    """A Lua script, run by its SHA1 (``EVALSHA``); loaded again where Redis lost it."""

    __slots__ = ("_heads", "load", "sha", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()  # Redis's own name for it
        self.load = _pack(("SCRIPT", "LOAD", text))
        self._heads: dict[int, str] = {}

    def command(self, keys: Sequence[str], args: Sequence[str]) -> bytes:
        """``EVALSHA sha len(keys) *keys *args``, packed."""
        head = self._heads.get(len(keys))
        if head is None:  # the words before the keys, packed, without the array's count
            packed = _pack(("EVALSHA", self.sha, str(len(keys)))).decode()
            head = self._heads[len(keys)] = packed[packed.index("\r\n") + 2 :]
        words = (*keys, *args)
        body = "".join([f"${len(word)}\r\n{word}\r\n" for word in words])
        if body.isascii():
            return f"*{len(words) + 3}\r\n{head}{body}".encode()
        return _pack(("EVALSHA", self.sha, str(len(keys)), *words))


# Lua functions the scripts share (one definition each).
#   drop(prefix, name): delete one session's keys.
#   touch(sessions, name, now, ttl, max, prefix, default): register a request to a session;
#     2 if it starts afresh because it was found idle beyond ttl, 1 if afresh otherwise
#     (new, or forgotten before: idle beyond ttl, evicted), else 0. Sweeps
#     idle sessions and the ones beyond max (least recently used first), never 'default'
#     nor the session touched.
#   take(faults, api, operation): the first fault for the call, counted down (removed at its
#     last use); false if none.
#   count(rec, order, seq, field, now, window): one event counted in the fixed window the
#     record at field holds (a new one opened at now if none or it ran out); returns start
#     and used as strings: the start is kept as the text written (cjson's %.14g would round it).
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

local function count(rec, order, seq, field, now, window)
  local start, used = now, 1
  local current = redis.call('HGET', rec, field)
  if current then
    local was = string.match(current, '"start":%s*([^,}%s]+)')
    local counted = tonumber(string.match(current, '"used":%s*([^,}%s]+)'))
    if tonumber(now) < tonumber(was) + tonumber(window) then
      start, used = was, counted + 1
    end
  else
    redis.call('ZADD', order, 'NX', redis.call('INCR', seq), field)
  end
  redis.call('HSET', rec, field, '{"start":' .. start .. ',"used":' .. used .. '}')
  return tostring(start), tostring(used)
end
"""

# KEYS: sessions zset. ARGV: name, now, ttl, max, session prefix, default name.
# Returns {created, how many faults the session has}.
_TOUCH = _Script(
    _FUNCTIONS
    + """
local name, prefix = ARGV[1], ARGV[5]
local created = touch(KEYS[1], name, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  prefix, ARGV[6])
return {created, redis.call('LLEN', prefix .. name .. ':faults')}
"""
)

# KEYS: sessions zset, faults list, rec hash, order zset, seq. ARGV: name, now, ttl, max,
# session prefix, default name, api ('' for none), operation, how many counts (n), n pairs
# (field, window length) to count at now if no fault is taken, then the fields to read.
# Returns {created, the fault taken or false, (start, used) per count if none was taken,
# the fields' values or false...}.
_BEGIN = _Script(
    _FUNCTIONS
    + """
local created = touch(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4]), ARGV[5], ARGV[6])
local taken = false
if ARGV[7] ~= '' then
  taken = take(KEYS[2], ARGV[7], ARGV[8])
end
local result = {created, taken}
local counts = tonumber(ARGV[9])
if not taken then
  for i = 10, 9 + 2 * counts, 2 do
    local start, used = count(KEYS[3], KEYS[4], KEYS[5], ARGV[i], ARGV[2], ARGV[i + 1])
    result[#result + 1] = start
    result[#result + 1] = used
  end
end
for i = 10 + 2 * counts, #ARGV do
  result[#result + 1] = redis.call('HGET', KEYS[3], ARGV[i])
end
return result
"""
)

# KEYS: rec hash, order zset, seq. ARGV: field, expected ('' with ARGV[4]='1': absent), new, absent
_CAS = _Script(
    """
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
)


# KEYS: rec hash, order zset, seq. ARGV: n fields, then their n values. Stores every field,
# first changed in ARGV's order, unless any is taken: returns the fields taken (none stored).
_INSERT_ALL = _Script(
    """
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
)


# KEYS: rec hash, order zset, seq. ARGV: field, now, window length. Returns {start, used}.
_COUNT = _Script(
    _FUNCTIONS
    + """
local start, used = count(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3])
return {start, used}
"""
)


# KEYS: journal list, jbytes, seq. ARGV: payload (JSON), cap in bytes, the entry's size
# (JournalEntry.size: what every store counts against the cap, not the JSON's length, which
# grows with escapes: six bytes a byte beyond ASCII). Returns the id. An item written
# before the size was kept ("id JSON") counts its length, as it did.
_LOG = _Script(
    """
local id = redis.call('INCR', KEYS[3])
local size = tonumber(ARGV[3])
redis.call('RPUSH', KEYS[1], id .. ' ' .. size .. ' ' .. ARGV[1])
local total = redis.call('INCRBY', KEYS[2], size)
local cap = tonumber(ARGV[2])
while total > cap and redis.call('LLEN', KEYS[1]) > 1 do
  local dropped = redis.call('LPOP', KEYS[1])
  total = redis.call('DECRBY', KEYS[2], tonumber(string.match(dropped, '^%d+ (%d+) ')) or #dropped)
end
return id
"""
)


# KEYS: faults list. ARGV: api, operation. Returns the fault as it was, or nil.
_TAKE = _Script(_FUNCTIONS + "return take(KEYS[1], ARGV[1], ARGV[2])\n")

# KEYS: mock:world, the world's sessions zset. ARGV: fingerprint. Makes it the world served;
# returns the one before. Sessions left from an earlier time it was served are unregistered
# in the same step (so each starts empty: see _TOUCH), never what was written since.
_WORLD = _Script(
    """
local before = redis.call('HGET', KEYS[1], 'fingerprint')
if before ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[1])
  redis.call('DEL', KEYS[2])
end
return before
"""
)


# KEYS: faults list. Returns how many there were.
_CLEAR = _Script(
    """
local count = redis.call('LLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return count
"""
)


# KEYS: faults list. ARGV: the fault's id. Returns 1 if it was there (removed), else 0. By
# id, in the script: the item's text changes as a call counts the fault down.
_REMOVE = _Script(
    """
for _, item in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if cjson.decode(item).id == tonumber(ARGV[1]) then
    redis.call('LREM', KEYS[1], 1, item)
    return 1
  end
end
return 0
"""
)


# KEYS: order zset, rec hash. Returns {the fields in order of first change, the hash as
# field, value, field, value...}: one consistent view.
_CHANGED = _Script(
    """
return {redis.call('ZRANGE', KEYS[1], 0, -1), redis.call('HGETALL', KEYS[2])}
"""
)

_SCRIPTS = (
    _TOUCH, _BEGIN, _CAS, _INSERT_ALL, _COUNT, _LOG, _TAKE, _WORLD, _CLEAR, _REMOVE, _CHANGED,
)  # fmt: skip


def _error(message: str) -> ResponseError:
    """An error reply as redis-py raises it (``NOSCRIPT ...``: :class:`NoScriptError`)."""
    error: ResponseError = BaseParser.parse_error(message)  # type: ignore[no-untyped-call]
    return error


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RedisTimeoutError):
        return f"no answer within {TIMEOUT:g} s"
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


class _Connection(asyncio.Protocol):
    """One connection to Redis, taken over once redis-py has set it up (TLS, AUTH, SELECT
    as the URL says): commands are written as they come and their replies, parsed by
    hiredis, settle their futures in the order sent, in the callback that reads them (no
    task, no timer per command).

    A batch's deadline is :data:`TIMEOUT` after it was written. Past it, the batch has
    timed out only if nothing is waiting to be read on the socket: an event loop busy
    for longer (CPU work of other requests) runs timers before it reads what came
    meanwhile, and Redis's answer, there in time, must not count as lost."""

    def __init__(self, pipeline: _Pipeline, writer: asyncio.StreamWriter, name: str) -> None:
        self._pipeline = pipeline
        # The writer is kept: collected, it would close the transport.
        self._writer = writer
        self._transport = cast("asyncio.Transport", writer.transport)  # uvloop's: no subclass
        self._name = name
        self._loop = asyncio.get_running_loop()
        self._reader = hiredis.Reader(encoding="utf-8", replyError=ResponseError)
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._batches: deque[list[Any]] = deque()  # [replies still due, deadline], oldest first
        self._watchdog: asyncio.TimerHandle | None = None
        self.closed = False

    @property
    def in_flight(self) -> int:
        return len(self._batches)

    def write(self, commands: list[bytes], futures: list[asyncio.Future[Any]]) -> None:
        self._transport.write(b"".join(commands))
        self._waiting.extend(futures)
        self._batches.append([len(futures), self._loop.time() + TIMEOUT])
        if self._watchdog is None:
            self._watchdog = self._loop.call_at(self._batches[0][1], self._check)

    def data_received(self, data: bytes) -> None:
        reader, waiting, batches = self._reader, self._waiting, self._batches
        landed = False
        try:
            reader.feed(data)
            while (reply := reader.gets()) is not False:
                future = waiting.popleft()
                if not future.done():  # else cancelled: the caller went away
                    if isinstance(reply, ResponseError):
                        future.set_exception(_error(str(reply)))
                    else:
                        future.set_result(reply)
                batch = batches[0]
                batch[0] -= 1
                if not batch[0]:
                    batches.popleft()
                    landed = True
        except (hiredis.ProtocolError, IndexError) as exc:  # garbled, or a reply unasked for
            self.fail(RedisConnectionError(f"Protocol error from {self._name}: {exc}"))
            return
        if landed:
            self._pipeline.landed()

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc is not None else ""
        self.fail(RedisConnectionError(f"Connection to {self._name} lost{reason}"))

    def _check(self) -> None:
        self._watchdog = None
        if not self._batches or self.closed:
            return
        deadline = self._batches[0][1]
        if self._loop.time() < deadline:
            self._watchdog = self._loop.call_at(deadline, self._check)
        elif self._unread():  # the loop was busy: Redis answered, the reply is not read yet
            self._watchdog = self._loop.call_later(RECHECK, self._check)
        else:
            self.fail(RedisTimeoutError(f"Timeout reading from {self._name}"))

    def _unread(self) -> bool:
        """Whether a reply (or the connection's end) waits on the socket, or what was
        written still waits in the transport while the socket could take it (the loop had
        no time to send it)."""
        sock = self._transport.get_extra_info("socket")
        if sock is None:
            return False
        wanted = select.POLLIN
        if self._transport.get_write_buffer_size():
            wanted |= select.POLLOUT
        fd = sock.fileno()
        if fd < 0:  # closed: nothing will be read from it
            return False
        poll = select.poll()  # not select(): a worker may have more than 1024 descriptors
        poll.register(fd, wanted)
        return bool(poll.poll(0))

    def fail(self, exc: Exception) -> None:
        """Closed, every command waiting for its reply failed with ``exc`` (once)."""
        if self.closed:
            return
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._transport.abort()
        waiting, self._waiting = self._waiting, deque()
        self._batches.clear()
        for future in waiting:
            if not future.done():
                future.set_exception(exc)
        self._pipeline.lost(self, exc)


class _Pipeline:
    """Auto-pipelining over one connection a worker keeps to Redis: commands wait while
    :data:`IN_FLIGHT` batches are on their way, then go together in one write (up to
    :data:`BATCH`), and each caller gets its own reply. Alone, a command goes at once;
    under load, a worker's concurrent requests share round trips, so the cost per
    command falls as the load grows. Each command stays atomic on its own (no MULTI).

    Lost or hung Redis: the commands on their way fail, and so does every command
    queued behind them, at once and unsent (so it changes nothing); the next command
    connects again."""

    def __init__(self, pool: aioredis.ConnectionPool) -> None:
        self._pool = pool
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._commands: list[bytes] = []
        self._futures: list[asyncio.Future[Any]] = []
        self._scheduled = False
        self._closed = False  # by close(): for good

    def send(self, command: bytes) -> asyncio.Future[Any]:
        """The reply to ``command`` (packed), once it comes; a Redis error as it is."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._commands.append(command)
        self._futures.append(future)
        if not self._scheduled:
            connection = self._connection
            if connection is None or connection.in_flight < IN_FLIGHT:
                self._scheduled = True
                loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._scheduled = False
        connection = self._connection
        if connection is None:
            if self._closed:  # a command after close(): nothing opened for it
                self._refuse(_closed())
            elif self._connecting is None and self._commands:
                self._connecting = asyncio.ensure_future(self._connect())
            return
        while self._commands and connection.in_flight < IN_FLIGHT:
            commands, futures = self._commands[:BATCH], self._futures[:BATCH]
            del self._commands[:BATCH], self._futures[:BATCH]
            sent = [i for i, future in enumerate(futures) if not future.done()]
            if len(sent) < len(futures):  # cancelled before it went: never sent
                commands = [commands[i] for i in sent]
                futures = [futures[i] for i in sent]
            if futures:
                connection.write(commands, futures)

    def landed(self) -> None:
        """A batch got all its replies: the next may go."""
        if self._commands and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def lost(self, connection: _Connection, exc: Exception) -> None:
        if connection is self._connection:
            self._connection = None
            self._refuse(exc)

    def _refuse(self, exc: BaseException) -> None:
        futures, self._futures, self._commands = self._futures, [], []
        for future in futures:
            if not future.done():
                future.set_exception(exc)

    async def _connect(self) -> None:
        connection: AbstractConnection | None = None
        try:
            # Inside the try: whatever fails here (redis-py refusing the pool's options
            # too) fails the commands waiting, else they would wait for ever.
            connection = self._pool.make_connection()  # type: ignore[no-untyped-call]
            await connection.connect()
            writer, reader = connection._writer, connection._reader  # the stream redis-py opened
            assert writer is not None and reader is not None
            name = connection._host_error()
            if writer.transport.is_closing() or reader.at_eof() or reader.exception():
                # Redis ended it after the handshake (killed, CLIENT KILL, its timeout) and
                # redis-py's stream saw the end: the store's protocol never would (the
                # transport reads no more after an end the stream kept open), and what it
                # wrote would wait for ever (or, on a closed transport, not be written).
                raise RedisConnectionError(f"Connection to {name} closed as it was set up")
            taken = _Connection(self, writer, name)
            writer.transport.set_protocol(taken)
            connection._reader = connection._writer = None  # ours now
        except BaseException as exc:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.disconnect(nowait=True)
            self._refuse(_failed(exc) if isinstance(exc, Exception) else _closed())
            if not isinstance(exc, Exception):
                raise  # cancelled: the store is closing
            return
        finally:
            self._connecting = None
        self._connection = taken
        self._flush()

    async def close(self) -> None:
        """For good: a command sent after it is refused (:func:`_closed`), opening nothing."""
        self._closed = True
        connecting = self._connecting
        if connecting is not None:
            connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await connecting
        if self._connection is not None:
            self._connection.fail(_closed())
        self._refuse(_closed())
        await self._pool.aclose()


_FORM = "redis://HOST:PORT/DB (or rediss://; a password as redis://:PASSWORD@HOST:PORT/DB)"
"""The URL forms the store reads, as refusals name them."""

_CREDENTIALS = (
    "give those it expects: redis://:PASSWORD@HOST:PORT/DB, redis://USER:PASSWORD@HOST:PORT/DB "
    "(an ACL user), or the password in $REDIS_PASSWORD (none if Redis has none)"
)
"""The fix of credentials Redis refused."""

JOURNAL_TAIL = 64
"""Entries a journal read with ``from_id`` asks for first (the newest): a live event stream
asks every half second, and finds the entry it had among them unless 64 came meanwhile."""


def _entry_id(item: str) -> int:
    """A stored journal entry's id (the text before its first space)."""
    return int(item.partition(" ")[0])


def _failed(exc: Exception) -> Exception:
    """What the commands waiting for a connection that failed raise: Redis's error or the
    socket's as they are, anything else (a bug, an option redis-py refused) as a
    connection error, so that callers see the store unavailable (a 503, exit 2)."""
    if isinstance(exc, (RedisError, OSError)):
        return exc
    failed = RedisConnectionError(f"cannot connect: {type(exc).__name__}: {exc}")
    failed.__cause__ = exc
    return failed


def _closed() -> RedisConnectionError:
    return RedisConnectionError("the mock closed its connection to Redis")


class RedisBackend:
    """State in one Redis database, shared by every worker and host pointed at it."""

    reads_ahead = True  # begin's script reads them: a transition then needs no read

    def __init__(
        self,
        pool: aioredis.ConnectionPool,
        *,
        url: str,
        limits: Limits,
        user: str | None = None,
        password_from: str | None = None,
    ) -> None:
        self.url = url
        self.limits = limits
        self._user = user
        self._password_from = password_from
        """Where the password sent came from (``the URL``, ``$REDIS_PASSWORD``), or None."""
        self._pipeline = _Pipeline(pool)
        # Arguments every begin and touch send: the limits, as Redis reads them.
        self._session_args = (
            repr(limits.session_ttl),
            str(limits.max_sessions),
        )
        self._journal_cap = str(limits.journal_bytes)

    @classmethod
    def from_url(cls, url: str, *, limits: Limits, environ: Mapping[str, str]) -> RedisBackend:
        """``redis://[[user]:password@]host[:port][/db]`` or ``rediss://``; without a password
        in the URL, ``$REDIS_PASSWORD`` if set."""
        from mock_server.state.urls import StoreUrlError, shown

        def refuse(reason: str) -> StoreUrlError:
            return StoreUrlError.of(url, f"{reason}; write {_FORM}, e.g. redis://127.0.0.1:6379/0")

        try:
            parts = urlsplit(url)
        except ValueError as exc:  # an unclosed [ of an IPv6 address
            raise refuse(f"not a URL ({exc})") from None
        if not parts.hostname:
            raise refuse("no host")
        if parts.query or parts.fragment:
            # redis-py would read a query as connection options, and one it does not take
            # (an unknown name, a bad value) failed only when a connection was made
            what = "a query string" if parts.query else "a fragment"
            raise refuse(f"{what} is not read (the connection options are fixed)")
        db = parts.path.strip("/") or "0"
        if not (db.isascii() and db.isdigit()):
            raise refuse(f"{db!r} is not a database number (DB: 0, 1, ...)")
        after_host = parts.netloc.rpartition("@")[2].rpartition("]")[2]  # past an IPv6 [...]
        port = after_host.rpartition(":")[2] if ":" in after_host else ""
        # urllib's own refusals read as Python's ("Port could not be cast..."), and redis-py
        # takes port 0 for its default, 6379
        if port and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise refuse(f"{port!r} is not a port (1-65535)")
        password = None if parts.password else environ.get("REDIS_PASSWORD") or None
        password_from = "the URL" if parts.password else "$REDIS_PASSWORD" if password else None
        # The pool only sets connections up (TLS, AUTH, SELECT): _Pipeline takes each over.
        pool = aioredis.ConnectionPool.from_url(
            url,
            password=password,
            socket_timeout=TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            # No retries: a command whose reply was lost may have run, and a batch sent
            # again would run its scripts twice (a 200 turned 409, a fault counted twice).
            # A request that fails gets a 503 and may be retried; the next connects again.
            retry=Retry(NoBackoff(), 0),
            # RESP2, whatever redis-py's default: replies as the store reads them (a zset
            # WITHSCORES flat), and no pushed message among them (RESP3's push type).
            protocol=2,
        )
        user = unquote(parts.username) if parts.username else None
        return cls(pool, url=shown(url), limits=limits, user=user, password_from=password_from)

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        """What a caller hears of ``exc``: the credentials or a command Redis refused as
        :class:`StoreRefused`, with the fix; anything else as the store unavailable."""
        answer = str(exc).strip().rstrip(".")
        if isinstance(exc, AuthenticationError):  # WRONGPASS, NOAUTH, a password unset
            password = f"the password in {self._password_from}" if self._password_from else ""
            sent = " with ".join(
                part for part in (f"user {self._user!r}" if self._user else "", password) if part
            )
            return StoreRefused(
                f"Redis refused the credentials ({sent or 'no password'}: {answer}); "
                + _CREDENTIALS
            )
        if isinstance(exc, NoPermissionError):  # an ACL user not allowed a command
            user = self._user or "default"
            return StoreRefused(
                f"Redis refused user {user!r} a command the mock needs ({answer}); allow it "
                f"the mock's commands and keys (e.g. ACL SETUSER {user} +@all ~mock:*), or "
                "give another user in the URL"
            )
        return StoreUnavailable(_reason(exc))

    async def _run(self, command: bytes) -> Any:
        try:
            return await self._pipeline.send(command)
        except (RedisError, OSError) as exc:  # lost, hung; MISCONF, READONLY, OOM...
            raise self._unavailable(exc) from exc

    async def _command(self, *words: str) -> Any:
        return await self._run(_pack(words))

    async def _script(self, script: _Script, keys: Sequence[str], args: Sequence[str]) -> Any:
        """Run a Lua script in the next batch (its sha; loaded again if Redis lost it:
        a restart, ``SCRIPT FLUSH``; only a command Redis refused is sent again)."""
        pipeline = self._pipeline
        try:
            try:
                return await pipeline.send(script.command(keys, args))
            except NoScriptError:
                await pipeline.send(script.load)
                return await pipeline.send(script.command(keys, args))
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def open(self) -> None:
        """Connect and load the scripts: :class:`StoreUnavailable` if Redis cannot be
        reached, :class:`StoreRefused` if it refuses the credentials or a command the mock
        needs, :class:`~mock_server.state.urls.StoreUrlError` if it has no such database."""
        try:
            await self._command("PING")
        except StoreUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, ResponseError) and "DB index is out of range" in str(cause):
                raise await self._no_database() from None
            raise
        # Batches run the scripts by sha: loaded once, in one round trip.
        loaded = await asyncio.gather(
            *[self._run(script.load) for script in _SCRIPTS], return_exceptions=True
        )
        for outcome in loaded:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _no_database(self) -> Exception:
        """The refusal of a URL naming a database Redis lacks: which ones it has (its
        ``databases`` setting, read from database 0 when Redis allows it), else the default."""
        from mock_server.state.urls import StoreUrlError

        pool = self._pipeline._pool
        db = pool.connection_kwargs.get("db", 0)
        setting = aioredis.ConnectionPool(
            connection_class=pool.connection_class, **{**pool.connection_kwargs, "db": 0}
        )
        client = aioredis.Redis.from_pool(setting)  # its pool closed with it
        try:
            reply = await asyncio.wait_for(client.config_get("databases"), TIMEOUT)
            count = int(reply["databases"] or "")
            fix = f"it has {count} (its databases setting): give a DB from 0 to {count - 1}"
        except (RedisError, OSError, TimeoutError, LookupError, ValueError):  # CONFIG refused
            fix = "give a DB from 0 to 15 (Redis's default; its databases setting may allow more)"
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()
        return StoreUrlError.of(self.url, f"Redis has no database {db}; {fix}")

    async def close(self) -> None:
        await self._pipeline.close()

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
        before = await self._script(
            _WORLD, ["mock:world", f"{self._prefix(fingerprint)}:sessions"], [fingerprint]
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
        cursor = "0"
        while True:
            cursor, keys = await self._command("SCAN", cursor, "MATCH", pattern, "COUNT", "500")
            if keys:
                await self._command("UNLINK", *keys)
            if cursor == "0":
                return

    async def begin(
        self,
        namespace: str,
        session: str,
        now: float,
        *,
        call: tuple[str, str] | None = None,
        reads: Sequence[tuple[str, str]] = (),
        counts: Sequence[tuple[str, str, float]] = (),
    ) -> Begun:
        """One script, one round trip (shared with other requests'): touch, take, count
        (when no fault is taken), read."""
        api, operation = call if call is not None else ("", "")
        prefix = f"mock:{namespace}:s:"
        windows: list[str] = []
        for table, key, window in counts:
            windows += (table + _SEP + key, repr(float(window)))
        created, taken, *values = await self._script(
            _BEGIN,
            [
                f"mock:{namespace}:sessions",
                f"{prefix}{session}:faults",
                f"{prefix}{session}:rec",
                f"{prefix}{session}:order",
                "mock:seq",
            ],
            [
                session,
                repr(now),
                *self._session_args,
                prefix,
                DEFAULT_SESSION,
                api,
                operation,
                str(len(counts)),
                *windows,
                *[table + _SEP + key for table, key in reads],
            ],
        )
        counted: dict[tuple[str, str], Window] = {}
        if counts and not taken:
            for index, (table, key, _) in enumerate(counts):
                start, used = values[2 * index], values[2 * index + 1]
                counted[table, key] = Window(float(start), int(used))
            values = values[2 * len(counts) :]
        found = {
            where: Read(json.loads(raw) if raw else None, raw or None)
            for where, raw in zip(reads, values, strict=True)
        }
        fault = Fault.from_json(json.loads(taken)) if taken else None
        return Begun(
            created=bool(created), fault=fault, reads=found, expired=created == 2, counts=counted
        )

    async def touch(self, namespace: str, session: str, now: float) -> Touched:
        created, faults = await self._script(
            _TOUCH,
            [f"{self._prefix(namespace)}:sessions"],
            [
                session,
                repr(now),
                *self._session_args,
                f"{self._prefix(namespace)}:s:",
                DEFAULT_SESSION,
            ],
        )
        return Touched(created=bool(created), has_faults=bool(faults), expired=created == 2)

    async def reset(self, namespace: str, session: str) -> None:
        await self._command("DEL", *[self._key(namespace, session, w) for w in _SESSION_KEYS])

    async def sessions(self, namespace: str, now: float | None = None) -> list[str]:
        flat = await self._command(
            "ZRANGE", f"{self._prefix(namespace)}:sessions", "0", "-1", "WITHSCORES"
        )
        return [
            name
            for name, last_used in zip(flat[::2], flat[1::2], strict=True)
            if now is None or not self.limits.forgotten(name, float(last_used), now)
        ]

    async def get(self, namespace: str, session: str, table: str, key: str) -> Record | None:
        raw = await self._command("HGET", self._key(namespace, session, "rec"), table + _SEP + key)
        return json.loads(raw) if raw is not None else None

    async def changed(self, namespace: str, session: str, table: str) -> list[tuple[str, Record]]:
        stored = await self._stored(namespace, session, table)
        return [(key, json.loads(text)) for key, text in stored]

    async def versions(self, namespace: str, session: str, table: str) -> dict[str, object]:
        return dict(await self._stored(namespace, session, table))  # the JSON, not decoded

    async def _stored(self, namespace: str, session: str, table: str) -> list[tuple[str, str]]:
        """The changed records of ``table`` as stored (JSON text), by key, in order."""
        order, flat = await self._script(
            _CHANGED,
            [self._key(namespace, session, "order"), self._key(namespace, session, "rec")],
            [],
        )
        records = dict(zip(flat[::2], flat[1::2], strict=True))
        prefix = table + _SEP
        return [
            (field[len(prefix) :], records[field])
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
                raw = await self._command("HGET", records, field)
            current = (
                json.loads(raw) if raw is not None else base  # decide never changes it
            )
            decision = decide(current)
            if decision.replacement is None:
                return decision.outcome
            # ASCII (the default): a lone surrogate, valid in JSON, is no UTF-8 to send.
            new = _dumps(decision.replacement)
            absent = "1" if raw is None else "0"
            written = await self._script(
                _CAS,
                [records, self._key(namespace, session, "order"), "mock:seq"],
                [field, raw or "", new, absent],
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
        values = [_dumps(record) for _, record in rows]
        taken = await self._script(
            _INSERT_ALL,
            [
                self._key(namespace, session, "rec"),
                self._key(namespace, session, "order"),
                "mock:seq",
            ],
            [*fields, *values],
        )
        return [field[len(table) + len(_SEP) :] for field in taken]

    async def count(
        self, namespace: str, session: str, table: str, key: str, now: float, window: float
    ) -> Window:
        start, used = await self._script(
            _COUNT,
            [
                self._key(namespace, session, "rec"),
                self._key(namespace, session, "order"),
                "mock:seq",
            ],
            [table + _SEP + key, repr(now), repr(float(window))],
        )
        return Window(float(start), int(used))

    async def log(self, namespace: str, session: str, entry: JournalEntry) -> None:
        """The entry as it came (JSON, credentials redacted), rendered as it is read."""
        if isinstance(entry, Entry):
            text = _dumps(entry.stored())
        else:
            text = _dumps(
                {
                    "at": entry.at,
                    "api": entry.api,
                    "operation": entry.operation,
                    "status": entry.status,
                    "body": entry.to_json(0),
                }
            )
        prefix = f"mock:{namespace}:s:{session}:"
        await self._script(
            _LOG,
            [f"{prefix}journal", f"{prefix}jbytes", "mock:seq"],
            [text, self._journal_cap, str(entry.size)],
        )

    async def journal(self, namespace: str, session: str, *, from_id: int = 0) -> list[Logged]:
        key = self._key(namespace, session, "journal")
        items: list[str] | None = None
        if from_id:  # the newest entries first: enough when `from_id` is among them
            tail = await self._command("LRANGE", key, str(-JOURNAL_TAIL), "-1")
            ids = [_entry_id(item) for item in tail]
            if from_id in ids:
                items = tail[ids.index(from_id) :]
        if items is None:
            items = await self._command("LRANGE", key, "0", "-1")
            if from_id:
                ids = [_entry_id(item) for item in items]
                if from_id in ids:
                    items = items[ids.index(from_id) :]
        logged = []
        for item in items:
            id_text, _, text = item.partition(" ")
            if text[:1].isdigit():  # "id size JSON" (JSON opens with [ or {)
                text = text.partition(" ")[2]
            id = int(id_text)
            stored = json.loads(text)
            if isinstance(stored, list):  # an Entry, as it came
                entry = Entry.restored(stored)
                logged.append(
                    Logged(
                        id, entry.at, entry.api, entry.operation, entry.status, entry.to_json(id)
                    )
                )
                continue
            body = stored["body"]  # rendered as it was logged
            body["id"] = id
            logged.append(
                Logged(id, stored["at"], stored["api"], stored["operation"], stored["status"], body)
            )
        return logged

    async def clear_journal(self, namespace: str, session: str) -> None:
        await self._command(
            "DEL", self._key(namespace, session, "journal"), self._key(namespace, session, "jbytes")
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
        id = await self._command("INCR", "mock:seq")
        fault = Fault(int(id), api, operation, status, delay_ms, drop, times)
        await self._command(
            "RPUSH", self._key(namespace, session, "faults"), json.dumps(fault.to_json())
        )
        return fault

    async def faults(self, namespace: str, session: str) -> list[Fault]:
        items = await self._command("LRANGE", self._key(namespace, session, "faults"), "0", "-1")
        return [Fault.from_json(json.loads(item)) for item in items]

    async def clear_faults(self, namespace: str, session: str) -> int:
        count = await self._script(_CLEAR, [self._key(namespace, session, "faults")], [])
        return int(count)

    async def remove_fault(self, namespace: str, session: str, fault_id: int) -> bool:
        removed = await self._script(
            _REMOVE, [self._key(namespace, session, "faults")], [str(fault_id)]
        )
        return bool(removed)

    async def take_fault(
        self, namespace: str, session: str, api: str, operation: str
    ) -> Fault | None:
        item = await self._script(
            _TAKE, [self._key(namespace, session, "faults")], [api, operation]
        )
        return Fault.from_json(json.loads(item)) if item is not None else None
