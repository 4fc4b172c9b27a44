"""Where things are: postcodes, the local gazetteer, online geocoding and distances.

A partner or school is placed, in this order, by the coordinates given in its own data; by the
local gazetteer (store table ``gazetteer``: postcode to latitude and longitude, imported from the
ONS Postcode Directory or any ``postcode,latitude,longitude`` CSV a school can download); then,
when ``[geocoding] online`` is on, by geopy's Nominatim client (domain, scheme, user agent,
timeout and rate from ``data/config.toml``; one request a second through geopy's ``RateLimiter``
with errors not swallowed). Every online answer, a hit or a "no match", is cached in the store
table ``geocode_cache`` so nobody asks twice. A record that cannot be placed stays unplaced and is
listed with the reason; it never stops the others. Every coordinate written is audited.

>>> normalise_postcode(" b296ab "), postcode_sector("B29 6AB"), normalise_postcode("not one")
('B29 6AB', 'B29 6', None)
>>> round(float(distance_km(52.4318, -1.9282, 52.4450, -1.9440)), 2)
1.82
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from geopy.adapters import URLLibAdapter
from geopy.exc import (
    GeocoderParseError,
    GeocoderQueryError,
    GeocoderRateLimited,
    GeocoderServiceError,
    GeocoderTimedOut,
    GeocoderUnavailable,
)
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim
from sqlalchemy import and_, func, or_, select

from engagement import clock
from engagement import store as db
from engagement.settings import Geocoding, load_settings

# Outward code (area, district, optional sub-district) and inward code (sector digit, unit letters).
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
_SECTOR = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ([0-9])$")  # the space is needed: "B30" is a district
EARTH_RADIUS_KM = 6371.0088  # the IUGG mean radius: haversine on it is within 0.5% of the ellipsoid

POSTCODE_COLUMNS = ("pcds", "pcd", "pcd7", "pcd8", "postcode", "post code", "postcode_unit")
LATITUDE_COLUMNS = ("lat", "latitude")
LONGITUDE_COLUMNS = ("long", "lon", "lng", "longitude")


# ---------------------------------------------------------------- postcodes


def normalise_postcode(text) -> str | None:
    """A UK postcode in its usual form ("B29 6AB"), or None when ``text`` is not one."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    compact = re.sub(r"\s+", "", str(text)).upper()
    m = _POSTCODE.match(compact)
    return f"{m.group(1)} {m.group(2)}" if m else None


def postcode_sector(text) -> str | None:
    """The postcode sector ("B29 6AB" -> "B29 6"); a sector is returned as it is; None otherwise.

    >>> postcode_sector("b30 2"), postcode_sector("B30")
    ('B30 2', None)
    """
    full = normalise_postcode(text)
    if full:
        return full[:-2]
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    m = _SECTOR.match(" ".join(str(text).upper().split()))
    return f"{m.group(1)} {m.group(2)}" if m else None


# ---------------------------------------------------------------- distances


