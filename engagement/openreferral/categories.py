"""The mapping of a feed's taxonomy terms onto the typology's categories (``data/oruk_categories.toml``).

>>> category_map = CategoryMap({"food banks": "food bank"}, "test")
>>> category_map.category_of([{"name": "Food Banks", "taxonomy": "esd"}])
'food bank'
>>> category_map.category_of([{"name": "Bingo"}]) is None
True
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from engagement.openreferral.common import TYPOLOGY_TAXONOMY, _key
from engagement.typology import DATA_DIR, load_typology

CATEGORY_MAP_FILE = DATA_DIR / "oruk_categories.toml"


class CategoryMapError(ValueError):
    """The mapping file cannot be used; the message names the line."""


@dataclass(frozen=True)
class CategoryMap:
    """Taxonomy terms (name, ``term`` or id, any case) to categories of the typology."""

    terms: dict[str, str]
    source: str

    def category_of(self, terms: Iterable[dict]) -> str | None:
        """The category of the first term that maps (a term of the app's own typology taxonomy
        is the category of its name), or None."""
        typology = load_typology()
        terms = list(terms)
        for term in terms:
            if _key(term.get("taxonomy")) == TYPOLOGY_TAXONOMY:
                found = typology.category(str(term.get("name") or term.get("term") or ""))
                if found is not None:
                    return found.name
        for term in terms:
            for text in (term.get("name"), term.get("term"), term.get("id")):
                category = self.terms.get(_key(text)) if text else None
                if category:
                    return category
        return None


def load_category_map(path: str | Path | None = None) -> CategoryMap:
    """Read the mapping of taxonomy terms (``data/oruk_categories.toml`` by default), checking
    every category against the typology: a :class:`CategoryMapError` names the first wrong line."""
    path = Path(path) if path is not None else CATEGORY_MAP_FILE
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as error:
        raise CategoryMapError(f"{path}: cannot be read ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise CategoryMapError(f"{path}: is not valid TOML ({error})") from error
    table = raw.get("terms")
    if not isinstance(table, dict):
        raise CategoryMapError(f"{path}: needs a [terms] table of term = category lines")
    typology = load_typology()
    terms: dict[str, str] = {}
    for term, category in table.items():
        found = typology.category(category) if isinstance(category, str) else None
        if found is None:
            raise CategoryMapError(
                f"{path}: term {term!r} maps to {category!r}, which is not a category of the typology "
                f"(data/typology.toml)"
            )
        terms[_key(term)] = found.name
    return CategoryMap(terms, str(path))
