"""The app's pages in one registry: each page's key, file, menu title, icon and the roles that may
open it. ``app.py`` builds its menu from it, :mod:`engagement.access` decides from it who may open
what, and the tests take their list of pages from it, so a page cannot be added to the menu and
forgotten by the access rules (or the other way round).

Adding a page: write ``app_pages/<name>.py`` (it starts with ``ui.open_page("<key>")``), then add
one :class:`Page` below. A page without roles, with an unknown role, or whose file is missing stops
the app at start with a message naming it (:func:`check_registry`).

>>> [p.key for p in PAGES][:3]
['overview', 'school', 'layers']
>>> page("audit").roles
frozenset({'admin'})
>>> check_registry([Page("help", "app_pages/help.py", "Help", ":material/help:", frozenset())])
Traceback (most recent call last):
...
engagement.pages.RegistryError: page 'help' has no roles: nobody could open it. Give it roles in engagement/pages.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

ROLES = {
    "admin": "Administrator: every page, imports, settings and the audit log",
    "head": "Headteacher or senior leader: every page",
    "flo": "Family liaison officer: outreach, map and data entry",
    "governor": "Governor: aggregates only (overview, community layers, map without family detail)",
    "senco": "SENCO: transitions of children with SEND, outreach, data entry and the aggregate pages",
    # Given a list of schools (or all): school-level aggregates only, as governors see them.
    "trust lead": "Trust lead: the trust's schools side by side and each school's aggregate pages",
    "local authority": "Local authority officer: the authority's schools side by side and their aggregate pages",
}

EVERYONE = frozenset(ROLES)
STAFF = frozenset({"admin", "head", "flo", "senco"})
# Who compares schools: a trust's or an authority's leads, and a head or administrator given several.
LEADS = frozenset({"admin", "head", "trust lead", "local authority"})


class RegistryError(ValueError):
    """The page registry is inconsistent; the app refuses to start rather than hide a page."""


@dataclass(frozen=True)
class Page:
    """One page of the app. ``file`` is relative to the project folder; ``icon`` is a Streamlit
    ``:material/...:`` name (drawn from the app's own font, never fetched)."""

    key: str
    file: str
    title: str
    icon: str
    roles: frozenset[str]
    default: bool = False


PAGES: tuple[Page, ...] = (
    Page("overview", "app_pages/overview.py", "Overview", ":material/dashboard:", EVERYONE, default=True),
    Page("school", "app_pages/school.py", "School", ":material/school:", EVERYONE),
    Page("layers", "app_pages/layers.py", "Community layers", ":material/radar:", EVERYONE),
    Page("map", "app_pages/partner_map.py", "Partner map", ":material/map:", EVERYONE),
    Page("directory", "app_pages/directory.py", "Directory", ":material/contacts:", EVERYONE),
    Page("schools", "app_pages/schools.py", "Schools", ":material/compare_arrows:", LEADS),
    Page("outreach", "app_pages/outreach.py", "Outreach planner", ":material/support_agent:", STAFF),
    Page("week", "app_pages/week.py", "Events and referrals", ":material/event_available:", STAFF),
    Page("transitions", "app_pages/transitions.py", "Transitions", ":material/move_up:", STAFF),
    Page(
        "partnerships",
        "app_pages/partnerships.py",
        "Partnerships",
        ":material/handshake:",
        frozenset({"admin", "head", "senco", "governor"}),
    ),
    Page("data", "app_pages/data.py", "Data", ":material/database:", STAFF),
    Page("audit", "app_pages/audit.py", "Audit log", ":material/history:", frozenset({"admin"})),
)


def check_registry(pages: Iterable[Page] | None = None, project_dir: Path = PROJECT_DIR) -> tuple[Page, ...]:
    """The pages, checked: unique keys and files, known roles, at least one role each, files that
    exist, no file of ``app_pages/`` left out, exactly one default page. Raises :class:`RegistryError` naming the first problem."""
    pages = tuple(PAGES if pages is None else pages)
    seen_keys: set[str] = set()
    seen_files: set[str] = set()
    for entry in pages:
        if entry.key in seen_keys:
            raise RegistryError(f"page key {entry.key!r} is registered twice in engagement/pages.py.")
        if entry.file in seen_files:
            raise RegistryError(f"page file {entry.file} is registered twice in engagement/pages.py.")
        seen_keys.add(entry.key)
        seen_files.add(entry.file)
        if not entry.roles:
            raise RegistryError(
                f"page {entry.key!r} has no roles: nobody could open it. Give it roles in engagement/pages.py."
            )
        unknown = sorted(set(entry.roles) - set(ROLES))
        if unknown:
            raise RegistryError(
                f"page {entry.key!r} names unknown roles {', '.join(unknown)}; the roles are {', '.join(ROLES)}."
            )
        if not (project_dir / entry.file).is_file():
            raise RegistryError(f"page {entry.key!r}: its file {entry.file} does not exist.")
    defaults = [entry.key for entry in pages if entry.default]
    if len(defaults) != 1:
        raise RegistryError(f"exactly one page must be the default; found {len(defaults)}: {', '.join(defaults)}.")
    forgotten = unregistered_files(pages, project_dir)
    if forgotten:
        raise RegistryError(
            f"{', '.join(forgotten)} is not in the page registry: add it to PAGES in engagement/pages.py."
        )
    return pages


def page(key: str) -> Page:
    """The registered page ``key`` (KeyError for an unknown key)."""
    for entry in PAGES:
        if entry.key == key:
            return entry
    raise KeyError(key)


def unregistered_files(pages: Iterable[Page] | None = None, project_dir: Path = PROJECT_DIR) -> list[str]:
    """Page files under ``app_pages/`` that no registry entry names (a page someone forgot to add)."""
    registered = {entry.file for entry in (PAGES if pages is None else pages)}
    return sorted(
        path.relative_to(project_dir).as_posix()
        for path in (project_dir / "app_pages").glob("*.py")
        if path.relative_to(project_dir).as_posix() not in registered and not path.name.startswith("_")
    )