def distance_km(lat1, lon1, lat2, lon2):
    """Great-circle (haversine) distance in km, vectorised over numpy arrays or pandas Series.
    Checked against geopy's geodesic distance in tests (within 0.5%)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, dtype=float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


# ---------------------------------------------------------------- the gazetteer


class GazetteerError(ValueError):
    """The file is not a gazetteer this importer understands; nothing was written."""


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


def _pick(header: dict[str, str], names: Iterable[str]) -> str | None:
    for name in names:
        if name in header:
            return header[name]
    return None


def import_gazetteer(store: db.Store, csv_path: str | Path, actor: str, chunk_rows: int = 100_000) -> int:
    """Import postcode coordinates from ``csv_path`` into the gazetteer, replacing rows for the
    same postcodes, in one transaction; returns how many postcodes were written.

    Reads the ONS Postcode Directory's columns (``pcds`` or ``pcd``, ``lat``, ``long``; postcodes
    with no grid reference, latitude 99.999999, are skipped) and simple
    ``postcode,latitude,longitude`` files. One audit row records the import.
    """
    path = Path(csv_path)
    text = _read_text(path)
    first_line = next(csv.reader(io.StringIO(text)), [])
    header = {h.strip().lower(): h for h in first_line}
    pc_col, lat_col, lon_col = (
        _pick(header, POSTCODE_COLUMNS),
        _pick(header, LATITUDE_COLUMNS),
        _pick(header, LONGITUDE_COLUMNS),
    )
    if not (pc_col and lat_col and lon_col):
        raise GazetteerError(
            f"{path.name}: a gazetteer needs a postcode column ({', '.join(POSTCODE_COLUMNS[:2])} or postcode), "
            f"a latitude column (lat or latitude) and a longitude column (long or longitude); "
            f"found {', '.join(first_line) or 'no header'}."
        )
    written = 0
    reader = pd.read_csv(
        io.StringIO(text), usecols=[pc_col, lat_col, lon_col], dtype=str, chunksize=chunk_rows, keep_default_na=False
    )
    with store.write(actor) as conn:
        for chunk in reader:
            frame = pd.DataFrame(
                {
                    "postcode": chunk[pc_col].map(normalise_postcode),
                    "latitude": pd.to_numeric(chunk[lat_col].str.strip(), errors="coerce"),
                    "longitude": pd.to_numeric(chunk[lon_col].str.strip(), errors="coerce"),
                }
            )
            ok = (
                frame["postcode"].notna()
                & frame["latitude"].between(-90, 90)
                & frame["longitude"].between(-180, 180)
                # The ONS directory marks "no grid reference" with 99.999999 / 0.000000.
                & ~((frame["latitude"] > 99) | ((frame["latitude"] == 0) & (frame["longitude"] == 0)))
            )
            frame = frame[ok].drop_duplicates("postcode", keep="last")
            if frame.empty:
                continue
            codes = frame["postcode"].tolist()
            for start in range(0, len(codes), 500):
                conn.execute(db.gazetteer.delete().where(db.gazetteer.c.postcode.in_(codes[start : start + 500])))
            conn.execute(db.gazetteer.insert(), frame.to_dict("records"))
            written += len(frame)
        db.audit(conn, "import", "gazetteer", detail=f"{written} postcodes from {path.name}")
    return written


def gazetteer_lookup(store: db.Store, postcodes: Iterable[str]) -> dict[str, tuple[float, float]]:
    """Coordinates of those ``postcodes`` (normalised first) that the gazetteer knows."""
    codes = sorted({p for p in (normalise_postcode(c) for c in postcodes) if p})
    found: dict[str, tuple[float, float]] = {}
    with store.read() as conn:
        for start in range(0, len(codes), 500):
            rows = conn.execute(select(db.gazetteer).where(db.gazetteer.c.postcode.in_(codes[start : start + 500])))
            for pc, lat, lon in rows:
                found[pc] = (lat, lon)
    return found


# ---------------------------------------------------------------- online geocoding

# The [geocoding] settings; their defaults are written once, in engagement/settings.py.
GeocodingSettings = Geocoding


def geocoding_settings(overrides: dict | None = None) -> Geocoding:
    """The ``[geocoding]`` settings in force, with ``overrides`` checked like the file itself."""
    return Geocoding.model_validate({**load_settings().geocoding.model_dump(), **(overrides or {})})


class _RateLimiter(RateLimiter):
    """geopy's RateLimiter on the geocoder's own clock and sleep (the real ones unless a test
    passes its own), so that the spacing of requests is checked without waiting."""

    timer: tuple[Callable[[], float], Callable[[float], None]] = (time.monotonic, time.sleep)

    def _clock(self) -> float:
        return self.timer[0]()

    def _sleep(self, seconds: float) -> None:
        self.timer[1](seconds)


class OnlineGeocoder:
    """geopy's Nominatim behind geopy's ``RateLimiter`` (at most one request per
    ``min_delay_seconds``, errors raised, not swallowed), with the store's cache in front.

    Retries are ours rather than the RateLimiter's because its retries wait a fixed time, while a
    429 answer says in ``Retry-After`` how long to wait; a 503 or a time-out waits
    ``error_wait_seconds``. A malformed answer or a refused query is not retried.
    """

    def __init__(
        self,
        store: db.Store,
        settings: GeocodingSettings,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.store = store
        self.settings = settings
        self.sleep = sleep
        # URLLibAdapter, not geopy's default RequestsAdapter: the latter lets urllib3 retry a read
        # time-out twice inside one call, unseen by the RateLimiter, so the rate would not hold.
        self.nominatim = Nominatim(
            user_agent=settings.user_agent,
            domain=settings.domain,
            scheme=settings.scheme,
            timeout=settings.timeout_seconds,
            adapter_factory=URLLibAdapter,
        )
        self.limited = _RateLimiter(
            self.nominatim.geocode,
            min_delay_seconds=settings.min_delay_seconds,
            max_retries=0,
            swallow_exceptions=False,
        )
        self.limited.timer = (clock, sleep)
        self.requests = 0

    def cache_key(self, query: str) -> str:
        return f"nominatim:{self.settings.country_codes}:{' '.join(query.lower().split())}"[:400]

    def cached(self, query: str) -> dict | None:
        with self.store.read() as conn:
            row = conn.execute(select(db.geocode_cache).where(db.geocode_cache.c.query == self.cache_key(query)))
            found = row.mappings().first()
        return dict(found) if found else None

    def _remember(self, query: str, lat, lon, found: bool, message: str | None) -> None:
        key = self.cache_key(query)
        row = {
            "query": key,
            "latitude": lat,
            "longitude": lon,
            "found": found,
            "source": "nominatim",
            "message": message,
            "fetched_at": clock.now(),
        }
        with self.store.write("geocoder") as conn:
            conn.execute(db.geocode_cache.delete().where(db.geocode_cache.c.query == key))
            conn.execute(db.geocode_cache.insert().values(**row))

    def _ask(self, query: str):
        attempt = 0
        while True:
            try:
                self.requests += 1
                kwargs: dict[str, bool | str] = {"exactly_one": True}
                if self.settings.country_codes:
                    kwargs["country_codes"] = self.settings.country_codes
                return self.limited(query, **kwargs)
            except (GeocoderParseError, GeocoderQueryError):
                raise
            except GeocoderRateLimited as e:
                wait = e.retry_after if e.retry_after is not None else self.settings.error_wait_seconds
                if attempt >= self.settings.max_retries or wait > self.settings.max_retry_after_seconds:
                    raise
                self.sleep(max(wait, self.settings.min_delay_seconds))
            except (GeocoderTimedOut, GeocoderUnavailable, GeocoderServiceError):
                if attempt >= self.settings.max_retries:
                    raise
                self.sleep(self.settings.error_wait_seconds)
            attempt += 1

    def locate(self, query: str) -> tuple[float, float] | None:
        """Coordinates for ``query`` (cache first, then Nominatim), None when there is no match.
        Raises geopy's errors when the service fails; a failure is not cached."""
        hit = self.cached(query)
        if hit is not None:
            return (hit["latitude"], hit["longitude"]) if hit["found"] else None
        location = self._ask(query)
        if location is None:
            self._remember(query, None, None, False, "no match")
            return None
        self._remember(
            query,
            float(location.latitude),
            float(location.longitude),
            True,
            str(getattr(location, "address", ""))[:2000],
        )
        return float(location.latitude), float(location.longitude)


