"""The Redis store's own surface: passwords (in the URL or ``$REDIS_PASSWORD``), URLs refused
at start-up, and what a lost or refusing Redis raises. The behaviour every store shares is
in test_backends.py."""

from __future__ import annotations

import pytest

from mock_server.state import StoreUnavailable, StoreUrlError, open_backend
from tests._redis import RedisServerFactory

pytestmark = pytest.mark.anyio

PASSWORD = "s3cret-for-the-test"


async def test_a_password_in_the_url_or_the_environment_opens_a_protected_redis(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory("--requirepass", PASSWORD)
    in_url = open_backend(f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0")
    from_env = open_backend(server.url, environ={"REDIS_PASSWORD": PASSWORD})
    try:
        await in_url.open()
        await from_env.open()
        assert PASSWORD not in in_url.url, "the URL as logs show it hides the password"
        await in_url.touch("ns", "s", 1.0)
        assert await from_env.sessions("ns") == ["s"], "both see one store"
    finally:
        await in_url.close()
        await from_env.close()


async def test_without_the_password_opening_fails_saying_so(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory("--requirepass", PASSWORD)
    for url, environ in ((server.url, {}), (server.url, {"REDIS_PASSWORD": "wrong"})):
        backend = open_backend(url, environ=environ)
        try:
            with pytest.raises(StoreUnavailable, match="(?i)auth"):
                await backend.open()
        finally:
            await backend.close()


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("redis://", "no host"),
        ("redis://127.0.0.1:6379/zero", "'zero' is not a database number"),
        ("redis://127.0.0.1:99999/0", "out of range"),
    ],
)
def test_a_malformed_url_is_refused_naming_the_fix(url: str, names: str) -> None:
    with pytest.raises(StoreUrlError, match=names):
        open_backend(url)
