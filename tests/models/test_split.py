import pytest

from models.sessions import RawSession
from models.split import split_by_time, split_by_user_mod


def user(session_id: str) -> RawSession:
    return RawSession(session_id, ("a",), (1.0,))


def ending_at(session_id: str, end_s: float | None) -> RawSession:
    return RawSession(session_id, ("a",), (1.0,), start_s=0.0, end_s=end_s)


def test_user_mod_split_by_last_digit() -> None:
    sessions = [user(i) for i in ["1", "10", "11", "12", "20", "9", "21", "100", "19"]]
    split = split_by_user_mod(sessions)
    assert [s.session_id for s in split.test] == ["10", "20", "100"]
    assert [s.session_id for s in split.valid] == ["1", "11", "21"]
    assert [s.session_id for s in split.train] == ["12", "9", "19"]


def test_user_mod_split_gives_ten_percent_of_a_dense_id_range() -> None:
    split = split_by_user_mod([user(str(i)) for i in range(1, 50_001)])
    assert (len(split.train), len(split.valid), len(split.test)) == (40_000, 5_000, 5_000)


def test_user_mod_split_rejects_non_integer_ids() -> None:
    with pytest.raises(ValueError, match="'u7' is not an integer"):
        split_by_user_mod([user("3"), user("u7")])


def test_time_split_boundaries() -> None:
    day_s = 100.0  # t_max = 1000: test (900, 1000], valid (800, 900], train the rest
    sessions = [
        ending_at("train_far", 10.0),
        ending_at("train_edge", 800.0),
        ending_at("valid_low", 800.001),
        ending_at("valid_edge", 900.0),
        ending_at("test_low", 900.5),
        ending_at("test_last", 1000.0),
    ]
    split = split_by_time(sessions, day_s, day_s)
    assert [s.session_id for s in split.train] == ["train_far", "train_edge"]
    assert [s.session_id for s in split.valid] == ["valid_low", "valid_edge"]
    assert [s.session_id for s in split.test] == ["test_low", "test_last"]


def test_time_split_with_the_default_day() -> None:
    t_max = 1_700_000_000.0
    sessions = [ending_at("a", t_max), ending_at("b", t_max - 86400.0), ending_at("c", 0.0)]
    split = split_by_time(sessions)
    assert [[s.session_id for s in part] for part in (split.train, split.valid, split.test)] == [
        ["c"],
        ["b"],
        ["a"],
    ]


def test_time_split_needs_times() -> None:
    with pytest.raises(ValueError, match="'x' has no end time"):
        split_by_time([ending_at("a", 5.0), ending_at("x", None)])
    assert split_by_time([]) == split_by_user_mod([])
