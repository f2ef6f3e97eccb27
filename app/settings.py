"""Service settings: one frozen value read once from NEXTSWIPE_* environment variables.

`create_app(settings=None)` builds it with `Settings.from_env()`; tests build `Settings(...)`
directly. Every number that matters is a setting with its unit in the name.
"""

from dataclasses import dataclass, field
from pathlib import Path

from starlette.config import Config

from app.engagement import EngagementWeights

DEFAULT_BUNDLE = Path("bundles/demo")


DEFAULT_MAX_BATCH = 32  # micro-batching (app/batching); 1: each request alone

FEED_RANKINGS = ("model", "popular")


@dataclass(frozen=True, slots=True)
class Settings:
    bundle_dir: Path = DEFAULT_BUNDLE  # the exported bundle to serve, watched for new versions
    bundle_poll_s: float = 2.0  # how often bundle_dir's manifest is checked (0: never)
    swap_replay_items: int = 20  # last seen items replayed into a session after a swap (0: reset)
    redis_url: str | None = None  # None: the embedded store; redis+cluster://...: a cluster
    key_prefix: str = "ns"  # namespace of every Redis key
    session_ttl_s: int = 1800  # idle time after which a session is gone
    redis_socket_timeout_s: float = 0.25  # per Redis command; nothing waits forever
    redis_connect_timeout_s: float = 0.5
    redis_max_connections: int = 64  # per process; on a cluster, per node
    max_seen: int = 1000  # swiped items remembered per session (never served again)
    max_served: int = 2000  # served items remembered per session (never served twice)
    max_pages: int = 20  # pages kept per session for cursor replays
    max_event_ids: int = 256  # idempotency keys kept per session
    max_pending_explore: int = 200  # explored items awaiting a swipe (bandit credit)
    update_retries: int = 20  # optimistic-concurrency retries of one session update
    recent_sessions: int = 10_000  # sessions whose last written state a process keeps (0: none)
    recent_idle_s: float = 60.0  # and for how long (at most half of session_ttl_s)
    feed_default_count: int = 10
    feed_max_count: int = 100
    explore_share: float = 0.2  # share of each page filled by the bandit
    # "model": pages ranked by the session state; "popular": by popularity alone, the
    # baseline an A/B compares the model with (abtest/)
    feed_ranking: str = "model"
    explore_popularity_alpha: float = 0.5  # 0: uniform over a cluster's items; 1: by popularity
    bandit_sync_s: float = 1.0  # how often a replica exchanges bandit counts with Redis
    cursor_secret: str = "nextswipe-dev-secret"  # HMAC key of cursors; set it in production
    auth_token: str | None = None  # bearer token for /swipe and /feed; None behind a gateway
    # bearer token of POST/DELETE /items; None: the catalogue cannot be changed (403)
    admin_token: str | None = None
    catalogue_poll_s: float = 0.1  # how often a replica reads new catalogue log entries
    # the embedded store's catalogue log file (uploads and takedowns survive a restart);
    # None: in memory only. Unused with Redis, which holds the log.
    catalogue_path: Path | None = None
    # the event log (every applied swipe and new page, for the trainer): on Redis, streams in
    # this many shards (0: no log), each capped near event_max_len entries
    event_shards: int = 4
    event_max_len: int = 1_000_000
    # the embedded store's event log file; None: no log. Unused with Redis.
    event_log_path: Path | None = None
    event_flush_s: float = 0.05  # how often the embedded store writes its new entries
    new_item_share: float = 0.5  # share of the exploration slots for the new-item tier
    new_item_impressions: int = 100  # an upload leaves the tier at this many impressions
    max_body_bytes: int = 16_384
    items_max_body_bytes: int = 4_194_304  # POST /items: 1,000 items of 2,000 ASCII chars fit
    max_in_flight: int = 256  # requests one process works on at once; more get 503 overloaded
    ort_intra_op_threads: int = 1
    faiss_omp_threads: int = 1
    max_batch: int = DEFAULT_MAX_BATCH  # swipes per ONNX step, feeds per index search
    log_level: str = "info"  # of the JSON logs (app/logs.py); "debug" adds a line per request
    engagement: EngagementWeights = field(default_factory=EngagementWeights)

    def __post_init__(self) -> None:
        if self.session_ttl_s < 1:
            raise ValueError("session_ttl_s must be at least 1")
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if not 0.0 <= self.explore_share <= 1.0:
            raise ValueError("explore_share must be in [0, 1]")
        if self.feed_ranking not in FEED_RANKINGS:
            raise ValueError(f"feed_ranking must be one of {FEED_RANKINGS}")
        if self.recent_sessions < 0 or self.recent_idle_s <= 0.0:
            raise ValueError("recent_sessions must be >= 0 and recent_idle_s positive")
        if self.bundle_poll_s < 0.0 or self.swap_replay_items < 0:
            raise ValueError("bundle_poll_s and swap_replay_items must be >= 0")
        if self.bandit_sync_s <= 0.0 or self.catalogue_poll_s <= 0.0:
            raise ValueError("bandit_sync_s and catalogue_poll_s must be positive")
        if self.event_shards < 0 or self.event_max_len < 1 or self.event_flush_s <= 0.0:
            raise ValueError("event_shards >= 0, event_max_len >= 1, event_flush_s > 0")
        if not 0.0 <= self.new_item_share <= 1.0:
            raise ValueError("new_item_share must be in [0, 1]")
        if self.admin_token is not None and self.admin_token == self.auth_token:
            raise ValueError(
                "admin_token must differ from auth_token: a client token must never be able "
                "to change the catalogue (NEXTSWIPE_ADMIN_TOKEN, NEXTSWIPE_AUTH_TOKEN)"
            )
        if self.items_max_body_bytes < self.max_body_bytes:
            raise ValueError("items_max_body_bytes must be at least max_body_bytes")
        for name in (
            "max_seen",
            "max_served",
            "max_pages",
            "max_event_ids",
            "update_retries",
            "max_in_flight",
            "new_item_impressions",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 1 <= self.feed_default_count <= self.feed_max_count:
            raise ValueError("1 <= feed_default_count <= feed_max_count is required")

    @classmethod
    def from_env(cls, config: Config | None = None) -> "Settings":
        """Read NEXTSWIPE_* variables once; unset ones keep the defaults above."""
        env = config or Config(env_prefix="NEXTSWIPE_")
        defaults = cls()
        weights = EngagementWeights(
            skip_ms=env("SKIP_MS", cast=int, default=defaults.engagement.skip_ms),
            skip_weight=env("SKIP_WEIGHT", cast=float, default=defaults.engagement.skip_weight),
            reference_duration_ms=env(
                "REFERENCE_DURATION_MS",
                cast=int,
                default=defaults.engagement.reference_duration_ms,
            ),
            share=env("WEIGHT_SHARE", cast=float, default=defaults.engagement.share),
            save=env("WEIGHT_SAVE", cast=float, default=defaults.engagement.save),
            replay=env("WEIGHT_REPLAY", cast=float, default=defaults.engagement.replay),
            like=env("WEIGHT_LIKE", cast=float, default=defaults.engagement.like),
            comment=env("WEIGHT_COMMENT", cast=float, default=defaults.engagement.comment),
        )
        redis_url: str | None = env("REDIS_URL", default=None) or None
        auth_token: str | None = env("AUTH_TOKEN", default=None) or None
        admin_token: str | None = env("ADMIN_TOKEN", default=None) or None
        catalogue_path: str | None = env("CATALOGUE_PATH", default=None) or None
        event_log_path: str | None = env("EVENT_LOG_PATH", default=None) or None
        return cls(
            bundle_dir=Path(env("BUNDLE", default=str(defaults.bundle_dir))),
            bundle_poll_s=env("BUNDLE_POLL_S", cast=float, default=defaults.bundle_poll_s),
            swap_replay_items=env(
                "SWAP_REPLAY_ITEMS", cast=int, default=defaults.swap_replay_items
            ),
            redis_url=redis_url,
            key_prefix=env("KEY_PREFIX", default=defaults.key_prefix),
            session_ttl_s=env("SESSION_TTL_S", cast=int, default=defaults.session_ttl_s),
            redis_socket_timeout_s=env(
                "REDIS_SOCKET_TIMEOUT_S", cast=float, default=defaults.redis_socket_timeout_s
            ),
            redis_connect_timeout_s=env(
                "REDIS_CONNECT_TIMEOUT_S", cast=float, default=defaults.redis_connect_timeout_s
            ),
            redis_max_connections=env(
                "REDIS_MAX_CONNECTIONS", cast=int, default=defaults.redis_max_connections
            ),
            max_seen=env("MAX_SEEN", cast=int, default=defaults.max_seen),
            max_served=env("MAX_SERVED", cast=int, default=defaults.max_served),
            max_pages=env("MAX_PAGES", cast=int, default=defaults.max_pages),
            max_event_ids=env("MAX_EVENT_IDS", cast=int, default=defaults.max_event_ids),
            recent_sessions=env("RECENT_SESSIONS", cast=int, default=defaults.recent_sessions),
            recent_idle_s=env("RECENT_IDLE_S", cast=float, default=defaults.recent_idle_s),
            explore_share=env("EXPLORE_SHARE", cast=float, default=defaults.explore_share),
            feed_ranking=env("FEED_RANKING", default=defaults.feed_ranking),
            bandit_sync_s=env("BANDIT_SYNC_S", cast=float, default=defaults.bandit_sync_s),
            cursor_secret=env("CURSOR_SECRET", default=defaults.cursor_secret),
            max_in_flight=env("MAX_IN_FLIGHT", cast=int, default=defaults.max_in_flight),
            auth_token=auth_token,
            admin_token=admin_token,
            catalogue_poll_s=env("CATALOGUE_POLL_S", cast=float, default=defaults.catalogue_poll_s),
            catalogue_path=Path(catalogue_path) if catalogue_path else None,
            event_shards=env("EVENT_SHARDS", cast=int, default=defaults.event_shards),
            event_max_len=env("EVENT_MAX_LEN", cast=int, default=defaults.event_max_len),
            event_log_path=Path(event_log_path) if event_log_path else None,
            event_flush_s=env("EVENT_FLUSH_S", cast=float, default=defaults.event_flush_s),
            new_item_share=env("NEW_ITEM_SHARE", cast=float, default=defaults.new_item_share),
            new_item_impressions=env(
                "NEW_ITEM_IMPRESSIONS", cast=int, default=defaults.new_item_impressions
            ),
            items_max_body_bytes=env(
                "ITEMS_MAX_BODY_BYTES", cast=int, default=defaults.items_max_body_bytes
            ),
            ort_intra_op_threads=env(
                "ORT_INTRA_OP_THREADS", cast=int, default=defaults.ort_intra_op_threads
            ),
            faiss_omp_threads=env(
                "FAISS_OMP_THREADS", cast=int, default=defaults.faiss_omp_threads
            ),
            max_batch=env("MAX_BATCH", cast=int, default=defaults.max_batch),
            log_level=env("LOG_LEVEL", default=defaults.log_level),
            engagement=weights,
        )