def describe_error(error: Exception) -> str:
    """A geocoding failure in the school's words."""
    if isinstance(error, GeocoderRateLimited):
        after = f"; it asked us to wait {error.retry_after:g} s" if error.retry_after else ""
        return f"the geocoding service is refusing requests for now (too many requests{after})"
    if isinstance(error, GeocoderTimedOut):
        return "the geocoding service did not answer in time or is unavailable"
    if isinstance(error, GeocoderParseError):
        return "the geocoding service sent an answer that could not be read"
    if isinstance(error, GeocoderUnavailable):
        return "the geocoding service could not be reached"
    if isinstance(error, GeocoderQueryError):
        return "the geocoding service refused the query"
    return f"the geocoding service failed ({type(error).__name__})"


# ---------------------------------------------------------------- placing records


@dataclass
class GeocodeReport:
    """What ``geocode_missing`` did: who was placed and how, who was not and why."""

    placed: list[dict] = field(default_factory=list)
    unplaced: list[dict] = field(default_factory=list)
    not_attempted: int = 0
    requests: int = 0

    @property
    def attempted(self) -> int:
        return len(self.placed) + len(self.unplaced)

    def format(self) -> str:
        lines = [
            f"Placed {len(self.placed)} of {self.attempted} records without coordinates"
            + (f" ({self.not_attempted} left for a later run)" if self.not_attempted else "")
            + "."
        ]
        by_source: dict[str, int] = {}
        for p in self.placed:
            by_source[p["source"]] = by_source.get(p["source"], 0) + 1
        for source, n in sorted(by_source.items()):
            lines.append(f"  from {source}: {n}")
        if self.unplaced:
            lines.append(f"Could not place {len(self.unplaced)}:")
            for u in self.unplaced:
                lines.append(f"  {u['kind']} {u['id']} ({u['name']}, {u['postcode'] or 'no postcode'}): {u['reason']}")
        return "\n".join(lines)


