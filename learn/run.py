"""`make learn`: the long-running learner that follows the event log and publishes versions.

    python -m learn.run --link bundles/live --base bundles/demo \
        --checkpoint build/checkpoints/demo.pt [--interval-s 60] [--rounds N]

Every `--interval-s` one round: read what the log holds beyond the checkpoint, join it into
sessions, continue training on the new sessions plus a replay sample, judge the candidate
beside the serving model on sessions held back from it, publish it if it is not worse
(export, parity, symlink flip), then write the checkpoint and only then acknowledge the log.
Killed at any point, it restarts from its last checkpoint: no event trained twice or skipped,
and the link only ever points at a whole bundle. Settings come from the command line, or from
the service's own NEXTSWIPE_* variables (the log's place and shape).
"""

import argparse
import json
import logging
import os
import random
import statistics
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.bundle import MANIFEST_FILE, Manifest
from app.events.entries import MalformedEntry, PageEntry, SwipeEntry, decode_entry
from app.events.log import EventReader, Positions
from learn.background_refit import BackgroundRefit
from learn.content import LearnerContent
from learn.guard import against_base, held_back_sessions, judge
from learn.joiner import CONTEXT, Fragment, Joiner
from learn.metrics import LearnerMetrics
from learn.publish import ParityFailed, flip, prune, publish
from learn.refit_cache import load_refit, save_refit
from learn.rounds import as_rows, learn_round
from learn.source import open_log
from learn.state import LearnerState, load_state, save_state
from models.config import TrainConfig
from models.export import ReusedContent
from models.sessions import Sessions
from models.train import Checkpoint, load_checkpoint
from models.vocab import ItemVocab

logger = logging.getLogger(__name__)
READ_BATCH = 5000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--link",
        type=Path,
        default=Path(env("NEXTSWIPE_BUNDLE", "bundles/live")),
        help="the symlink the services serve (NEXTSWIPE_BUNDLE)",
    )
    parser.add_argument(
        "--base",
        type=Path,
        default=Path("bundles/demo"),
        help="the bundle to start from when the link does not exist yet",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="the base bundle's training checkpoint (build/checkpoints/NAME.pt)",
    )
    parser.add_argument("--versions", type=Path, default=None, help="default: LINK's dir/versions")
    parser.add_argument("--state", type=Path, default=Path("build/learn/state.pt"))
    parser.add_argument("--redis-url", default=env("NEXTSWIPE_REDIS_URL") or None)
    parser.add_argument(
        "--event-log", type=Path, default=Path(env("NEXTSWIPE_EVENT_LOG_PATH", "build/events.log"))
    )
    parser.add_argument(
        "--catalogue-path",
        type=Path,
        default=Path(env("NEXTSWIPE_CATALOGUE_PATH", "build/catalogue.log")),
        help="the embedded store's catalogue log (uploads' content); unused with Redis",
    )
    parser.add_argument("--key-prefix", default=env("NEXTSWIPE_KEY_PREFIX", "ns"))
    parser.add_argument("--shards", type=int, default=int(env("NEXTSWIPE_EVENT_SHARDS", "4")))
    parser.add_argument(
        "--interval-s", type=float, default=float(env("NEXTSWIPE_LEARN_INTERVAL_S", "60"))
    )
    parser.add_argument("--epochs", type=int, default=1, help="passes over each round's sessions")
    parser.add_argument(
        "--replay-ratio",
        type=float,
        default=0.5,  # the day-2 replay: 0.5 above 1 and 2, on test and on the guard (README)
        help="older sessions replayed per new session (against forgetting)",
    )
    parser.add_argument("--replay-size", type=int, default=20_000, help="sessions kept to replay")
    parser.add_argument(
        "--guard-share",
        type=float,
        default=0.1,
        help="share of a round's sessions held back to judge the candidate",
    )
    parser.add_argument(
        "--guard-tolerance",
        type=float,
        default=0.02,
        help="relative Recall@20 loss against the serving model still published",
    )
    parser.add_argument(
        "--drift-tolerance",
        type=float,
        default=0.05,
        help="relative Recall@20 loss against the base model still published, summed over "
        "rounds (0: no such bound)",
    )
    parser.add_argument("--min-guard-events", type=int, default=20)
    parser.add_argument("--min-events", type=int, default=1, help="fewer new swipes: no round")
    parser.add_argument(
        "--refit-s",
        type=float,
        default=600.0,
        help="refit the content projection to the newest rows at most this often (s)",
    )
    parser.add_argument(
        "--nice", type=int, default=10, help="CPU priority below the service and Redis"
    )
    parser.add_argument("--keep", type=int, default=3, help="versions kept on disk")
    parser.add_argument(
        "--session-ttl-s", type=int, default=int(env("NEXTSWIPE_SESSION_TTL_S", "1800"))
    )
    parser.add_argument("--metrics-port", type=int, default=9101, help="0: no metrics server")
    parser.add_argument(
        "--lag-log", type=Path, default=None, help="JSON lines: each version's swipe lags (s)"
    )
    parser.add_argument("--rounds", type=int, default=0, help="stop after this many (0: never)")
    return parser.parse_args(argv)


