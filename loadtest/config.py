"""Load-test knobs from LOADTEST_* environment variables, like Polar's `load_tests/config.py`.

`python -m loadtest.run` sets them for the locust process it starts; a hand-run
`locust -f loadtest/locustfile.py` reads the same variables and falls back to these defaults.
"""

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class LoadTestConfig:
    host: str = "http://127.0.0.1:8000"  # LOADTEST_HOST: the service under load
    p99_ms: float = 50.0  # LOADTEST_P99_MS: budget of p99 latency on /swipe and /feed
    user_rate: float = 2.0  # LOADTEST_USER_RATE: requests/s of one simulated user (pacing)
    retry_share: float = 0.05  # LOADTEST_RETRY_SHARE: requests that repeat the last one
    page_size: int = 5  # LOADTEST_PAGE_SIZE: items per feed page (sets swipes per feed)
    prefetch: int = 1  # LOADTEST_PREFETCH: items left unswiped when the next page is asked
    verify: bool = True  # LOADTEST_VERIFY: check idempotency (0 against the bare app)
    bundle: Path = Path("bundles/demo")  # NEXTSWIPE_BUNDLE: where item clusters come from

    def __post_init__(self) -> None:
        if self.p99_ms <= 0 or self.user_rate <= 0:
            raise ValueError("LOADTEST_P99_MS and LOADTEST_USER_RATE must be positive")
        if not 0.0 <= self.retry_share < 1.0:
            raise ValueError(f"LOADTEST_RETRY_SHARE must be in [0, 1), got {self.retry_share}")
        if not 0 <= self.prefetch < self.page_size <= 100:
            raise ValueError("0 <= LOADTEST_PREFETCH < LOADTEST_PAGE_SIZE <= 100 is required")

    @classmethod
    def from_env(cls) -> "LoadTestConfig":
        """Read the variables once; unset ones keep the defaults above."""
        defaults = cls()
        env = os.environ.get
        return cls(
            host=env("LOADTEST_HOST", defaults.host),
            p99_ms=float(env("LOADTEST_P99_MS", defaults.p99_ms)),
            user_rate=float(env("LOADTEST_USER_RATE", defaults.user_rate)),
            retry_share=float(env("LOADTEST_RETRY_SHARE", defaults.retry_share)),
            page_size=int(env("LOADTEST_PAGE_SIZE", defaults.page_size)),
            prefetch=int(env("LOADTEST_PREFETCH", defaults.prefetch)),
            verify=env("LOADTEST_VERIFY", "1") != "0",
            bundle=Path(env("NEXTSWIPE_BUNDLE", str(defaults.bundle))),
        )
