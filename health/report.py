"""`make health`: the session-health table and picture of everything in the event log.

    .venv/bin/python -m health.report --bundle bundles/demo --out build/health

The log is the service's own (the same settings: NEXTSWIPE_REDIS_URL's streams, else
NEXTSWIPE_EVENT_LOG_PATH's file, or --log); the bundle gives each item's cluster. Prints a
table of each measure over sessions and writes health.json (the table and every session)
and health.png (their distributions).
"""

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.bundle import CLUSTERS_FILE, ITEM_IDS_FILE
from app.engagement import ABANDON_SKIPS
from app.settings import Settings
from health.log_entries import read_entries
from health.session_health import SessionHealth, by_session, session_health

MEASURES = (  # (field, label) in table order
    ("swipes", "swipes"),
    ("seconds", "seconds, first to last swipe"),
    ("completion_ratio", "completion ratio"),
    ("skip_ratio", "skip ratio"),
    ("abandoned_at_swipe", "swipes to first abandonment"),
    ("abandoned_after_s", "seconds to first abandonment"),
    ("clusters", "distinct clusters swiped"),
    ("explore_reward_rate", "exploration reward rate"),
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, required=True, help="for the items' clusters")
    parser.add_argument("--log", type=Path, help="an event-log file (default: the settings')")
    parser.add_argument(
        "--skip-run", type=int, default=ABANDON_SKIPS, help="skips in a row that abandon"
    )
    parser.add_argument("--out", type=Path, default=Path("build/health"))
    args = parser.parse_args(argv)
    if args.skip_run < 1:
        parser.error("--skip-run must be at least 1")
    return args


def item_clusters(bundle: Path) -> dict[str, int]:
    ids: list[str] = json.loads((bundle / ITEM_IDS_FILE).read_text())
    clusters = np.load(bundle / CLUSTERS_FILE, allow_pickle=False)
    return dict(zip(ids, clusters.tolist(), strict=True))


def mean_ci95(values: npt.NDArray[np.float64]) -> tuple[float, float]:
    """The mean of one or more values and the half-width of its 95% interval (normal
    approximation; 0 for a single value)."""
    half = 1.96 * values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return float(values.mean()), float(half)


def summarise(sessions: Sequence[SessionHealth]) -> dict[str, dict[str, float | int]]:
    """Per measure: sessions where it is defined, mean, median, p90 and a 95% interval of the
    mean (normal approximation)."""
    table: dict[str, dict[str, float | int]] = {}
    for name, _ in MEASURES:
        values = np.array([v for s in sessions if (v := getattr(s, name)) is not None], float)
        if not len(values):
            table[name] = {"sessions": 0}
            continue
        mean, half = mean_ci95(values)
        table[name] = {
            "sessions": len(values),
            "mean": mean,
            "ci95": half,
            "median": float(np.median(values)),
            "p90": float(np.quantile(values, 0.9)),
        }
    return table


def format_table(table: dict[str, dict[str, float | int]], n_sessions: int) -> str:
    lines = [
        f"{n_sessions} sessions with swipes",
        "| measure | sessions | mean (95% CI) | median | p90 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in MEASURES:
        row = table[name]
        if not row["sessions"]:
            lines.append(f"| {label} | 0 | - | - | - |")
            continue
        lines.append(
            f"| {label} | {row['sessions']:,} | {row['mean']:.3f} +- {row['ci95']:.3f} "
            f"| {row['median']:.3f} | {row['p90']:.3f} |"
        )
    return "\n".join(lines)


def plot(sessions: Sequence[SessionHealth], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 4, figsize=(16, 7))
    for axis, (name, label) in zip(axes.flat, MEASURES, strict=True):
        values = [v for s in sessions if (v := getattr(s, name)) is not None]
        axis.hist(values, bins=30, color="#3b75af")
        axis.set_title(f"{label}\n({len(values):,} sessions)", fontsize=10)
    figure.suptitle("Session health from the event log (health/report.py)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    settings = Settings.from_env()
    path = args.log or settings.event_log_path
    redis_url = None if args.log else settings.redis_url
    entries = read_entries(redis_url, path, settings.key_prefix, settings.event_shards)
    clusters = item_clusters(args.bundle)
    skip_weight = settings.engagement.skip_weight
    sessions = [
        health
        for session_id, log in by_session(entries).items()
        if (health := session_health(session_id, log, clusters, skip_weight, args.skip_run))
    ]
    table = summarise(sessions)
    print(format_table(table, len(sessions)))
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "skip_weight": skip_weight,
        "skip_run": args.skip_run,
        "summary": table,
        "sessions": [dataclasses.asdict(s) for s in sessions],
    }
    (args.out / "health.json").write_text(json.dumps(report, indent=1))
    plot(sessions, args.out / "health.png")
    print(f"files: {args.out / 'health.json'}, {args.out / 'health.png'}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
