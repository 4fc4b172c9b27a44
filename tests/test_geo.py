"""Geocoding: postcodes, distances, the gazetteer importer, and geopy's real Nominatim client
against a small HTTP server on 127.0.0.1 that answers as Nominatim does (a hit, no result, a 429
with Retry-After, a 503, a time-out, malformed JSON)."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from geopy.distance import geodesic
from sqlalchemy import func, select

from engagement import geo
from engagement import store as db

HIT = {
    "B29 6AB": (52.4451, -1.9442),
    "B30 2QX": (52.4300, -1.9290),
    "B14 7AA": (52.4270, -1.9050),
    "B13 0AA": (52.4375, -1.8985),
    "B42 9RL": (52.5321, -1.9023),
}


class FakeNominatim:
    """Answers /search like Nominatim, by the query text; remembers when each request came, by the
    geocoder's clock: ``clock`` and ``sleep`` are handed to the geocoder, and its waits move that
    clock on at once instead of passing (no test waits for or measures real time)."""

    def __init__(self):
        self.seen: list[tuple[float, str]] = []
        self.microseconds = 0  # whole ticks: a float clock can leave a wait of 1e-17 s that never ends
        self.slept: list[float] = []
        self.asked_429: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def _send(self, status, body, headers=()):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (time-out)
                    self.wfile.write(data)

            def do_GET(self):
                url = urlparse(self.path)
                q = parse_qs(url.query).get("q", [""])[0]
                fake.seen.append((fake.clock(), q))
                if url.path != "/search" or parse_qs(url.query).get("format") != ["json"]:
                    return self._send(400, '{"error": "bad request"}')
                if q == "B1 1AA":
                    return self._send(503, "<html>Service Unavailable</html>")
                if q == "B2 2BB":
                    time.sleep(1.5)  # longer than the client's time-out
                    return self._send(200, "[]")
                if q == "B3 3CC":
                    return self._send(200, '[{"lat": "52.4", "lon": ')
                if q == "B42 9RL" and q not in fake.asked_429:
                    fake.asked_429.add(q)
                    return self._send(429, '{"error": "Too Many Requests"}', [("Retry-After", "1")])
                if q in HIT:
                    lat, lon = HIT[q]
                    return self._send(
                        200,
                        json.dumps(
                            [
                                {
                                    "place_id": 1,
                                    "lat": str(lat),
                                    "lon": str(lon),
                                    "display_name": f"{q}, England",
                                    "boundingbox": [
                                        str(lat - 0.001),
                                        str(lat + 0.001),
                                        str(lon - 0.001),
                                        str(lon + 0.001),
                                    ],
                                }
                            ]
                        ),
                    )
                return self._send(200, "[]")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, after every test.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def clock(self) -> float:
        return self.microseconds / 1_000_000

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.microseconds += math.ceil(seconds * 1_000_000)

    def queries(self) -> list[str]:
        return [q for _, q in self.seen]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def nominatim():
    fake = FakeNominatim()
    yield fake
    fake.close()


def settings_for(fake, **extra):
    base = {
        "online": True,
        "scheme": "http",
        "domain": fake.domain,
        "user_agent": "engagement-tests",
        "min_delay_seconds": 0.2,
        "timeout_seconds": 0.5,
        "max_retries": 1,
        "error_wait_seconds": 0.1,
        "give_up_after_errors": 10,
    }
    base.update(extra)
    return geo.GeocodingSettings(**base)


def add_school(store, school_id="S1", postcode="B30 2QX", lat=None, lon=None):
    with store.write("test") as conn:
        conn.execute(
            db.schools.insert().values(
                school_id=school_id, name="Hollybrook", postcode=postcode, latitude=lat, longitude=lon
            )
        )


def add_partners(store, postcodes, school_id="S1", address=None):
    with store.write("test") as conn:
        for i, pc in enumerate(postcodes):
            conn.execute(
                db.partners.insert().values(
                    partner_id=f"P{i:03d}",
                    school_id=school_id,
                    name=f"Partner {i}",
                    category="food bank",
                    layer=3,
                    postcode=pc,
                    address=address,
                    status="active",
                )
            )


def coordinates(store, partner_id):
    with store.read() as conn:
        return conn.execute(
            select(db.partners.c.latitude, db.partners.c.longitude).where(db.partners.c.partner_id == partner_id)
        ).one()


# ---------------------------------------------------------------- postcodes and distances


@pytest.mark.parametrize(
    "text, full, sector",
    [
        ("B29 6AB", "B29 6AB", "B29 6"),
        ("b296ab", "B29 6AB", "B29 6"),
        (" sw1a  1aa ", "SW1A 1AA", "SW1A 1"),
        ("M1 1AE", "M1 1AE", "M1 1"),
        ("EC1A1BB", "EC1A 1BB", "EC1A 1"),
        ("B29", None, None),
        ("", None, None),
        (None, None, None),
        ("<img src=x>", None, None),
        ("B29 6", None, "B29 6"),
    ],
)
def test_postcodes_normalise_and_give_their_sector(text, full, sector):
    assert geo.normalise_postcode(text) == full
    assert geo.postcode_sector(text) == sector


def test_vectorised_distance_agrees_with_geopy_geodesic():
    rng = np.random.default_rng(3)
    lat1, lon1 = 52.43 + rng.normal(0, 0.05, 200), -1.93 + rng.normal(0, 0.08, 200)
    lat2, lon2 = 52.43 + rng.normal(0, 2, 200), -1.93 + rng.normal(0, 3, 200)
    ours = geo.distance_km(lat1, lon1, lat2, lon2)
    theirs = np.array([geodesic((a, b), (c, d)).km for a, b, c, d in zip(lat1, lon1, lat2, lon2)])
    assert np.all(np.abs(ours - theirs) <= 0.005 * theirs + 1e-9)
    assert geo.distance_km(52.0, -1.0, 52.0, -1.0) == 0


# ---------------------------------------------------------------- the gazetteer


def test_gazetteer_imports_ons_directory_columns(store, tmp_path):
    path = tmp_path / "ONSPD_sample.csv"
    path.write_text(
        "pcd,pcd2,pcds,dointr,doterm,oseast1m,osnrth1m,lat,long\n"
        "B296AB ,B29  6AB,B29 6AB,199801,,405000,282000,52.445100,-1.944200\n"
        "B302QX ,B30  2QX,B30 2QX,199801,,406000,281000,52.430000,-1.929000\n"
        "ZZ991ZZ,ZZ99 1ZZ,ZZ99 1ZZ,199801,,,,99.999999,0.000000\n",
        encoding="utf-8-sig",
    )
    assert geo.import_gazetteer(store, path, actor="tester") == 2
    assert geo.gazetteer_lookup(store, ["b296ab", "B30 2QX", "ZZ99 1ZZ"]) == {
        "B29 6AB": (52.4451, -1.9442),
        "B30 2QX": (52.43, -1.929),
    }
    # A second import replaces the same postcodes rather than failing on them.
    path2 = tmp_path / "codepoint.csv"
    path2.write_bytes("Postcode,Latitude,Longitude\nB29 6AB,52.5,-1.95\nB14 7AA,52.427,-1.905\n".encode("cp1252"))
    assert geo.import_gazetteer(store, path2, actor="tester") == 2
    assert geo.gazetteer_lookup(store, ["B29 6AB"]) == {"B29 6AB": (52.5, -1.95)}
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(db.gazetteer)).scalar() == 3
        details = list(
            conn.execute(
                select(db.audit_log.c.detail)
                .where(db.audit_log.c.table_name == "gazetteer")
                .order_by(db.audit_log.c.id)
            ).scalars()
        )
    assert details == ["2 postcodes from ONSPD_sample.csv", "2 postcodes from codepoint.csv"]


def test_gazetteer_refuses_a_file_without_coordinates(store, tmp_path):
    path = tmp_path / "wrong.csv"
    path.write_text("postcode,eastings,northings\nB29 6AB,405000,282000\n")
    with pytest.raises(geo.GazetteerError, match="latitude"):
        geo.import_gazetteer(store, path, actor="tester")
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(db.gazetteer)).scalar() == 0


# ---------------------------------------------------------------- placing records offline


def test_geocode_missing_uses_the_gazetteer_and_lists_what_it_cannot_place(store, tmp_path):
    path = tmp_path / "g.csv"
    path.write_text("postcode,latitude,longitude\nB30 2QX,52.43,-1.929\nB29 6AB,52.4451,-1.9442\n")
    geo.import_gazetteer(store, path, actor="tester")
    add_school(store)
    add_partners(store, ["b29 6ab", "B14 7AA", None, "not a postcode"])
    with store.write("test") as conn:  # a partner with its own coordinates is left alone
        conn.execute(
            db.partners.insert().values(
                partner_id="P900",
                school_id="S1",
                name="Given",
                category="library",
                layer=3,
                postcode="B29 6AB",
                latitude=52.0,
                longitude=-2.0,
            )
        )
    calls = []
    report = geo.geocode_missing(store, "tester", online=False, progress=lambda d, t, m: calls.append((d, t)))
    assert {(p["kind"], p["id"], p["source"]) for p in report.placed} == {
        ("school", "S1", "gazetteer"),
        ("partner", "P000", "gazetteer"),
    }
    reasons = {u["id"]: u["reason"] for u in report.unplaced}
    assert reasons == {
        "P001": "postcode B14 7AA is not in the gazetteer, and online geocoding is off",
        "P002": "no postcode or address to look up",
        "P003": "'not a postcode' is not a valid postcode, and online geocoding is off",
    }
    assert calls == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert coordinates(store, "P000") == (52.4451, -1.9442)
    assert coordinates(store, "P900") == (52.0, -2.0)
    with store.read() as conn:
        audited = conn.execute(
            select(db.audit_log.c.table_name, db.audit_log.c.record_id, db.audit_log.c.after).where(
                db.audit_log.c.action == "geocode"
            )
        ).all()
    assert {(t, r) for t, r, _ in audited} == {("schools", "S1"), ("partners", "P000")}
    assert all(json.loads(after)["latitude"] is not None for _, _, after in audited)
    assert "Could not place 3" in report.format()


def test_limit_caps_the_records_tried(store, tmp_path):
    add_school(store, lat=52.43, lon=-1.93)
    add_partners(store, ["B1 1AA", "B2 2BB", "B3 3CC"])
    report = geo.geocode_missing(store, "tester", online=False, limit=2)
    assert report.attempted == 2 and report.not_attempted == 1
    assert "1 left for a later run" in report.format()


# ---------------------------------------------------------------- online, against the fake Nominatim


def test_online_hit_is_written_audited_and_cached(store, nominatim):
    add_school(store, lat=52.43, lon=-1.93)
    add_partners(store, ["B29 6AB"])
    report = geo.geocode_missing(store, "tester", settings=settings_for(nominatim))
    assert [(p["id"], p["source"]) for p in report.placed] == [("P000", "online")]
    assert nominatim.queries() == ["B29 6AB"]
    assert coordinates(store, "P000") == HIT["B29 6AB"]
    with store.read() as conn:
        cached = conn.execute(select(db.geocode_cache)).mappings().one()
        detail = conn.execute(select(db.audit_log.c.detail).where(db.audit_log.c.action == "geocode")).scalar()
    assert cached["found"] and cached["source"] == "nominatim" and cached["latitude"] == HIT["B29 6AB"][0]
    assert detail == "online geocoder (B29 6AB)"
    # Another partner at the same postcode: the cache answers, the server is not asked again.
    with store.write("test") as conn:
        conn.execute(
            db.partners.insert().values(
                partner_id="P100", school_id="S1", name="Next door", category="library", layer=3, postcode="b29 6ab"
            )
        )
    again = geo.geocode_missing(store, "tester", settings=settings_for(nominatim))
    assert [p["id"] for p in again.placed] == ["P100"] and again.requests == 0
    assert nominatim.queries() == ["B29 6AB"]


def test_online_failures_leave_records_unplaced_with_reasons_and_never_block_the_rest(store, nominatim):
    add_school(store, lat=52.43, lon=-1.93)
    add_partners(store, ["B99 9ZZ", "B1 1AA", "B2 2BB", "B3 3CC", "B30 2QX"])
    report = geo.geocode_missing(
        store, "tester", settings=settings_for(nominatim), sleep=nominatim.sleep, clock=nominatim.clock
    )
    # The waits it chose: the rate limit's and one error_wait_seconds before each retry, no long stall.
    assert sum(nominatim.slept) < 2 and nominatim.slept.count(0.1) == 2
    assert [p["id"] for p in report.placed] == ["P004"]
    reasons = {u["id"]: u["reason"] for u in report.unplaced}
    assert reasons["P000"] == "no match for 'B99 9ZZ'"
    assert reasons["P001"] == "the geocoding service did not answer in time or is unavailable"  # 503
    assert reasons["P002"] == "the geocoding service did not answer in time or is unavailable"  # time-out
    assert reasons["P003"] == "the geocoding service sent an answer that could not be read"
    # 503 and time-out retried once (max_retries=1); malformed JSON is not retried.
    # No hidden retries inside the HTTP client either: each request passed the rate limiter.
    assert nominatim.queries().count("B1 1AA") == 2 and nominatim.queries().count("B2 2BB") == 2
    assert nominatim.queries().count("B3 3CC") == 1
    with store.read() as conn:
        cache = {r.query: r.found for r in conn.execute(select(db.geocode_cache))}
    # "No match" is remembered; a failure is not, so the next run tries again.
    assert cache == {"nominatim:gb:b99 9zz": False, "nominatim:gb:b30 2qx": True}
    assert coordinates(store, "P001") == (None, None)


def test_a_429_waits_as_long_as_retry_after_says(store, nominatim):
    add_school(store, lat=52.43, lon=-1.93)
    add_partners(store, ["B42 9RL"])
    report = geo.geocode_missing(
        store, "tester", settings=settings_for(nominatim), sleep=nominatim.sleep, clock=nominatim.clock
    )
    assert [p["id"] for p in report.placed] == ["P000"]
    (t1, q1), (t2, q2) = nominatim.seen
    assert q1 == q2 == "B42 9RL" and t2 - t1 >= 1  # Retry-After: 1


def test_a_429_asking_too_long_a_wait_is_reported_not_waited_for(store, nominatim):
    add_school(store, lat=52.43, lon=-1.93)
    add_partners(store, ["B42 9RL"])
    report = geo.geocode_missing(store, "tester", settings=settings_for(nominatim, max_retry_after_seconds=0.5))
    assert report.unplaced[0]["reason"] == (
        "the geocoding service is refusing requests for now (too many requests; it asked us to wait 1 s)"
    )
    assert len(nominatim.seen) == 1


def test_requests_are_spaced_by_the_rate_limit(store, nominatim):
    add_school(store, lat=52.43, lon=-1.93)
    add_partners(store, ["B29 6AB", "B30 2QX", "B14 7AA", "B13 0AA"])
    # A generous timeout: on a loaded machine a 0.5 s one timed out and retried (five requests, not four).
    report = geo.geocode_missing(
        store,
        "tester",
        settings=settings_for(nominatim, min_delay_seconds=1.0, timeout_seconds=10),
        sleep=nominatim.sleep,
        clock=nominatim.clock,
    )
    assert len(report.placed) == 4
    times = [t for t, _ in nominatim.seen]
    assert len(times) == 4
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1.0


def test_online_geocoding_stops_after_failures_in_a_row(store, nominatim):
    add_school(store, lat=52.43, lon=-1.93)
    add_partners(store, ["B1 1AA"] * 6)
    report = geo.geocode_missing(
        store, "tester", settings=settings_for(nominatim, give_up_after_errors=2, max_retries=0)
    )
    assert len(report.unplaced) == 6 and len(nominatim.seen) == 2
    assert report.unplaced[-1]["reason"].startswith("not tried: online geocoding stopped after 2 failures in a row")


def test_address_is_asked_when_there_is_no_valid_postcode(store, nominatim):
    add_school(store, lat=52.43, lon=-1.93)
    add_partners(store, [None], address="12 Pershore Road, Birmingham")
    report = geo.geocode_missing(store, "tester", settings=settings_for(nominatim))
    assert nominatim.queries() == ["12 Pershore Road, Birmingham"]
    assert report.unplaced[0]["reason"] == "no match for '12 Pershore Road, Birmingham'"
