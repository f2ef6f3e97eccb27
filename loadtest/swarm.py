"""Locust at a fixed arrival rate: enough users, each paced to one request every
`users / rate` seconds from a random phase, so that requests arrive evenly; then locust.

Every task run of a SessionUser is one request and its `wait_time` paces the runs like
locust's constant_pacing, so the total rate is users * user_rate while a request takes less
than the interval (1 / user_rate: 500 ms at the default 2 req/s per user, ten times the 50 ms
budget). A slower service is offered less, which the report shows as achieved req/s. Locust
spawns all users in one batch; each starts at a random point of its interval (phases paced
from one instant would send every request at once), which also spreads the opening of
their connections over the first interval.
"""

import math
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from loadtest.servers import pinned

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = "loadtest/locustfile.py"
STOP_TIMEOUT_S = 2  # users finish their request in flight when the run time is up
LEVELS = ("WARNING", "ERROR", "CRITICAL")  # as locust's log lines spell them: host/LEVEL/logger


@dataclass(frozen=True, slots=True)
class Swarm:
    users: int
    user_rate: float  # requests/s of each user; users * user_rate is the target rate


def swarm_for(rate: float, max_user_rate: float) -> Swarm:
    """The fewest users that reach `rate` without any of them exceeding `max_user_rate`."""
    if rate <= 0 or max_user_rate <= 0:
        raise ValueError("rate and max_user_rate must be positive")
    users = math.ceil(rate / max_user_rate)
    return Swarm(users, rate / users)


def run_locust(
    host: str,
    swarm: Swarm,
    duration_s: int,
    csv_prefix: Path,
    env: dict[str, str],
    cpus: str | None = None,
) -> tuple[int, Path]:
    """Locust's exit code (1: the budget failed) and its log: summary, warnings, errors;
    pinned to `cpus` when given."""
    command = [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "--host", host]
    command += ["--users", str(swarm.users), "--spawn-rate", str(swarm.users)]
    command += ["--run-time", f"{duration_s}s", "--stop-timeout", str(STOP_TIMEOUT_S)]
    command += ["--csv", str(csv_prefix), "--csv-full-history", "--only-summary"]
    command += ["--loglevel", "WARNING"]
    env = {**os.environ, **env, "LOADTEST_HOST": host, "LOADTEST_USER_RATE": repr(swarm.user_rate)}
    log = Path(f"{csv_prefix}-locust.log")
    with log.open("w") as out:
        run = subprocess.run(
            pinned(command, cpus), cwd=ROOT, env=env, stdout=out, stderr=out, check=False
        )
    return run.returncode, log


def notable_lines(log: Path, exit_code: int) -> list[str]:
    """Locust's warnings and errors (budget verdicts, a saturated CPU); on a failure with
    none of those (a crash), the log's last lines."""
    lines = log.read_text().splitlines()
    notable = [line for line in lines if any(f"/{level}/" in line for level in LEVELS)]
    return notable if notable or exit_code == 0 else lines[-20:]
