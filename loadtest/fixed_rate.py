"""`make loadtest-rates`: latency per service core at fixed request rates, the bare app beside.

    python -m loadtest.fixed_rate --bundle bundles/microlens --rates 500,1000,2000 --duration 15

The pinning of `loadtest.saturation` (one uvicorn worker on the service's CPU, Redis and the
generator on the other), with an open-loop generator instead of wrk: `paced_sessions.py`
starts requests on a fixed schedule whatever the service's speed (sessions of a page of five,
then four swipes: the 4 : 1 mix), so a service that cannot keep up shows it as latency and a
lower completed rate instead of slowing the generator down. Each request is timed from its
actual send, and the generator's lateness against its schedule is kept: a step whose
generator was late (p99 above LATE_MS) or whose generator side was saturated says so and does
not count. A table, a JSON of every step and a PNG of p99 against rate go to --out.
"""

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from loadtest.cores import CoreSplit, CpuTimes, core_split
from loadtest.keepalive import Pool
from loadtest.paced_sessions import PacedSessions, Sent
from loadtest.rates_plot import plot_rates
from loadtest.rates_step import RateStep
from loadtest.run import BASELINE, NEXTSWIPE, Target
from loadtest.saturation import serving

WARMUP_S = 3.0  # one unreported second or three at the first rate: caches, Redis' first keys


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("bundles/demo"))
    parser.add_argument(
        "--rates",
        type=lambda text: tuple(float(r) for r in text.split(",")),
        default=(500.0, 1000.0, 2000.0),
        help="comma-separated requests/s, one step each",
    )
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per step")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare app")
    parser.add_argument("--out", type=Path, default=Path("build/loadtest"))
    return parser.parse_args(argv)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1e3, q)) if values else float("nan")


def summarise(target: str, rate: float, duration_s: float, sent: list[Sent]) -> RateStep:
    """One step's figures; the CPU shares are filled in by the caller."""
    ok = [s for s in sent if s.status == 200]
    latency = [s.latency_s for s in ok]
    return RateStep(
        target,
        rate,
        len(ok) / duration_s,
        percentile(latency, 50),
        percentile(latency, 99),
        percentile([s.latency_s for s in ok if s.endpoint == "swipe"], 99),
        percentile([s.latency_s for s in ok if s.endpoint == "feed"], 99),
        max(latency, default=float("nan")) * 1e3,
        len(sent) - len(ok),
        percentile([s.lag_s for s in sent], 99),
        0.0,
        0.0,
    )


async def paced(url: str, rate: float, duration_s: float, seed: int) -> list[Sent]:
    host, port = url.removeprefix("http://").split(":")
    pool = Pool(host, int(port))
    sessions = PacedSessions(pool, rate, seed=seed)
    await sessions.run(duration_s)
    await pool.close()
    return sessions.traffic.sent


def run_target(target: Target, args: argparse.Namespace, split: CoreSplit) -> list[RateStep]:
    print(
        f"\n{target.name} ({args.bundle}): service on CPU {split.service_list}, generator and "
        f"Redis on CPU {split.loader_list}, {args.duration:g} s per rate",
        flush=True,
    )
    print(HEADER, flush=True)
    steps = []
    with serving(target, args.bundle, split, args.out / f"rates-{target.name}.log") as url:
        asyncio.run(paced(url, args.rates[0], WARMUP_S, seed=0))
        for n, rate in enumerate(args.rates, start=1):
            before = CpuTimes.now()
            sent = asyncio.run(paced(url, rate, args.duration, seed=n))
            after = CpuTimes.now()
            step = summarise(target.name, rate, args.duration, sent)
            step = RateStep(
                **{
                    **asdict(step),
                    "service_busy": after.busy_share(before, split.service),
                    "loader_busy": after.busy_share(before, split.loader),
                }
            )
            print(format_step(step), flush=True)
            steps.append(step)
            time.sleep(1.0)  # the queue of the step before drains
    return steps


HEADER = (
    "offered  completed  p50 ms  p99 ms  swipe p99  feed p99   max ms  failed  late p99  "
    "service  loader"
)


def format_step(step: RateStep) -> str:
    verdict = "" if step.counts else "  generator late or saturated: does not count"
    return (
        f"{step.offered:>7,.0f} {step.completed:>10,.0f} {step.p50_ms:>7.2f} {step.p99_ms:>7.2f} "
        f"{step.swipe_p99_ms:>10.2f} {step.feed_p99_ms:>9.2f} {step.max_ms:>8.1f} "
        f"{step.failures:>7} {step.late_p99_ms:>9.2f} {step.service_busy:>8.0%} "
        f"{step.loader_busy:>7.0%}{verdict}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    targets = [NEXTSWIPE] if args.no_baseline else [NEXTSWIPE, BASELINE]
    split = core_split()
    os.sched_setaffinity(0, split.loader)  # the generator is this process: Redis' side
    steps = [step for target in targets for step in run_target(target, args, split)]
    name = args.bundle.name
    (args.out / f"rates-{name}.json").write_text(
        json.dumps([asdict(step) for step in steps], indent=1)
    )
    plot_rates(steps, args.out / f"rates-{name}.png", name)
    print(f"files: {args.out}/rates-{name}.json, {args.out}/rates-{name}.png")
    return 0 if all(step.counts for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
