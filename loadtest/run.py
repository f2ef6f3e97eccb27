"""`make loadtest`: a throwaway Redis and the service under uvicorn on loopback, locust driving
a fixed arrival rate at it, then a table and a PNG per run; non-zero when the budget failed.

    python -m loadtest.run --rate 1000 --duration 60           # one run at 1000 req/s
    python -m loadtest.run --step --rate 250 --step-size 250   # raise the rate until p99 breaks
    python -m loadtest.run --step --baseline                   # the same against a bare app

The rate is fixed by pacing, not by the service's speed: ceil(rate / user-rate) users, each
sending one request every users / rate seconds (`swarm.py`). The service's workers are pinned
to the first `--service-cores` CPUs, locust and Redis to the others (cores.py); a run whose
generator side was more than 90% busy measured locust, not the service: it says so and does
not count. `--step` exits 0 when at least its first rate held.
"""

import argparse
import math
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from loadtest.config import LoadTestConfig
from loadtest.cores import SATURATED, CoreSplit, CpuTimes, core_split
from loadtest.plot import plot_history
from loadtest.report import format_table, read_stats
from loadtest.servers import Served, redis_server, serving_rss_mb, uvicorn_server
from loadtest.swarm import Swarm, notable_lines, run_locust, swarm_for


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    factory: str  # for uvicorn --factory
    ready_path: str  # answers 200 once the app can serve
    needs_redis: bool
    verify: bool  # whether the users check idempotency (constant answers cannot pass it)


NEXTSWIPE = Target("nextswipe", "app.main:create_app", "/readyz", True, True)
BASELINE = Target("baseline", "loadtest.baseline_app:create_app", "/feed", False, False)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = LoadTestConfig.from_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="requests/s (first step)")
    parser.add_argument("--duration", type=int, default=60, help="seconds per run or step")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--service-cores", type=int, default=1, help="CPUs the workers are pinned to"
    )
    parser.add_argument("--bundle", type=Path, default=defaults.bundle)
    parser.add_argument("--out", type=Path, default=Path("build/loadtest"))
    parser.add_argument("--p99-ms", type=float, default=defaults.p99_ms, help="the budget")
    parser.add_argument("--retry-share", type=float, default=defaults.retry_share)
    parser.add_argument(
        "--user-rate",
        type=float,
        default=defaults.user_rate,
        help="most requests/s one simulated user sends (sets the user count)",
    )
    parser.add_argument("--step", action="store_true", help="raise the rate until p99 breaks")
    parser.add_argument("--step-size", type=float, default=250.0, help="req/s added per step")
    parser.add_argument("--max-rate", type=float, default=10_000.0, help="last step at most")
    parser.add_argument("--baseline", action="store_true", help="also run the bare app")
    return parser.parse_args(argv)


@contextmanager
def serving(target: Target, args: argparse.Namespace, split: CoreSplit) -> Iterator[Served]:
    """The target's processes (Redis first when it needs one) until the block ends."""
    with ExitStack() as stack:
        env = {"NEXTSWIPE_BUNDLE": str(args.bundle)}
        if target.needs_redis:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            env["NEXTSWIPE_REDIS_URL"] = stack.enter_context(
                redis_server(directory, cpus=split.loader_list)
            )
        log = args.out / f"{target.name}-service.log"
        server = uvicorn_server(
            target.factory, args.workers, env, target.ready_path, log, split.service_list
        )
        yield stack.enter_context(server)


def one_run(
    host: str, target: Target, rate: float, args: argparse.Namespace, split: CoreSplit
) -> bool:
    """One locust run at `rate`: prints its table, writes its PNG; True when the budget held
    and the generator was not saturated (a run that measured locust proves nothing)."""
    swarm: Swarm = swarm_for(rate, args.user_rate)
    prefix = args.out / f"{target.name}-{rate:g}rps"
    print(
        f"\n{target.name}: {rate:g} req/s for {args.duration} s, {swarm.users} users "
        f"at {swarm.user_rate:.3g} req/s each, {args.workers} uvicorn worker(s) on CPU "
        f"{split.service_list}, locust and Redis on CPU {split.loader_list}",
        flush=True,
    )
    env = {
        "NEXTSWIPE_BUNDLE": str(args.bundle),
        "LOADTEST_P99_MS": repr(args.p99_ms),
        "LOADTEST_RETRY_SHARE": repr(args.retry_share),
        "LOADTEST_VERIFY": "1" if target.verify else "0",
    }
    before = CpuTimes.now()
    code, log = run_locust(host, swarm, args.duration, prefix, env, split.loader_list)
    after = CpuTimes.now()
    service_busy = after.busy_share(before, split.service)
    loader_busy = after.busy_share(before, split.loader)
    for line in notable_lines(log, code):
        print(f"  locust: {line}")
    stats = Path(f"{prefix}_stats.csv")
    if stats.is_file():
        print(format_table(read_stats(stats)))
        plot_history(
            Path(f"{prefix}_stats_history.csv"), prefix.with_suffix(".png"), args.p99_ms, rate
        )
    print(f"CPU busy: service {service_busy:.0%}, locust and Redis {loader_busy:.0%}")
    counts = loader_busy <= SATURATED
    verdict = "held" if code == 0 else f"FAILED (locust exit code {code}; see above)"
    if not counts:
        verdict = f"generator saturated ({loader_busy:.0%} busy): does not count"
    print(f"budget (p99 <= {args.p99_ms:g} ms, no failures): {verdict}", flush=True)
    print(f"files: {prefix}_stats.csv, {prefix}_stats_history.csv, {prefix}.png", flush=True)
    return code == 0 and counts


def step_search(
    host: str, target: Target, args: argparse.Namespace, split: CoreSplit
) -> float | None:
    """Raise the rate by --step-size until a step breaks the budget; the last rate that held."""
    held: float | None = None
    steps = math.floor((args.max_rate - args.rate) / args.step_size) + 1
    for rate in (args.rate + i * args.step_size for i in range(max(steps, 0))):
        if not one_run(host, target, rate, args, split):
            break
        held = rate
    return held


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    targets = [NEXTSWIPE, BASELINE] if args.baseline else [NEXTSWIPE]
    passed: dict[str, bool] = {}
    highest: dict[str, float | None] = {}
    split = core_split(args.service_cores)
    for target in targets:
        with serving(target, args, split) as served:
            if args.step:
                highest[target.name] = step_search(served.url, target, args, split)
                passed[target.name] = highest[target.name] is not None
            else:
                passed[target.name] = one_run(served.url, target, args.rate, args, split)
            rss = ", ".join(f"{mb:.0f}" for mb in serving_rss_mb(served.pid))
            print(f"{target.name}: resident memory per serving process after the run: {rss} MB")
    if args.step:
        shown = ", ".join(f"{name} {_rate(rate)}" for name, rate in highest.items())
        print(f"\nhighest rate with p99 <= {args.p99_ms:g} ms: {shown}")
    return 0 if all(passed.values()) else 1


def _rate(rate: float | None) -> str:
    return "none (the first step failed)" if rate is None else f"{rate:g} req/s"


if __name__ == "__main__":
    sys.exit(main())
