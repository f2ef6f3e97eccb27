"""An events.quitting listener that rewrites `<--csv>_stats.csv` with the run's final numbers.

Locust's CSV writer runs once a second and stops before it sees the last second's requests,
so its `_stats.csv` can miss them (locust#2299); the report and the budget must agree.
"""

from locust.env import Environment
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

import csv
from pathlib import Path
from typing import Any


def write_final_stats(environment: Environment, **_kwargs: Any) -> None:
    """Locust's own CSV rows, written from the final stats; nothing without --csv."""
    options = environment.parsed_options
    prefix: str | None = getattr(options, "csv_prefix", None)
    if not prefix:
        return
    with Path(f"{prefix}_stats.csv").open("w", newline="") as out:
        StatsCSV(environment, PERCENTILES_TO_REPORT).requests_csv(csv.writer(out))
