"""The service's Redis client: one server, or a Redis Cluster, chosen by the URL's scheme.

`redis://host:port/db` is one server. `redis+cluster://host:port[,host:port...]` (TLS:
`rediss+cluster://`) is a cluster: the listed nodes are where discovery starts, the client
learns the others and the slot map from them (CLUSTER SLOTS). Either client has the same
guarantees: bounded connections, nothing waits forever, and no command is ever sent again
after a failure, since a compare-and-set replayed after a lost reply would apply twice.
"""

import asyncio
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as LostConnection
from redis.exceptions import RedisClusterException, RedisError

RedisClient = aioredis.Redis | RedisCluster
# The cluster client's own failures (no node reachable, a slot no node serves) are no
# RedisError: whoever maps "Redis failed" to "store unavailable" catches both.
REDIS_ERRORS = (RedisError, RedisClusterException)
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster_url(url: str) -> bool:
    return url.partition("://")[0].lower() in CLUSTER_SCHEMES


def cluster_seed(url: str) -> tuple[str, list[tuple[str, int]]]:
    """`redis+cluster://[user:password@]host:port[,host:port...][/0][?...]` -> the first node as
    the redis:// URL redis-py parses (credentials, TLS, query options), and the other nodes."""
    scheme, _, rest = url.partition("://")
    parts = urlsplit(f"//{rest}")
    userinfo, at, hosts = parts.netloc.rpartition("@")
    first, *others = hosts.split(",")
    seed = urlunsplit(
        (CLUSTER_SCHEMES[scheme.lower()], userinfo + at + first, parts.path, parts.query, "")
    )
    return seed, [_host_port(address) for address in others]


def cluster_from_url(url: str, **options: Any) -> RedisCluster:
    """A cluster client, discovering the cluster from the nodes the URL lists."""
    seed, others = cluster_seed(url)
    startup = [ClusterNode(host, port) for host, port in others]
    return RedisCluster.from_url(seed, startup_nodes=startup, **options)


def _host_port(address: str) -> tuple[str, int]:
    parts = urlsplit(f"//{address}")
    if not parts.hostname:
        raise ValueError(f"a cluster node must be host:port, got {address!r}")
    return parts.hostname, parts.port or 6379


def create_redis(
    url: str, socket_timeout_s: float, connect_timeout_s: float, max_connections: int
) -> RedisClient:
    """A client of either kind, with the guarantees above.

    On a cluster, `max_connections` bounds each node's pool, and a command that finds its
    node's pool in use fails at once (503) instead of waiting for a connection. MOVED and ASK
    redirections are still followed: the node that answers them did not run the command.
    """
    if is_cluster_url(url):
        return cluster_from_url(
            url,
            max_connections=max_connections,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            health_check_interval=30,
            retry=Retry(NoBackoff(), 0),  # no second try after a timeout or a lost connection
        )
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=socket_timeout_s,  # wait for a free pooled connection
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=connect_timeout_s,
        health_check_interval=30,  # PING a connection idle for 30 s before reusing it
        retry=Retry(NoBackoff(), 0),
    )
    return aioredis.Redis.from_pool(pool)  # closing the client closes the pool


async def ping(client: RedisClient) -> None:
    """Readiness. On a cluster every primary must answer: sessions hash over all of them, so a
    replica that cannot reach one would fail that share of its sessions."""
    if isinstance(client, RedisCluster):
        await client.ping(target_nodes=RedisCluster.PRIMARIES)
    else:
        await client.ping()


async def forget_stale_connections(client: RedisClient, error: BaseException) -> None:
    """After a lost connection, close every pooled connection not in use.

    When Redis restarts, each pooled connection still points at the old process and fails
    once, the next time the pool hands it out: with no retries, that is one 503 per stale
    connection, spread over the minutes it takes concurrency to reach them. Closing them all
    at the first failure leaves the pool to open fresh ones. Other failures leave it alone.
    """
    if not isinstance(error, LostConnection):
        return
    # closing is best effort: a close that times out (a loaded Redis or event loop) must not
    # turn the request's 503 into a 500; the pool drops such a connection on its next use
    with suppress(*REDIS_ERRORS, OSError):
        if isinstance(client, RedisCluster):
            await asyncio.gather(
                *(node.disconnect_free_connections() for node in client.get_nodes())
            )
        else:
            await client.connection_pool.disconnect(inuse_connections=False)
