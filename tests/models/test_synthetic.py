from collections import Counter
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from models.readers import read_event_log
from models.synthetic import HEADER, SyntheticConfig, SyntheticLog, generate, main

SMALL = SyntheticConfig(n_users=300, n_items=500)


def by_session(log: SyntheticLog) -> npt.NDArray[np.intp]:
    """Row order that puts each session's rows together, each in time order."""
    return np.argsort(log.session, kind="stable")


def test_same_seed_same_log_other_seed_other_log() -> None:
    first, again, other = generate(SMALL), generate(SMALL), generate(replace(SMALL, seed=1))
    for field in fields(SyntheticLog):
        np.testing.assert_array_equal(getattr(first, field.name), getattr(again, field.name))
    assert len(first.ts) != len(other.ts) or not np.array_equal(first.item_id, other.item_id)


def test_columns_hold_plausible_values() -> None:
    log = generate(SMALL)
    assert np.all(np.diff(log.ts) >= 0)  # time order
    assert set(np.unique(log.user_id).tolist()) <= set(range(1, 301))
    assert log.item_id.min() >= 1
    assert log.item_id.max() <= 500
    assert np.all((log.duration_ms >= 5000) & (log.duration_ms <= 60000))
    assert np.all((log.watch_ms > 0) & (log.watch_ms <= log.duration_ms))
    assert np.all(log.watch_ms[log.replays > 0] == log.duration_ms[log.replays > 0])
    skipped = log.watch_ms < 3000
    assert not np.any(log.liked[skipped] | log.shared[skipped] | log.saved[skipped])
    # 1 + Poisson(2) sessions per user: a mean of about 3 over 300 users
    assert 2.5 < log.n_sessions / 300 < 3.5


def test_gaps_inside_sessions_are_short_and_between_sessions_long() -> None:
    log = generate(SMALL)
    order = np.lexsort((log.ts, log.user_id))  # each user's events in time order
    user, session, ts = log.user_id[order], log.session[order], log.ts[order]
    same_user = user[1:] == user[:-1]
    gap_s = np.diff(ts)[same_user]
    new_session = (session[1:] != session[:-1])[same_user]
    assert np.all(gap_s[~new_session] > 0)
    assert np.all(gap_s[~new_session] < 1800)
    assert np.all(gap_s[new_session] > 1800)
    assert new_session.sum() == log.n_sessions - len(np.unique(log.user_id))


def test_written_log_reads_back_into_the_generated_sessions(tmp_path: Path) -> None:
    path = tmp_path / "events.tsv"
    main(["--out", str(path), "--users", "300", "--items", "500"])
    assert path.read_text().splitlines()[0] == HEADER
    log = generate(SMALL)
    sessions = read_event_log(path)
    assert len(sessions) == log.n_sessions
    assert sum(len(s.item_ids) for s in sessions) == len(log.ts)
    # user u's n-th session in time order is read back as "u:n", with the same items
    expected: dict[str, tuple[str, ...]] = {}
    numbers: dict[int, list[int]] = {}
    for session in np.unique(log.session).tolist():  # session numbers grow with time per user
        rows = log.session == session
        user = int(log.user_id[rows][0])
        numbers.setdefault(user, []).append(session)
        session_id = f"{user}:{len(numbers[user]) - 1}"
        expected[session_id] = tuple(str(item) for item in log.item_id[rows].tolist())
    assert {s.session_id: s.item_ids for s in sessions} == expected
    weights = np.concatenate([s.weights for s in sessions])
    assert np.sum(weights == 0.05) == np.sum(log.watch_ms < 3000)  # skips weigh 0.05


def test_skips_are_mostly_off_intent() -> None:
    log = generate(SMALL)
    skipped = log.watch_ms < 3000
    off_intent = log.item_topic != log.intent_topic
    # expected about 80% (skip probability 0.05 on intent, 0.8 off intent)
    assert off_intent[skipped].mean() > 0.7
    assert skipped[~off_intent].mean() < 0.1
    assert skipped[off_intent].mean() > 0.6


def top_successor_share(log: SyntheticLog) -> float:
    """Share of within-session transitions that go to the previous item's commonest next."""
    order = by_session(log)
    items, session = log.item_id[order], log.session[order]
    same = session[1:] == session[:-1]
    pairs = Counter(zip(items[:-1][same].tolist(), items[1:][same].tolist(), strict=True))
    best: dict[int, int] = {}
    for (previous, _), count in pairs.items():
        best[previous] = max(best.get(previous, 0), count)
    return sum(best.values()) / sum(pairs.values())


def test_items_follow_their_topic_order() -> None:
    with_order = top_successor_share(generate(SMALL))
    without = top_successor_share(generate(replace(SMALL, neighbour_prob=0.0)))
    assert with_order > without + 0.1


def test_nonsense_configs_are_rejected() -> None:
    with pytest.raises(ValueError, match="n_topics"):
        SyntheticConfig(n_items=10, n_topics=20)
    with pytest.raises(ValueError, match="session_gap_s"):
        SyntheticConfig(session_gap_s=1800.0)
