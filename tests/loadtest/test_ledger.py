"""The lost-swipe accounting: every seq the service answers against the swipes it
acknowledged before, through restarts, resends and retries."""

from loadtest.ledger import SeqCheck, SwipeLedger


def applied_in_turn(*seqs: int) -> list[SeqCheck]:
    ledger = SwipeLedger()
    return [ledger.applied(seq) for seq in seqs]


def test_seqs_that_follow_the_acknowledged_count_lose_nothing() -> None:
    # a resend answered duplicate (its 503'd request applied it) echoes the next seq too
    assert applied_in_turn(1, 2, 3, 4) == [SeqCheck()] * 4


def test_a_seq_behind_the_count_is_that_many_lost_swipes_counted_once() -> None:
    # three swipes acknowledged, then the store forgot two of them: the next one is seq 2
    checks = applied_in_turn(1, 2, 3, 2, 3)
    assert checks[3] == SeqCheck(lost=2)
    assert checks[4] == SeqCheck()  # the ledger follows the service from there


def test_a_session_that_disappeared_loses_every_acknowledged_swipe() -> None:
    assert applied_in_turn(1, 2, 3, 4, 5, 1)[-1] == SeqCheck(lost=5)


def test_a_seq_ahead_of_the_count_is_a_swipe_applied_twice() -> None:
    # swipe 3 applied by a 503'd request and again by its resend: seq 4 where 3 was due
    assert applied_in_turn(1, 2, 4) == [SeqCheck(), SeqCheck(), SeqCheck(extra=1)]


def test_a_forgotten_retry_applied_again_is_the_swipe_it_replaced() -> None:
    # swipe 3 acknowledged, then rolled back; its retry is applied again at seq 3
    ledger = SwipeLedger(acknowledged=3)
    assert ledger.applied(3) == SeqCheck(lost=1)
    assert ledger.acknowledged == 3
