"""Open the event log the service writes: Redis Streams (one server or a Cluster) or the
embedded store's file, read from the positions of the learner's checkpoint."""

from collections.abc import Mapping
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster

from app.events.local_file import LocalEventReader
from app.events.log import EventReader
from app.events.redis_streams import RedisEventReader
from app.redis_client import cluster_seed, is_cluster_url


def sync_redis(url: str) -> "redis.Redis | RedisCluster":
    """A blocking client (the learner is no event loop) of either kind."""
    if is_cluster_url(url):
        seed, others = cluster_seed(url)
        # redis-py's synchronous ClusterNode has no annotations
        nodes = [ClusterNode(host, port) for host, port in others]  # type: ignore[no-untyped-call]
        return RedisCluster.from_url(seed, startup_nodes=nodes)
    return redis.Redis.from_url(url)


def open_log(
    redis_url: str | None,
    path: Path | None,
    key_prefix: str,
    shards: int,
    start: Mapping[str, str],
) -> EventReader:
    if redis_url is not None:
        return RedisEventReader(sync_redis(redis_url), key_prefix, shards, start)
    if path is None:
        raise ValueError(
            "the learner needs the log: NEXTSWIPE_REDIS_URL or NEXTSWIPE_EVENT_LOG_PATH"
        )
    return LocalEventReader(path, start)