def _missing(store: db.Store) -> list[dict]:
    out = []
    with store.read() as conn:
        for kind, table, key in (("school", db.schools, "school_id"), ("partner", db.partners, "partner_id")):
            cols = [table.c[key], table.c.name, table.c.postcode]
            if kind == "partner":
                cols.append(table.c.address)
            rows = conn.execute(
                select(*cols).where(or_(table.c.latitude.is_(None), table.c.longitude.is_(None))).order_by(table.c[key])
            ).mappings()
            for r in rows:
                out.append(
                    {
                        "kind": kind,
                        "table": table,
                        "key": key,
                        "id": r[key],
                        "name": r["name"],
                        "postcode": r["postcode"],
                        "address": r.get("address"),
                    }
                )
    return out


def unplaced_counts(store: db.Store) -> dict[str, int]:
    """How many schools and partners have no coordinates yet."""
    out = {}
    with store.read() as conn:
        for name, table in (("schools", db.schools), ("partners", db.partners)):
            out[name] = conn.execute(
                select(func.count())
                .select_from(table)
                .where(or_(table.c.latitude.is_(None), table.c.longitude.is_(None)))
            ).scalar_one()
    return out


def _write_coordinates(store: db.Store, actor: str, placements: list[tuple[dict, float, float, str]]) -> None:
    if not placements:
        return
    with store.write(actor) as conn:
        for rec, lat, lon, how in placements:
            table, key = rec["table"], rec["key"]
            # Only fill a record that is still unplaced: someone may have typed coordinates meanwhile.
            done = conn.execute(
                table.update()
                .where(and_(table.c[key] == rec["id"], or_(table.c.latitude.is_(None), table.c.longitude.is_(None))))
                .values(latitude=lat, longitude=lon)
            )
            if done.rowcount:
                db.audit(
                    conn,
                    "geocode",
                    table.name,
                    rec["id"],
                    before={"latitude": None, "longitude": None},
                    after={"latitude": lat, "longitude": lon},
                    detail=how,
                )


def online_query(record: dict) -> str | None:
    """What to ask the online geocoder for a record: its postcode when it has a valid one, else its
    address (with whatever postcode text it has)."""
    postcode = normalise_postcode(record.get("postcode"))
    if postcode:
        return postcode
    address = " ".join(str(record.get("address") or "").split())
    extra = " ".join(str(record.get("postcode") or "").split())
    text = ", ".join(t for t in (address, extra) if t)
    return text or None


