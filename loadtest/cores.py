"""Which CPUs the service gets, and which the load generator and Redis share, so that a load
test measures the service and not a generator fighting it for a core; and how busy each side
was (from /proc/stat), so that a run whose generator ran out of CPU can say so.

On this project's 2-core machine: the service on CPU 0, the generator and Redis on CPU 1.
"""

import os
from dataclasses import dataclass
from pathlib import Path

SATURATED = 0.9  # a side busier than this share of its CPUs is the bottleneck


@dataclass(frozen=True, slots=True)
class CoreSplit:
    service: tuple[int, ...]
    loader: tuple[int, ...]  # the load generator and Redis

    @property
    def service_list(self) -> str:
        """taskset's syntax: "0" or "0,1"."""
        return ",".join(map(str, self.service))

    @property
    def loader_list(self) -> str:
        return ",".join(map(str, self.loader))


def core_split(service_cores: int = 1) -> CoreSplit:
    """The first `service_cores` CPUs this process may use serve; the rest generate load.

    At least one CPU is always left to the generator: with fewer than two there is no way to
    measure the service apart from its load, and this refuses to pretend otherwise.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise RuntimeError("a load test needs 2 CPUs: one for the service, one for its load")
    if service_cores < 1:
        raise ValueError(f"service_cores must be at least 1, got {service_cores}")
    taken = min(service_cores, len(cpus) - 1)
    return CoreSplit(tuple(cpus[:taken]), tuple(cpus[taken:]))


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """Busy and total jiffies per CPU since boot, as /proc/stat counts them."""

    busy: dict[int, int]
    total: dict[int, int]

    @classmethod
    def now(cls, stat: Path = Path("/proc/stat")) -> "CpuTimes":
        busy, total = {}, {}
        for line in stat.read_text().splitlines():
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            jiffies = [int(field) for field in fields[:8]]  # user nice system idle iowait ...
            cpu = int(name.removeprefix("cpu"))
            total[cpu] = sum(jiffies)
            busy[cpu] = total[cpu] - jiffies[3] - jiffies[4]  # less idle and iowait
        return cls(busy, total)

    def busy_share(self, since: "CpuTimes", cpus: tuple[int, ...]) -> float:
        """Share of the time since `since` that `cpus` together were busy, in [0, 1]."""
        total = sum(self.total[cpu] - since.total[cpu] for cpu in cpus)
        busy = sum(self.busy[cpu] - since.busy[cpu] for cpu in cpus)
        return busy / total if total > 0 else 0.0
