"""`make abtest`: every variant of abtest/variants.py served by the real app, the same
simulated people (abtest/person.py) sent through each, and their session health compared.

    .venv/bin/python -m abtest.run --bundle bundles/demo --sessions 500 --out build/abtest

Each variant is the service with its own settings on the embedded store, in process
(Starlette's TestClient runs the real app, lifespan and all, without sockets). Before the
sessions, the same uploads reach every variant: copies of bundle items' titles under new
ids, which the person judges by the cluster of the item they copy. Session i meets the same
person (intent, seed) in every variant. Health comes from each variant's own event log.
Prints the table and the winner; writes abtest.json and abtest.png.
"""

import argparse
import dataclasses
import json
import math
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from abtest.person import Person
from abtest.variants import VARIANTS, Variant
from app.engagement import ABANDON_SKIPS
from app.main import create_app
from app.settings import Settings
from health.log_entries import read_entries
from health.report import item_clusters, mean_ci95
from health.session_health import SessionHealth, SessionLog, by_session, session_health
from loadtest.traffic import Catalogue
from models.bundle_titles import bundle_titles

ADMIN = "abtest-admin-token"
MEASURES = (  # (field, label); swipes per session decides the winner
    ("swipes", "swipes per session"),
    ("completion_ratio", "completion ratio"),
    ("skip_ratio", "skip ratio"),
    ("later_skip_ratio", "skip ratio after the first page"),
    ("abandoned", "abandoned share"),
    ("explore_reward_rate", "exploration reward rate"),
)


PLOTTED = ("swipes", "completion_ratio", "later_skip_ratio")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("bundles/demo"))
    parser.add_argument("--sessions", type=int, default=500, help="per variant")
    parser.add_argument("--uploads", type=int, default=100, help="new items, every variant")
    parser.add_argument("--page-size", type=int, default=10, help="/feed's default count")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--variants", help="comma-separated names (default: all)")
    parser.add_argument("--out", type=Path, default=Path("build/abtest"))
    args = parser.parse_args(argv)
    if args.sessions < 2 or not 0 <= args.uploads <= 1000 or not 1 <= args.page_size <= 100:
        parser.error("--sessions >= 2, 0 <= --uploads <= 1000, 1 <= --page-size <= 100")
    return args


def new_items(bundle: Path, n: int, seed: int) -> list[tuple[str, str, str]]:
    """(new id, title, the bundle item it copies) for `n` uploads."""
    titles = bundle_titles(bundle)
    ids: list[str] = json.loads((bundle / "item_ids.json").read_text())
    sources = random.Random(seed).sample([i for i in ids if titles.get(i)], n)
    return [(f"ab-new-{k}", titles[source], source) for k, source in enumerate(sources)]