def _offline_reason(given, postcode) -> str:
    if postcode:
        return f"postcode {postcode} is not in the gazetteer, and online geocoding is off"
    if given:
        return f"{given!r} is not a valid postcode, and online geocoding is off"
    return "no postcode, and online geocoding is off"


def geocode_missing(
    store: db.Store,
    actor: str,
    limit: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    online: bool | None = None,
    settings: GeocodingSettings | dict | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> GeocodeReport:
    """Place every school and partner that has no coordinates: gazetteer first, then (when
    ``online``, default from config) Nominatim through the cache. ``limit`` caps how many records
    are tried; ``progress(done, total, message)`` is called after each. Returns a report listing
    what could not be placed, with reasons. Coordinates are written and audited as they are found,
    so an interrupted run keeps what it did. ``sleep`` and ``clock`` (seconds) are how the
    geocoder waits and tells time between requests: the real ones, or a test's.
    """
    if not isinstance(settings, GeocodingSettings):
        settings = geocoding_settings(settings)
    use_online = settings.online if online is None else online
    report = GeocodeReport()
    todo = _missing(store)
    if limit is not None:
        report.not_attempted = max(0, len(todo) - limit)
        todo = todo[:limit]
    total = len(todo)
    known = gazetteer_lookup(store, (r["postcode"] for r in todo if r["postcode"]))
    geocoder: OnlineGeocoder | None = None
    errors_in_a_row, gave_up = 0, None
    batch: list[tuple[dict, float, float, str]] = []

    def place(rec, lat, lon, source, how):
        batch.append((rec, lat, lon, how))
        report.placed.append(
            {
                "kind": rec["kind"],
                "id": rec["id"],
                "name": rec["name"],
                "postcode": rec["postcode"],
                "source": source,
                "latitude": lat,
                "longitude": lon,
            }
        )

    def unplace(rec, reason):
        report.unplaced.append(
            {"kind": rec["kind"], "id": rec["id"], "name": rec["name"], "postcode": rec["postcode"], "reason": reason}
        )

    for done, rec in enumerate(todo, start=1):
        postcode = normalise_postcode(rec["postcode"])
        if postcode and postcode in known:
            lat, lon = known[postcode]
            place(rec, lat, lon, "gazetteer", f"from the gazetteer ({postcode})")
        else:
            query = online_query(rec)
            if query is None:
                unplace(rec, "no postcode or address to look up")
            elif not use_online:
                unplace(rec, _offline_reason(rec["postcode"], postcode))
            elif gave_up:
                unplace(rec, gave_up)
            else:
                geocoder = geocoder or OnlineGeocoder(store, settings, sleep=sleep, clock=clock)
                try:
                    found = geocoder.locate(query)
                    errors_in_a_row = 0
                except Exception as error:
                    errors_in_a_row += 1
                    reason = (
                        describe_error(error)
                        if isinstance(error, GeocoderServiceError)
                        else f"the geocoding failed ({type(error).__name__}: {error})"
                    )
                    unplace(rec, reason)
                    if errors_in_a_row >= settings.give_up_after_errors:
                        gave_up = (
                            f"not tried: online geocoding stopped after {errors_in_a_row} failures in a row ({reason})"
                        )
                else:
                    if found is None:
                        unplace(rec, f"no match for {query!r}")
                    else:
                        place(rec, found[0], found[1], "online", f"online geocoder ({query})")
                        # Written at once: an online answer costs a request, so it must not be lost.
                        _write_coordinates(store, actor, batch)
                        batch.clear()
        if progress:
            progress(done, total, f"{rec['kind']} {rec['name']}")
    _write_coordinates(store, actor, batch)
    report.requests = geocoder.requests if geocoder else 0
    return report
