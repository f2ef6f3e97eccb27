"""What a second worker process costs in memory: `python -m loadtest.memory --bundle B`.

For 1 and then 2 uvicorn workers on one Redis: swipes and feeds are sent until every
worker has served some, then each worker's memory is read from /proc. Summing RSS would
count a page two workers share twice, so the figures are:

- anonymous: a worker's own heap (Python objects, arrays, ONNX Runtime's buffers), which a
  second worker repeats (a file page that only one process has touched also counts as
  "private" in smaps, so private pages would count the bundle's files once per worker);
- PSS: each shared page divided among the processes that map it (the sum is what the host
  spends);
- bundle files mapped: the bundle files mapped into a worker (the index, the step's table),
  at full size. Only touched pages are resident, so "fully warm" = the workers' anonymous
  pages + those files once is the bound for workers that have read every page.
"""

import argparse
import json
import random
import sys
import tempfile
import urllib.request
from pathlib import Path

from loadtest.servers import mapped_paths, redis_server, serving_pids, uvicorn_server

APP_FACTORY = "app.main:create_app"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=2000, help="sent before measuring")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    return parser.parse_args(argv)


def post(url: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()


def get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=30) as reply:
        reply.read()


def smaps(pid: int) -> dict[str, int]:
    """kB by field of /proc/pid/smaps_rollup."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        fields[name.rstrip(":")] = int(value)
    return fields


def mapped_bundle_bytes(pid: int, bundle: Path) -> int:
    """Full size of the bundle's files that `pid` has memory-mapped."""
    root = str(bundle.resolve())
    return sum(Path(p).stat().st_size for p in mapped_paths(pid) if p.startswith(root))


def measure(bundle: Path, workers: int, n_requests: int) -> dict[str, float]:
    item_ids = json.loads((bundle / "item_ids.json").read_text())
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as work, redis_server(Path(work)) as redis_url:
        env = {"NEXTSWIPE_BUNDLE": str(bundle), "NEXTSWIPE_REDIS_URL": redis_url}
        log = Path(work) / "service.log"
        with uvicorn_server(APP_FACTORY, workers, env, "/readyz", log) as served:
            for n in range(n_requests):
                session = f"m{n % 200}"
                if n % 5 == 4:
                    get(f"{served.url}/feed?session_id={session}&count=20")
                else:
                    body = {"session_id": session, "item_id": rng.choice(item_ids)}
                    post(f"{served.url}/swipe", {**body, "watch_ms": 5000})
            pids = serving_pids(served.pid)
            rollups = [smaps(pid) for pid in pids]
            mapped = max(mapped_bundle_bytes(pid, bundle) for pid in pids) / 2**20
    anonymous = sum(r["Anonymous"] for r in rollups) / 1024
    return {
        "workers": workers,
        "rss_mb": sum(r["Rss"] for r in rollups) / 1024,
        "pss_mb": sum(r["Pss"] for r in rollups) / 1024,
        "anonymous_mb": anonymous,
        "bundle_files_mapped_mb": mapped,
        "fully_warm_mb": anonymous + mapped,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rows = [measure(args.bundle, n, args.requests) for n in args.workers]
    columns = ("RSS sum", "PSS sum", "anonymous", "bundle files mapped", "fully warm")
    print("| workers | " + " | ".join(f"{name} MB" for name in columns) + " |")
    print("|---:" * (len(columns) + 1) + "|")
    for row in rows:
        print(
            f"| {row['workers']} | {row['rss_mb']:.0f} | {row['pss_mb']:.0f} | "
            f"{row['anonymous_mb']:.0f} | {row['bundle_files_mapped_mb']:.0f} | "
            f"{row['fully_warm_mb']:.0f} |"
        )
    if len(rows) >= 2:
        for key in ("pss_mb", "fully_warm_mb"):
            ratio = rows[-1][key] / rows[0][key]
            print(f"{key}: {rows[-1]['workers']} workers / {rows[0]['workers']} = {ratio:.2f}")
    json.dump(rows, sys.stdout)
    print()


if __name__ == "__main__":
    main()
