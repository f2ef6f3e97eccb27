"""`make soak`: the load test for minutes with a Redis restart at a third of the run and a model
swap at two thirds; non-zero when an acknowledged swipe was lost, a request failed for a
reason other than the outage, or the swap did not complete.

    python -m loadtest.soak --duration 600 --rate 200 --workers 2 --bundle bundles/demo

Redis persists and is restarted in place (durable_redis.py); the service reads its bundle
through a symlink that is re-pointed at a second version (rollout.py). The simulated users
send unacknowledged swipes again and check every `seq` against the swipes acknowledged so far
(ledger.py); their tally (tally.py) and locust's stats make the report (soak_report.py).
"""

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from loadtest.config import LoadTestConfig
from loadtest.durable_redis import DurableRedis, durable_redis
from loadtest.plot import plot_history
from loadtest.report import format_table, read_stats
from loadtest.rollout import publish_version, serve_through_link
from loadtest.servers import uvicorn_server
from loadtest.soak_report import (
    Outage,
    degraded_outside,
    failure_lines,
    reasons_to_fail,
    split_failures,
    switch_over_s,
)
from loadtest.swarm import notable_lines, run_locust, swarm_for
from loadtest.tally import Tally

RESTART_AT = 1 / 3  # of the run: Redis stops here
SWAP_AT = 2 / 3  # of the run: the link is re-pointed here
NEW_VERSION_SUFFIX = "-soak-swap"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = LoadTestConfig.from_env()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=600, help="seconds")
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--bundle", type=Path, default=defaults.bundle)
    parser.add_argument("--out", type=Path, default=Path("build/soak"))
    parser.add_argument("--down-s", type=float, default=3.0, help="seconds Redis stays down")
    parser.add_argument("--poll-s", type=float, default=0.5, help="NEXTSWIPE_BUNDLE_POLL_S")
    parser.add_argument(
        "--grace-s",
        type=float,
        default=3.0,
        help="after Redis is back, seconds in which a 503 still counts as the outage's",
    )
    parser.add_argument(
        "--swap-deadline-s",
        type=float,
        default=30.0,
        help="the old version must stop answering within this long of the re-point",
    )
    parser.add_argument("--p99-ms", type=float, default=defaults.p99_ms, help="for the plot")
    parser.add_argument("--retry-share", type=float, default=defaults.retry_share)
    parser.add_argument("--user-rate", type=float, default=defaults.user_rate)
    return parser.parse_args(argv)


@dataclass(frozen=True, slots=True)
class Disruptions:
    outage: Outage
    repointed_at: float  # unix time
    old_version: str
    new_version: str


def disrupt(
    redis: DurableRedis, link: Path, started: float, args: argparse.Namespace
) -> Disruptions:
    """Restart Redis at a third of the run and swap the model at two thirds, both in place."""
    _sleep_until(started + RESTART_AT * args.duration)
    stopped = time.time()
    redis.stop()
    time.sleep(args.down_s)
    redis.start()
    back = time.time()
    print(f"redis restarted at {stopped - started:.1f} s: down {back - stopped:.1f} s", flush=True)
    _sleep_until(started + SWAP_AT * args.duration)
    repointed_at = time.time()
    old, new = publish_version(link, NEW_VERSION_SUFFIX)
    print(f"model swap at {repointed_at - started:.1f} s: {old} -> {new}", flush=True)
    return Disruptions(Outage(stopped, back, args.grace_s), repointed_at, old, new)


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def report(prefix: Path, started: float, done: Disruptions, args: argparse.Namespace) -> list[str]:
    """Prints the soak's figures; returns the reasons it failed (empty: passed)."""
    tally_path = Path(f"{prefix}_tally.json")
    if not tally_path.is_file():
        return [f"locust wrote no {tally_path.name}: see {prefix}-locust.log"]
    tally = Tally.from_json(tally_path.read_text())
    stats = read_stats(Path(f"{prefix}_stats.csv"))
    expected, unexpected = split_failures(tally.failures, done.outage)
    switch_over = switch_over_s(
        tally.versions, done.old_version, done.new_version, done.repointed_at, args.swap_deadline_s
    )
    total = stats[-1]
    print(f"\nrequests: {total.requests:,}, failed: {total.failures:,}")
    print(f"  expected (/swipe 503 from Redis's stop to {args.grace_s:g} s after it was back):")
    print("\n".join(failure_lines(expected, started)))
    print("  unexpected:")
    print("\n".join(failure_lines(unexpected, started)))
    print(
        f"swipes acknowledged: {tally.applied:,}; lost: {tally.lost}; applied twice: {tally.extra}"
    )
    degraded = sum(tally.degraded.values())
    outside = degraded_outside(tally, done.outage)
    print(f"degraded pages: {degraded:,} ({outside} outside the outage)")
    print("model versions that answered:")
    for version, seen in tally.versions.items():
        span = f"{seen.first - started:.1f}-{seen.last - started:.1f} s"
        print(f"    {version}: {seen.responses:,} answers, {span}")
    if switch_over is None:
        print("model swap: NOT completed")
    else:
        print(f"model swap: completed; only the new version answered {switch_over:.1f} s on")
    print(format_table(stats))
    return reasons_to_fail(tally, unexpected, switch_over)


