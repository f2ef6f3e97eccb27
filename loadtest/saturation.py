"""`make loadtest-saturation`: the highest rate one service core holds with p99 in budget.

    python -m loadtest.saturation --bundle bundles/microlens --duration 20

One uvicorn worker is pinned to the service's core; Redis and wrk (wrk_sessions.lua: the
4 swipes : 1 feed mix of short sessions) share the other. For each connection count, wrk
keeps that many requests in flight for `--duration` seconds: its rate and latency, with how
busy each side's CPUs were. A run whose generator side was saturated (above 90% busy) says
so and does not count: it measured wrk and Redis, not the service. The bare FastAPI app runs
next, the same way, for the ratio. A table per target, a JSON of every run and a PNG of
latency against rate go to --out.
"""

import argparse
import json
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path

from app.bundle import ITEM_IDS_FILE
from loadtest.cores import CoreSplit, CpuTimes, core_split
from loadtest.run import BASELINE, NEXTSWIPE, Target
from loadtest.saturation_plot import plot_saturation
from loadtest.saturation_step import Step
from loadtest.servers import redis_server, uvicorn_server
from loadtest.wrk_run import WrkResult, run_wrk

WARMUP_S = 5.0  # one unreported run first: caches, allocators, Redis' first keys
CONNECTIONS = (1, 2, 4, 8, 16, 32, 64, 128)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("bundles/demo"))
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per step")
    parser.add_argument(
        "--connections",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=CONNECTIONS,
        help="comma-separated connection counts, one step each",
    )
    parser.add_argument("--p99-ms", type=float, default=50.0, help="the budget")
    parser.add_argument("--no-baseline", action="store_true", help="skip the bare app")
    parser.add_argument("--out", type=Path, default=Path("build/loadtest"))
    return parser.parse_args(argv)


@contextmanager
def serving(target: Target, bundle: Path, split: CoreSplit, log: Path) -> Iterator[str]:
    """The target on the service's CPU (one worker), Redis on the generator's; yields its URL."""
    with ExitStack() as stack:
        env = {"NEXTSWIPE_BUNDLE": str(bundle)}
        if target.needs_redis:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            env["NEXTSWIPE_REDIS_URL"] = stack.enter_context(
                redis_server(directory, cpus=split.loader_list)
            )
        served = uvicorn_server(target.factory, 1, env, target.ready_path, log, split.service_list)
        yield stack.enter_context(served).url


def measure(
    target: Target, url: str, connections: int, args: argparse.Namespace, items: Path
) -> Step:
    split = core_split()
    before = CpuTimes.now()
    result: WrkResult = run_wrk(
        url, connections, args.duration, items, uuid.uuid4().hex[:8], split.loader_list
    )
    after = CpuTimes.now()
    return Step(
        target.name,
        connections,
        result.rate,
        result.p50_ms,
        result.p90_ms,
        result.p99_ms,
        result.max_ms,
        result.failures,
        result.statuses,
        after.busy_share(before, split.service),
        after.busy_share(before, split.loader),
    )


def format_step(step: Step, budget_ms: float) -> str:
    verdict = (
        "generator saturated: does not count"
        if not step.counts
        else ("held" if step.held(budget_ms) else "over budget")
    )
    failed = f"{step.failures} ({step.statuses})" if step.failures else "0"
    return (
        f"{step.connections:>5} {step.rate:>9,.0f} {step.p50_ms:>8.2f} {step.p99_ms:>8.2f} "
        f"{step.max_ms:>8.1f} {failed:>8} {step.service_busy:>8.0%} {step.loader_busy:>7.0%}"
        f"  {verdict}"
    )


HEADER = "conns     req/s  p50 ms   p99 ms   max ms   failed  service  loader"


def run_target(target: Target, args: argparse.Namespace, items: Path) -> list[Step]:
    split = core_split()
    log = args.out / f"saturation-{target.name}-service.log"
    print(
        f"\n{target.name} ({args.bundle}): service on CPU {split.service_list}, "
        f"wrk and Redis on CPU {split.loader_list}, {args.duration:g} s per step",
        flush=True,
    )
    print(HEADER, flush=True)
    steps = []
    with serving(target, args.bundle, split, log) as url:
        run_wrk(url, 8, WARMUP_S, items, "warmup", split.loader_list)
        for connections in args.connections:
            step = measure(target, url, connections, args, items)
            print(format_step(step, args.p99_ms), flush=True)
            steps.append(step)
    return steps


def highest_held(steps: list[Step], budget_ms: float) -> Step | None:
    held = [step for step in steps if step.held(budget_ms)]
    return max(held, key=lambda step: step.rate) if held else None


def write_item_ids(bundle: Path, path: Path) -> Path:
    ids = json.loads((bundle / ITEM_IDS_FILE).read_text())
    path.write_text("".join(f"{item_id}\n" for item_id in ids))
    return path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    items = write_item_ids(args.bundle, args.out / "saturation-items.txt")
    targets = [NEXTSWIPE] if args.no_baseline else [NEXTSWIPE, BASELINE]
    steps = [step for target in targets for step in run_target(target, args, items)]
    name = args.bundle.name
    (args.out / f"saturation-{name}.json").write_text(
        json.dumps([asdict(step) for step in steps], indent=1)
    )
    plot_saturation(steps, args.out / f"saturation-{name}.png", args.p99_ms, name)
    print()
    best: dict[str, Step | None] = {}
    for target in targets:
        best[target.name] = highest_held([s for s in steps if s.target == target.name], args.p99_ms)
        step = best[target.name]
        shown = (
            "none"
            if step is None
            else f"{step.rate:,.0f} req/s ({step.connections} connections, "
            f"p50 {step.p50_ms:.2f} ms, p99 {step.p99_ms:.2f} ms)"
        )
        print(
            f"{target.name}: highest rate per service core with p99 <= {args.p99_ms:g} ms: {shown}"
        )
    ours, bare = best.get(NEXTSWIPE.name), best.get(BASELINE.name)
    if ours is not None and bare is not None:
        print(f"nextswipe holds {ours.rate / bare.rate:.0%} of the bare app's rate")
    print(f"files: {args.out}/saturation-{name}.json, {args.out}/saturation-{name}.png")
    return 0 if ours is not None else 1


if __name__ == "__main__":
    sys.exit(main())
