"""The soak's verdict on plain numbers: which failures the Redis outage explains, when the
model swap counts as completed, and the reasons to fail."""

from collections import Counter

import pytest

from loadtest.soak_report import (
    EXPECTED_KIND,
    Outage,
    degraded_outside,
    failure_lines,
    reasons_to_fail,
    split_failures,
    switch_over_s,
)
from loadtest.tally import Sighting, Tally, failure_kind

OUTAGE = Outage(start=100.5, end=104.2, grace_s=3.0)  # covers seconds 100..107


def test_a_swipe_503_during_the_outage_and_its_grace_is_expected() -> None:
    failures = Counter(
        {
            (100, "/swipe", EXPECTED_KIND): 4,
            (107, "/swipe [resend]", EXPECTED_KIND): 2,
            (99, "/swipe", EXPECTED_KIND): 1,  # before Redis was stopped
            (108, "/swipe", EXPECTED_KIND): 1,  # after the grace
            (102, "/feed", EXPECTED_KIND): 1,  # the feed degrades instead
            (102, "/swipe", "503 session_busy"): 1,
            (102, "/swipe", "a swipe was lost or applied twice"): 1,
        }
    )
    expected, unexpected = split_failures(failures, OUTAGE)
    assert expected == {
        (100, "/swipe", EXPECTED_KIND): 4,
        (107, "/swipe [resend]", EXPECTED_KIND): 2,
    }
    assert sum(unexpected.values()) == 5
    assert (
        failure_lines(unexpected, started=90.0)[0]
        == f"          2  /swipe  {EXPECTED_KIND}  (9-18 s)"
    )
    assert failure_lines(Counter(), started=90.0) == ["    none"]


def test_degraded_pages_away_from_the_outage_are_counted_apart() -> None:
    tally = Tally(degraded=Counter({101: 7, 50: 1, 200: 2}))
    assert degraded_outside(tally, OUTAGE) == 3


def sightings(old_last: float, new_first: float, new_last: float) -> dict[str, Sighting]:
    return {"v1": Sighting(10, 0.0, old_last), "v2": Sighting(10, new_first, new_last)}


def test_a_swap_completes_once_only_the_new_version_answers() -> None:
    versions = sightings(old_last=200.4, new_first=200.2, new_last=300.0)
    took = switch_over_s(versions, "v1", "v2", repointed_at=200.0, deadline_s=30.0)
    assert took == pytest.approx(0.4)


def test_a_swap_is_incomplete_without_the_new_version_or_while_the_old_answers() -> None:
    assert switch_over_s({"v1": Sighting(5, 0.0, 300.0)}, "v1", "v2", 200.0, 30.0) is None
    late = sightings(old_last=240.0, new_first=200.2, new_last=300.0)  # past the deadline
    assert switch_over_s(late, "v1", "v2", 200.0, 30.0) is None
    # a worker still on v1 at the end: both versions answer until the run stops
    stuck = sightings(old_last=299.9, new_first=200.2, new_last=300.0)
    assert switch_over_s(stuck, "v1", "v2", 200.0, 200.0) is None


def test_a_clean_soak_has_no_reason_to_fail() -> None:
    assert reasons_to_fail(Tally(applied=10), Counter(), switch_over=0.5) == []


def test_every_reason_to_fail_is_named() -> None:
    tally = Tally(applied=0, lost=2, extra=1, exceptions=3)
    unexpected = Counter({(5, "/feed", "0 ConnectionResetError"): 4})
    reasons = reasons_to_fail(tally, unexpected, None)
    assert reasons == [
        "2 acknowledged swipes were lost",
        "1 swipes were applied twice",
        "4 requests failed unexpectedly",
        "the simulated users raised 3 distinct exceptions",
        "no swipe was acknowledged",
        "the model swap did not complete",
    ]


def test_failure_kinds_group_by_status_and_error_or_by_the_check() -> None:
    assert failure_kind(503, "state_store_unavailable", RuntimeError()) == EXPECTED_KIND
    assert failure_kind(0, None, ConnectionResetError()) == "0 ConnectionResetError"
    check = ValueError("a swipe was lost or applied twice: seq 2 after 5 acknowledged")
    assert failure_kind(200, None, check) == "a swipe was lost or applied twice"


def test_a_tally_survives_its_json() -> None:
    tally = Tally(applied=5, lost=1, extra=0, exceptions=2)
    tally.answered({"model_version": "v1", "degraded": True}, 100.5)
    tally.answered({"model_version": "v1"}, 101.0)
    tally.failures[(100, "/swipe", EXPECTED_KIND)] += 3
    assert Tally.from_json(tally.to_json()) == tally
    assert tally.versions["v1"] == Sighting(2, 100.5, 101.0)
    assert tally.degraded == {100: 1}
