"""Generate synthetic short-video event logs with watch times, for the demo bundle and tests.

Items belong to topics with Zipf popularity; a session's intent is one topic that drifts now
and then; the feed shows mostly on-intent items, which tend to follow their topic's order (the
sequential signal a GRU can learn); off-intent items are mostly skipped. Items get titles
built from their topic's own words, so that a content encoder has something to find in them
(the uploads' cold start). Never for accuracy claims.
"""

import argparse
import gzip
import math
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.engagement import DEFAULT_WEIGHTS

HEADER = "user_id\titem_id\tts\twatch_ms\tduration_ms\tliked\tshared\tsaved\treplays"
EPOCH_S = 1_700_000_000.0  # 2023-11-14: the log starts here
SKIP_MS = DEFAULT_WEIGHTS.skip_ms  # a skip is a swipe away before this much watch time
# Behaviour per swipe as (on-intent, off-intent): off-intent items are mostly skipped,
# on-intent ones mostly watched, and liked, shared, saved or replayed more often.
SKIP_PROB = (0.05, 0.8)
WATCH_BETA = ((6.0, 2.0), (2.0, 5.0))  # Beta(a, b) watch fraction of an item not skipped
LIKE_PROB = (0.2, 0.02)
SHARE_PROB = (0.05, 0.005)
SAVE_PROB = (0.05, 0.005)
REPLAY_PROB = (0.1, 0.0)
# Titles: words are made of syllables; each topic owns TOPIC_WORDS of them, and a title is a
# few of its topic's words, now and then a word of another topic, some filler and a hashtag
SYLLABLES = ("ka", "lo", "mi", "ru", "te", "sa", "no", "vi", "pe", "zu", "ha", "do", "ri", "bo")
TOPIC_WORDS = 12
FILLER_WORDS = ("the", "best", "new", "my", "today", "watch", "this", "funny", "first", "day")
STRAY_WORD_PROB = 0.3  # a title borrows one word of another topic


@dataclass(frozen=True, slots=True)
class SyntheticConfig:
    n_items: int = 2000  # catalogue size
    n_topics: int = 20  # item categories; a session's intent is one of them
    n_users: int = 2000
    sessions_per_user: float = 3.0  # mean of 1 + Poisson, so every user has a session
    swipes_per_session: float = 15.0  # mean of a lognormal: heavy-tailed like real sessions
    swipes_sigma: float = 1.0  # lognormal shape; 1.0 puts ~0.1% of sessions at the cap
    max_swipes: int = 200  # cap on a session's length
    topics_per_user: int = 3  # a user's preferred topics
    preferred_intent_prob: float = 0.8  # a new intent is a preferred topic, else any topic
    drift_prob: float = 0.1  # per swipe: the intent is drawn anew
    random_item_prob: float = 0.2  # per swipe: the feed shows a popular item from anywhere
    neighbour_prob: float = 0.6  # per on-intent swipe: the item after the last one in its topic
    zipf_exponent: float = 1.0  # popularity ~ 1 / rank**exponent, for items and for topics
    min_duration_s: int = 5  # item lengths are uniform in [min, max]; min must exceed a skip
    max_duration_s: int = 60
    days: float = 7.0  # sessions start uniformly over this many days
    session_gap_s: float = 3600.0  # least idle time between a user's sessions (cut at 1800 s)
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.topics_per_user <= self.n_topics <= self.n_items:
            raise ValueError("need 1 <= topics_per_user <= n_topics <= n_items")
        if self.min_duration_s * 1000 <= SKIP_MS or self.session_gap_s <= 1800.0:
            raise ValueError("min_duration_s must exceed a skip and session_gap_s 1800 s")
        if min(self.sessions_per_user, self.swipes_per_session, self.max_swipes) < 1:
            raise ValueError("sessions_per_user, swipes_per_session, max_swipes must be >= 1")


@dataclass(frozen=True, slots=True)
class SyntheticLog:
    """Columns of the event log, one row per swipe, in time order; ids start at 1."""

    user_id: npt.NDArray[np.int64]  # (n_events,)
    item_id: npt.NDArray[np.int64]  # (n_events,)
    ts: npt.NDArray[np.float64]  # (n_events,) epoch seconds, millisecond resolution
    watch_ms: npt.NDArray[np.int64]  # (n_events,)
    duration_ms: npt.NDArray[np.int64]  # (n_events,)
    liked: npt.NDArray[np.bool_]  # (n_events,)
    shared: npt.NDArray[np.bool_]  # (n_events,)
    saved: npt.NDArray[np.bool_]  # (n_events,)
    replays: npt.NDArray[np.int64]  # (n_events,)
    # ground truth that the written file leaves out
    session: npt.NDArray[np.int64]  # (n_events,) session number, 0 .. n_sessions - 1
    intent_topic: npt.NDArray[np.int64]  # (n_events,) the user's intent at the swipe
    item_topic: npt.NDArray[np.int64]  # (n_events,)

    @property
    def n_sessions(self) -> int:
        return int(self.session.max()) + 1 if len(self.session) else 0

    @classmethod
    def concatenate(cls, parts: list["SyntheticLog"]) -> "SyntheticLog":
        """All parts' rows, put in time order (stable: ties keep the parts' order)."""
        columns = [np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)]
        by_time = np.argsort(columns[2], kind="stable")  # columns[2] is ts
        return cls(*(column[by_time] for column in columns))


