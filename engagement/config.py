"""Transitional: the settings as a plain dict, for the modules not yet reading
:mod:`engagement.settings` directly. Validated by the same typed object, so a misspelt key is an
error here too.

>>> load_config()["privacy"]["suppression_threshold"]
10
"""

from __future__ import annotations

from pathlib import Path

from engagement.settings import load_settings


def load_config(path: str | Path | None = None) -> dict:
    """The settings in force, as a dict with every default filled in."""
    return load_settings(path).model_dump()


def suppression_threshold() -> int:
    """Counts of families below this are never shown."""
    return load_settings().privacy.suppression_threshold
