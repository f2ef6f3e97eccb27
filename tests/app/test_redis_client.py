"""create_redis: the URL's scheme picks one server or a cluster, and neither client ever sends
a command again after a failure (a replayed compare-and-set would apply twice)."""

import anyio
import pytest
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError

from app.redis_client import cluster_from_url, create_redis, forget_stale_connections

# Counts its call, then keeps the server busy for ARGV[1] ms: longer than the client waits.
COUNT_THEN_STALL = """
redis.call('INCR', KEYS[1])
local start = redis.call('TIME')
repeat
  local now = redis.call('TIME')
until (now[1] - start[1]) * 1000 + (now[2] - start[2]) / 1000 >= tonumber(ARGV[1])
return 1
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_cluster_url_names_the_nodes_where_discovery_starts() -> None:
    url = "redis+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002/0?client_name=ns"
    client = create_redis(url, 0.25, 0.5, max_connections=16)
    assert isinstance(client, RedisCluster)
    assert sorted(client.nodes_manager.startup_nodes) == [
        "10.0.0.1:7000",
        "10.0.0.2:7001",
        "::1:7002",
    ]
    options = client.connection_kwargs
    assert (options["username"], options["password"], options["client_name"]) == (
        "app",
        "s@cret",
        "ns",
    )
    assert (options["socket_timeout"], options["socket_connect_timeout"]) == (0.25, 0.5)
    assert options["max_connections"] == 16  # per node
    assert client.retry.get_retries() == 0
    await client.aclose()


def test_a_cluster_node_without_a_host_is_refused() -> None:
    with pytest.raises(ValueError, match="host:port"):
        cluster_from_url("redis+cluster://10.0.0.1:7000,:7001")


@pytest.mark.anyio
async def test_a_command_that_times_out_is_not_sent_again(server_url: str) -> None:
    client = create_redis(server_url, 0.1, 0.5, max_connections=2)
    stall = client.register_script(COUNT_THEN_STALL)
    with pytest.raises(TimeoutError):
        await stall(keys=["calls"], args=[400])
    await anyio.sleep(0.5)  # the script ends; a replay would have queued behind it
    assert await client.get("calls") == b"1"  # run once, and the client works again
    await client.aclose()


class SlowToClose(ConnectionPool):
    """A pool whose connections time out while closing, as under a loaded Redis."""

    async def disconnect(self, inuse_connections: bool = True) -> None:
        raise TimeoutError("Timed out closing connection after 0.5")


def test_forgetting_stale_connections_never_raises(redis_url: str) -> None:
    """A close that times out must leave the request's 503, never turn it into a 500."""

    async def forget() -> None:
        client = Redis(connection_pool=SlowToClose.from_url(redis_url))
        await forget_stale_connections(client, RedisConnectionError("lost"))
        await client.aclose()

    anyio.run(forget)
