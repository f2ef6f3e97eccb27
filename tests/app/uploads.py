"""Catalogue test helpers: log entries of uploads and takedowns, and catalogues built from them."""

from collections.abc import Sequence

import numpy as np

from app.catalogue.builder import build_catalogue
from app.catalogue.entry import Takedown, Upload, encode_entry
from app.catalogue.ledger import Ledger
from app.catalogue.snapshot import Catalogue
from app.model import ServingModel


def upload(model: ServingModel, item_id: str, title: str, logged_ms: int = 0) -> bytes:
    """The entry POST /items writes for one item, encoded by `model`'s encoder."""
    content = model.encoder.encode([title])[0]
    return encode_entry(Upload(item_id, title, content, model.encoder.name, logged_ms))


def takedown(item_id: str, logged_ms: int = 0) -> bytes:
    return encode_entry(Takedown(item_id, logged_ms))


def catalogue_of(model: ServingModel, entries: Sequence[bytes]) -> tuple[Ledger, Catalogue]:
    """The ledger after `entries` and `model`'s catalogue of it, built in one go."""
    ledger = Ledger()
    ledger.apply(entries)
    return ledger, build_catalogue(ledger, model, None, ())


def upload_titles(n: int, prefix: str = "new") -> dict[str, str]:
    """n distinct item ids with distinct titles."""
    words = ["cat", "drill", "recipe", "goal", "guitar", "sunset", "prank", "makeup", "paint"]
    rng = np.random.default_rng(n)
    return {
        f"{prefix}-{i}": " ".join(rng.choice(words, size=4).tolist()) + f" #{prefix}{i}"
        for i in range(n)
    }
