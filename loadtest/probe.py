"""First latency figures per endpoint: one client, sequential requests, a running service.

    make serve &   # or any running nextswipe
    .venv/bin/python -m loadtest.probe --url http://127.0.0.1:8000 --sessions 200

Each simulated session opens its feed, swipes through the page (engagement drawn at
random: skips, partial and full watches, likes) and asks for the next page. Latency is
measured at the client over loopback, one request at a time: no queueing, so this is the
service time floor, not a load test (that is locust's job).
"""

import argparse
import random
import statistics
import time

import httpx


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(url: str, sessions: int, pages: int, seed: int) -> dict[str, list[float]]:
    rng = random.Random(seed)
    timings: dict[str, list[float]] = {"swipe": [], "feed": []}
    with httpx.Client(base_url=url, timeout=5.0) as client:
        for s in range(sessions):
            session_id = f"probe-{seed}-{s}"
            cursor: str | None = None
            for _ in range(pages):
                params: dict[str, str | int] = {"session_id": session_id, "count": 10}
                if cursor:
                    params["cursor"] = cursor
                start = time.perf_counter()
                page = client.get("/feed", params=params)
                timings["feed"].append(time.perf_counter() - start)
                page.raise_for_status()
                body = page.json()
                cursor = body["next_cursor"]
                for item in body["items"]:
                    watch = rng.choice([800, 2500, 6000, 15000])
                    event = {
                        "session_id": session_id,
                        "item_id": item["item_id"],
                        "event_id": f"{session_id}-{item['item_id']}",
                        "watch_ms": watch,
                        "duration_ms": 15000,
                        "liked": rng.random() < 0.1,
                    }
                    start = time.perf_counter()
                    client.post("/swipe", json=event).raise_for_status()
                    timings["swipe"].append(time.perf_counter() - start)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    timings = run(args.url, args.sessions, args.pages, args.seed)
    print(f"{'endpoint':<8}{'requests':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for endpoint, values in timings.items():
        ms = [v * 1000 for v in values]
        print(
            f"{endpoint:<8}{len(ms):>10}{statistics.median(ms):>9.2f}"
            f"{percentile(ms, 0.95):>9.2f}{percentile(ms, 0.99):>9.2f}{max(ms):>9.2f}"
        )


if __name__ == "__main__":
    main()
