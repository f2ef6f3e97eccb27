"""A PNG of one run over time from locust's `_stats_history.csv`: p50 / p95 / p99 of /swipe and
/feed against the budget, and the achieved request rate against the target.

Built on `matplotlib.figure.Figure` without pyplot, so no GUI backend is ever chosen: PNGs are
drawn by Agg (matplotlib's "embedding in a web server" pattern).
"""

import csv
import math
from collections import defaultdict
from pathlib import Path

from matplotlib.figure import Figure

ENDPOINTS = ("/swipe", "/feed")
PERCENTILES = (("50%", ":"), ("95%", "--"), ("99%", "-"))


def _number(value: str) -> float:
    return math.nan if value in ("N/A", "") else float(value)


def read_history(path: Path) -> dict[str, dict[str, list[float]]]:
    """Name -> column -> values over time; "t" is seconds since the first row."""
    series: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    start = int(rows[0]["Timestamp"])
    for row in rows:
        columns = series[row["Name"]]
        columns["t"].append(int(row["Timestamp"]) - start)
        for column in ("Requests/s", "Failures/s", *(p for p, _ in PERCENTILES)):
            columns[column].append(_number(row[column]))
    return series


def plot_history(history_csv: Path, png: Path, budget_ms: float, target_rate: float) -> None:
    """Latency percentiles (windowed over locust's last 10 s) and throughput, one PNG."""
    series = read_history(history_csv)
    figure = Figure(figsize=(10, 7), layout="constrained")
    latency, throughput = figure.subplots(2, 1, sharex=True)
    for endpoint, colour in zip(ENDPOINTS, ("tab:blue", "tab:orange"), strict=True):
        columns = series.get(endpoint, {})
        for percentile, style in PERCENTILES:
            label = f"{endpoint} p{percentile.rstrip('%')}"
            times, values = columns.get("t", []), columns.get(percentile, [])
            latency.plot(times, values, style, color=colour, label=label)
    latency.axhline(budget_ms, color="tab:red", linewidth=1, label=f"budget {budget_ms:g} ms")
    latency.set_ylabel("latency, ms (last 10 s)")
    latency.legend(loc="upper left", fontsize="small", ncols=2)
    total = series.get("Aggregated", {})
    throughput.plot(total.get("t", []), total.get("Requests/s", []), label="achieved req/s")
    throughput.plot(total.get("t", []), total.get("Failures/s", []), label="failures/s")
    throughput.axhline(target_rate, color="tab:gray", linestyle="--", label="target req/s")
    throughput.set_xlabel("seconds since start")
    throughput.set_ylabel("requests/s")
    throughput.legend(loc="lower right", fontsize="small")
    figure.suptitle(history_csv.name.removesuffix("_stats_history.csv"))
    figure.savefig(png, dpi=100)
