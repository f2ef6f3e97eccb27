"""`make bench-day2`: the learning loop on MicroLens, day 1 serving while day 2 happens.

    python -m loadtest.day2 --data ../shared/data/microlens50k/MicroLens-50k_pairs.tsv.gz

The training users (train + validation, as for the final model) are split in two seeded
halves. A day-1 model trained on the first half serves behind a symlink (Redis on CPU 0, one
uvicorn worker on CPU 1); the items day 1 lacks are uploaded with their titles (POST /items);
then the second half's sequences are streamed as swipes (with a feed every `--feed-every`
swipes) at a fixed rate while the learner (`learn.run`, CPU 0, one thread) runs its rounds.
A third of the way in the learner is killed with SIGKILL and restarted; at two thirds Redis is
restarted (persistent, appendfsync always). At the end: test Recall@20 / MRR@20 (the standard
protocol on the test users, every target ranked against all items, ties against the model,
an item a model lacks is a miss) of the frozen day-1 bundle, every published version and a
batch model trained on both halves, all evaluated from their exported bundles as served; the
swipe-to-served lag (server time of a swipe to the first page served by a version trained on
it); and every acknowledged swipe counted against what the learner trained.
The encoder is hashing (set by --encoder): uploads are encoded on the service's own core.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import onnxruntime as ort
import torch

from app.bundle import INDEX_FILE, ITEM_IDS_FILE, MANIFEST_FILE, STEP_FILE, STEP_INPUTS, Manifest
from learn.publish import flip
from learn.state import load_state
from loadtest.durable_redis import DurableRedis
from loadtest.keepalive import Pool
from loadtest.servers import pinned, uvicorn_server
from models import config as config_module
from models.config import TrainConfig
from models.export import export
from models.metrics import RankingMetrics, conservative_ranks
from models.prepare import Prepared, build, item_titles, read_raw
from models.sessions import RawSession
from models.split import split_by_user_mod
from models.train import fit

ADMIN = "day2-admin"
SERVICE_CPU, OTHER_CPU = "1", "0"
UPLOAD_BATCH = 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=Path("models/configs/microlens.toml"))
    parser.add_argument("--encoder", default="hashing", help="content_encoder for both days")
    parser.add_argument("--rate", type=float, default=250.0, help="swipes per second")
    parser.add_argument("--feed-every", type=int, default=4, help="a feed after N swipes")
    parser.add_argument("--concurrent", type=int, default=64, help="sessions streamed at once")
    parser.add_argument("--interval-s", type=float, default=30.0, help="the learner's INTERVAL")
    parser.add_argument(
        "--learner-epochs", type=int, default=1, help="the learner's passes over each round"
    )
    parser.add_argument(
        "--replay-ratio", type=float, default=0.5, help="the learner's replayed per new session"
    )
    parser.add_argument("--max-swipes", type=int, default=0, help="0: all of day 2")
    parser.add_argument("--drain-s", type=float, default=300.0, help="wait after the stream")
    parser.add_argument("--out", type=Path, default=Path("build/day2"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("overrides", nargs="*", help="config key=value (a quick trial run)")
    return parser.parse_args(argv)


def halves(
    config: TrainConfig, data: Path, seed: int
) -> tuple[list[RawSession], list[RawSession], list[RawSession]]:
    """(day-1 users, day-2 users, test users)."""
    split = split_by_user_mod(read_raw(config, data))
    users = split.train + split.valid
    random.Random(seed).shuffle(users)
    middle = len(users) // 2
    return users[:middle], users[middle:], split.test


def train_bundle(
    config: TrainConfig, prepared: Prepared, work: Path, name: str
) -> tuple[Path, Path, float]:
    """(checkpoint path, bundle directory, training seconds)."""
    checkpoint = fit(config, prepared, progress=False)
    path = work / f"{name}.pt"
    torch.save(checkpoint, path)
    bundle = work / name
    export(
        checkpoint,
        bundle,
        {"note": name},
        version=f"{name}-frozen",
        query_sessions=prepared.held_out.sessions,
        train_sessions=prepared.train,
    )
    return path, bundle, float(checkpoint["train_seconds"])


def evaluate_bundle(bundle: Path, test: Prepared) -> dict[str, float]:
    """The standard protocol through the bundle's own ONNX step and index vectors; `test`'s
    held-out sessions are in the batch vocabulary, mapped to this bundle's rows by id."""
    item_ids: list[str] = json.loads((bundle / ITEM_IDS_FILE).read_text())
    row_of = {item: row for row, item in enumerate(item_ids)}
    index = faiss.read_index(str(bundle / INDEX_FILE))
    vectors = index.reconstruct_n(0, index.ntotal)  # (n, H + 1) [embedding | bias]
    step = ort.InferenceSession(str(bundle / STEP_FILE), providers=["CPUExecutionProvider"])
    sessions, names = test.held_out.sessions, test.vocab.item_ids
    mapped = np.array([row_of.get(names[r], -1) for r in sessions.items.tolist()])
    hidden_size = vectors.shape[1] - 1
    metrics = RankingMetrics(cutoffs=(20,))
    for first in range(0, sessions.n_sessions, 512):
        chunk = np.arange(first, min(first + 512, sessions.n_sessions))
        starts, lengths = sessions.offsets[chunk], sessions.lengths[chunk]
        hidden = np.zeros((len(chunk), hidden_size), dtype=np.float32)
        for t in range(int(lengths.max(initial=0)) - 1):
            active = np.flatnonzero(lengths > t + 1)
            rows = mapped[starts[active] + t]
            known = rows >= 0  # an input the bundle lacks leaves the state as it was
            if known.any():
                feeds = {
                    STEP_INPUTS[0]: rows[known].astype(np.int64),
                    STEP_INPUTS[1]: np.ones(int(known.sum()), dtype=np.float32),
                    STEP_INPUTS[2]: hidden[active[known]],
                }
                hidden[active[known]] = step.run(None, feeds)[0]
            query = np.hstack([hidden[active], np.ones((len(active), 1), np.float32)])
            scores = query @ vectors.T
            targets = mapped[starts[active] + t + 1]
            ranks = np.full(len(active), len(item_ids) + 1, dtype=np.int64)  # lacked: a miss
            have = targets >= 0
            if have.any():
                ranks[have] = conservative_ranks(scores[have], targets[have])
            metrics.add(ranks)
    return {**metrics.result(), "events": float(metrics.n_events)}


