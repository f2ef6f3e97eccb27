"""The budget decision on plain numbers: what passes, what fails, and why."""

from loadtest.budget import verdict


def test_a_run_within_budget_and_without_failures_holds() -> None:
    assert verdict({"/swipe": 12.0, "/feed": 50.0}, 0, 0, budget_ms=50.0) == []


def test_p99_over_budget_fails_and_names_the_endpoint() -> None:
    reasons = verdict({"/swipe": 51.0, "/feed": 20.0}, 0, 0, budget_ms=50.0)
    assert reasons == ["/swipe p99 51 ms is over the 50 ms budget"]


def test_any_failed_request_fails_the_run() -> None:
    assert verdict({"/swipe": 1.0, "/feed": 1.0}, 1, 0, budget_ms=50.0) == ["1 requests failed"]


def test_exceptions_in_the_users_fail_the_run() -> None:
    reasons = verdict({"/swipe": 1.0, "/feed": 1.0}, 0, 2, budget_ms=50.0)
    assert reasons == ["the simulated users raised 2 distinct exceptions"]


def test_an_endpoint_without_requests_cannot_hold_the_budget() -> None:
    reasons = verdict({"/swipe": 10.0}, 0, 0, budget_ms=50.0)
    assert reasons == ["no /feed request was made, so its p99 is unknown"]
    assert len(verdict({"/swipe": None, "/feed": 99.0}, 3, 0, budget_ms=50.0)) == 3
