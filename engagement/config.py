"""The school's settings, read from ``data/config.toml``: score weights, the suppression
threshold, the default window, outreach priorities, map rings and tiles, geocoding options.

A trust or school changes these without touching code. ``ENGAGEMENT_CONFIG`` may point at
another file (a trust keeping its own settings beside its store).

>>> load_config()["privacy"]["suppression_threshold"]
10
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

from engagement.typology import DATA_DIR

CONFIG_FILE = DATA_DIR / "config.toml"


@lru_cache(maxsize=4)
def _read(path: str) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def load_config(path: str | Path | None = None) -> dict:
    """The settings in force (cached per file)."""
    return _read(str(path or os.environ.get("ENGAGEMENT_CONFIG") or CONFIG_FILE))


def suppression_threshold() -> int:
    """Counts of families below this are never shown (DESIGN: "fewer than 10")."""
    return int(load_config()["privacy"]["suppression_threshold"])
