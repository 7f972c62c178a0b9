"""The harness's HTTP client: timeouts, the target's rate limits, and reproductions.

Every request the state checks send goes through ``Client.send``, which

* waits when the calling key has no writes left (``X-RateLimit-Remaining: 0``)
  until ``X-RateLimit-Reset``, and on a 429 waits ``Retry-After`` and retries:
  a 429 is the target protecting itself, not a violation (issue #3);
* never raises for a misbehaving target: a timeout or a reset connection comes
  back as an ``Exchange`` with ``error`` set, and after a few in a row the
  target is declared unresponsive so that a hanging server cannot hang the run;
* renders each request as a curl line that reproduces it.

Bounded against anything (issue #10): ``--timeout`` covers the whole answer, body
included (the body is streamed against a deadline); a body larger than
:data:`MAX_BODY_BYTES` after decompression is refused while it streams (a gzip bomb
stops at the cap), with ``error_code`` ``response_too_large``; no single wait is
longer than :data:`MAX_WAIT`, a longer ``Retry-After`` is not waited for at all
(:attr:`Client.refused_waits`), and a target still answering 429 after its waits,
several requests in a row, is unresponsive; the run's ``--max-time`` (a
:class:`Budget`) stops everything with :class:`OutOfTime`.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
import shlex
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_WAIT",
    "SYSTEM_CLOCK",
    "UNRESPONSIVE_AFTER",
    "AnswerTooLarge",
    "AnswerTooSlow",
    "Budget",
    "Client",
    "Clock",
    "Exchange",
    "OutOfTime",
    "TargetUnresponsive",
    "curl_line",
    "mask",
    "read_bounded",
]

log = logging.getLogger("conformance")

MAX_WAIT = 60.0  # never sleep longer than one Firma window for a single request
RATE_LIMIT_RETRIES = 3
UNRESPONSIVE_AFTER = 3  # transport failures in a row
RATE_LIMITED_AFTER = 3  # answers still 429 after their waits, in a row
MAX_BODY_BYTES = 10 * 1024 * 1024
"""An answer larger than this after decompression is a violation (``response_too_large``)."""
ACCEPT_ENCODING = "gzip, deflate"  # the encodings :func:`read_bounded` can decode as it streams
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class TargetUnresponsive(Exception):
    """The target stopped answering (timeouts or resets in a row); the phase ends early.

    ``exchange`` is the last request: without a response (a transport failure), or a 429.
    """

    def __init__(self, reason: str, exchange: Exchange | None = None) -> None:
        super().__init__(reason)
        self.exchange = exchange


class OutOfTime(Exception):
    """The run's ``--max-time`` is spent: the phase stops where it is (the runner reports it)."""


class AnswerTooSlow(Exception):
    """The answer, body included, did not arrive within the request's deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the answer did not finish within {seconds:g} s (its body kept coming)")


class AnswerTooLarge(Exception):
    """The body passed :data:`MAX_BODY_BYTES` (after decompression); reading stopped there."""

    def __init__(self, limit: int, encoding: str) -> None:
        decoded = f" after {encoding} decompression" if encoding else ""
        super().__init__(f"the body is larger than {limit} bytes{decoded}; reading stopped there")


@dataclass(frozen=True)
class Clock:
    """Where the harness reads the time (Unix seconds) and waits: the system's, or a test's.

    Tests share one with the target they serve, so that waiting for a rate window
    costs no real time.
    """

    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


SYSTEM_CLOCK = Clock()


class Budget:
    """The run's wall-clock budget (``--max-time``), read on the monotonic clock.

    >>> budget = Budget(None)
    >>> budget.left() == float("inf"), budget.spent
    (True, False)
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._deadline = None if seconds is None else time.monotonic() + seconds
        self.spent = False  # set once something stopped because of it

    def left(self) -> float:
        if self._deadline is None:
            return math.inf
        return self._deadline - time.monotonic()

    def check(self) -> None:
        """Raise :class:`OutOfTime` once the budget is gone."""
        if self.left() <= 0:
            self.spent = True
            raise OutOfTime(f"--max-time {self.seconds:g} s reached")


