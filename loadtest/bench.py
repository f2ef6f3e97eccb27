"""Per-stage timings of both request paths, in process, on a real Redis: where the time goes.

    .venv/bin/python -m loadtest.bench --bundle bundles/microlens [--sessions 200 --pages 6]

Simulated sessions run the service's own flows (`record_swipe`, `build_feed`) against a
throwaway redis-server: each opens a page, swipes through it, opens the next. A Telemetry that
keeps every sample collects the stages the flows time themselves (state read, GRU step, state
write, search, filtering, exploration); the bench times the rest around them (engagement
weight, response serialisation, the bandit's background sync) and FAISS alone at several k.
Sequential and single-threaded: service time without queueing. Prints a table; asserts nothing.
"""

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from pydantic import TypeAdapter

from app.bandit.new_item_stats import NewItemStats
from app.bandit.new_item_tier import NewItemTier
from app.bandit.rewards import RedisArmStats
from app.batching.model_batches import ModelBatches
from app.catalogue.snapshot import Catalogue
from app.engagement import DEFAULT_WEIGHTS, EngagementEvent, engagement_weight
from app.flows.build_feed import FeedResult, build_feed
from app.flows.record_swipe import SwipeResult, record_swipe
from app.model import ServingModel, load_model
from app.redis_client import create_redis
from app.schemas import FeedItem, FeedOut, SwipeOut
from app.serving import Serving
from app.session.cursor import CursorSigner
from app.session.recent import RecentStates
from app.session.state import Caps
from app.session.store import RedisSessionStore
from app.settings import Settings
from app.telemetry import Telemetry
from loadtest.servers import redis_server

PAGE_SIZE = 10
SEARCH_KS = (10, 100, 500, 1000, 3000)


