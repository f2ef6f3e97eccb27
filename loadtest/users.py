"""SessionUser: a simulated person swiping through nextswipe's feed, one session after another.

Every task run sends exactly one request and `wait_time` paces the runs, so users times pace
is the request rate; the swipe/feed mix comes from the behaviour: open the feed, swipe its
items, ask for the next page near the end of this one, leave after a heavy-tailed number of
swipes and come back as a new session. A share of requests repeat the previous one (same
`event_id`, same `cursor`) and must get the answer the API promises for a retry.

A swipe answered 503 (or not at all) may or may not have been applied, so it is sent again,
same `event_id`, before anything else, until it is acknowledged: like a real client, and
what lets each session's ledger compare every `seq` with the swipes acknowledged so far
(ledger.py); a lost or doubly applied swipe fails the request. tally.py keeps the counts.
"""

from locust import FastHttpUser, task
from locust.contrib.fasthttp import ResponseContextManager
from locust.env import Environment

import itertools
import random
import time
import uuid
from dataclasses import asdict
from functools import cache
from typing import Any

from loadtest.config import LoadTestConfig
from loadtest.session import SentSwipe, ServedPage, Session, same_page
from loadtest.tally import TALLY
from loadtest.traffic import Catalogue, SimulatedUser, session_length

CONFIG = LoadTestConfig.from_env()
RUN_ID = uuid.uuid4().hex[:8]  # sessions of two runs against one Redis never meet
SESSION_NUMBERS = itertools.count(1)  # unique within this locust process


@cache
def catalogue() -> Catalogue:
    """Read once per locust process, on the first user's start."""
    return Catalogue.load(CONFIG.bundle)


class SessionUser(FastHttpUser):
    host = CONFIG.host
    network_timeout = 5.0  # a hung request is a failure, not a stalled user
    connection_timeout = 5.0
    interval_s = 1.0 / CONFIG.user_rate  # one request per interval

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.rng = random.Random()
        self.session = self._new_session()
        self.next_at = time.perf_counter()  # when this user's next request is due

    def on_start(self) -> None:
        """Begin at a random point of the interval. Locust spawns a second's worth of users at
        once, and users paced from one instant would send every request together."""
        self.next_at += self.rng.uniform(0.0, self.interval_s)
        time.sleep(max(0.0, self.next_at - time.perf_counter()))  # gevent-patched by locust

    def wait_time(self) -> float:
        """Locust's constant_pacing, from this user's own phase: a late request moves the
        schedule on instead of bunching the next ones."""
        now = time.perf_counter()
        self.next_at = max(self.next_at + self.interval_s, now)
        return self.next_at - now

    def _new_session(self) -> Session:
        session_id = f"lt-{RUN_ID}-{next(SESSION_NUMBERS)}"
        person = SimulatedUser(catalogue(), self.rng)
        return Session(session_id, person, session_length(self.rng))

    @task
    def next_request(self) -> None:
        """One request: an unacknowledged swipe again, else now and then a retry of the last
        request, else the session's next move."""
        session = self.session
        if session.unacknowledged is not None:
            self._send_swipe(session, session.unacknowledged, resend=True)
            return
        if session.last is not None and self.rng.random() < CONFIG.retry_share:
            self._retry(session, session.last)
            return
        if session.swipes_left <= 0:
            session = self.session = self._new_session()
        if len(session.queue) <= CONFIG.prefetch:
            self._feed(session)
        else:
            self._swipe(session, session.queue.popleft())

    def _feed(self, session: Session) -> None:
        params: dict[str, str | int] = {"session_id": session.id, "count": CONFIG.page_size}
        if session.next_cursor is not None:
            params["cursor"] = session.next_cursor
        with self.client.get("/feed", params=params, name="/feed", catch_response=True) as r:
            body = _body(r)
            if body is None:
                return  # nothing new to swipe; the next run asks again
            try:
                items: list[Any] = body["items"]
                served = [str(item["item_id"]) for item in items]
                degraded, version = body.get("degraded") is True, body.get("model_version", "")
                page = ServedPage(str(body["cursor"]), items, degraded, str(version))
                session.next_cursor = str(body["next_cursor"])
            except (KeyError, TypeError) as error:
                r.failure(f"a malformed page: {error!r}")
                return
            session.queue.extend(served)
            session.last = page
            if not served:
                session.swipes_left = 0  # the catalogue is used up for this session

    def _swipe(self, session: Session, item_id: str) -> None:
        session.events += 1
        session.swipes_left -= 1
        reaction = session.person.react(item_id)  # watch_ms, duration_ms, liked, shared
        event: dict[str, Any] = {
            "session_id": session.id,
            "item_id": item_id,
            "event_id": str(session.events),
            **asdict(reaction),
        }
        self._send_swipe(session, event, resend=False)

    def _send_swipe(self, session: Session, event: dict[str, Any], resend: bool) -> None:
        """A swipe, kept as unacknowledged when the answer leaves open whether it applied. A
        resend may come back duplicate: the request that got no answer applied it."""
        name = "/swipe [resend]" if resend else "/swipe"
        with self.client.post("/swipe", json=event, name=name, catch_response=True) as r:
            unanswered = r.status_code == 0 or r.status_code >= 500
            session.unacknowledged = event if unanswered else None
            body = _body(r)
            if body is None:
                return
            if CONFIG.verify and not resend and body.get("duplicate") is not False:
                r.failure(f"a first swipe came back duplicate: {body}")
            seq = int(body.get("seq", 0))
            self._applied(session, r, seq)
            session.last = SentSwipe(event, seq)

    def _applied(self, session: Session, response: ResponseContextManager, seq: int) -> None:
        """Check `seq` against the session's ledger (not against the bare app's constants)."""
        if not CONFIG.verify:
            return
        before = session.ledger.acknowledged
        check = session.ledger.applied(seq)
        TALLY.swipe_applied(check)
        if check.lost or check.extra:
            response.failure(
                f"a swipe was lost or applied twice: seq {seq} after {before} acknowledged"
            )

    def _retry(self, session: Session, last: SentSwipe | ServedPage) -> None:
        if isinstance(last, SentSwipe):
            name = "/swipe [retry]"
            with self.client.post("/swipe", json=last.body, name=name, catch_response=True) as r:
                body = _body(r)
                if body is None:
                    return
                expected = {"duplicate": True, "seq": last.seq}
                if CONFIG.verify and not expected.items() <= body.items():
                    r.failure(f"a retried swipe was not echoed: expected {expected}, got {body}")
                if body.get("duplicate") is False:  # forgotten by the service: applied again
                    seq = int(body.get("seq", 0))
                    self._applied(session, r, seq)
                    session.last = SentSwipe(last.body, seq)
            return
        params = {"session_id": session.id, "count": CONFIG.page_size, "cursor": last.cursor}
        with self.client.get(
            "/feed", params=params, name="/feed [retry]", catch_response=True
        ) as r:
            body = _body(r)
            if body is not None and CONFIG.verify and not same_page(last, body):
                r.failure("a retried cursor returned a different page")


def _body(response: ResponseContextManager) -> dict[str, Any] | None:
    """The JSON object of a 2xx response; None (and the request failed) otherwise."""
    if not 200 <= response.status_code < 300:
        return None  # locust marks a non-2xx response (or no response) failed on its own
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        response.failure("the response is not a JSON object")
        return None
    TALLY.answered(body, time.time())
    return body
