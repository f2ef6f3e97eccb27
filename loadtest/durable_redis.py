"""The soak's Redis: persistent, and restarted in place (same port, same --dir) mid-run.

A restart of a Redis without persistence loses every session by definition; what the soak
asks is whether the service loses any swipe it acknowledged when a persistent Redis goes
away and comes back. appendfsync always: a write is on disk before Redis acknowledges it,
so no acknowledged write can be missing after any restart (everysec loses up to a second of
them on a crash), and a loss the soak finds is the service's, not Redis's fsync window. Its
cost (one fsync per write) is small at soak rates. It is stopped with SIGTERM, Redis's
graceful shutdown: the append-only file is complete before it exits.
"""

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loadtest.servers import free_port, redis_command, stop_process, wait_until


class DurableRedis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start, and return once it answers PING (it answers LOADING while it reads its AOF)."""
        command = redis_command(self.port, self.directory, durable=True)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._process = process
        wait_until(lambda: _pongs(self.port), process, f"redis-server on port {self.port}")

    def stop(self) -> None:
        """SIGTERM and wait for the exit; nothing when it is not running."""
        if self._process is not None:
            stop_process(self._process)
            self._process = None


@contextmanager
def durable_redis(directory: Path) -> Iterator[DurableRedis]:
    """A started DurableRedis, stopped when the block ends."""
    redis = DurableRedis(directory)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


def _pongs(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False
