"""Prometheus metrics of one app instance: latency per endpoint and per hot-path stage, counters.

Each app gets its own registry (no import-time global), so tests can build many apps.
`stage()` times one stage of a request path: state read, GRU step, state write, search,
filtering, exploration. The catalogue's gauges are set by its follower after each apply.
"""

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest

# 50 us .. 1 s: the hot path lives in the sub-millisecond buckets
_BUCKETS_S = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 1.0)
MIGRATIONS = ("carried", "reset")  # the outcomes of session/migrate.py
UPLOAD_STATUSES = ("added", "updated", "unchanged", "known")  # of POST /items
ROUTES = frozenset({"/swipe", "/feed", "/items", "/healthz", "/readyz", "/metrics"})
ITEM_ROUTE = "/items/{item_id}"  # every /items/<id> counts under one label


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "nextswipe_request_seconds",
            "Request latency by endpoint",
            ["endpoint"],
            buckets=_BUCKETS_S,
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "nextswipe_stage_seconds",
            "Latency of one stage of a request path",
            ["stage"],
            buckets=_BUCKETS_S,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "nextswipe_batch_size",
            "Requests per ONNX step or FAISS search run (micro-batching)",
            ["kind"],
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.first_abandonment = Histogram(
            "nextswipe_first_abandonment_swipes",
            "Swipes into a session when its first run of 3 skips in a row began",
            buckets=(1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144),
            registry=self.registry,
        )
        self._children: dict[tuple[Histogram, str], Histogram] = {}
        counter = self._counter
        self.swipes = counter("nextswipe_swipes_total", "Swipes applied to a session state")
        self.skips = counter("nextswipe_skips_total", "Swipes that were skips (weight <= skip)")
        self.completions = counter("nextswipe_completions_total", "Swipes with weight 1")
        self.duplicates = counter("nextswipe_duplicate_swipes_total", "Retried event ids")
        self.new_sessions = counter(
            "nextswipe_new_sessions_total", "Sessions started, by a swipe or by a feed"
        )
        self.pages = counter("nextswipe_pages_total", "Feed pages built")
        self.page_replays = counter("nextswipe_page_replays_total", "Pages replayed by cursor")
        self.responses = Counter(
            "nextswipe_responses_total",
            "Responses by route and status code: the error rate per route",
            ["route", "status"],
            registry=self.registry,
        )
        self.degraded_pages = counter(
            "nextswipe_degraded_pages_total", "Pages built without the session store (down)"
        )
        self.explore_impressions = counter(
            "nextswipe_explore_impressions_total", "Items served from exploration slots"
        )
        self.explore_rewards = counter(
            "nextswipe_explore_rewards_total", "Engagement weight credited to bandit arms"
        )
        self.model_swaps = counter("nextswipe_model_swaps_total", "New bundles swapped in")
        self.model_swap_failures = counter(
            "nextswipe_model_swap_failures_total", "New bundles refused (the old one serves on)"
        )
        migrated = Counter(
            "nextswipe_sessions_migrated_total",
            "Sessions of a replaced bundle carried over, or reset (a bundle older than that)",
            ["outcome"],
            registry=self.registry,
        )
        self.sessions_migrated = {outcome: migrated.labels(outcome) for outcome in MIGRATIONS}
        self._model = Info("nextswipe_model", "The bundle being served", registry=self.registry)
        self.catalogue_items = Gauge(
            "nextswipe_catalogue_items",
            "Items of the served catalogue by source (bundle, upload) and status (active, removed)",
            ["source", "status"],
            registry=self.registry,
        )
        self.catalogue_position = Gauge(
            "nextswipe_catalogue_position",
            "Catalogue log entries this replica has applied",
            registry=self.registry,
        )
        self._last_entry_logged_ms: int | None = None
        Gauge(
            "nextswipe_catalogue_entry_age_seconds",
            "Seconds since the last catalogue entry this replica applied was written (NaN: none)",
            registry=self.registry,
        ).set_function(self._entry_age_s)
        uploads = Counter(
            "nextswipe_catalogue_uploads_total",
            "Items of POST /items answered by this replica, by status",
            ["status"],
            registry=self.registry,
        )
        self.uploads = {status: uploads.labels(status) for status in UPLOAD_STATUSES}
        self.takedowns = counter(
            "nextswipe_catalogue_takedowns_total", "DELETE /items answered by this replica"
        )
        self.event_log_failures = counter(
            "nextswipe_event_log_failures_total",
            "Applied swipes and pages whose event-log entry was not written (Cluster, file)",
        )
        self.new_item_impressions = counter(
            "nextswipe_new_item_impressions_total",
            "Uploads served on new pages (model or new-item tier): the tier's impressions",
        )

    def catalogue_applied(
        self, sizes: Mapping[tuple[str, str], int], position: int, last_logged_ms: int | None
    ) -> None:
        """The catalogue a follower just published: its sizes and how far in the log it is."""
        for (source, status), size in sizes.items():
            self.catalogue_items.labels(source, status).set(size)
        self.catalogue_position.set(position)
        self._last_entry_logged_ms = last_logged_ms

    def _entry_age_s(self) -> float:
        if self._last_entry_logged_ms is None:
            return float("nan")
        return time.time() - self._last_entry_logged_ms / 1000

    def serving(self, version: str) -> None:
        """Expose the served bundle's version (nextswipe_model_info{version=...} 1)."""
        self._model.info({"version": version})

    def _counter(self, name: str, documentation: str) -> Counter:
        return Counter(name, documentation, registry=self.registry)

    def observe(self, stage: str, seconds: float) -> None:
        self._labelled(self.stage_seconds, stage).observe(seconds)

    def observe_batch(self, kind: str, size: int) -> None:
        self._labelled(self.batch_size, kind).observe(size)

    def observe_request(self, endpoint: str, seconds: float) -> None:
        self._labelled(self.request_seconds, endpoint).observe(seconds)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.observe(name, time.perf_counter() - start)

    def count_response(self, path: str, status: int) -> None:
        """One response; paths outside the API count as "other", so that a scan of random
        URLs cannot grow the label set without bound."""
        route = path if path in ROUTES else ITEM_ROUTE if path.startswith("/items/") else "other"
        self.responses.labels(route, str(status)).inc()

    def _labelled(self, histogram: Histogram, label: str) -> Histogram:
        """The labelled child, looked up once: `labels()` costs more than an observation."""
        child = self._children.get((histogram, label))
        if child is None:
            child = self._children[(histogram, label)] = histogram.labels(label)
        return child

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
