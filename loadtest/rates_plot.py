"""A PNG of the fixed-rate run: p99 (log scale) against the offered rate, nextswipe and the bare
app, with the 5 ms target and the 50 ms budget."""

from pathlib import Path

from matplotlib.figure import Figure

from loadtest.rates_step import RateStep


def plot_rates(steps: list[RateStep], path: Path, name: str) -> None:
    """p99 (log scale) against the offered rate, one line per target."""
    figure = Figure(figsize=(7, 4.2), layout="constrained")
    axes = figure.subplots()
    for target in dict.fromkeys(step.target for step in steps):
        mine = [step for step in steps if step.target == target]
        axes.plot([s.offered for s in mine], [s.p99_ms for s in mine], marker="o", label=target)
    axes.axhline(5.0, color="grey", linestyle=":", label="5 ms (the 2,000 req/s target)")
    axes.axhline(50.0, color="grey", linestyle="--", label="50 ms budget")
    axes.set_yscale("log")
    axes.set_xlabel("offered rate, req/s (open loop, 4 swipes : 1 feed)")
    axes.set_ylabel("p99 latency, ms")
    axes.set_title(f"{name}: one service core at fixed rates")
    axes.legend()
    figure.savefig(path, dpi=110)