class Stream:
    """Day 2's sequences as swipes at a fixed rate, `concurrent` sessions at a time."""

    def __init__(self, sessions: list[RawSession], args: argparse.Namespace) -> None:
        self.queue = list(reversed(sessions))
        self.args = args
        self.acked: set[tuple[str, int]] = set()
        self.unknown = 0
        self.failed: dict[int, int] = {}
        self.late_s: list[float] = []
        self.pages: dict[str, float] = {}  # model version -> first time a feed served it
        self.sent = 0

    async def run(self, pool: Pool, budget: int) -> None:
        active: list[tuple[RawSession, int]] = []
        start = time.monotonic()
        tasks: set[asyncio.Task[None]] = set()
        while self.sent < budget and (self.queue or active):
            while len(active) < self.args.concurrent and self.queue:
                active.append((self.queue.pop(), 0))
            slot = self.sent % len(active)
            session, position = active[slot]
            if position + 1 >= len(session.item_ids):
                active.pop(slot)
            else:
                active[slot] = (session, position + 1)
            due = start + self.sent / self.args.rate
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            else:
                self.late_s.append(now - due)
            task = asyncio.create_task(self._swipe(pool, session, position))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            self.sent += 1
        await asyncio.gather(*tasks)

    async def _swipe(self, pool: Pool, session: RawSession, position: int) -> None:
        body = {
            "session_id": f"d2-{session.session_id}",
            "item_id": session.item_ids[position],
            "event_id": f"{session.session_id}-{position}",
        }
        for attempt in range(60):  # 503 while Redis restarts: the same event id again
            try:
                reply = await pool.request("POST", "/swipe", body)
            except (OSError, asyncio.IncompleteReadError):  # a reset connection: ask again
                self.failed[0] = self.failed.get(0, 0) + 1
                await asyncio.sleep(0.25 * (attempt + 1))
                continue
            if reply.status == 200:
                self.acked.add((body["session_id"], reply.json()["seq"]))
                break
            if reply.status == 404:
                self.unknown += 1
                return
            self.failed[reply.status] = self.failed.get(reply.status, 0) + 1
            await asyncio.sleep(0.25 * (attempt + 1))
        if (position + 1) % self.args.feed_every == 0:
            try:
                reply = await pool.request("GET", f"/feed?session_id={body['session_id']}&count=10")
            except (OSError, asyncio.IncompleteReadError):
                self.failed[0] = self.failed.get(0, 0) + 1
                return
            if reply.status == 200:
                self.pages.setdefault(reply.json()["model_version"], time.time())