@dataclass
class Served:
    """What a published version trained on, until a page served by it is seen in the log."""

    swipe_ms: list[int]
    first_page_ms: int | None = None


@dataclass
class Learner:
    args: argparse.Namespace
    state: LearnerState
    reader: EventReader
    metrics: LearnerMetrics
    content: LearnerContent
    base: Checkpoint  # the model every candidate is also held against (learn/guard.py)
    refitted: ReusedContent | None = None  # the newest refit, at `refitted_at` (wall clock)
    refitted_at: float = 0.0
    refits: BackgroundRefit = field(default_factory=BackgroundRefit)
    served: dict[str, Served] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    @property
    def joiner(self) -> Joiner:
        joiner: Joiner = self.state["joiner_obj"]
        return joiner

    def round(self) -> dict[str, Any] | None:
        """One round; None when the log held nothing to learn from."""
        started = time.time()
        self._take_finished_refit()
        records = self._read_all()
        positions: Positions = dict(self.state["positions"])
        for record in records:
            positions[record.shard] = record.position
            try:
                entry = decode_entry(record.data)
            except MalformedEntry:
                self.metrics.malformed.inc()
                continue
            if isinstance(entry, SwipeEntry):
                if not self.joiner.add(entry):
                    self.metrics.duplicates.inc()
            elif isinstance(entry, PageEntry):
                self._page_served(entry)
        number = int(self.state["round"]) + 1
        train, guard = self.joiner.take_round(number, self.args.guard_share)
        n_new = sum(len(f.items) for f in train)
        if n_new < self.args.min_events:
            self.state["positions"] = positions
            self._save_and_commit(positions)
            return None
        replay = self._replay_sample(len(train))
        print(f"round {number}: training on {n_new} events", flush=True)
        candidate, loss, grown = learn_round(
            self.state["checkpoint"],
            train,
            replay,
            self.args.epochs,
            number,
            self._starting_rows(train, replay),
        )
        verdict = judge(
            candidate,
            self.state["serving"],
            guard,
            self.args.guard_tolerance,
            self.args.min_guard_events,
        )
        if self.args.drift_tolerance > 0:
            verdict = against_base(
                verdict,
                candidate,
                self.base,
                guard,
                self.args.drift_tolerance,
                self.args.min_guard_events,
            )
        published, publish_s = None, 0.0
        if verdict.publish:
            t0 = time.time()
            version = f"{self.state['name']}-r{number:05d}-{time.strftime('%Y%m%dT%H%M%S')}"
            vocab = ItemVocab(tuple(candidate["item_ids"]))
            print(f"round {number}: exporting {version}", flush=True)
            sessions = as_rows(vocab, [*train, *replay]).sessions
            content = self._content_for(candidate, sessions, number)
            try:
                publish(
                    candidate,
                    self.versions,
                    self.args.link,
                    version,
                    {
                        "guard": {
                            "reason": verdict.reason,
                            "events": verdict.events,
                            "candidate": verdict.candidate,
                            "serving": verdict.serving,
                            "base": verdict.base.serving if verdict.base else {},
                        }
                    },
                    sessions,
                    held_back_sessions(vocab, guard)[0],
                    self.args.keep,
                    content,
                )
                published = version
                publish_s = time.time() - t0
                self.state["serving"] = serving_part(candidate)
                self.served[version] = Served([ms for f in train for ms in f.server_ms])
                self.metrics.published_now()
            except ParityFailed as error:
                print(f"round {number}: {error}", flush=True)
                self.metrics.refused.labels("parity").inc()
        else:
            self.metrics.refused.labels(verdict.reason).inc()
        self.state["checkpoint"] = candidate
        self.joiner.trained(train, guard)
        self._remember(train)
        self.state["round"] = number
        self.state["trained_events"] = int(self.state["trained_events"]) + n_new
        self.state["positions"] = positions
        self._save_and_commit(positions)
        seconds = time.time() - started
        self.metrics.rounds.inc()
        self.metrics.events.inc(n_new)
        self.metrics.events_per_s.set(n_new / max(seconds, 1e-9))
        line = {
            "round": number,
            "events": n_new,
            "sessions": len(train),
            "replayed": len(replay),
            "held_back": len(guard),
            "grown_items": grown,
            "loss": round(loss, 4),
            "guard": verdict.reason,
            "recall@20": [
                round(verdict.candidate.get("recall@20", float("nan")), 4),
                round(verdict.serving.get("recall@20", float("nan")), 4),
            ],
            "guard_events": verdict.events,
            "base_recall@20": [
                round(verdict.base.candidate.get("recall@20", float("nan")), 4),
                round(verdict.base.serving.get("recall@20", float("nan")), 4),
            ]
            if verdict.base
            else None,
            "published": published,
            "publish_s": round(publish_s, 1),
            "round_s": round(seconds, 1),
        }
        print("round " + " ".join(f"{k}={v}" for k, v in line.items()), flush=True)
        return line

    @property
    def versions(self) -> Path:
        return versions_dir(self.args)

    def _content_for(self, candidate: Checkpoint, sessions: Sessions, number: int) -> ReusedContent:
        """The newest finished refit. Once it is older than --refit-s, a refit to `candidate`
        starts in the background (learn/background_refit.py): the item space drifts little in
        minutes, and no publish waits the half minute an MLP's refit takes."""
        self._take_finished_refit()
        if self.refitted is None:
            return self._refit(candidate, sessions, number)
        if time.time() - self.refitted_at > self.args.refit_s and not self.refits.busy:
            self.refits.start(self.content.refit_job(candidate, sessions, number), time.time())
        return self.refitted

    def _refit(self, checkpoint: Checkpoint, sessions: Sessions, seed: int) -> ReusedContent:
        """Refit here: the first version has no older refit to publish with."""
        refitted = self.content.refit(checkpoint, sessions, seed)
        self._install(refitted, time.time())
        return refitted

    def _take_finished_refit(self) -> None:
        finished = self.refits.finished()
        if finished is not None:
            self._install(self.content.refitted(finished.job, finished.mapping), finished.at)

    def _install(self, refitted: ReusedContent, at: float) -> None:
        """Use `refitted` from now on, and keep it on disk: a restarted learner starts from it
        (learn/refit_cache.py)."""
        self.refitted, self.refitted_at = refitted, at
        content = refitted.content
        save_refit(refit_path(self.args), content.projection, content.description, at)

    def _starting_rows(
        self, train: list[Fragment], replay: list[Fragment]
    ) -> dict[str, npt.NDArray[np.float32]]:
        """[embedding | bias] of the round's items the vocabulary lacks, where content has
        them: the newest refit's projection (refitted at first need, which the export of this
        round then reuses)."""
        known = set(self.state["checkpoint"]["item_ids"])
        new = {i for f in (*train, *replay) for i in (*f.context_items, *f.items)} - known
        if not new:
            return {}
        if self.refitted is None:
            vocab = ItemVocab(tuple(self.state["checkpoint"]["item_ids"]))
            trained = [f for f in (*train, *replay) if set(f.items) <= known]
            self._refit(self.state["checkpoint"], as_rows(vocab, trained).sessions, 0)
        assert self.refitted is not None
        return self.content.projected(self.refitted.content.projection, sorted(new))

    def _read_all(self) -> list[Any]:
        records = []
        while batch := self.reader.read(READ_BATCH):
            records.extend(batch)
        self.metrics.log_lag.set(self.reader.lag())
        return records

    def _page_served(self, page: PageEntry) -> None:
        served = self.served.get(page.model_version)
        if served is None or served.first_page_ms is not None:
            return
        served.first_page_ms = page.server_ms
        for swipe_ms in served.swipe_ms:
            self.metrics.swipe_to_served.observe(max(page.server_ms - swipe_ms, 0) / 1000)
        lags = [(page.server_ms - ms) / 1000 for ms in served.swipe_ms]
        if self.args.lag_log is not None:
            with self.args.lag_log.open("a") as f:
                f.write(json.dumps({"version": page.model_version, "lags_s": lags}) + "\n")
        if lags:
            print(
                f"served {page.model_version}: swipe-to-served lag p50 "
                f"{statistics.median(lags):.1f} s, max {max(lags):.1f} s",
                flush=True,
            )

    def _replay_sample(self, n_new: int) -> list[Fragment]:
        pool: list[list[Any]] = self.state["replay"]
        k = min(len(pool), round(self.args.replay_ratio * n_new))
        return [
            Fragment("replay", [], [], list(items), list(weights), 0)
            for items, weights in self.rng.sample(pool, k)
        ]

    def _remember(self, train: list[Fragment]) -> None:
        """Reservoir sampling: every trained session equally likely to be replayed later."""
        pool: list[list[Any]] = self.state["replay"]
        for fragment in train:
            seen = int(self.state["replay_seen"]) + 1
            self.state["replay_seen"] = seen
            items = (fragment.context_items + fragment.items)[-CONTEXT:]
            weights = (fragment.context_weights + fragment.weights)[-CONTEXT:]
            if len(items) < 2:
                continue
            if len(pool) < self.args.replay_size:
                pool.append([items, weights])
            elif (slot := self.rng.randrange(seen)) < self.args.replay_size:
                pool[slot] = [items, weights]

    def _save_and_commit(self, positions: Positions) -> None:
        """The checkpoint first, durable; only then may the log forget what it holds."""
        to_save = {k: v for k, v in self.state.items() if k != "joiner_obj"}
        to_save["joiner"] = self.joiner.to_dict()
        save_state(self.args.state, to_save)
        self.reader.commit(positions)
        self.metrics.log_lag.set(self.reader.lag())


