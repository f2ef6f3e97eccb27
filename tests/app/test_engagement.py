import pytest

from app.engagement import EngagementEvent, EngagementWeights, engagement_weight


def test_plain_interaction_without_signals_weighs_one() -> None:
    assert engagement_weight(EngagementEvent()) == 1.0
    # a duration alone says nothing about engagement
    assert engagement_weight(EngagementEvent(duration_ms=20000)) == 1.0


def test_quick_swipe_away_is_a_skip() -> None:
    assert engagement_weight(EngagementEvent(watch_ms=0, duration_ms=20000)) == 0.05
    assert engagement_weight(EngagementEvent(watch_ms=1200, duration_ms=20000)) == 0.05


def test_skip_boundary_is_exclusive_at_skip_ms() -> None:
    assert engagement_weight(EngagementEvent(watch_ms=2999, duration_ms=10000)) == 0.05
    # 3000 ms is no longer a skip: the watch fraction 3000 / 10000 counts
    assert engagement_weight(EngagementEvent(watch_ms=3000, duration_ms=10000)) == 0.3


def test_watch_fraction_uses_duration_or_reference_length() -> None:
    assert engagement_weight(EngagementEvent(watch_ms=6000, duration_ms=8000)) == 0.75
    # unknown duration: 15000 ms reference length, 6000 / 15000 = 0.4
    assert engagement_weight(EngagementEvent(watch_ms=6000)) == pytest.approx(0.4)


def test_full_watch_weighs_one_and_longer_watch_is_clipped() -> None:
    assert engagement_weight(EngagementEvent(watch_ms=20000, duration_ms=20000)) == 1.0
    assert engagement_weight(EngagementEvent(watch_ms=90000, duration_ms=20000)) == 1.0


def test_explicit_signal_overrides_the_skip_rule() -> None:
    # 1000 / 10000 = 0.1 watched, plus 0.3 for the like
    liked_skip = EngagementEvent(watch_ms=1000, duration_ms=10000, liked=True)
    assert engagement_weight(liked_skip) == pytest.approx(0.4)
    replayed = EngagementEvent(watch_ms=1000, duration_ms=10000, replays=2)
    assert engagement_weight(replayed) == pytest.approx(0.5)  # replay bonus counted once


def test_signals_without_watch_time_never_weigh_less_than_a_plain_interaction() -> None:
    # a like used to weigh 0.3 here, less than the same interaction without the like (1.0)
    for signal in ("shared", "saved", "liked", "commented"):
        assert engagement_weight(EngagementEvent(**{signal: True})) == 1.0
    assert engagement_weight(EngagementEvent(replays=1)) == 1.0


def test_watching_past_the_skip_threshold_weighs_at_least_a_skip() -> None:
    ten_minutes = 600_000  # 3 s of it is a 0.005 fraction, below a skip's 0.05
    just_skipped = engagement_weight(EngagementEvent(watch_ms=2999, duration_ms=ten_minutes))
    just_watched = engagement_weight(EngagementEvent(watch_ms=3000, duration_ms=ten_minutes))
    assert just_skipped == 0.05
    assert just_watched == 0.05
    assert engagement_weight(EngagementEvent(watch_ms=60_000, duration_ms=ten_minutes)) == 0.1


def test_bonuses_add_up_and_are_clipped_at_one() -> None:
    event = EngagementEvent(watch_ms=4000, duration_ms=20000, liked=True, commented=True)
    assert engagement_weight(event) == pytest.approx(0.2 + 0.3 + 0.3)
    assert engagement_weight(EngagementEvent(watch_ms=0, shared=True, saved=True)) == 1.0


def test_weight_never_decreases_with_watch_time() -> None:
    previous = 0.0
    for watch_ms in range(0, 30001, 250):
        weight = engagement_weight(EngagementEvent(watch_ms=watch_ms, duration_ms=20000))
        assert 0.0 <= weight <= 1.0
        assert weight >= previous
        previous = weight


def test_custom_weights_change_the_rules() -> None:
    strict = EngagementWeights(skip_ms=5000, skip_weight=0.0, like=0.1)
    assert engagement_weight(EngagementEvent(watch_ms=4000, duration_ms=8000), strict) == 0.0
    event = EngagementEvent(watch_ms=6000, duration_ms=8000, liked=True)
    assert engagement_weight(event, strict) == pytest.approx(0.85)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (EngagementEvent(watch_ms=-1), "watch_ms"),
        (EngagementEvent(watch_ms=1000, duration_ms=0), "duration_ms"),
        (EngagementEvent(replays=-1), "replays"),
    ],
)
def test_nonsense_events_are_rejected(event: EngagementEvent, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        engagement_weight(event)


def test_nonsense_weights_are_rejected() -> None:
    with pytest.raises(ValueError, match="skip_weight"):
        EngagementWeights(skip_weight=1.5)
    with pytest.raises(ValueError, match="bonuses"):
        EngagementWeights(like=-0.1)
    for nonsense in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="bonuses"):
            EngagementWeights(share=nonsense)
        with pytest.raises(ValueError, match="skip_weight"):
            EngagementWeights(skip_weight=nonsense)
