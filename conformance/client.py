"""The harness's HTTP client: timeouts, the target's rate limits, and reproductions.

Every request the state checks send goes through ``Client.send``, which

* waits when the calling key has no writes left (``X-RateLimit-Remaining: 0``)
  until ``X-RateLimit-Reset``, and on a 429 waits ``Retry-After`` and retries:
  a 429 is the target protecting itself, not a violation (issue #3);
* never raises for a misbehaving target: a timeout or a reset connection comes
  back as an ``Exchange`` with ``error`` set, and after a few in a row the
  target is declared unresponsive so that a hanging server cannot hang the run;
* renders each request as a curl line that reproduces it.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import shlex
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

__all__ = ["Client", "Exchange", "TargetUnresponsive", "curl_line", "mask"]

log = logging.getLogger("conformance")

MAX_WAIT = 60.0  # never sleep longer than one Firma window for a single request
RATE_LIMIT_RETRIES = 3
UNRESPONSIVE_AFTER = 3  # transport failures in a row


class TargetUnresponsive(Exception):
    """The target stopped answering (timeouts or resets in a row); the phase ends early."""


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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        self._secrets = dict(secrets or {})
        self._on_exchange = on_exchange
        self._sleep = sleep
        self._quota: dict[str, tuple[int, float]] = {}  # Authorization -> (remaining, reset epoch)
        self._failures_in_row = 0
        self.sent = 0
        self.polite = True  # wait for quota and retry 429s; off only for the rate-limit probe

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
        exchange = self._once(method, url, all_headers, body)
        for _ in range(RATE_LIMIT_RETRIES if self.polite else 0):
            if exchange.status != 429:
                return exchange
            wait = _retry_after(exchange.response) if exchange.response is not None else None
            self._wait(1.0 if wait is None else wait, "429 from the target, retrying in {:.0f} s")
            exchange = self._once(method, url, all_headers, body)
        if exchange.status == 429 and self.polite:
            exchange = replace(exchange, rate_limited=True)
        return exchange

    def _once(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Exchange:
        key = headers.get("Authorization", "")
        remaining, reset = self._quota.get(key, (1, 0.0))
        if self.polite and remaining <= 0 and reset > time.time():
            self._wait(
                reset - time.time(), "key has no writes left, waiting {:.0f} s for its window"
            )
        curl = curl_line(method, url, headers, body, self._secrets)
        self.sent += 1
        try:
            response = self._http.request(method, url, headers=headers, content=body)
        except httpx.TimeoutException:
            exchange = self._failed(
                method, url, headers, body, curl, f"no answer within {self._http.timeout.read} s"
            )
        except httpx.TransportError as exc:
            exchange = self._failed(
                method,
                url,
                headers,
                body,
                curl,
                f"{type(exc).__name__}: {exc or 'connection failed'}",
            )
        else:
            self._failures_in_row = 0
            self._remember_quota(key, response)
            exchange = Exchange(method, url, headers, body, response, None, curl)
        if self._on_exchange is not None:
            self._on_exchange(exchange)
        if self._failures_in_row >= UNRESPONSIVE_AFTER:
            raise TargetUnresponsive(exchange.error or "")
        return exchange

    def _failed(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        curl: str,
        error: str,
    ) -> Exchange:
        self._failures_in_row += 1
        return Exchange(method, url, headers, body, None, error, curl)

    def _remember_quota(self, key: str, response: httpx.Response) -> None:
        try:
            remaining = int(response.headers["X-RateLimit-Remaining"])
            reset = float(response.headers["X-RateLimit-Reset"])
        except (KeyError, ValueError):
            return
        self._quota[key] = (remaining, reset)

    def _wait(self, seconds: float, message: str) -> None:
        seconds = max(0.0, min(MAX_WAIT, seconds))
        log.info(message.format(seconds))
        self._sleep(seconds)

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


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None