def refit_path(args: argparse.Namespace) -> Path:
    return Path(args.state).parent / "projection.npz"


def versions_dir(args: argparse.Namespace) -> Path:
    """Where versions are published: --versions, else `versions` beside the link."""
    versions: Path = args.versions or args.link.parent / "versions"
    return versions


def serving_part(checkpoint: Checkpoint) -> Checkpoint:
    """What the guard needs of the serving model: its weights and its items."""
    return {
        key: checkpoint[key] for key in ("config", "model", "item_ids", "item_counts", "dataset")
    }


def initial_state(args: argparse.Namespace) -> LearnerState:
    """A first start: the base bundle serves behind the link, from its training checkpoint."""
    if args.checkpoint is None:
        args.checkpoint = Path("build/checkpoints") / f"{args.base.name}.pt"
    checkpoint = load_checkpoint(args.checkpoint)
    manifest = Manifest.from_json((args.base / MANIFEST_FILE).read_text())
    same_data = manifest.dataset.get("name") == checkpoint["dataset"].get("name")
    if manifest.n_items < len(checkpoint["item_ids"]) or not same_data:
        raise ValueError(f"{args.checkpoint} is not the checkpoint of {args.base}")
    return {
        "name": args.base.name,
        "checkpoint": checkpoint,
        "serving": serving_part(checkpoint),
        "joiner": Joiner(args.session_ttl_s * 1000).to_dict(),
        "replay": [],
        "replay_seen": 0,
        "positions": {},
        "round": 0,
        "trained_events": 0,
    }


