"""The variants the A/B serves side by side: each is the service with other settings."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Variant:
    name: str  # no commas: --variants takes a comma-separated list
    explore_share: float
    feed_ranking: str = "model"
    new_item_share: float = 0.5  # the service's default: half the exploration slots


VARIANTS = (
    Variant("explore 0", 0.0),
    Variant("explore 0.1", 0.1),
    Variant("explore 0.2 (default)", 0.2),
    Variant("explore 0.3", 0.3),
    Variant("no new-item tier", 0.2, new_item_share=0.0),  # explore 0.2, bandit slots only
    Variant("popularity feed", 0.2, feed_ranking="popular"),  # explore 0.2 around it
)
