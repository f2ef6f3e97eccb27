"""The latency budget, enforced: locust exits 1 when p99 of /swipe or /feed is over
LOADTEST_P99_MS, or when any request failed or any user raised, and logs why.

`verdict` decides on plain numbers (the tests call it); `check_budget` is the
`events.quitting` listener that hands it locust's stats. No locust import at run time.
"""

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from loadtest.config import LoadTestConfig

if TYPE_CHECKING:
    from locust.env import Environment

BUDGETED = {"/swipe": "POST", "/feed": "GET"}  # stats name -> method
logger = logging.getLogger(__name__)


def verdict(
    p99_ms: Mapping[str, float | None], failures: int, exceptions: int, budget_ms: float
) -> list[str]:
    """Why the run broke its budget; empty when it held. None: the endpoint saw no request."""
    reasons = []
    for name in BUDGETED:
        p99 = p99_ms.get(name)
        if p99 is None:
            reasons.append(f"no {name} request was made, so its p99 is unknown")
        elif p99 > budget_ms:
            reasons.append(f"{name} p99 {p99:g} ms is over the {budget_ms:g} ms budget")
    if failures:
        reasons.append(f"{failures} requests failed")
    if exceptions:
        reasons.append(f"the simulated users raised {exceptions} distinct exceptions")
    return reasons


def check_budget(environment: "Environment", **_kwargs: Any) -> None:
    """events.quitting listener: exit code 1 and one logged line per reason when over budget."""
    stats = environment.stats
    p99_ms: dict[str, float | None] = {}
    for name, method in BUDGETED.items():
        entry = stats.entries.get((name, method))  # .get: indexing would create the entry
        if entry is not None and entry.num_requests > 0:
            p99_ms[name] = entry.get_response_time_percentile(0.99)
    exceptions = len(environment.runner.exceptions) if environment.runner else 0
    budget_ms = LoadTestConfig.from_env().p99_ms
    reasons = verdict(p99_ms, stats.total.num_failures, exceptions, budget_ms)
    for reason in reasons:
        logger.error("budget failed: %s", reason)
    if reasons:
        environment.process_exit_code = 1
