"""The command line every models command shares: where the data is, and config overrides.

Data comes as one `--data` file that the config's `split` rule cuts, or as explicit
`--train`, `--valid`, `--test` files (a published benchmark's split) taken as they are.
Overrides are `key=value` words; anything that is neither a known flag nor key=value is an
error with the command's usage, not a traceback.
"""

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import faiss
import torch

from models import config as config_module
from models.config import TrainConfig


@dataclass(frozen=True, slots=True)
class DataSource:
    """One file to split, or the split files themselves (each may be plain or gzip)."""

    data: Path | None = None
    train: Path | None = None
    valid: Path | None = None
    test: Path | None = None

    @property
    def split_files(self) -> bool:
        return self.train is not None

    def describe(self) -> str:
        if self.data is not None:
            return self.data.name
        return " | ".join(p.name for p in (self.train, self.valid, self.test) if p is not None)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data (one file and the config's split, or split files)")
    group.add_argument("--data", type=Path, default=None, help="one log, cut by `split`")
    group.add_argument("--train", type=Path, default=None, help="the training sessions")
    group.add_argument("--valid", type=Path, default=None, help="validation (tuning)")
    group.add_argument("--test", type=Path, default=None, help="test (the reported table)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")


def data_source(args: argparse.Namespace, fail: Callable[[str], NoReturn]) -> DataSource:
    """The data arguments, checked: exactly one of the two ways, and files that exist."""
    files = (args.train, args.valid, args.test)
    if args.data is not None and any(f is not None for f in files):
        fail("give either --data or --train/--valid/--test, not both")
    if args.train is None and any(f is not None for f in files):
        fail("--valid and --test need --train")
    for path in (args.data, *files):
        if path is not None and not path.is_file():
            fail(f"{path}: no such file")
    return DataSource(args.data, args.train, args.valid, args.test)


def recorded_source(dataset: dict[str, object]) -> DataSource:
    """The files a checkpoint was prepared from (its dataset's "source"), for commands that
    rebuild its data when the command line names none."""
    recorded = dataset.get("source")
    paths = recorded if isinstance(recorded, dict) else {}
    return DataSource(**{k: Path(str(v)) for k, v in paths.items()})


def given_or_recorded(given: DataSource, dataset: dict[str, object]) -> DataSource:
    return given if given.data or given.train else recorded_source(dataset)


def parse(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> tuple[argparse.Namespace, TrainConfig]:
    """Parse the arguments and resolve the config (file, then overrides), its threads in use;
    errors end as a usage message and exit status 2."""
    args = parser.parse_intermixed_args(argv)
    try:
        config = config_module.load(args.config, args.overrides)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    use_threads(config.threads)
    return args, config


def use_threads(threads: int) -> None:
    """The config's `threads` for torch and FAISS alike (0: their own default, every core)."""
    if threads > 0:
        torch.set_num_threads(threads)
        faiss.omp_set_num_threads(threads)