async def upload(pool: Pool, items: list[dict[str, str]]) -> float:
    t0 = time.monotonic()
    for first in range(0, len(items), UPLOAD_BATCH):
        reply = await pool.request(
            "POST", "/items", {"items": items[first : first + UPLOAD_BATCH]}, ADMIN
        )
        if reply.status != 200:
            raise RuntimeError(f"POST /items answered {reply.status}: {reply.body[:200]!r}")
    return time.monotonic() - t0


def learner_command(work: Path, redis_url: str, args: argparse.Namespace) -> list[str]:
    return pinned(
        [
            sys.executable, "-m", "learn.run",
            "--link", str(work / "live"),
            "--base", str(work / "day1"),
            "--checkpoint", str(work / "day1.pt"),
            "--state", str(work / "learn" / "state.pt"),
            "--redis-url", redis_url,
            "--interval-s", str(args.interval_s),
            "--epochs", str(args.learner_epochs),
            "--replay-ratio", str(args.replay_ratio),
            "--keep", "1000",
            "--metrics-port", "0",
            "--lag-log", str(work / "lags.jsonl"),
        ],
        OTHER_CPU,
    )  # fmt: skip


def trained_total(work: Path) -> tuple[int, int]:
    """(events trained, events held back for the next round) in the learner's checkpoint."""
    state = load_state(work / "learn" / "state.pt")
    if state is None:
        return 0, 0
    pending = sum(len(events) for events in state["joiner"]["pending"].values())
    return int(state["trained_events"]), pending


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = config_module.load(
        args.config, [f"content_encoder={args.encoder}", "threads=2", *args.overrides]
    )
    day1_raw, day2_raw, test_raw = halves(config, args.data, args.seed)
    description = {"name": args.data.name, "split": "day2", "purpose": "final", "held_out": "test"}
    day1 = build(day1_raw, test_raw, {**description, "half": "day 1"})
    batch = build(day1_raw + day2_raw, test_raw, {**description, "half": "both days"})
    print(
        f"day 1: {day1.dataset['train_events']} events, {len(day1.vocab)} items; "
        f"day 2: {sum(len(s.item_ids) for s in day2_raw)} events; batch: {len(batch.vocab)} items",
        flush=True,
    )
    _, day1_bundle, day1_s = train_bundle(config, day1, work, "day1")
    print(f"day-1 model trained in {day1_s:.0f} s", flush=True)
    titles = item_titles(config)
    known = set(day1.vocab.item_ids)
    new_items = sorted({i for s in day2_raw for i in s.item_ids if i not in known})
    # titles as the API takes them (at most 2,000 characters)
    items = [{"item_id": i, "title": titles[i][:2000]} for i in new_items if titles.get(i)]
    flip(work / "live", day1_bundle.resolve())
    budget = args.max_swipes or sum(len(s.item_ids) for s in day2_raw)
    stream = Stream(day2_raw, args)
    events: dict[str, float] = {}
    with ExitStack() as stack:
        redis = DurableRedis(work / "redis")
        (work / "redis").mkdir()
        redis.start()
        stack.callback(redis.stop)
        env = {
            "NEXTSWIPE_BUNDLE": str(work / "live"),
            "NEXTSWIPE_REDIS_URL": redis.url,
            "NEXTSWIPE_ADMIN_TOKEN": ADMIN,
            "NEXTSWIPE_REDIS_SOCKET_TIMEOUT_S": "1.0",
        }
        served = stack.enter_context(
            uvicorn_server(
                "app.main:create_app", 1, env, "/readyz", args.out / "service.log", SERVICE_CPU
            )
        )
        host, port = served.url.removeprefix("http://").split(":")
        learner_log = (args.out / "learner.log").open("w")
        stack.callback(learner_log.close)
        child_env = {**os.environ, "OMP_NUM_THREADS": "1"}

        def start_learner() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                learner_command(work, redis.url, args),
                stdout=learner_log,
                stderr=subprocess.STDOUT,
                env=child_env,
            )

        async def replay() -> float:
            pool = Pool(host, int(port))
            upload_s = await upload(pool, items)
            print(
                f"uploaded {len(items)} of {len(new_items)} day-2 items in {upload_s:.1f} s",
                flush=True,
            )
            learner = start_learner()
            events["start"] = time.time()
            run = asyncio.create_task(stream.run(pool, budget))
            duration = budget / args.rate
            await asyncio.sleep(duration / 3)
            learner.send_signal(signal.SIGKILL)
            learner.wait()
            events["learner_killed"] = time.time()
            learner = start_learner()
            await asyncio.sleep(duration / 3)
            events["redis_restart"] = time.time()
            await asyncio.to_thread(redis.stop)
            await asyncio.to_thread(redis.start)
            events["redis_back"] = time.time()
            await run
            events["stream_end"] = time.time()
            deadline = time.monotonic() + args.drain_s
            while time.monotonic() < deadline:  # the rounds after the stream: held-back ones too
                trained, pending = trained_total(work)
                if trained >= len(stream.acked) and pending == 0:
                    break
                await asyncio.sleep(5)
            # a last page from every version, so that its lag is observed
            for n in range(20):
                await pool.request("GET", f"/feed?session_id=probe-{n}&count=10")
            await asyncio.sleep(args.interval_s + 5)
            learner.send_signal(signal.SIGTERM)
            await asyncio.to_thread(learner.wait)
            await pool.close()
            return upload_s

        upload_s = asyncio.run(replay())
    trained, pending = trained_total(work)
    versions = sorted(
        (p for p in (work / "versions").iterdir() if (p / MANIFEST_FILE).exists()),
        key=lambda p: p.name,
    )
    print(f"evaluating day 1, {len(versions)} published versions and the batch model", flush=True)
    batch_ckpt, batch_bundle, batch_s = train_bundle(config, batch, work, "batch")
    rows: list[dict[str, Any]] = []
    for name, bundle in [("frozen day 1", day1_bundle), ("batch (both days)", batch_bundle)]:
        rows.append({"model": name, **evaluate_bundle(bundle, batch)})
    for bundle in versions:
        created = Manifest.from_json((bundle / MANIFEST_FILE).read_text()).created_at
        published_at = datetime.fromisoformat(created).timestamp()
        rows.append(
            {
                "model": bundle.name,
                "minutes": (published_at - events["start"]) / 60,
                **evaluate_bundle(bundle, batch),
            }
        )
    lags = (
        [
            lag
            for line in (work / "lags.jsonl").read_text().splitlines()
            if line
            for lag in json.loads(line)["lags_s"]
        ]
        if (work / "lags.jsonl").exists()
        else []
    )
    report = {
        "learner": {
            "interval_s": args.interval_s,
            "epochs": args.learner_epochs,
            "replay_ratio": args.replay_ratio,
        },
        "day1_events": day1.dataset["train_events"],
        "day2_swipes_sent": stream.sent,
        "acknowledged": len(stream.acked),
        "unknown_item": stream.unknown,
        "failed_attempts": stream.failed,
        "trained": trained,
        "pending": pending,
        "lost_or_twice": len(stream.acked) - trained - pending,
        "uploads": len(items),
        "upload_s": upload_s,
        "generator_late_p99_ms": percentile(stream.late_s, 99) * 1000,
        "first_feed_s": {v: t - events["start"] for v, t in sorted(stream.pages.items())},
        "lag_s": {
            "p50": percentile(lags, 50),
            "p90": percentile(lags, 90),
            "max": max(lags) if lags else float("nan"),
            "swipes": len(lags),
        },
        "events": {k: v - events["start"] for k, v in events.items()},
        "train_s": {"day1": day1_s, "batch": batch_s},
        "results": rows,
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(rows, args.out / "day2.png")
    for row in rows:
        print(
            f"{row['model']:<40} {row.get('minutes', float('nan')):6.1f} min  "
            f"R@20 {row['recall@20']:.4f}  MRR@20 {row['mrr@20']:.4f}"
        )
    print(json.dumps({k: v for k, v in report.items() if k != "results"}, indent=2))


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    online = [r for r in rows if "minutes" in r]
    ax.plot(
        [r["minutes"] for r in online],
        [r["recall@20"] for r in online],
        "o-",
        label="published versions",
    )
    for row, style in zip(rows[:2], ("--", ":"), strict=True):
        ax.axhline(row["recall@20"], linestyle=style, color="grey", label=row["model"])
    ax.set_xlabel("minutes since day 2 began")
    ax.set_ylabel("test Recall@20")
    ax.set_title("MicroLens day-2 replay: the learner against frozen and batch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
