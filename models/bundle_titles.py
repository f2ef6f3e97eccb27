"""The titles of a bundle's items, from the training config its manifest records: the titles
file of a real data set, or the generated catalogue's own (the demo and tiny bundles)."""

import dataclasses
import json
from pathlib import Path

from app.bundle import MANIFEST_FILE
from models.config import TrainConfig
from models.prepare import item_titles


def bundle_titles(bundle_dir: Path) -> dict[str, str]:
    recorded = json.loads((bundle_dir / MANIFEST_FILE).read_text())["model"]
    names = {field.name for field in dataclasses.fields(TrainConfig)}
    return item_titles(TrainConfig(**{k: v for k, v in recorded.items() if k in names}))
