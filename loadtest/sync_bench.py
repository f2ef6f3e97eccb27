"""What one sync of the new-item counts costs, with N young uploads in the tier.

    python -m loadtest.sync_bench [--uploads 1000 10000] [--shown 40]

Against a real redis-server on loopback (started here): N uploads tracked, `--shown` of them
counted since the last sync (as one replica's pages would have), then 20 syncs timed; prints
the median and the largest. The sync runs on the service's event loop, so its time is what
the requests that arrive meanwhile wait at most.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from app.bandit.new_item_stats import NewItemStats
from app.redis_client import create_redis
from loadtest.servers import redis_server

SYNCS = 20


async def timed_syncs(url: str, n_uploads: int, n_shown: int) -> list[float]:
    """Seconds of each of SYNCS syncs."""
    client = create_redis(url, 1.0, 1.0, 2)
    stats = NewItemStats(client, "bench", graduate_at=100)
    stats.track([f"upload-{i}" for i in range(n_uploads)])
    shown = list(range(0, n_uploads, max(1, n_uploads // n_shown)))[:n_shown]
    await stats.sync()
    seconds = []
    for _ in range(SYNCS):
        stats.record_impressions(shown)
        start = time.perf_counter()
        await stats.sync()
        seconds.append(time.perf_counter() - start)
    await client.aclose()
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--shown", type=int, default=40)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory, redis_server(Path(directory)) as url:
        for n_uploads in args.uploads:
            seconds = asyncio.run(timed_syncs(url, n_uploads, args.shown))
            print(
                f"{n_uploads} young uploads, {args.shown} counted since the last sync: "
                f"sync median {statistics.median(seconds) * 1e3:.2f} ms, "
                f"max {max(seconds) * 1e3:.2f} ms"
            )


if __name__ == "__main__":
    main()
