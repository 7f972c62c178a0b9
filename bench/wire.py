"""HTTP/1.1 over plain sockets: one exchange (the ready probe, the check before a load),
many on keep-alive connections (creating a fresh path's records), and reading answers
on a keep-alive connection (the Python load generator).

No client library: the benchmark should measure the server, and a library's own pools,
retries and parsing would sit between; these few lines do only what the paths need.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bench.paths import Request

__all__ = ["HOST", "Answer", "close", "create_all", "exchange", "read_answer"]

HOST = "127.0.0.1"
MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def _head(data: bytes) -> tuple[int, dict[str, str]]:
    lines = data.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP status line: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def read_answer(reader: asyncio.StreamReader) -> Answer:
    """One answer from ``reader``: its status line, headers and body (``Content-Length``
    or chunked). Raises ``ValueError`` on anything else, ``IncompleteReadError`` when the
    server closes the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > MAX_HEAD:
        raise ValueError("answer head too long")
    status, headers = _head(head[:-4])
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while len(body) <= MAX_BODY:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return Answer(status, body)
            body += chunk[:-2]
        raise ValueError("answer body too long")
    length = int(headers.get("content-length", "0"))
    if length > MAX_BODY:
        raise ValueError("answer body too long")
    return Answer(status, await reader.readexactly(length))


async def close(writer: asyncio.StreamWriter) -> None:
    """Close a connection; one the server already closed is closed too."""
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass


def exchange(port: int, request: Request, timeout: float = 5.0) -> Answer:
    """Send ``request`` on a new connection to ``127.0.0.1:port`` and read the answer.

    Raises ``OSError`` (nothing listens yet, or no answer within ``timeout``) or
    ``ValueError`` (an answer that is not HTTP).
    """

    async def once() -> Answer:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(request.raw(f"{HOST}:{port}"))
            await writer.drain()
            return await read_answer(reader)
        finally:
            await close(writer)

    async def bounded() -> Answer:
        try:
            return await asyncio.wait_for(once(), timeout)
        except TimeoutError:
            raise OSError(f"no answer from port {port} within {timeout:g} s") from None
        except asyncio.IncompleteReadError as exc:
            raise OSError(f"port {port} closed the connection mid-answer") from exc

    return asyncio.run(bounded())


def create_all(
    port: int,
    requests: Sequence[Request],
    expected: int,
    *,
    connections: int = 16,
    timeout: float = 900.0,
) -> None:
    """Send every request of ``requests`` (over ``connections`` keep-alive connections),
    each of which must be answered ``expected``.

    Raises ``OSError`` (no answer, or not all sent within ``timeout`` seconds) or
    ``ValueError`` (an answer other than ``expected``: the first one, with its body).
    """

    async def sender(pending: Iterator[Request], host: str) -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            for request in pending:
                writer.write(request.raw(host))
                answer = await read_answer(reader)
                if answer.status != expected:
                    body = answer.body[:300].decode("utf-8", "replace")
                    raise ValueError(
                        f"{request.method} {request.path} answered {answer.status}: {body}"
                    )
        finally:
            await close(writer)

    async def bounded() -> None:
        pending = iter(requests)
        host = f"{HOST}:{port}"
        try:
            await asyncio.wait_for(
                asyncio.gather(*(sender(pending, host) for _ in range(connections))), timeout
            )
        except TimeoutError:
            raise OSError(f"not all {len(requests)} sent within {timeout:g} s") from None
        except asyncio.IncompleteReadError as exc:
            raise OSError(f"port {port} closed the connection mid-answer") from exc

    asyncio.run(bounded())
