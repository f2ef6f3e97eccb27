"""The numbers of one run from locust's `_stats.csv`: p50 / p95 / p99 / max per endpoint,
request and failure counts, and the rate achieved, as rows and as a printable table.
"""

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class EndpointStats:
    name: str  # locust's name= group, or "Aggregated"
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    rps: float  # achieved over the run


def read_stats(path: Path) -> list[EndpointStats]:
    """One row per endpoint (the `name=` groups), then the Aggregated row."""
    with path.open(newline="") as f:
        return [
            EndpointStats(
                name=row["Name"],
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                p50_ms=_ms(row["50%"]),
                p95_ms=_ms(row["95%"]),
                p99_ms=_ms(row["99%"]),
                max_ms=float(row["Max Response Time"]),
                rps=float(row["Requests/s"]),
            )
            for row in csv.DictReader(f)
        ]


def _ms(value: str) -> float:
    return float("nan") if value == "N/A" else float(value)


def format_table(rows: list[EndpointStats]) -> str:
    header = f"{'endpoint':<16}{'requests':>9}{'fails':>7}{'req/s':>8}"
    header += f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
    lines = [header, "-" * len(header)]
    for r in rows:
        line = f"{r.name:<16}{r.requests:>9}{r.failures:>7}{r.rps:>8.1f}"
        line += f"{r.p50_ms:>8.0f}{r.p95_ms:>8.0f}{r.p99_ms:>8.0f}{r.max_ms:>8.1f}"
        lines.append(line)
    return "\n".join(lines)
