"""One step of the saturation run: a connection count, what wrk measured, how busy each side was."""

from dataclasses import dataclass

from loadtest.cores import SATURATED


@dataclass(frozen=True, slots=True)
class Step:
    target: str
    connections: int
    rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    failures: int
    statuses: dict[str, int]
    service_busy: float  # share of the service's CPUs busy during the run
    loader_busy: float  # the same for wrk and Redis

    @property
    def counts(self) -> bool:
        return self.loader_busy <= SATURATED

    def held(self, budget_ms: float) -> bool:
        return self.counts and self.failures == 0 and self.p99_ms <= budget_ms
