"""One wrk run of the session mix (wrk_sessions.lua) against a URL, pinned to the generator's
CPUs, and what it measured: the request rate, latency percentiles and every failure.

wrk keeps each connection busy (a new request as soon as the answer is in), so its rate is
what the service holds with that many requests in flight; `saturation.py` raises the
connections until p99 leaves the budget. wrk is a Debian package (`make packages`).
"""

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from loadtest.servers import pinned

SCRIPT = Path(__file__).with_name("wrk_sessions.lua")
MARKER = "WRK_RESULT "
TIMEOUT_S = 2  # an answer later than this is a timeout (a failure), far past the budget


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    failures: int  # non-200 answers, socket errors and timeouts
    statuses: dict[str, int]  # status -> answers, for the statuses that were not 200

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def run_wrk(
    url: str, connections: int, duration_s: float, items: Path, run_id: str, cpus: str
) -> WrkResult:
    """wrk with one thread (the generator's core) and `connections` connections."""
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed: `make packages` installs it")
    command = [binary, "-t1", f"-c{connections}", f"-d{duration_s:g}s", f"--timeout={TIMEOUT_S}s"]
    command += ["-s", str(SCRIPT), url, "--", str(items), run_id]
    run = subprocess.run(pinned(command, cpus), capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"wrk exited with {run.returncode}: {run.stderr.strip()[-2000:]}")
    return parse_result(run.stdout)


def parse_result(stdout: str) -> WrkResult:
    """The JSON line wrk_sessions.lua's done() prints."""
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise RuntimeError(f"wrk printed no result line:\n{stdout[-2000:]}")
    raw = json.loads(lines[-1].removeprefix(MARKER))
    statuses = {str(status): int(n) for status, n in raw["statuses"].items()}
    errors = sum(raw[key] for key in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return WrkResult(
        requests=int(raw["requests"]),
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1e3,
        p90_ms=raw["p90_us"] / 1e3,
        p99_ms=raw["p99_us"] / 1e3,
        max_ms=raw["max_us"] / 1e3,
        failures=errors + sum(statuses.values()),
        statuses=statuses,
    )
