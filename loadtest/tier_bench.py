"""The new-item tier's cost per page, as a burst of uploads leaves it: every upload unseen.

    python -m loadtest.tier_bench [--uploads 10000] [--seen-share 0.0]

Prints the median time of NewItemTier.choose (one tier slot, 30 rows already on the page) over
7 runs of 200 pages, one thread, no Redis: the part of each /feed that grows with the uploads
still in the tier.
"""

import argparse
import statistics
import time

import numpy as np

from app.bandit.new_item_stats import NewItemStats
from app.bandit.new_item_tier import NewItemTier
from app.catalogue.snapshot import Catalogue
from app.gru.vocab import ItemVocab
from app.retrieval.uploads import UploadIndex

N_BUNDLE = 1000
GRADUATE_AT = 100


def uploads_catalogue(
    n_bundle: int, n_uploads: int, removed: frozenset[int] = frozenset()
) -> Catalogue:
    """n_bundle bundle rows, then n_uploads uploads with ordinals 0.., `removed` taken down;
    vectors do not matter to the tier (also the tier's tests' catalogue)."""
    ids = tuple(f"u{i}" for i in range(n_uploads))
    rows = np.arange(n_bundle, n_bundle + n_uploads, dtype=np.int64)
    return Catalogue(
        model_version="uploads-only",
        vocab=ItemVocab([f"b{i}" for i in range(n_bundle)]),
        uploads=UploadIndex(np.zeros((n_uploads, 3), dtype=np.float32), n_bundle),
        position=n_uploads,
        upload_ids=ids,
        upload_rows={item_id: int(row) for item_id, row in zip(ids, rows, strict=True)},
        ordinals=rows - n_bundle,
        removed=removed,
        active_uploads=np.array([row for row in rows if row not in removed], dtype=np.int64),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=10_000)
    parser.add_argument("--seen-share", type=float, default=0.0, help="uploads seen once")
    args = parser.parse_args(argv)
    catalogue = uploads_catalogue(N_BUNDLE, args.uploads)
    stats = NewItemStats(None, "bench", GRADUATE_AT)
    stats.track(catalogue.upload_ids)
    stats.record_impressions(list(range(round(args.seen_share * args.uploads))))
    tier = NewItemTier(stats, 1.0, GRADUATE_AT)
    rng = np.random.default_rng(0)
    taken = set(range(N_BUNDLE - 20, N_BUNDLE + 10))
    for _ in range(20):
        tier.choose(1, catalogue, taken, rng)
    runs = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(200):
            tier.choose(1, catalogue, taken, rng)
        runs.append((time.perf_counter() - started) / 200 * 1e3)
    print(
        f"NewItemTier.choose, {args.uploads} uploads ({args.seen_share:.0%} seen once): "
        f"median {statistics.median(runs):.3f} ms per page (runs {min(runs):.3f}-{max(runs):.3f})"
    )


if __name__ == "__main__":
    main()
