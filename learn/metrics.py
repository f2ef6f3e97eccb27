"""The learner's Prometheus metrics, served on its own port (`--metrics-port`)."""

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LAG_BUCKETS = (1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600)


class LearnerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.log_lag = Gauge(
            "nextswipe_learn_log_lag", "Log entries not yet trained on", registry=r
        )
        self.events = Counter(
            "nextswipe_learn_events_total", "Swipes learned from (each once)", registry=r
        )
        self.events_per_s = Gauge(
            "nextswipe_learn_events_per_second",
            "Swipes learned per second in the last round",
            registry=r,
        )
        self.duplicates = Counter(
            "nextswipe_learn_duplicate_events_total",
            "Swipe entries of a seq already joined",
            registry=r,
        )
        self.malformed = Counter(
            "nextswipe_learn_malformed_entries_total",
            "Log entries that are no entry of ours",
            registry=r,
        )
        self.rounds = Counter("nextswipe_learn_rounds_total", "Training rounds run", registry=r)
        self.failed_rounds = Counter(
            "nextswipe_learn_failed_rounds_total",
            "Rounds that raised (the learner went on from its checkpoint)",
            registry=r,
        )
        self.published = Counter(
            "nextswipe_learn_versions_published_total",
            "Versions that passed the guard and serve",
            registry=r,
        )
        self.refused = Counter(
            "nextswipe_learn_versions_refused_total",
            "Candidates kept back, by reason",
            ["reason"],
            registry=r,
        )
        self._last_publish = time.time()
        Gauge(
            "nextswipe_learn_seconds_since_publish",
            "Seconds since the last version was published (or the learner started)",
            registry=r,
        ).set_function(lambda: time.time() - self._last_publish)
        self.swipe_to_served = Histogram(
            "nextswipe_learn_swipe_to_served_seconds",
            "From a swipe's acknowledgement to the first page served by a model trained on it",
            buckets=LAG_BUCKETS,
            registry=r,
        )

    def serve(self, port: int) -> None:
        if port:
            start_http_server(port, registry=self.registry)

    def published_now(self) -> None:
        self.published.inc()
        self._last_publish = time.time()
