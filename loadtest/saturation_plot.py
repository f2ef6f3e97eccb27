"""A PNG of the saturation run: p50 and p99 against the rate each connection count reached, for
nextswipe and the bare app, with the budget; runs whose generator was saturated are hollow.
"""

from pathlib import Path

from matplotlib.figure import Figure

from loadtest.saturation_step import Step

COLOURS = {"nextswipe": "tab:blue", "baseline": "tab:gray"}


def plot_saturation(steps: list[Step], png: Path, budget_ms: float, bundle: str) -> None:
    figure = Figure(figsize=(9, 5.5), layout="constrained")
    axes = figure.subplots()
    for target in dict.fromkeys(step.target for step in steps):
        mine = [step for step in steps if step.target == target]
        colour = COLOURS.get(target, "tab:green")
        rates = [step.rate for step in mine]
        for attribute, style in (("p50_ms", ":"), ("p99_ms", "-")):
            values = [getattr(step, attribute) for step in mine]
            label = f"{target} {attribute.removesuffix('_ms')}"
            axes.plot(rates, values, style, color=colour, label=label)
            axes.scatter(
                rates,
                values,
                color=[colour if step.counts else "none" for step in mine],
                edgecolors=colour,
                s=18,
            )
    axes.axhline(budget_ms, color="tab:red", linewidth=1, label=f"budget {budget_ms:g} ms")
    axes.set_yscale("log")
    axes.set_xlabel("requests/s on one service core (4 swipes : 1 feed)")
    axes.set_ylabel("latency, ms")
    axes.legend(fontsize="small")
    figure.suptitle(f"{bundle}: latency against rate (wrk, 1 to 128 connections)")
    figure.savefig(png, dpi=100)
