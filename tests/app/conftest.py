"""Fixtures of the service tests: a real 3-master Redis Cluster for the whole run, flushed per
test (the single Redis server is every suite's: tests/conftest.py)."""

from collections.abc import Iterator

import pytest
import redis

from tests.redis_cluster import RedisClusterNodes, redis_cluster


@pytest.fixture(scope="session")
def redis_cluster_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterNodes]:
    with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as nodes:
        yield nodes


@pytest.fixture
def cluster_url(redis_cluster_nodes: RedisClusterNodes) -> str:
    """The cluster's URL (redis+cluster://), with every key gone from every master."""
    for url in redis_cluster_nodes.node_urls:
        with redis.Redis.from_url(url) as node:
            node.flushall()
    return redis_cluster_nodes.url


@pytest.fixture(params=["redis", "cluster"])
def server_url(request: pytest.FixtureRequest) -> str:
    """`redis_url`, then `cluster_url`: tests of what Redis does run on both kinds."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url