def base_path(args: argparse.Namespace) -> Path:
    """Named after the checkpoint (state.pt -> state.base.pt): never a user's own file."""
    state = Path(args.state)
    return state.with_name(f"{state.stem}.base{state.suffix}")


def base_model(args: argparse.Namespace, state: LearnerState, first_start: bool) -> Checkpoint:
    """The base model, written once beside the checkpoint instead of into it: it never
    changes, and the checkpoint is rewritten every round. A first start writes the model it
    starts serving; a state from before the drift bound takes the model serving now."""
    path = base_path(args)
    if first_start or not path.exists():
        save_state(path, state["serving"])
        serving: Checkpoint = state["serving"]
        return serving
    base = load_state(path)
    assert base is not None
    return base


def start(args: argparse.Namespace, metrics: LearnerMetrics) -> Learner:
    state = load_state(args.state)
    first_start = state is None
    if state is None:
        state = initial_state(args)
    base = base_model(args, state, first_start)
    state["joiner_obj"] = Joiner.from_dict(state.pop("joiner"))
    versions = versions_dir(args)
    versions.mkdir(parents=True, exist_ok=True)
    if not args.link.exists() and not args.link.is_symlink():
        flip(args.link, args.base.resolve())
    prune(versions, args.link, args.keep)  # staging left by a killed export
    reader = open_log(
        args.redis_url, args.event_log, args.key_prefix, args.shards, state["positions"]
    )
    reader.commit(state["positions"])  # in the checkpoint: acknowledge what a crash left pending
    content = LearnerContent(
        args.base,
        TrainConfig(**state["checkpoint"]["config"]),
        args.state.parent / "content.npz",
        args.redis_url,
        args.catalogue_path,
        args.key_prefix,
    )
    learner = Learner(args, state, reader, metrics, content, base)
    cached = load_refit(refit_path(args))
    if cached is not None:
        projection, description, learner.refitted_at = cached
        learner.refitted = content.reused(projection, description)
    return learner