class _Catalogue:
    """Items (rows 0 .. n_items - 1) with topics, popularity, durations and topic order."""

    def __init__(self, config: SyntheticConfig, rng: np.random.Generator) -> None:
        n_items, n_topics = config.n_items, config.n_topics
        self.topic_of = rng.permutation(np.arange(n_items) % n_topics)  # (n_items,)
        durations_s = rng.integers(config.min_duration_s, config.max_duration_s + 1, n_items)
        self.duration_ms = 1000 * durations_s  # (n_items,)
        ranks = rng.permutation(n_items).astype(np.float64) + 1.0
        popularity = ranks**-config.zipf_exponent  # (n_items,)
        self.any_cdf = _cdf(popularity)  # (n_items,) over all rows
        topic_weights = (rng.permutation(n_topics) + 1.0) ** -config.zipf_exponent
        self.topic_p = topic_weights / topic_weights.sum()  # (n_topics,) topic popularity
        # a topic's order is its rows ascending; order[start[t]:start[t + 1]] is topic t
        self.order = np.argsort(self.topic_of, kind="stable")  # (n_items,)
        start = np.searchsorted(self.topic_of[self.order], np.arange(n_topics + 1))
        # t + within-topic cdf: searching t + u, u in [0, 1), lands in topic t's segment
        topic_of_ordered = self.topic_of[self.order]
        self.topic_cdf = topic_of_ordered + np.concatenate(
            [_cdf(popularity[self.order[start[t] : start[t + 1]]]) for t in range(n_topics)]
        )
        k = np.arange(n_items)
        first, size = start[topic_of_ordered], np.diff(start)[topic_of_ordered]
        self.next_item = np.empty(n_items, dtype=np.int64)  # (n_items,) successor in topic
        self.next_item[self.order] = self.order[first + (k - first + 1) % size]


