"""`make bench-catalogue`: what uploads cost the requests around them, and how fast new items
get seen. Two figures of the catalogue (issue 9), each from one run on loopback:

    python -m loadtest.catalogue_bench burst --bundle B --rate 200       # 10 x 1,000 uploads
    python -m loadtest.catalogue_bench exposure --bundle B --rate 500    # time to 100 impressions

`burst`: the p50/p99 of /swipe and /feed in a quiet window, then while 10 POST /items of 1,000
titles each are encoded (one after the other, as an uploader would send them); the same
traffic against a bare FastAPI app first, in the same run. `exposure`: 20 items uploaded at
once under load; the time from the upload's 200 to each one's 100th impression (counted on
the pages the simulated sessions received), and takedowns made during the run, with every
page that served a taken-down item more than 1 s after its 200.

The service runs one uvicorn worker pinned to CPU 1; Redis and this generator share CPU 0, so
the generator never takes the service's core. The generator's lateness against its schedule
is printed: a late generator would be measuring itself.
"""

import argparse
import asyncio
import csv
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadtest.keepalive import Pool
from loadtest.paced_sessions import PacedSessions, Sent, Traffic
from loadtest.servers import redis_server, uvicorn_server

ADMIN_TOKEN = "bench-admin-token"
SERVICE_CPU, GENERATOR_CPU = "1", "0"
TAKEDOWN_GRACE_S = 1.0  # the contract: a takedown is served by no replica 1 s after its 200


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["burst", "exposure"])
    parser.add_argument("--bundle", type=Path, default=Path("bundles/demo"))
    parser.add_argument("--rate", type=float, default=None, help="req/s (200 burst, 500 exposure)")
    parser.add_argument("--warm-s", type=float, default=5.0, help="sent first, not measured")
    parser.add_argument("--quiet-s", type=float, default=30.0, help="burst: the quiet window")
    parser.add_argument("--requests", type=int, default=10, help="burst: POST /items requests")
    parser.add_argument("--per-request", type=int, default=1000, help="burst: items in each")
    parser.add_argument("--new-items", type=int, default=20, help="exposure: items uploaded")
    parser.add_argument("--impressions", type=int, default=100, help="exposure: the target")
    parser.add_argument("--duration-s", type=float, default=120.0, help="exposure: run length")
    parser.add_argument("--takedowns", type=int, default=10, help="exposure: items taken down")
    parser.add_argument("--titles", type=Path, default=None, help="item,title CSV to draw from")
    parser.add_argument("--out", type=Path, default=Path("build/catalogue-bench"))
    parser.add_argument("--no-baseline", action="store_true", help="burst: skip the bare app")
    return parser.parse_args(argv)


@contextmanager
def service(factory: str, bundle: Path, out: Path, redis: bool) -> Iterator[tuple[str, int]]:
    """(host, port) of `factory` on CPU 1, with a Redis on CPU 0 when it needs one."""
    with ExitStack() as stack:
        env = {"NEXTSWIPE_BUNDLE": str(bundle), "NEXTSWIPE_ADMIN_TOKEN": ADMIN_TOKEN}
        if redis:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            env["NEXTSWIPE_REDIS_URL"] = stack.enter_context(
                redis_server(directory, cpus=GENERATOR_CPU)
            )
        ready = "/readyz" if redis else "/feed"
        log = out / f"{factory.split(':')[0].rsplit('.', 1)[-1]}.log"
        served = stack.enter_context(uvicorn_server(factory, 1, env, ready, log, SERVICE_CPU))
        host, port = served.url.removeprefix("http://").split(":")
        yield host, int(port)


def read_titles(path: Path | None, n: int) -> list[str]:
    """`n` titles: from an item,title CSV (cycled), or generated when none is given."""
    if path is None or not path.is_file():
        return [f"new video {i} about topic {i % 37} # tag{i % 11} # upload" for i in range(n)]
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as f:
        titles = [row["title"] for row in csv.DictReader(f) if row.get("title")]
    return [titles[i % len(titles)] for i in range(n)]


