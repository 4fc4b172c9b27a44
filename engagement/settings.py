"""The school's settings: one typed object, read from ``data/config.toml`` (or the file named by
``ENGAGEMENT_CONFIG``), with every default written once, here. Score weights, the suppression
threshold, the default window, the default school terms for England, outreach priorities, map
rings and tiles, geocoding and sign-in options all come from it; no other module repeats a default.

A misspelt or unknown key, or a value of the wrong kind (a weight that is not a number), is an
error naming the key and the file: the app and the command line refuse to start rather than run
on a silent zero.

>>> settings = load_settings()
>>> settings.privacy.suppression_threshold, settings.privacy.fewer_than
(10, 'fewer than 10')
>>> settings.scoring.families.reach
0.4
>>> parse_settings({"scoring": {"families": {"reech": 0.5}}}, "my.toml")
Traceback (most recent call last):
...
engagement.settings.SettingsError: my.toml: unknown setting scoring.families.reech (did you mean reach?)
>>> parse_settings({"privacy": {"suppression_threshold": "ten"}}, "my.toml")
Traceback (most recent call last):
...
engagement.settings.SettingsError: my.toml: privacy.suppression_threshold must be a whole number, not 'ten'
"""

from __future__ import annotations

import difflib
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engagement.typology import DATA_DIR

CONFIG_FILE = DATA_DIR / "config.toml"

Weight = float  # a non-negative number; weights need not add to 1 (they are normalised)


class SettingsError(ValueError):
    """The settings file cannot be used: its message names the file, the key and what is wrong."""


class _Section(BaseModel):
    # Strict: "0.4" in quotes is text, not a weight; extra keys are misspellings, not options.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Privacy(_Section):
    suppression_threshold: int = Field(10, ge=1)
    """Counts of families under this are never shown as a number."""
    notes_retention_days: int = Field(730, ge=1)
    """Interaction notes older than this are erased by ``python -m engagement retention``."""

    @property
    def fewer_than(self) -> str:
        """The words shown in place of a suppressed count, e.g. "fewer than 10"."""
        return f"fewer than {self.suppression_threshold}"


class WindowSettings(_Section):
    default: Literal["term"] | int = "term"
    """The default window of every metric: "term" (the current school term) or a number of days."""


class FamilyWeights(_Section):
    reach: Weight = Field(0.4, ge=0)
    informed_reach: Weight = Field(0.1, ge=0)
    regularity: Weight = Field(0.2, ge=0)
    breadth: Weight = Field(0.15, ge=0)
    recency: Weight = Field(0.15, ge=0)


class PartnerWeights(_Section):
    reach: Weight = Field(0.5, ge=0)
    intensity: Weight = Field(0.2, ge=0)
    category_coverage: Weight = Field(0.3, ge=0)


class Scaling(_Section):
    breadth_full: float = Field(3.0, gt=0)
    """Breadth (mean distinct Epstein types) reaches full marks at this many types."""
    recency_zero_days: float = Field(60, gt=0)
    """Recency scores 1 at 0 school days and 0 at this many school days or more (60: twelve school weeks)."""
    intensity_full: float = Field(4.0, gt=0)
    """Interactions per engaged partner reach full marks at this many."""


class OverallWeights(_Section):
    families: Weight = Field(0.4, ge=0)
    agencies: Weight = Field(0.2, ge=0)
    businesses: Weight = Field(0.2, ge=0)
    community: Weight = Field(0.2, ge=0)


class Scoring(_Section):
    families: FamilyWeights = FamilyWeights()
    partners: PartnerWeights = PartnerWeights()
    scaling: Scaling = Scaling()
    overall: OverallWeights = OverallWeights()


class Priority(_Section):
    """Points a family earns on the outreach worklist for each reason."""

    looked_after: float = 5
    send: float = 3
    pupil_premium: float = 3
    young_carer: float = 3
    eal: float = 1
    never_contacted: float = 4
    per_30_days_since_contact: float = 1
    transition_coming: float = 2
    one_way_only: float = 1
    referral_no_reply: float = 2
    """A referral sent to a partner long ago (``referral_no_reply_days``) with no reply yet."""
    send_move_without_meeting: float = 4
    """A child with SEND moves within ``transitions.meeting_warning_days`` with no transition meeting yet."""
    low_belonging: float = 2
    """The family answered a (non-anonymous) belonging survey on the low side."""


class Outreach(_Section):
    days_without_contact: int = Field(30, ge=1)
    """A family is on the worklist when it has had no two-way contact for this many school days
    (of the school's calendar: holidays do not count); 30 is six school weeks."""
    partner_radius_km: float = Field(3.0, gt=0)
    """How far from home to suggest partners."""
    new_starter_days: int = Field(60, ge=0)
    """A family whose first recorded contact is this recent counts as a new starter."""
    general_services: list[str] = Field(
        default_factory=lambda: ["parenting support", "holiday club", "after-school", "food"]
    )
    """Suggested to a family with no recorded needs: services most families can use."""
    referral_no_reply_days: int = Field(30, ge=1)
    """A referral still "sent" this many days after it was made raises its family on the worklist."""
    priority: Priority = Priority()


