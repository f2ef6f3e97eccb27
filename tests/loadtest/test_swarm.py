"""The arrival-rate arithmetic: users times each user's pace is the target rate."""

import pytest

from loadtest.swarm import swarm_for


@pytest.mark.parametrize(("rate", "users"), [(20.0, 10), (1000.0, 500), (25.0, 13), (1.0, 1)])
def test_the_fewest_users_within_the_pace_reach_the_rate(rate: float, users: int) -> None:
    swarm = swarm_for(rate, max_user_rate=2.0)
    assert swarm.users == users
    assert swarm.user_rate <= 2.0
    assert swarm.users * swarm.user_rate == pytest.approx(rate)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        swarm_for(0.0, max_user_rate=2.0)
