"""A real 3-master Redis Cluster on loopback ports, started and stopped by the tests.

Three redis-server processes in cluster mode, joined by `redis-cli --cluster create` (as an
operator would), each master owning a third of the 16,384 slots, without replicas.
"""

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.asyncio import Redis

from app.redis_client import RedisClient, cluster_from_url, is_cluster_url
from loadtest.servers import free_port, redis_server


@dataclass(frozen=True, slots=True)
class RedisClusterNodes:
    url: str  # what NEXTSWIPE_REDIS_URL would say: redis+cluster://127.0.0.1:p1,...
    node_urls: list[str]  # each master on its own (redis://), to flush it or count its keys


def distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def wait_for_cluster_ok(node_urls: list[str], timeout_s: float = 20.0) -> None:
    """Until every node sees every slot served (cluster_state:ok)."""
    deadline = time.monotonic() + timeout_s
    for url in node_urls:
        with redis.Redis.from_url(url) as node:
            while node.cluster("INFO").get("cluster_state") != "ok":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the cluster is not ok within {timeout_s} s")
                time.sleep(0.05)


@contextmanager
def redis_cluster(directory: Path, masters: int = 3) -> Iterator[RedisClusterNodes]:
    cli = shutil.which("redis-cli")
    if cli is None:
        raise RuntimeError("redis-cli is not installed: run `make test`, which installs it")
    ports = distinct_free_ports(2 * masters)  # a client port and a cluster bus port each
    with ExitStack() as servers:
        node_urls = []
        for port, bus_port in zip(ports[:masters], ports[masters:], strict=True):
            node_dir = directory / f"node-{port}"  # each node writes its own nodes.conf
            node_dir.mkdir()
            cluster_mode = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
            bus = ("--cluster-port", str(bus_port), "--cluster-node-timeout", "5000")
            node_urls.append(
                servers.enter_context(redis_server(node_dir, port, *cluster_mode, *bus))
            )
        addresses = [f"127.0.0.1:{port}" for port in ports[:masters]]
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        wait_for_cluster_ok(node_urls)
        yield RedisClusterNodes(f"redis+cluster://{','.join(addresses)}/0", node_urls)


def admin_client(url: str, **options: Any) -> RedisClient:
    """A client of the URL's kind with redis-py's defaults, to inspect and tamper with keys."""
    return (
        cluster_from_url(url, **options) if is_cluster_url(url) else Redis.from_url(url, **options)
    )