class Transitions(_Section):
    meeting_warning_days: int = Field(60, ge=1)
    """Outreach raises a family whose SEND child moves within this many days with no transition meeting."""
    meeting_lookback_days: int = Field(365, ge=1)
    """A "transition meeting" contact logged with the family this many days before the move counts as held."""


class MapSettings(_Section):
    rings_km: list[float] = Field(default_factory=lambda: [0.5, 1, 2, 5])
    tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    """Map tiles; empty for none (the map still draws every layer)."""
    tiles_attribution: str = "&copy; OpenStreetMap contributors"
    assets_url: str = "/app/static/vendor"
    """Where the browser loads Leaflet from: the app's own static folder, never a CDN."""
    cluster_above: int = Field(150, ge=0)
    height: int = Field(640, ge=200)


class Geocoding(_Section):
    online: bool = True
    """Online geocoding is optional; with false only given coordinates and the gazetteer are used."""
    scheme: Literal["http", "https"] = "https"
    domain: str = "nominatim.openstreetmap.org"
    user_agent: str = "community-engagement-map"
    min_delay_seconds: float = Field(1.0, ge=0)
    timeout_seconds: float = Field(10.0, gt=0)
    country_codes: str = "gb"
    max_retries: int = Field(2, ge=0)
    error_wait_seconds: float = Field(5.0, ge=0)
    max_retry_after_seconds: float = Field(120.0, ge=0)
    give_up_after_errors: int = Field(3, ge=1)


class Imports(_Section):
    """How big a file an import takes. A file over a limit is refused at once with one line saying
    which, before it is opened: an .xlsx is a ZIP archive that may unpack to far more than its size."""

    max_file_mb: float = Field(50, gt=0)
    """The largest file, as uploaded (also Streamlit's server.maxUploadSize in .streamlit/config.toml)."""
    max_unpacked_mb: float = Field(400, gt=0)
    """The largest an .xlsx may unpack to."""
    max_unpack_ratio: float = Field(100, gt=1)
    """An .xlsx that unpacks to more than this many times its size is refused (a "ZIP bomb")."""
    max_rows: int = Field(2_000_000, ge=1)
    max_cell_chars: int = Field(10_000, ge=100)
    """The longest text in one cell (a note of several pages is about 10,000 characters)."""


MonthDay = Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
"""A day of the year as month-day, e.g. "09-03" for 3 September."""


class TermRule(_Section):
    """One term of the default school year: every year alike, so the defaults never run out.

    A term starts on the first weekday on or after ``start`` and ends on the last weekday on or
    before ``end``. "easter" follows Easter, as English term dates do: the spring term ends on the
    Friday before the fortnight around Easter Sunday and the summer term starts on the Monday
    after it. The half-term is the Monday-to-Friday week that holds ``half_term``; each of
    ``monday_holidays`` is the Monday of the week holding that date (a bank holiday Monday: "05-07"
    is the early May bank holiday, the first Monday of May)."""

    name: str = Field(min_length=1)
    start: MonthDay | Literal["easter"]
    end: MonthDay | Literal["easter"]
    half_term: MonthDay | None = None
    monday_holidays: list[MonthDay] = Field(default_factory=list)


def _england_terms() -> list[TermRule]:
    return [
        TermRule(name="autumn", start="09-03", end="12-19", half_term="10-31"),
        TermRule(name="spring", start="01-04", end="easter", half_term="02-21"),
        TermRule(name="summer", start="easter", end="07-22", half_term="05-31", monday_holidays=["05-07"]),
    ]


class CalendarSettings(_Section):
    """The school year a school has until it imports its own terms (terms.csv or the Data page)."""

    terms: list[TermRule] = Field(default_factory=_england_terms, min_length=1)
    """Default terms for England, in the order of the school year (which starts with the first)."""
    school_month_days: int = Field(20, ge=1)
    """Regularity counts contact in "school months" of this many school days (four school weeks),
    so that windows of the same number of school days hold the same number of months."""


class Communication(_Section):
    """How the communication panel (seed 003) measures early and reliable contact."""

    early_school_days: int = Field(15, ge=1)
    """A family new this school year counts as reached early with two-way contact within this many
    school days of joining."""
    answer_school_days: int = Field(2, ge=1)
    """A message a family sent counts as answered with contact from the school within this many school days."""


class Access(_Section):
    idle_minutes: float = Field(30, gt=0)
    """Sign-out after this many minutes without using the app."""


class DirectorySettings(_Section):
    stale_after_months: int = Field(12, ge=1)
    """A partner not checked for longer than this is stale: on the "Due for a check" list and drawn apart."""
    duplicate_within_m: float = Field(300, ge=0)
    """A new partner with a very similar name this close to another is shown as a likely duplicate."""


