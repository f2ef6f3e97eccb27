"""SessionUser: a simulated person swiping through nextswipe's feed, one session after another.

Every task run sends exactly one request and `wait_time` paces the runs, so users times pace
is the request rate; the swipe/feed mix comes from the behaviour: open the feed, swipe its
items, ask for the next page near the end of this one, leave after a heavy-tailed number of
swipes and come back as a new session. A share of requests repeat the previous one (same
`event_id`, same `cursor`) and must get the answer the API promises for a retry.
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
        """One request: now and then a retry of the last one, else the session's next move."""
        session = self.session
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
                page = ServedPage(str(body["cursor"]), items, body.get("degraded") is True)
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
        with self.client.post("/swipe", json=event, name="/swipe", catch_response=True) as r:
            body = _body(r)
            if body is None:
                return
            if CONFIG.verify and body.get("duplicate") is not False:
                r.failure(f"a first swipe came back duplicate: {body}")
            session.last = SentSwipe(event, int(body.get("seq", 0)))

    def _retry(self, session: Session, last: SentSwipe | ServedPage) -> None:
        if isinstance(last, SentSwipe):
            name = "/swipe [retry]"
            with self.client.post("/swipe", json=last.body, name=name, catch_response=True) as r:
                body = _body(r)
                expected = {"duplicate": True, "seq": last.seq}
                if body is not None and CONFIG.verify and not expected.items() <= body.items():
                    r.failure(f"a retried swipe must echo {expected}, got {body}")
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
    return body