def soak(args: argparse.Namespace, prefix: Path) -> tuple[float, Disruptions, int, Path]:
    """Redis, the service on a linked bundle, locust, and the two disruptions meanwhile:
    when locust started, what was done when, locust's exit code and its log."""
    swarm = swarm_for(args.rate, args.user_rate)
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        (directory / "redis").mkdir()
        redis = stack.enter_context(durable_redis(directory / "redis"))
        link = serve_through_link(args.bundle, directory)
        env = {
            "NEXTSWIPE_BUNDLE": str(link),
            "NEXTSWIPE_BUNDLE_POLL_S": repr(args.poll_s),
            "NEXTSWIPE_REDIS_URL": redis.url,
        }
        log = args.out / "soak-service.log"
        served = stack.enter_context(
            uvicorn_server("app.main:create_app", args.workers, env, "/readyz", log)
        )
        print(
            f"soak: {args.rate:g} req/s for {args.duration} s, {swarm.users} users, "
            f"{args.workers} uvicorn worker(s), bundle {args.bundle}; Redis restart at "
            f"{RESTART_AT * args.duration:.0f} s, model swap at {SWAP_AT * args.duration:.0f} s",
            flush=True,
        )
        locust_env = {
            "NEXTSWIPE_BUNDLE": str(args.bundle),
            "LOADTEST_P99_MS": repr(args.p99_ms),
            "LOADTEST_RETRY_SHARE": repr(args.retry_share),
            "LOADTEST_VERIFY": "1",
        }
        with ThreadPoolExecutor(1) as pool:
            started = time.time()
            locust = pool.submit(run_locust, served.url, swarm, args.duration, prefix, locust_env)
            done = disrupt(redis, link, started, args)
            code, locust_log = locust.result()
    return started, done, code, locust_log


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    prefix = args.out / f"soak-{args.rate:g}rps"
    started, done, code, locust_log = soak(args, prefix)
    for line in notable_lines(locust_log, code):
        if "/loadtest.budget:" not in line:  # the soak judges failures itself, below
            print(f"  locust: {line}")
    reasons = report(prefix, started, done, args)
    history = Path(f"{prefix}_stats_history.csv")
    if history.is_file():
        plot_history(history, prefix.with_suffix(".png"), args.p99_ms, args.rate)
    print(
        f"files: {prefix}_stats.csv, {prefix}.png, {prefix}_tally.json, {args.out}/soak-service.log"
    )
    for reason in reasons:
        print(f"soak FAILED: {reason}")
    if not reasons:
        print("soak passed: no acknowledged swipe lost, no unexpected failure, the swap completed")
    return 1 if reasons else 0


if __name__ == "__main__":
    sys.exit(main())