class _Inflater:
    """Decodes a ``Content-Encoding`` as the body streams, refusing to pass ``limit`` bytes."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding = encoding if encoding in _WBITS else ""
        self.limit, self.size = limit, 0
        self._wbits = _WBITS.get(encoding, 0)
        self._z = zlib.decompressobj(self._wbits) if self.encoding else None
        self._started = False

    def feed(self, data: bytes) -> bytes:
        if self._z is None:
            return self._count(data)
        out: list[bytes] = []
        while data:
            try:
                piece = self._z.decompress(data, self.limit - self.size + 1)
            except zlib.error:
                if self.encoding == "deflate" and not self._started:
                    # "deflate" is zlib-wrapped by the RFC; some servers send it raw.
                    self._wbits, self._z = -zlib.MAX_WBITS, zlib.decompressobj(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise
            self._started = True
            out.append(self._count(piece))
            if self._z.eof and self._z.unused_data:  # another gzip member follows
                data = self._z.unused_data
                self._z = zlib.decompressobj(self._wbits)
            else:
                data = self._z.unconsumed_tail
        return b"".join(out)

    def flush(self) -> bytes:
        return b"" if self._z is None else self._count(self._z.flush())

    def _count(self, piece: bytes) -> bytes:
        self.size += len(piece)
        if self.size > self.limit:
            raise AnswerTooLarge(self.limit, self.encoding)
        return piece


def read_bounded(
    chunks: Iterable[bytes],
    encoding: str,
    *,
    deadline: float,
    seconds: float,
    limit: int = MAX_BODY_BYTES,
    declared_length: str | None = None,
) -> bytes:
    """The decoded body from raw ``chunks``, or :class:`AnswerTooSlow` / :class:`AnswerTooLarge`.

    ``deadline`` is on the monotonic clock (``seconds`` is what it allowed, for the
    message); ``encoding`` the ``Content-Encoding`` (gzip and deflate are decoded
    as they arrive, so a gzip bomb stops at ``limit``; anything else is kept as is).
    A ``declared_length`` over the limit is refused before reading.

    >>> import gzip
    >>> read_bounded([gzip.compress(b"{}")], "gzip", deadline=float("inf"), seconds=1)
    b'{}'
    >>> read_bounded([gzip.compress(bytes(100))], "gzip", deadline=float("inf"), seconds=1,
    ...              limit=10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    conformance.client.AnswerTooLarge: the body is larger than 10 bytes after gzip ...
    """
    inflater = _Inflater(encoding.strip().lower(), limit)
    if not inflater.encoding and (declared_length or "").strip().isdigit():
        if int(str(declared_length).strip()) > limit:
            raise AnswerTooLarge(limit, "")
    parts: list[bytes] = []
    for chunk in chunks:
        parts.append(inflater.feed(chunk))
        if time.monotonic() > deadline:
            raise AnswerTooSlow(seconds)
    parts.append(inflater.flush())
    return b"".join(parts)


@dataclass(frozen=True)
class Exchange:
    """One request and what came back: a response, or the transport error instead."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None
    response: httpx.Response | None
    error: str | None
    curl: str
    rate_limited: bool = False  # still 429 after every retry: the step is inconclusive
    # -- bounded answers (issue #10)
    error_code: str = "transport"  # the check ``error`` is reported under (response_too_large)

    @property
    def status(self) -> int | None:
        return None if self.response is None else self.response.status_code

    def json(self) -> Any:
        """The parsed body, or None when it is not JSON."""
        if self.response is None:
            return None
        try:
            return json.loads(self.response.content)
        except ValueError:
            return None


def mask(text: str, secrets: Mapping[str, str]) -> str:
    """A shell line with each secret written as its variable, in double quotes to expand.

    Every single-quoted word holding a secret becomes double-quoted, so that
    ``'Authorization: Bearer ck_live_x'`` turns into ``"Authorization: Bearer $QA_KEY"``.
    """

    if not secrets:
        return text
    pattern = re.compile(
        "|".join(re.escape(secret) for secret in sorted(secrets, key=len, reverse=True))
    )

    def requote(match: re.Match[str]) -> str:
        word = match.group(1)
        if pattern.search(word) is None:
            return match.group(0)
        # Escape what double quotes would expand, then let only the variables through.
        pieces = pattern.split(word)
        names = [secrets[found] for found in pattern.findall(word)]
        escaped = [re.sub(r'(["\\`$])', r"\\\1", piece) for piece in pieces]
        quoted = escaped[0] + "".join(
            name + piece for name, piece in zip(names, escaped[1:], strict=True)
        )
        return f'"{quoted}"'

    return re.sub(r"'([^']*)'", requote, text)


def curl_line(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    secrets: Mapping[str, str],
) -> str:
    """A shell command that sends the same request; each secret is written as its variable."""
    parts = ["curl", "-sS", "-i", "-X", method, shlex.quote(url)]
    for name, value in headers.items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body is not None:
        parts += ["--data-binary", shlex.quote(body.decode("utf-8", "replace"))]
    return mask(" ".join(parts), secrets)


class Client:
    """Sends requests to one target, politely and within a timeout.

    Example (against a running target)::

        client = Client("http://127.0.0.1:8000", timeout=5)
        client.send("POST", "/v1/signatures/x/cancel", headers={"Authorization": "Bearer k"})
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        secrets: Mapping[str, str] | None = None,
        on_exchange: Callable[[Exchange], None] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        budget: Budget | None = None,
        max_body: int = MAX_BODY_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            timeout=timeout, follow_redirects=False, headers={"Accept-Encoding": ACCEPT_ENCODING}
        )
        self._secrets = dict(secrets or {})
        self._on_exchange = on_exchange
        self.clock = clock
        self.budget = budget or Budget(None)
        self.max_body = max_body
        self._quota: dict[str, tuple[int, float]] = {}  # Authorization -> (remaining, reset epoch)
        self._lock = threading.Lock()
        self._failures_in_row = 0
        self._limited_in_row = 0
        self.sent = 0
        self.polite = True  # wait for quota and retry 429s; off only for the rate-limit probe
        self.refused_waits: list[tuple[Exchange, float]] = []
        """429s whose ``Retry-After`` asked for more than :data:`MAX_WAIT` s: not waited for."""

    @contextmanager
    def impolite(self) -> Iterator[None]:
        """Send without pacing or 429 retries (the rate-limit probe wants the 429)."""
        self.polite = False
        try:
            yield
        finally:
            self.polite = True

    def close(self) -> None:
        self._http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
    ) -> Exchange:
        """Send one request; wait and retry while the target rate-limits it."""
        all_headers = dict(headers or {})
        body = content
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        url = self.base_url + path
        polite = self.polite
        exchange = self._once(method, url, all_headers, body, polite=polite)
        for _ in range(RATE_LIMIT_RETRIES if polite else 0):
            if exchange.status != 429:
                break
            assert exchange.response is not None
            wait = _retry_after(exchange.response, self.clock.now())
            if wait is not None and wait > MAX_WAIT:
                with self._lock:
                    self.refused_waits.append((exchange, wait))
                log.warning(
                    "429 with Retry-After %.0f s, more than the %.0f s the harness waits: "
                    "not waiting",
                    wait,
                    MAX_WAIT,
                )
                break
            self._wait(1.0 if wait is None else wait, "429 from the target, retrying in {:.0f} s")
            exchange = self._once(method, url, all_headers, body, polite=polite)
        if not polite:
            return exchange
        if exchange.status != 429:
            self._limited_in_row = 0
            return exchange
        self._limited_in_row += 1
        if self._limited_in_row >= RATE_LIMITED_AFTER:
            raise TargetUnresponsive(
                f"it kept answering 429 after the waits it announced, {self._limited_in_row} "
                "requests in a row",
                exchange,
            )
        return replace(exchange, rate_limited=True)

    def _once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        polite: bool,
    ) -> Exchange:
        self.budget.check()
        key = headers.get("Authorization", "")
        remaining, reset = self._quota.get(key, (1, 0.0))
        if polite and remaining <= 0:
            wait = reset - self.clock.now()
            if 0 < wait <= MAX_WAIT:
                self._wait(wait, "key has no writes left, waiting {:.0f} s for its window")
        curl = curl_line(method, url, headers, body, self._secrets)
        with self._lock:
            self.sent += 1
        error, code = None, "transport"
        try:
            response = self._fetch(method, url, headers, body)
        except AnswerTooLarge as exc:
            error, code = str(exc), "response_too_large"
        except AnswerTooSlow as exc:
            error = str(exc)
        except httpx.TimeoutException:
            error = f"no answer within {self.timeout:g} s"
        except httpx.TransportError as exc:
            error = f"{type(exc).__name__}: {exc or 'connection failed'}"
        except (httpx.HTTPError, zlib.error) as exc:
            error = f"the answer could not be read ({type(exc).__name__}: {exc})"
        if error is None:
            with self._lock:
                self._failures_in_row = 0
            self._remember_quota(key, response)
            exchange = Exchange(method, url, headers, body, response, None, curl)
        else:
            with self._lock:
                self._failures_in_row += 1
            exchange = Exchange(method, url, headers, body, None, error, curl, error_code=code)
        if self._on_exchange is not None:
            self._on_exchange(exchange)
        if self._failures_in_row >= UNRESPONSIVE_AFTER:
            raise TargetUnresponsive(exchange.error or "", exchange)
        return exchange

    def _fetch(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> httpx.Response:
        """The whole answer within ``timeout``, body included, decoded and at most ``max_body``.

        The body is streamed: between reads the deadline is checked, and the read
        timeout for the body is what is left of it (httpcore reads it when the body
        starts), so a body that trickles forever ends at the deadline.
        """
        deadline = time.monotonic() + self.timeout
        request = self._http.build_request(method, url, headers=headers, content=body)
        response = self._http.send(request, stream=True)
        try:
            timeouts = request.extensions.get("timeout")
            if isinstance(timeouts, dict):
                timeouts["read"] = max(deadline - time.monotonic(), 0.001)
            content = read_bounded(
                response.iter_raw(),
                response.headers.get("content-encoding", ""),
                deadline=deadline,
                seconds=self.timeout,
                limit=self.max_body,
                declared_length=response.headers.get("content-length"),
            )
        finally:
            response.close()
        kept = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length")
        ]
        return httpx.Response(
            response.status_code,
            headers=kept,
            content=content,
            request=request,
            extensions={"http_version": response.extensions.get("http_version", b"HTTP/1.1")},
        )

    def _remember_quota(self, key: str, response: httpx.Response) -> None:
        try:
            remaining = int(response.headers["X-RateLimit-Remaining"])
            reset = float(response.headers["X-RateLimit-Reset"])
        except (KeyError, ValueError):
            return
        with self._lock:
            self._quota[key] = (remaining, reset)

    def _wait(self, seconds: float, message: str) -> None:
        """Sleep ``seconds`` (at most :data:`MAX_WAIT`), unless that passes the run's budget."""
        seconds = max(0.0, min(MAX_WAIT, seconds))
        log.info(message.format(seconds))
        self.pause(seconds)

    def pause(self, seconds: float) -> None:
        """Sleep on the client's clock; :class:`OutOfTime` instead if the budget would pass."""
        if seconds > self.budget.left():
            self.budget.spent = True
            raise OutOfTime(f"--max-time {self.budget.seconds:g} s would pass while waiting")
        self.clock.sleep(max(0.0, seconds))

    # -- issue #10: near misses of secret keys, and the spec's other servers

    def hide(self, text: str, shell: str) -> None:
        """Write ``text`` (a near miss of a secret key) as the shell expression ``shell``
        in reproductions: a key in another case or short of a character is the key."""
        self._secrets[text] = shell

    def at(self, base_url: str) -> Client:
        """This client (connections, quotas, secrets) sending under another base URL.

        Its ``sent`` starts at this client's; add what it sent back when done.
        """
        other = copy.copy(self)
        other.base_url = base_url.rstrip("/")
        return other


def _retry_after(response: httpx.Response, now: float) -> float | None:
    """``Retry-After`` in seconds (delay-seconds or an HTTP-date); None if absent or unreadable."""
    value = response.headers.get("Retry-After", "")
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - now
    except (TypeError, ValueError):
        return None
