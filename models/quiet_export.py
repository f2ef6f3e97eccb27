"""Silence torch's ONNX exporter about its own internals while one of our graphs exports.

The dynamo exporter warns (Python warnings) about its deprecated APIs and logs one line per
torchvision operator it cannot register when torchvision is not installed (we never use
it). A user exporting a bundle should see our progress and our errors only.
"""

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

EXPORTER_LOGGERS = ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")


@contextmanager
def quiet_exporter() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in EXPORTER_LOGGERS]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
