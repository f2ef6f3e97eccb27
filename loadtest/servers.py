"""What a load test (and the test suite) runs against, on free loopback ports: a throwaway
redis-server and an app under uvicorn with the flags of `make serve`. Each stops when its
`with` block ends. No fakes: tests and load tests run on the server production runs on.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_S = 60.0  # the service loads its bundle (ONNX Runtime, FAISS) before it is ready


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_command(port: int, directory: Path, *options: str, durable: bool = False) -> list[str]:
    """redis-server on loopback, no RDB snapshots, `options` added; durable: an append-only
    file fsynced before each write is acknowledged (appendfsync always), else no persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: `make packages` installs it")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--dir", str(directory), "--appendonly", "yes" if durable else "no"]
    return command + (["--appendfsync", "always"] if durable else []) + list(options)


def pinned(command: list[str], cpus: str | None) -> list[str]:
    """`command` run on the CPUs listed (taskset syntax, "0" or "0,1"); as it is for None."""
    return command if cpus is None else ["taskset", "-c", cpus, *command]


@contextmanager
def redis_server(
    directory: Path, port: int | None = None, *options: str, cpus: str | None = None
) -> Iterator[str]:
    """redis-server without persistence (`options` added) until the block ends; yields its
    URL. The tests start theirs here too: a given port lets one restart on the same one."""
    port = port or free_port()
    command = pinned(redis_command(port, directory, *options), cpus)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: _accepts(port), process, f"redis-server on port {port}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)


@dataclass(frozen=True, slots=True)
class Served:
    url: str
    pid: int  # uvicorn's own process; with --workers > 1 the workers are its children


@contextmanager
def uvicorn_server(
    factory: str,
    workers: int,
    env: dict[str, str],
    ready_path: str,
    log: Path,
    cpus: str | None = None,
) -> Iterator[Served]:
    """`factory` served by uvicorn (uvloop, httptools) until the block ends, on `cpus`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--loop", "uvloop"]
    command += ["--http", "httptools", "--no-access-log", "--log-level", "warning"]
    with log.open("w") as out:
        process = subprocess.Popen(
            pinned(command, cpus), stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )
    try:
        wait_until(lambda: _answers_200(url + ready_path), process, f"{factory} (log: {log})")
        yield Served(url, process.pid)
    finally:
        stop_process(process)


def serving_pids(pid: int) -> list[int]:
    """The processes that serve: the children of `pid` when it has any (uvicorn's workers),
    else `pid` itself (uvicorn with one worker serves in-process)."""
    children = [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    return children or [pid]


def serving_rss_mb(pid: int) -> list[float]:
    """Resident memory (MB) of each process that serves (serving_pids)."""
    return [_rss_mb(process) for process in serving_pids(pid)]


def mapped_paths(pid: int | str = "self") -> set[str]:
    """The paths of the files process `pid` has memory-mapped."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split(maxsplit=5)[5].strip() for line in lines if len(line.split()) == 6}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # the kernel reports kB
    raise RuntimeError(f"process {pid} reports no VmRSS")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False  # not listening yet, or 503 while the session store is unreachable


def wait_until(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {START_TIMEOUT_S:g} s")
        time.sleep(0.05)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts its workers down on it), SIGKILL if it does not end in 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