class SampleTelemetry(Telemetry):
    """The service's Telemetry, also keeping every stage sample (seconds) for exact quantiles."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: defaultdict[str, list[float]] = defaultdict(list)

    def observe(self, stage: str, seconds: float) -> None:
        super().observe(stage, seconds)
        self.samples[stage].append(seconds)  # Telemetry.stage() observes through here too


def random_engagement(rng: random.Random) -> EngagementEvent:
    """Skips, partial and full watches, sometimes a like or a replay."""
    duration = rng.choice([8_000, 15_000, 30_000])
    watch = rng.choice([600, 0.3 * duration, 0.8 * duration, duration])
    return EngagementEvent(
        watch_ms=int(watch),
        duration_ms=duration,
        liked=rng.random() < 0.1,
        replays=int(rng.random() < 0.05),
    )


def feed_out(session_id: str, result: FeedResult, model: ServingModel) -> FeedOut:
    """The response model, built as routes/feed.py builds it."""
    ids = model.vocab.ids_of(np.asarray(result.page.items, dtype=np.int64))
    page = result.page
    items = [
        FeedItem(item_id=item_id, score=score, source=source, rank=rank)
        for rank, (item_id, score, source) in enumerate(
            zip(ids, page.scores, page.sources(), strict=True)
        )
    ]
    return FeedOut(
        session_id=session_id,
        items=items,
        cursor=result.cursor,
        next_cursor=result.next_cursor,
        model_version=page.model_version,
    )


def swipe_out(session_id: str, result: SwipeResult) -> SwipeOut:
    return SwipeOut(
        session_id=session_id,
        seq=result.seq,
        weight=result.weight,
        new_session=result.new_session,
        duplicate=result.duplicate,
        model_version=result.model_version,
    )


async def run_sessions(
    model: ServingModel, redis_url: str, sessions: int, pages: int, seed: int
) -> SampleTelemetry:
    telemetry = SampleTelemetry()
    client = create_redis(redis_url, 1.0, 1.0, 8)
    defaults = Settings()  # the service's: keeps its last writes, so an update reads nothing
    recent = RecentStates(defaults.recent_sessions, defaults.recent_idle_s)
    store = RedisSessionStore(client, "bench", 1800.0, 20, recent)
    arms = RedisArmStats(client, f"bench:{model.version}", model.n_arms)
    catalogue = Catalogue.of_bundle(model.version, model.vocab, model.manifest.hidden_size)
    serving = Serving(model, arms, replace(catalogue, position=0))  # no uploads
    tier = NewItemTier(
        NewItemStats(None, "bench", defaults.new_item_impressions),
        defaults.new_item_share,
        defaults.new_item_impressions,
    )
    signer = CursorSigner("bench-secret-bench-secret-bench!")
    caps = Caps()
    rng = np.random.default_rng(seed)
    events = random.Random(seed)
    feed_json, swipe_json = TypeAdapter(FeedOut), TypeAdapter(SwipeOut)
    batches = ModelBatches(defaults.max_batch, defaults.faiss_omp_threads, telemetry)
    try:
        for s in range(sessions):
            session_id = f"bench-{seed}-{s}"
            with telemetry.stage("bandit sync (background, 1/s)"):
                await arms.sync()
            for _ in range(pages):
                started = time.perf_counter()
                page = await build_feed(
                    session_id,
                    PAGE_SIZE,
                    None,
                    serving=serving,
                    store=store,
                    signer=signer,
                    caps=caps,
                    replay_items=defaults.swap_replay_items,
                    explore_share=0.2,
                    tier=tier,
                    rng=rng,
                    batches=batches,
                    telemetry=telemetry,
                )
                with telemetry.stage("serialisation (feed)"):
                    body = feed_json.dump_json(feed_out(session_id, page, model))
                telemetry.observe("= feed flow + serialisation", time.perf_counter() - started)
                assert body
                item_ids = model.vocab.ids_of(np.asarray(page.page.items, dtype=np.int64))
                for item_id in item_ids:
                    started = time.perf_counter()
                    engagement = random_engagement(events)
                    with telemetry.stage("engagement weight"):
                        engagement_weight(engagement, DEFAULT_WEIGHTS)
                    swiped = await record_swipe(
                        session_id,
                        item_id,
                        f"{session_id}-{item_id}",
                        engagement,
                        serving=serving,
                        store=store,
                        caps=caps,
                        replay_items=defaults.swap_replay_items,
                        weights=DEFAULT_WEIGHTS,
                        tier=tier,
                        batches=batches,
                        telemetry=telemetry,
                    )
                    with telemetry.stage("serialisation (swipe)"):
                        swipe_json.dump_json(swipe_out(session_id, swiped))
                    telemetry.observe("= swipe flow + serialisation", time.perf_counter() - started)
        return telemetry
    finally:
        batches.close()
        await client.aclose()


def search_by_k(model: ServingModel, queries: int, seed: int) -> dict[str, list[float]]:
    """FAISS alone: the cost of fetching k candidates, for the over-fetch of long sessions."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    hidden = model.step.step(None, 0, 1.0)
    states = []
    for _ in range(queries):  # realistic states: a few steps from popular items
        for row in rng.integers(0, model.manifest.n_items, size=3):
            hidden = model.step.step(hidden, int(row), float(rng.random()))
        states.append(hidden)
    for k in SEARCH_KS:
        timings = []
        for state in states:
            start = time.perf_counter()
            model.retriever.search(state, k)
            timings.append(time.perf_counter() - start)
        samples[f"search alone, k={k}"] = timings
    return samples


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def print_table(title: str, samples: dict[str, list[float]]) -> None:
    print(f"\n{title}")
    print(f"| {'stage':<32} | {'n':>6} | {'median us':>9} | {'p99 us':>9} |")
    print(f"|{'-' * 34}|{'-' * 8}:|{'-' * 10}:|{'-' * 10}:|")
    for stage, values in samples.items():
        median, p99 = statistics.median(values) * 1e6, quantile(values, 0.99) * 1e6
        print(f"| {stage:<32} | {len(values):>6} | {median:>9.1f} | {p99:>9.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("bundles/demo"))
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--pages", type=int, default=6, help="pages per session, 10 swipes each")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    load_started = time.perf_counter()
    model = load_model(args.bundle)
    load_s = time.perf_counter() - load_started
    index, size = model.manifest.index, model.manifest.hidden_size
    print(
        f"bundle {model.version}: {model.manifest.n_items:,} items, H={size}, "
        f"index {index.get('type')} (recall@100 {index.get('recall_at_100')}), loaded in "
        f"{load_s:.1f} s; {args.sessions} sessions x {args.pages} pages x {PAGE_SIZE} swipes"
    )
    with tempfile.TemporaryDirectory() as directory, redis_server(Path(directory)) as url:
        telemetry = asyncio.run(run_sessions(model, url, args.sessions, args.pages, args.seed))
    order = [
        "engagement weight",
        "state_read",
        "gru_step",
        "state_write",
        "serialisation (swipe)",
        "= swipe flow + serialisation",
        "bandit sync (background, 1/s)",
        "search",
        "filtering",
        "exploration",
        "serialisation (feed)",
        "= feed flow + serialisation",
    ]
    samples = telemetry.samples
    print_table(
        "Stages (state_read/state_write: both paths; Redis round trips included)",
        {name: samples[name] for name in order if name in samples},
    )
    print_table(
        "FAISS search alone by k (the feed fetches count + excluded)",
        search_by_k(model, 300, args.seed),
    )


if __name__ == "__main__":
    main()
