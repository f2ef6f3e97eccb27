"""What the simulated users saw besides latency, for the soak's verdict: swipes applied and
lost (ledger.py), degraded pages, the model versions that answered, and every failed request
with its time and kind, so that 503s while Redis was down can be told from the others.

One Tally per locust process (TALLY), written to `<--csv>_tally.json` when locust quits and
read back by `loadtest.soak`. No locust import at run time: the orchestrator reads it too.
"""

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtest.ledger import SeqCheck

if TYPE_CHECKING:
    from locust.env import Environment

FailureKey = tuple[int, str, str]  # (unix second, request name, kind)


@dataclass(slots=True)
class Sighting:
    """The answers one model version gave: how many, the first and the last (unix time)."""

    responses: int
    first: float
    last: float


@dataclass(slots=True)
class Tally:
    applied: int = 0  # swipes the service acknowledged as applied
    lost: int = 0  # acknowledged swipes a later seq showed missing
    extra: int = 0  # swipes applied twice (seq ahead of the acknowledged count)
    exceptions: int = 0  # distinct exceptions the users raised (locust's count)
    degraded: Counter[int] = field(default_factory=Counter)  # unix second -> degraded pages
    versions: dict[str, Sighting] = field(default_factory=dict)
    failures: Counter[FailureKey] = field(default_factory=Counter)

    def swipe_applied(self, check: SeqCheck) -> None:
        self.applied += 1
        self.lost += check.lost
        self.extra += check.extra

    def answered(self, body: dict[str, Any], now: float) -> None:
        """A 2xx answer: its model version, and whether it was a degraded page."""
        version = body.get("model_version")
        if isinstance(version, str):
            seen = self.versions.get(version)
            if seen is None:
                self.versions[version] = Sighting(1, now, now)
            else:
                seen.responses += 1
                seen.last = now
        if body.get("degraded") is True:
            self.degraded[int(now)] += 1

    def to_json(self) -> str:
        return json.dumps(
            {
                "applied": self.applied,
                "lost": self.lost,
                "extra": self.extra,
                "exceptions": self.exceptions,
                "degraded": sorted(self.degraded.items()),
                "versions": {v: [s.responses, s.first, s.last] for v, s in self.versions.items()},
                "failures": [[*key, n] for key, n in sorted(self.failures.items())],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> "Tally":
        raw = json.loads(text)
        return cls(
            applied=raw["applied"],
            lost=raw["lost"],
            extra=raw["extra"],
            exceptions=raw["exceptions"],
            degraded=Counter({int(t): int(n) for t, n in raw["degraded"]}),
            versions={v: Sighting(int(n), a, b) for v, (n, a, b) in raw["versions"].items()},
            failures=Counter(
                {(int(t), name, kind): int(n) for t, name, kind, n in raw["failures"]}
            ),
        )


TALLY = Tally()


def failure_kind(status: int, error_code: str | None, exception: BaseException) -> str:
    """A failure's kind, short enough to group by: `503 state_store_unavailable` for an error
    answer, `0 ConnectionRefusedError` without one, a check's message up to its first colon
    for a 2xx that failed a check (messages put their details after it)."""
    if status == 0 or status >= 300:
        return f"{status} {error_code or type(exception).__name__}"
    return str(exception).split(":", 1)[0][:80]


def record_failure(
    name: str,
    response: Any,
    exception: BaseException | None,
    **_kwargs: Any,
) -> None:
    """events.request listener: every failed request, by second, name and kind."""
    if exception is None:
        return
    status = int(getattr(response, "status_code", 0) or 0)
    error_code = None
    if status >= 300:
        try:
            body = response.json()
            error_code = str(body["error"]) if isinstance(body, dict) else None
        except (ValueError, KeyError, TypeError, AttributeError):
            error_code = None
    TALLY.failures[(int(time.time()), name, failure_kind(status, error_code, exception))] += 1


def write_tally(environment: "Environment", **_kwargs: Any) -> None:
    """events.quitting listener: `<--csv>_tally.json`; nothing without --csv."""
    prefix: str | None = getattr(environment.parsed_options, "csv_prefix", None)
    if not prefix:
        return
    TALLY.exceptions = len(environment.runner.exceptions) if environment.runner else 0
    Path(f"{prefix}_tally.json").write_text(TALLY.to_json())
