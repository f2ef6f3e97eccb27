"""One step of the fixed-rate run (fixed_rate.py): what a rate cost, and whether it counts."""

from dataclasses import dataclass

from loadtest.cores import SATURATED

LATE_MS = 5.0  # a generator sending later than this at p99 measured itself


@dataclass(frozen=True, slots=True)
class RateStep:
    target: str
    offered: float  # requests/s on the schedule
    completed: float  # answered with 200 per second of the schedule
    p50_ms: float
    p99_ms: float
    swipe_p99_ms: float
    feed_p99_ms: float
    max_ms: float
    failures: int
    late_p99_ms: float  # how late the generator sent, against its schedule
    service_busy: float
    loader_busy: float

    @property
    def counts(self) -> bool:
        return self.late_p99_ms <= LATE_MS and self.loader_busy <= SATURATED