def run_variant(
    variant: Variant,
    args: argparse.Namespace,
    catalogue: Catalogue,
    uploads: list[tuple[str, str, str]],
    work: Path,
) -> Path:
    """Serves `args.sessions` sessions through the variant; returns its event log."""
    slug = "".join(c if c.isalnum() else "-" for c in variant.name)
    log = work / f"{slug}.events.log"
    settings = Settings(
        bundle_dir=args.bundle,
        event_log_path=log,
        catalogue_path=work / f"{slug}.catalogue.log",
        explore_share=variant.explore_share,
        feed_ranking=variant.feed_ranking,
        new_item_share=variant.new_item_share,
        admin_token=ADMIN,
        cursor_secret="abtest-cursor-secret",
    )
    app = create_app(settings, rng=np.random.default_rng(args.seed))
    with TestClient(app) as client:
        if uploads:
            body = {"items": [{"item_id": i, "title": t} for i, t, _ in uploads]}
            answer = client.post("/items", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
            answer.raise_for_status()
            wait_until_served(client, uploads[-1][0])
        for number in range(args.sessions):
            person = Person(catalogue, random.Random(args.seed * 1_000_003 + number))
            serve_session(client, f"ab-{number}", person, args.page_size)
    return log  # flushed: the app has shut down


def wait_until_served(client: TestClient, item_id: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.get(f"/items/{item_id}").status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the upload {item_id!r} was not applied within {timeout_s} s")
        time.sleep(0.05)


def serve_session(client: TestClient, session_id: str, person: Person, page_size: int) -> None:
    cursor: str | None = None
    while not person.left:
        params: dict[str, str | int] = {"session_id": session_id, "count": page_size}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get("/feed", params=params)
        page.raise_for_status()
        cursor = page.json()["next_cursor"]
        for item in page.json()["items"]:
            engagement = person.react(item["item_id"])
            swipe = {"session_id": session_id, "item_id": item["item_id"]}
            swipe |= dataclasses.asdict(engagement)
            client.post("/swipe", json=swipe).raise_for_status()
            if person.left:
                break


def mean_ci(values: Sequence[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0, "mean": math.nan}
    mean, half = mean_ci95(np.asarray(values, dtype=float))
    return {"n": len(values), "mean": mean, "ci95": half}


def measures(
    sessions: Sequence[SessionHealth], logs: dict[str, SessionLog], skip: float, page_size: int
) -> dict[str, dict[str, float | int]]:
    """Per measure over sessions; the skip ratio after the first page is where the model
    has a state to rank by (the first page of every session is the popular one)."""
    columns: dict[str, list[float]] = {name: [] for name, _ in MEASURES}
    for s in sessions:
        later = [swipe.weight for swipe in logs[s.session_id].swipes if swipe.seq > page_size]
        if later:
            columns["later_skip_ratio"].append(sum(w <= skip for w in later) / len(later))
        columns["swipes"].append(s.swipes)
        columns["completion_ratio"].append(s.completion_ratio)
        columns["skip_ratio"].append(s.skip_ratio)
        columns["abandoned"].append(float(s.abandoned_at_swipe is not None))
        if s.explore_reward_rate is not None:
            columns["explore_reward_rate"].append(s.explore_reward_rate)
    return {name: mean_ci(values) for name, values in columns.items()}


def verdict(results: dict[str, dict[str, dict[str, float | int]]], reference: str) -> str:
    """The variant with the most swipes per session, and its lead over the reference (the
    difference of two independent means, 95% interval)."""
    best = max(results, key=lambda name: results[name]["swipes"]["mean"])
    a, b = results[best]["swipes"], results[reference]["swipes"]
    if best == reference:
        return f"{best} wins: the most swipes per session ({a['mean']:.2f})"
    difference = a["mean"] - b["mean"]
    half = math.hypot(a["ci95"], b["ci95"])
    lead = (
        f"{a['mean']:.2f} swipes per session against {b['mean']:.2f} for {reference}, "
        f"{difference / b['mean']:+.1%} (difference {difference:+.2f} +- {half:.2f})"
    )
    if difference <= half:
        return f"no winner beyond noise: {best} has the most, {lead}"
    return f"{best} wins: {lead}"


def format_table(results: dict[str, dict[str, dict[str, float | int]]]) -> str:
    lines = [
        "| variant | " + " | ".join(label for _, label in MEASURES) + " |",
        "|---|" + "---:|" * len(MEASURES),
    ]
    for name, row in results.items():
        cells = [f"{row[m]['mean']:.3f} +- {row[m].get('ci95', 0.0):.3f}" for m, _ in MEASURES]
        lines.append(f"| {name} ({row['swipes']['n']} sessions) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, dict[str, float | int]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    figure, axes = plt.subplots(1, 3, figsize=(16, 5))
    shown = [(m, label) for m, label in MEASURES if m in PLOTTED]
    for axis, (measure, label) in zip(axes, shown, strict=True):
        means = [results[n][measure]["mean"] for n in names]
        errors = [results[n][measure].get("ci95", 0.0) for n in names]
        axis.barh(names, means, xerr=errors, color="#3b75af", capsize=3)
        axis.set_title(f"{label} (95% CI)")
        axis.invert_yaxis()
    for axis in axes[1:]:
        axis.set_yticklabels([])
    figure.suptitle("Simulated A/B through the real service (abtest/run.py)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    variants: tuple[Variant, ...] = VARIANTS
    if args.variants:
        wanted = set(args.variants.split(","))
        variants = tuple(v for v in VARIANTS if v.name in wanted)
    uploads = new_items(args.bundle, args.uploads, args.seed)
    base = Catalogue.load(args.bundle)
    catalogue = dataclasses.replace(
        base,
        cluster_of={**base.cluster_of, **{i: base.cluster_of[s] for i, _, s in uploads}},
        duration_ms={**base.duration_ms, **{i: base.duration_ms[s] for i, _, s in uploads}},
    )
    clusters = item_clusters(args.bundle)
    skip_weight = Settings().engagement.skip_weight
    results: dict[str, dict[str, dict[str, float | int]]] = {}
    with tempfile.TemporaryDirectory() as work:
        for variant in variants:
            started = time.perf_counter()
            log = run_variant(variant, args, catalogue, uploads, Path(work))
            logs = by_session(read_entries(None, log, "", 0))
            sessions = [
                health
                for sid, entry_log in logs.items()
                if (health := session_health(sid, entry_log, clusters, skip_weight, ABANDON_SKIPS))
            ]
            results[variant.name] = measures(sessions, logs, skip_weight, args.page_size)
            print(
                f"{variant.name}: {len(sessions)} sessions in {time.perf_counter() - started:.0f} s"
            )
    print(format_table(results))
    reference = next(iter(results))
    default = next((v.name for v in variants if "(default)" in v.name), reference)
    line = verdict(results, default)
    print(line)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"args": {k: str(v) for k, v in vars(args).items()}, "results": results}
    report["verdict"] = line
    (args.out / "abtest.json").write_text(json.dumps(report, indent=1))
    plot(results, args.out / "abtest.png")
    print(f"files: {args.out / 'abtest.json'}, {args.out / 'abtest.png'}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
