"""The demo's picture (PNG) and its page (one self-contained HTML file, the PNG inside)."""

import base64
import html
from pathlib import Path
from typing import Any

FEEDS_COLOURS = {"from": "#e3862d", "to": "#3b75af"}


def draw(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    feeds = report["feeds"]
    first, second = report["intents"]
    figure, axes = plt.subplots(1, len(feeds), figsize=(7 * len(feeds), 4.5), sharey=True)
    for axis, (feed, pages) in zip(axes, feeds.items(), strict=True):
        numbers = [page["number"] + 1 for page in pages]
        for key, name in (("from", first), ("to", second)):
            shares = [page["shares"][name] for page in pages]
            axis.plot(numbers, shares, marker="o", color=FEEDS_COLOURS[key], label=name)
        drift = report["drift_page"] + 0.5
        axis.axvspan(drift, max(numbers) + 0.5, color="#3b75af", alpha=0.08)
        axis.axvline(drift, color="grey", linestyle="--", linewidth=1)
        axis.text(drift + 0.1, 0.95, f"the person turns to {second}", fontsize=9)
        axis.set_title(feed)
        axis.set_xlabel("page")
        axis.set_ylim(-0.02, 1.02)
        axis.set_xticks(numbers)
    axes[0].set_ylabel("share of the page matching the intent")
    axes[0].legend(loc="center left")
    figure.suptitle(
        f"A person drifts from {first} to {second}: what each feed serves, page by page"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_page(report: dict[str, Any], picture: Path, path: Path) -> None:
    first, second = report["intents"]
    image = base64.b64encode(picture.read_bytes()).decode("ascii")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>nextswipe demo: {html.escape(first)} to {html.escape(second)}</title>",
        "<style>body{font-family:sans-serif;max-width:1400px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;"
        "padding:4px 8px;vertical-align:top;font-size:14px}.to{background:#eaf1f8}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>A person drifts from {html.escape(first)} to {html.escape(second)}</h1>",
        f"<p>{html.escape(report['story'])}</p>",
        f"<img alt='share of each page matching each intent' src='data:image/png;base64,{image}'>",
    ]
    for feed, pages in report["feeds"].items():
        parts.append(f"<h2>{html.escape(feed)}</h2><table><tr><th>page</th><th>intent</th>")
        parts.append(f"<th>{html.escape(first)}</th><th>{html.escape(second)}</th>")
        parts.append("<th>a few titles</th></tr>")
        for page in pages:
            row_class = " class='to'" if page["intent"] == second else ""
            titles = "<br>".join(html.escape(title) for title in page["titles"])
            intent = html.escape(page["intent"])
            parts.append(
                f"<tr{row_class}><td>{page['number'] + 1}</td><td>{intent}</td>"
                f"<td>{page['shares'][first]:.0%}</td><td>{page['shares'][second]:.0%}</td>"
                f"<td>{titles}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
