"""The school's community typology and activity catalogue, read from ``data/typology.toml``.

This module is the one reader of that file: every other part of the product asks it what a
category's layer, segment, colour and icon are, and what an activity's Epstein type, default
channel and two-way default are. Names are matched case-insensitively, aliases included.

>>> t = load_typology()
>>> t.category("Food Bank").layer, t.category("food bank").segment
(3, 'community')
>>> t.activity("Phone Call").two_way
True
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
TYPOLOGY_FILE = DATA_DIR / "typology.toml"

SEGMENTS = ("families", "agencies", "businesses", "community")
PARTNER_SEGMENTS = ("agencies", "businesses", "community")
CHANNELS = ("in person", "home visit", "phone", "digital", "letter")
PARTNER_LAYERS = (2, 3, 4)
# Where a partner stands in the school's directory. Listed partners (active or prospective) are the
# ones the scores expect contact with; a lapsed partner stays on the map and counts nowhere.
PARTNER_STATUSES = ("active", "prospective", "lapsed", "local offer")
# In the local authority's directory, not (yet) a partner of the school: shown, suggested, never counted.
LOCAL_OFFER = "local offer"
LISTED_STATUSES = ("active", "prospective")


@dataclass(frozen=True)
class Category:
    name: str
    layer: int
    segment: str
    colour: str
    icon: str
    aliases: tuple[str, ...] = ()
    gap: str = ""


@dataclass(frozen=True)
class Activity:
    name: str
    epstein: str
    channel: str
    two_way: bool
    with_: tuple[str, ...] = ("families", "partners")
    aliases: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Typology:
    layers: dict[int, dict]
    segments: dict[str, dict]
    epstein_types: dict[str, str]
    categories: tuple[Category, ...]
    activities: tuple[Activity, ...]
    _category_index: dict[str, Category] = field(default_factory=dict, repr=False)
    _activity_index: dict[str, Activity] = field(default_factory=dict, repr=False)

    def category(self, name: str) -> Category | None:
        """The category called ``name`` (any case, aliases accepted), or None."""
        return self._category_index.get(_key(name))

    def activity(self, name: str) -> Activity | None:
        """The activity called ``name`` (any case, aliases accepted), or None."""
        return self._activity_index.get(_key(name))

    def known_category(self, name: str) -> Category:
        """The category called ``name``, which the caller knows exists (a stored partner's, checked
        on import): a KeyError, not a None that fails further on, if it does not."""
        found = self.category(name)
        if found is None:
            raise KeyError(f"no category {name!r} in the typology")
        return found

    def category_names(self) -> list[str]:
        return [c.name for c in self.categories]

    def activity_names(self) -> list[str]:
        return [a.name for a in self.activities]

    def categories_of_layer(self, layer: int) -> list[Category]:
        return [c for c in self.categories if c.layer == layer]

    def layer_colour(self, layer: int) -> str:
        return self.layers[layer]["colour"]

    def layer_name(self, layer: int) -> str:
        return self.layers[layer]["name"]


def _key(name: str) -> str:
    return " ".join(str(name).strip().lower().split())


def _index(items, what: str) -> dict:
    index: dict = {}
    for item in items:
        for name in (item.name, *item.aliases):
            key = _key(name)
            if key in index and index[key] is not item:
                raise ValueError(f"{what} name {name!r} is used twice in {TYPOLOGY_FILE.name}")
            index[key] = item
    return index


def parse_typology(raw: dict) -> Typology:
    """Build a :class:`Typology` from the parsed TOML, checking it is coherent."""
    layers = {int(k): v for k, v in raw["layers"].items()}
    segments = raw["segments"]
    epstein = raw["epstein_types"]
    categories = []
    for c in raw["categories"]:
        layer = int(c["layer"])
        if layer not in PARTNER_LAYERS:
            raise ValueError(f"category {c['name']!r}: layer must be 2, 3 or 4")
        if c["segment"] not in PARTNER_SEGMENTS:
            raise ValueError(f"category {c['name']!r}: unknown segment {c['segment']!r}")
        categories.append(
            Category(
                name=c["name"],
                layer=layer,
                segment=c["segment"],
                colour=c.get("colour", layers[layer]["colour"]),
                icon=c.get("icon", "circle"),
                aliases=tuple(c.get("aliases", ())),
                gap=c.get("gap", f"no engaged {c['name']}"),
            )
        )
    activities = []
    for a in raw["activities"]:
        if a["epstein"] not in epstein:
            raise ValueError(f"activity {a['name']!r}: unknown Epstein type {a['epstein']!r}")
        if a["channel"] not in CHANNELS:
            raise ValueError(f"activity {a['name']!r}: unknown channel {a['channel']!r}")
        activities.append(
            Activity(
                name=a["name"],
                epstein=a["epstein"],
                channel=a["channel"],
                two_way=bool(a["two_way"]),
                with_=tuple(a.get("with", ("families", "partners"))),
                aliases=tuple(a.get("aliases", ())),
                note=a.get("note", ""),
            )
        )
    return Typology(
        layers=layers,
        segments=segments,
        epstein_types=epstein,
        categories=tuple(categories),
        activities=tuple(activities),
        _category_index=_index(categories, "category"),
        _activity_index=_index(activities, "activity"),
    )


@lru_cache(maxsize=4)
def load_typology(path: str | Path = TYPOLOGY_FILE) -> Typology:
    """Read and check the typology file (cached: it changes only when a school edits it)."""
    with open(path, "rb") as f:
        return parse_typology(tomllib.load(f))
