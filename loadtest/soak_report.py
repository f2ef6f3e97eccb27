"""The soak's verdict from the users' tally (tally.py) and what the orchestrator did when:
failures split into those the Redis outage explains and the rest, whether the model swap
completed, and the reasons to fail. Pure: the tests call it on plain numbers.
"""

from collections import Counter
from dataclasses import dataclass

from loadtest.tally import FailureKey, Sighting, Tally

EXPECTED_KIND = "503 state_store_unavailable"  # what /swipe answers while Redis is down
SETTLED_S = 1.0  # the new version alone must answer this long before the run ends


@dataclass(frozen=True, slots=True)
class Outage:
    start: float  # unix time Redis was told to stop
    end: float  # unix time it answered PING again
    grace_s: float  # after `end`: requests that were already waiting on Redis still fail

    def covers(self, second: int) -> bool:
        """Whether a failure logged in this whole unix second may be the outage's."""
        return self.start - 1 < second <= self.end + self.grace_s


def split_failures(
    failures: Counter[FailureKey], outage: Outage
) -> tuple[Counter[FailureKey], Counter[FailureKey]]:
    """(expected, unexpected): a swipe answered 503 state_store_unavailable during the outage
    is expected (the service says so and the client sends it again); nothing else is."""
    expected: Counter[FailureKey] = Counter()
    unexpected: Counter[FailureKey] = Counter()
    for key, count in failures.items():
        second, name, kind = key
        explained = name.startswith("/swipe") and kind == EXPECTED_KIND and outage.covers(second)
        (expected if explained else unexpected)[key] += count
    return expected, unexpected


def switch_over_s(
    versions: dict[str, Sighting], old: str, new: str, repointed_at: float, deadline_s: float
) -> float | None:
    """Seconds from the re-pointed link to the old version's last answer, when the swap
    completed: the old version stopped answering within `deadline_s` and the new one
    answered alone for at least SETTLED_S after it. None when it did not complete."""
    fresh = versions.get(new)
    if fresh is None:
        return None
    stale = versions.get(old)
    last_old = repointed_at if stale is None else max(stale.last, repointed_at)
    took = last_old - repointed_at
    return took if took <= deadline_s and fresh.last - last_old >= SETTLED_S else None


def degraded_outside(tally: Tally, outage: Outage) -> int:
    """Degraded pages away from the outage (the store timed out while it was up)."""
    return sum(n for second, n in tally.degraded.items() if not outage.covers(second))


def reasons_to_fail(
    tally: Tally, unexpected: Counter[FailureKey], switch_over: float | None
) -> list[str]:
    """Empty when the soak passed."""
    reasons = []
    if tally.lost:
        reasons.append(f"{tally.lost} acknowledged swipes were lost")
    if tally.extra:
        reasons.append(f"{tally.extra} swipes were applied twice")
    if unexpected:
        reasons.append(f"{sum(unexpected.values())} requests failed unexpectedly")
    if tally.exceptions:
        reasons.append(f"the simulated users raised {tally.exceptions} distinct exceptions")
    if tally.applied == 0:
        reasons.append("no swipe was acknowledged")
    if switch_over is None:
        reasons.append("the model swap did not complete")
    return reasons


def failure_lines(failures: Counter[FailureKey], started: float) -> list[str]:
    """One indented line per (name, kind), most frequent first, with the seconds into the run
    of its first and last failure; `none` when empty."""
    groups: dict[tuple[str, str], tuple[int, int, int]] = {}
    for (second, name, kind), count in failures.items():
        total, first, last = groups.get((name, kind), (0, second, second))
        groups[(name, kind)] = (total + count, min(first, second), max(last, second))
    ordered = sorted(groups.items(), key=lambda group: -group[1][0])
    return [
        f"    {total:>7}  {name}  {kind}  ({first - started:.0f}-{last - started:.0f} s)"
        for (name, kind), (total, first, last) in ordered
    ] or ["    none"]
