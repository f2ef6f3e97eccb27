"""`make demo`: a scripted person drifts from comedy to home repair / DIY through the real
service, and through a popularity feed beside it (demo/story.py tells how they swipe).

    .venv/bin/python -m demo.run --bundle bundles/microlens --out build/demo

Each feed is the app with its settings, in process on the embedded store (Starlette's
TestClient: the real app, no sockets). Writes demo.json (every page: its items, sources,
share of each intent, a few titles), demo.png and demo.html (the picture and the pages).
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from app.bundle import ITEM_IDS_FILE, POPULARITY_FILE
from app.main import create_app
from app.settings import Settings
from demo.intents import COMEDY, DIY, Intent
from demo.picture import draw, write_page
from demo.story import ServedPage, tell_story
from models.bundle_titles import bundle_titles

FEEDS = {"nextswipe": "model", "popularity feed": "popular"}  # name -> feed_ranking
TITLES_SHOWN = 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("bundles/microlens"))
    parser.add_argument("--from-name", default="comedy")
    parser.add_argument("--from-words", default=",".join(COMEDY), help="comma-separated")
    parser.add_argument("--to-name", default="home repair / DIY")
    parser.add_argument("--to-words", default=",".join(DIY), help="comma-separated")
    parser.add_argument("--pages-before", type=int, default=4)
    parser.add_argument("--pages-after", type=int, default=6)
    parser.add_argument("--page-size", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("build/demo"))
    args = parser.parse_args(argv)
    if min(args.pages_before, args.pages_after) < 1 or not 1 <= args.page_size <= 100:
        parser.error("at least one page per intent, 1 <= --page-size <= 100")
    return args


def most_popular(items: set[str], bundle: Path) -> str:
    """The intent's most popular item: where its link comes from."""
    ids: list[str] = json.loads((bundle / ITEM_IDS_FILE).read_text())
    popularity = np.load(bundle / POPULARITY_FILE)
    rows = [row for row, item in enumerate(ids) if item in items]
    return ids[max(rows, key=lambda row: (int(popularity[row]), -row))]


def page_row(
    page: ServedPage, intents: dict[str, set[str]], titles: dict[str, str]
) -> dict[str, Any]:
    n = max(len(page.items), 1)
    return {
        "number": page.number,
        "intent": page.intent,
        "items": list(page.items),
        "sources": list(page.sources),
        "shares": {
            name: sum(i in items for i in page.items) / n for name, items in intents.items()
        },
        "titles": [titles.get(item, item)[:120] for item in page.items[:TITLES_SHOWN]],
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    titles = bundle_titles(args.bundle)
    ids = set(json.loads((args.bundle / ITEM_IDS_FILE).read_text()))
    first = Intent(args.from_name, tuple(w for w in args.from_words.split(",") if w))
    second = Intent(args.to_name, tuple(w for w in args.to_words.split(",") if w))
    intents = {intent.name: intent.items(titles) & ids for intent in (first, second)}
    for name, items in intents.items():
        if not items:
            raise SystemExit(f"no item of the bundle matches the intent {name!r}")
        print(f"{name}: {len(items):,} items of {len(ids):,}")
    phases = [
        (
            first.name,
            intents[first.name],
            most_popular(intents[first.name], args.bundle),
            args.pages_before,
        ),
        (
            second.name,
            intents[second.name],
            most_popular(intents[second.name], args.bundle),
            args.pages_after,
        ),
    ]
    feeds: dict[str, list[dict[str, Any]]] = {}
    for feed, ranking in FEEDS.items():
        settings = Settings(
            bundle_dir=args.bundle, feed_ranking=ranking, cursor_secret="demo-secret"
        )
        with TestClient(create_app(settings, rng=np.random.default_rng(0))) as client:
            pages = tell_story(client, "demo-person", phases, args.page_size)
        feeds[feed] = [page_row(page, intents, titles) for page in pages]
    report = {
        "bundle": str(args.bundle),
        "intents": [first.name, second.name],
        "words": {first.name: list(first.words), second.name: list(second.words)},
        "matching_items": {name: len(items) for name, items in intents.items()},
        "drift_page": args.pages_before,
        "story": (
            f"A scripted person watches {first.name} to the end and likes it, and swipes anything "
            f"else away after 0.8 s; after {args.pages_before} pages of {args.page_size} "
            f"(each phase opened by one shared link) the same person wants {second.name}. "
            "Left: nextswipe, whose GRU state follows the swipes; right: a popularity feed."
        ),
        "feeds": feeds,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "demo.json").write_text(json.dumps(report, indent=1))
    draw(report, args.out / "demo.png")
    write_page(report, args.out / "demo.png", args.out / "demo.html")
    for feed, rows in feeds.items():
        after = [row["shares"][second.name] for row in rows[args.pages_before :]]
        before = [row["shares"][first.name] for row in rows[: args.pages_before]]
        print(
            f"{feed}: {first.name} {np.mean(before):.0%} of the pages before the drift, "
            f"{second.name} {np.mean(after):.0%} of the pages after it"
        )
    print(f"files: {args.out / 'demo.png'}, {args.out / 'demo.html'}")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