RESTART_FIRST_S = 1.0  # a Redis restart is over in about a second: try again that soon


def restart(args: argparse.Namespace, metrics: LearnerMetrics, old: Learner) -> Learner:
    """The learner as a fresh start would make it, once the log can be reached again: tried
    after 1 s, then at doubling waits up to INTERVAL. Waiting a whole INTERVAL first held
    the day-2 replay's swipes 30 s longer behind a Redis restart of half a second. What only
    the running learner knows carries over: the versions whose first page it awaits (their
    swipes' lag) and a refit in progress."""
    wait = min(RESTART_FIRST_S, args.interval_s)
    while True:
        time.sleep(wait)
        try:
            learner = start(args, metrics)
        except Exception:
            logger.exception("starting again from the checkpoint failed; trying later")
            wait = min(wait * 2, args.interval_s)
            continue
        learner.served, learner.refits = old.served, old.refits
        return learner


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.nice(args.nice)
    metrics = LearnerMetrics()
    metrics.serve(args.metrics_port)
    learner = start(args, metrics)
    print(
        f"learning from {'Redis ' + args.redis_url if args.redis_url else args.event_log}; "
        f"serving {args.link} -> {args.link.resolve()}; round {learner.state['round']}, "
        f"{learner.state['trained_events']} events trained so far",
        flush=True,
    )
    rounds = 0
    try:
        while args.rounds == 0 or rounds < args.rounds:
            deadline = time.monotonic() + args.interval_s
            try:
                if learner.round() is not None:
                    rounds += 1
            except Exception:  # Redis away, a full disk: start again from the checkpoint
                logger.exception("round failed; going on from the last checkpoint")
                metrics.failed_rounds.inc()
                with suppress(Exception):
                    learner.reader.close()
                learner = restart(args, metrics, learner)
            time.sleep(max(deadline - time.monotonic(), 0.0))
    finally:
        learner.refits.stop()


if __name__ == "__main__":
    main()