def percentiles(sent: list[Sent], endpoint: str, start: float, end: float) -> dict[str, float]:
    """p50/p99/max ms and the count of `endpoint` requests scheduled in [start, end)."""
    chosen = [s for s in sent if s.endpoint == endpoint and start <= s.scheduled_s < end]
    ok = [s for s in chosen if s.status == 200]
    if not ok:
        return {"requests": len(chosen), "failed": len(chosen)}
    ms = np.array([s.latency_s for s in ok]) * 1e3
    return {
        "requests": len(chosen),
        "failed": len(chosen) - len(ok),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def lateness(sent: list[Sent], start: float, end: float) -> dict[str, float]:
    lags = np.array([s.lag_s for s in sent if start <= s.scheduled_s < end] or [0.0]) * 1e3
    return {"p50_ms": float(np.percentile(lags, 50)), "p99_ms": float(np.percentile(lags, 99))}


def window(traffic: Traffic, start: float, end: float) -> dict[str, Any]:
    return {
        "seconds": end - start,
        "swipe": percentiles(traffic.sent, "swipe", start, end),
        "feed": percentiles(traffic.sent, "feed", start, end),
        "generator_lateness": lateness(traffic.sent, start, end),
    }


async def quiet_run(host: str, port: int, args: argparse.Namespace) -> dict[str, Any]:
    pool = Pool(host, port)
    sessions = PacedSessions(pool, args.rate, seed=1)
    start = time.monotonic()
    await sessions.run(args.warm_s + args.quiet_s)
    await pool.close()
    return window(sessions.traffic, start + args.warm_s, start + args.warm_s + args.quiet_s)


async def burst_run(host: str, port: int, args: argparse.Namespace) -> dict[str, Any]:
    titles = read_titles(args.titles, args.requests * args.per_request)
    pool, admin = Pool(host, port), Pool(host, port)
    sessions = PacedSessions(pool, args.rate, seed=2)
    stop = asyncio.Event()
    start = time.monotonic()
    traffic = asyncio.create_task(sessions.run(3600.0, stop))
    bodies = [
        json.dumps(
            {"items": [{"item_id": f"burst-{i}", "title": titles[i]} for i in chunk]}
        ).encode()
        for chunk in (
            range(r * args.per_request, (r + 1) * args.per_request) for r in range(args.requests)
        )
    ]
    await asyncio.sleep(args.warm_s + args.quiet_s)
    burst_start = time.monotonic()
    seconds: list[float] = []
    for body in bodies:
        sent = time.monotonic()
        reply = await admin.request("POST", "/items", body, ADMIN_TOKEN)
        if reply.status != 200:
            raise RuntimeError(f"POST /items answered {reply.status}: {reply.body[:300]!r}")
        seconds.append(time.monotonic() - sent)
    burst_end = time.monotonic()
    await asyncio.sleep(1.0)
    stop.set()
    await traffic
    await pool.close()
    await admin.close()
    quiet_start = start + args.warm_s
    return {
        "quiet": window(sessions.traffic, quiet_start, burst_start),
        "burst": window(sessions.traffic, burst_start, burst_end),
        "upload_request_s": {
            "median": statistics.median(seconds),
            "max": max(seconds),
            "total": burst_end - burst_start,
        },
        "errors": sessions.traffic.errors,
    }


async def exposure_run(host: str, port: int, args: argparse.Namespace) -> dict[str, Any]:
    titles = read_titles(args.titles, args.new_items + 2)
    pool, admin = Pool(host, port), Pool(host, port)
    sessions = PacedSessions(pool, args.rate, seed=3)
    traffic = asyncio.create_task(sessions.run(args.warm_s + args.duration_s))
    await asyncio.sleep(args.warm_s)
    new_ids = [f"fresh-{i}" for i in range(args.new_items + 2)]
    items = [{"item_id": i, "title": t} for i, t in zip(new_ids, titles, strict=True)]
    reply = await admin.request("POST", "/items", {"items": items}, ADMIN_TOKEN)
    if reply.status != 200:
        raise RuntimeError(f"POST /items answered {reply.status}: {reply.body[:300]!r}")
    uploaded_at = time.monotonic()
    await asyncio.sleep(args.duration_s / 3)
    # take down the two spare uploads and the bundle items served most so far
    served: dict[str, int] = {}
    for page in sessions.traffic.pages:
        for item in page.items:
            served[item] = served.get(item, 0) + 1
    popular = sorted((i for i in served if i not in new_ids), key=lambda i: -served[i])
    targets = new_ids[-2:] + popular[: max(args.takedowns - 2, 0)]
    taken_at: dict[str, float] = {}
    for item_id in targets:
        reply = await admin.request("DELETE", f"/items/{item_id}", None, ADMIN_TOKEN)
        if reply.status != 200:
            raise RuntimeError(f"DELETE /items/{item_id} answered {reply.status}")
        taken_at[item_id] = time.monotonic()
    await traffic
    counted = {item_id: await admin.request("GET", f"/items/{item_id}") for item_id in new_ids}
    await pool.close()
    await admin.close()
    return exposure_report(sessions.traffic, new_ids[:-2], uploaded_at, taken_at, counted, args)


def exposure_report(
    traffic: Traffic,
    new_ids: list[str],
    uploaded_at: float,
    taken_at: dict[str, float],
    counted: dict[str, Any],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Seconds from the upload's 200 to each new item's target impression; takedowns served."""
    seen: dict[str, int] = dict.fromkeys(new_ids, 0)
    reached: dict[str, float] = {}
    late_pages, last_after = 0, dict.fromkeys(taken_at, 0.0)
    for page in sorted(traffic.pages, key=lambda p: p.at_s):
        for item in page.items:
            if item in seen:
                seen[item] += 1
                if seen[item] == args.impressions:
                    reached[item] = page.at_s - uploaded_at
            if item in taken_at and page.at_s > taken_at[item]:
                last_after[item] = max(last_after[item], page.at_s - taken_at[item])
                late_pages += page.at_s > taken_at[item] + TAKEDOWN_GRACE_S
    times = sorted(reached.values())
    end = uploaded_at + args.duration_s
    return {
        "load": window(traffic, uploaded_at, end),
        "new_items": len(new_ids),
        "reached_target": len(times),
        "seconds_to_target": {
            "median": statistics.median(times) if times else None,
            "max": max(times) if times else None,
            "first": times[0] if times else None,
        },
        "impressions_seen_by_clients": seen,
        "impressions_counted_by_service": {
            i: r.json().get("impressions") for i, r in counted.items() if r.status == 200
        },
        "takedowns": len(taken_at),
        "pages_serving_a_takedown_after_1s": late_pages,
        "latest_appearance_after_takedown_s": max(last_after.values(), default=0.0),
        "errors": traffic.errors,
    }


@dataclass(frozen=True, slots=True)
class Row:
    name: str
    figures: dict[str, Any]


def print_rows(rows: list[Row]) -> None:
    print(
        "| run | endpoint | requests | failed | p50 ms | p99 ms | max ms | generator late p99 ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        late = row.figures["generator_lateness"]["p99_ms"]
        for endpoint in ("swipe", "feed"):
            f = row.figures[endpoint]
            cells = [f"{f.get(key, float('nan')):.1f}" for key in ("p50_ms", "p99_ms", "max_ms")]
            print(
                f"| {row.name} | {endpoint} | {f['requests']} | {f['failed']} | "
                f"{' | '.join(cells)} | {late:.1f} |"
            )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.rate = args.rate or (200.0 if args.mode == "burst" else 500.0)
    args.out.mkdir(parents=True, exist_ok=True)
    os.sched_setaffinity(0, {int(GENERATOR_CPU)})
    report: dict[str, Any] = {"mode": args.mode, "rate": args.rate, "bundle": str(args.bundle)}
    if args.mode == "burst":
        if not args.no_baseline:
            with service("loadtest.baseline_app:create_app", args.bundle, args.out, False) as hp:
                report["bare_app"] = asyncio.run(quiet_run(*hp, args))
        with service("app.main:create_app", args.bundle, args.out, True) as hp:
            report.update(asyncio.run(burst_run(*hp, args)))
        rows = [Row("nextswipe quiet", report["quiet"]), Row("nextswipe burst", report["burst"])]
        if "bare_app" in report:
            rows.insert(0, Row("bare FastAPI", report["bare_app"]))
        print_rows(rows)
        print(f"upload requests (s): {report['upload_request_s']}")
    else:
        with service("app.main:create_app", args.bundle, args.out, True) as hp:
            report.update(asyncio.run(exposure_run(*hp, args)))
        print_rows([Row("nextswipe, after the upload", report["load"])])
        keys = ("new_items", "reached_target", "seconds_to_target", "takedowns")
        print(json.dumps({key: report[key] for key in keys}))
        print(
            f"pages serving a takedown > {TAKEDOWN_GRACE_S:g} s after its 200: "
            f"{report['pages_serving_a_takedown_after_1s']}; latest appearance after a "
            f"takedown: {report['latest_appearance_after_takedown_s']:.3f} s"
        )
    path = args.out / f"{args.mode}-{args.rate:g}rps.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