def _cdf(weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    cdf: npt.NDArray[np.float64] = np.cumsum(weights) / weights.sum()
    cdf[-1] = 1.0  # exactly, so that u < 1 never runs past the end
    return cdf


def _feed(
    config: SyntheticConfig,
    cat: _Catalogue,
    preferred: npt.NDArray[np.int64],
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(item row, intent topic) of each swipe of one session: what the feed showed and why."""
    # ceil adds about 0.5 swipes to the lognormal mean, so aim 0.5 lower
    mu = math.log(config.swipes_per_session - 0.5) - config.swipes_sigma**2 / 2
    n = int(min(math.ceil(rng.lognormal(mu, config.swipes_sigma)), config.max_swipes))
    drift = rng.random(n) < config.drift_prob
    drift[0] = True  # the first intent
    n_intents = int(drift.sum())
    new_intents = np.where(
        rng.random(n_intents) < config.preferred_intent_prob,
        rng.choice(preferred, n_intents),
        rng.choice(config.n_topics, n_intents, p=cat.topic_p),
    )
    intent = new_intents[np.cumsum(drift) - 1]  # (n,)
    random_slot = (rng.random(n) < config.random_item_prob).tolist()
    follow = (rng.random(n) < config.neighbour_prob).tolist()
    any_item = np.searchsorted(cat.any_cdf, rng.random(n), side="right").tolist()
    in_intent = cat.order[np.searchsorted(cat.topic_cdf, intent + rng.random(n), side="right")]
    items, last = [], -1  # last: the last on-intent item shown
    for j, (popular, intent_j) in enumerate(zip(in_intent.tolist(), intent.tolist(), strict=True)):
        if random_slot[j]:
            items.append(any_item[j])
            continue
        on_chain = follow[j] and last >= 0 and cat.topic_of[last] == intent_j
        last = int(cat.next_item[last]) if on_chain else popular
        items.append(last)
    return np.array(items, dtype=np.int64), intent.astype(np.int64)


def _swipes(
    cat: _Catalogue,
    item: npt.NDArray[np.int64],
    intent: npt.NDArray[np.int64],
    start_s: float,
    user: int,
    session: int,
    rng: np.random.Generator,
) -> SyntheticLog:
    """How the user reacted to each item of one session, and when each swipe happened."""
    n = len(item)
    off = (cat.topic_of[item] != intent).astype(np.int64)  # 0 on-intent, 1 off: table index
    duration_ms = cat.duration_ms[item]
    skip = rng.random(n) < np.take(SKIP_PROB, off)
    alpha, beta = np.take(WATCH_BETA, off, axis=0).T
    watched_ms = np.maximum(np.round(rng.beta(alpha, beta) * duration_ms), SKIP_MS)
    watch_ms = np.where(skip, rng.integers(200, SKIP_MS, n), watched_ms)
    chance = rng.random((4, n))
    liked, shared, saved, replayed = (
        ~skip & (chance[i] < np.take(p, off))
        for i, p in enumerate((LIKE_PROB, SHARE_PROB, SAVE_PROB, REPLAY_PROB))
    )
    watch_ms = np.where(replayed, duration_ms, watch_ms)  # a replay follows a full watch
    # the next swipe comes after the watch (and replay) plus a pause of about 2 s, <= 60 s
    pause_s = np.minimum(rng.lognormal(math.log(2.0), 0.75, n), 60.0)
    gap_s = watch_ms * (1 + replayed) / 1000 + pause_s
    ts = EPOCH_S + start_s + np.concatenate([[0.0], np.cumsum(gap_s[:-1])])
    ids = np.ones(n, dtype=np.int64)
    return SyntheticLog(
        user_id=ids * (user + 1),
        item_id=item + 1,
        ts=np.round(ts, 3),
        watch_ms=watch_ms.astype(np.int64),
        duration_ms=duration_ms,
        liked=liked,
        shared=shared,
        saved=saved,
        replays=replayed.astype(np.int64),
        session=ids * session,
        intent_topic=intent,
        item_topic=cat.topic_of[item],
    )


def generate(config: SyntheticConfig) -> SyntheticLog:
    """The whole log; the same config (seed included) gives the same log."""
    rng = np.random.default_rng(config.seed)
    cat = _Catalogue(config, rng)
    parts: list[SyntheticLog] = []
    for user in range(config.n_users):
        preferred = rng.choice(config.n_topics, config.topics_per_user, False, cat.topic_p)
        n_sessions = 1 + int(rng.poisson(config.sessions_per_user - 1))
        last_end_s = -math.inf
        for drawn_s in np.sort(rng.uniform(0.0, config.days * 86400.0, n_sessions)).tolist():
            # a session starts when drawn, or later to leave session_gap_s after the last
            start_s = max(drawn_s, last_end_s + config.session_gap_s)
            item, intent = _feed(config, cat, preferred, rng)
            parts.append(_swipes(cat, item, intent, start_s, user, len(parts), rng))
            last_end_s = float(parts[-1].ts[-1]) - EPOCH_S
    return SyntheticLog.concatenate(parts)


def synthetic_titles(config: SyntheticConfig) -> dict[str, str]:
    """{item id: title} of the generated catalogue; the same config gives the same titles."""
    topic_of = _Catalogue(config, np.random.default_rng(config.seed)).topic_of  # generate()'s
    rng = np.random.default_rng([config.seed, 1])  # a stream of its own: the log is unchanged
    n_words = config.n_topics * TOPIC_WORDS
    codes = rng.choice(len(SYLLABLES) ** 4, n_words, replace=False)  # distinct 4-syllable words
    vocabulary = [
        "".join(SYLLABLES[code // len(SYLLABLES) ** k % len(SYLLABLES)] for k in range(4))
        for code in codes.tolist()
    ]
    titles = {}
    for row, topic in enumerate(topic_of.tolist()):
        own = vocabulary[topic * TOPIC_WORDS : (topic + 1) * TOPIC_WORDS]
        words = rng.choice(own, int(rng.integers(2, 6)), replace=False).tolist()
        if rng.random() < STRAY_WORD_PROB:
            words.append(vocabulary[int(rng.integers(n_words))])
        words += rng.choice(FILLER_WORDS, int(rng.integers(0, 3))).tolist()
        rng.shuffle(words)
        titles[str(row + 1)] = " ".join(words) + f" # {own[0]}"  # ids are rows + 1, as in the log
    return titles


def write_event_log(path: Path, config: SyntheticConfig) -> SyntheticLog:
    """Write the log as TSV (gzip for a .gz name) without session column; return its columns."""
    log = generate(config)
    flags = (log.liked, log.shared, log.saved)
    columns = [log.user_id, log.item_id, log.watch_ms, log.duration_ms, *flags, log.replays]
    rows = zip(log.ts.tolist(), *(c.astype(np.int64).tolist() for c in columns), strict=True)
    text = "".join(
        f"{u}\t{i}\t{t:.3f}\t" + "\t".join(map(str, rest)) + "\n" for t, u, i, *rest in rows
    )
    with gzip.open(path, "wt") if path.suffix == ".gz" else path.open("w") as out:
        out.write(HEADER + "\n" + text)
    return log


def main(argv: list[str] | None = None) -> None:
    defaults = SyntheticConfig()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="TSV to write (.gz compresses)")
    parser.add_argument("--users", type=int, default=defaults.n_users)
    parser.add_argument("--items", type=int, default=defaults.n_items)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    config = SyntheticConfig(n_users=args.users, n_items=args.items, seed=args.seed)
    log = write_event_log(args.out, config)
    print(f"{args.out}: {len(log.ts)} events, {log.n_sessions} sessions, {config.n_users} users")


if __name__ == "__main__":
    main()