class OpenReferral(_Section):
    """Bringing in a local authority's Open Referral UK directory: how far, and what the one guarded
    reader of outside addresses (engagement.openreferral.fetch) allows. Each limit, when hit, stops
    the import with one line naming it; nothing is written."""

    max_km: float = Field(15, ge=0)
    """Services farther than this from the school are left out (and counted in the report); 0 = no limit."""
    allow_hosts: list[str] = Field(default_factory=list)
    """Hosts (names or IP addresses, as in the feed's address) the reader may reach although they are
    on this server or a private network: a local authority's test feed on its own network."""
    request_seconds: float = Field(60, gt=0)
    """The whole of one request (redirects and the answer's last byte included), however slowly it drips."""
    import_seconds: float = Field(900, gt=0)
    """The whole of one import's reading, every page and retry included."""
    read_timeout_seconds: float = Field(20, gt=0)
    """Silence after which a request is given up and tried again."""
    max_answer_mb: float = Field(20, gt=0)
    """The largest answer to one request."""
    max_import_mb: float = Field(200, gt=0)
    """The most one import reads, all pages and files together."""
    max_pages: int = Field(500, ge=1)
    """The most pages one feed is read to (a feed that never says it has ended stops here)."""
    max_depth: int = Field(40, ge=4)
    """The deepest nesting of a document (a service record is about 8 deep)."""


class Settings(_Section):
    privacy: Privacy = Privacy()
    window: WindowSettings = WindowSettings()
    scoring: Scoring = Scoring()
    outreach: Outreach = Outreach()
    transitions: Transitions = Transitions()
    map: MapSettings = MapSettings()
    geocoding: Geocoding = Geocoding()
    access: Access = Access()
    imports: Imports = Imports()
    calendar: CalendarSettings = CalendarSettings()
    communication: Communication = Communication()
    directory: DirectorySettings = DirectorySettings()
    open_referral: OpenReferral = OpenReferral()


_KIND_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "text in quotes",
    "list": "a list in square brackets",
    "dict": "a table of settings",
    "model": "a table of settings",
    "literal": "one of the allowed values",
}


def _known_keys(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    for part in path:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _field_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # A value that may be of several kinds (window.default: "term" or days) adds the kind tried to
    # the location, e.g. ('window', 'default', "literal['term']"): not part of the key.
    # A month-day is a constrained text: "constrained-str" names the kind tried, not a key either.
    return tuple(
        part
        for part in loc
        if not (isinstance(part, str) and ("[" in part or part in _KIND_WORDS or part.startswith("constrained-")))
    )


def _message(error: dict[str, Any]) -> str:
    loc = _field_path(tuple(error["loc"]))
    key = ".".join(str(part) for part in loc)
    if error["type"] == "extra_forbidden":
        known = _known_keys(Settings, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else (f" (known: {', '.join(known)})" if known else "")
        return f"unknown setting {key}{hint}"
    kind = error["type"].split("_")[0]
    if kind in _KIND_WORDS and error["type"].endswith(("_type", "_parsing")):
        return f"{key} must be {_KIND_WORDS[kind]}, not {error['input']!r}"
    if error["type"] == "string_pattern_mismatch":  # the only patterned text is a month-day
        return f'{key} must be a month-day such as "09-03", not {error["input"]!r}'
    if error["type"] == "literal_error":
        return f"{key}: {error['msg'].lower()}, not {error['input']!r}"
    return f"{key}: {error['msg']}"


def parse_settings(raw: dict[str, Any], source: str = "settings") -> Settings:
    """Settings from the parsed TOML ``raw``; :class:`SettingsError` names every key that is wrong."""
    try:
        return Settings.model_validate(raw)
    except ValidationError as error:
        problems: dict[tuple[Any, ...], str] = {}
        for e in error.errors():
            key = _field_path(tuple(e["loc"]))
            if key in problems:  # every kind of a many-kinded value refused it: say so once
                problems[key] = f"{'.'.join(map(str, key))} cannot be {e['input']!r}"
            else:
                problems[key] = _message(dict(e))
        raise SettingsError(f"{source}: " + "; ".join(problems.values())) from None


def settings_file() -> Path:
    """The settings file in force: ``ENGAGEMENT_CONFIG`` when set, else ``data/config.toml``."""
    return Path(os.environ.get("ENGAGEMENT_CONFIG") or CONFIG_FILE)


@lru_cache(maxsize=4)
def _load(path: str) -> Settings:
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise SettingsError(f"{path}: the settings file does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    return parse_settings(raw, path)


def load_settings(path: str | Path | None = None) -> Settings:
    """The settings in force (read once per file; a broken file raises :class:`SettingsError`)."""
    return _load(str(path or settings_file()))


def fewer_than() -> str:
    """The words every page, report and command shows for a suppressed count of families: they
    follow the threshold in force ("fewer than 10" by default), never a number written in code."""
    return load_settings().privacy.fewer_than
