"""Fixtures of the service tests: a real Redis server for the whole run, flushed per test."""

from collections.abc import Iterator

import pytest
import redis

from tests.redis_server import redis_server


@pytest.fixture(scope="session")
def redis_server_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    given: str | None = request.config.getoption("--redis-url")
    if given:
        yield given
        return
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The server's URL, with every key of the previous test gone."""
    client = redis.Redis.from_url(redis_server_url)
    client.flushall()
    client.close()
    return redis_server_url
