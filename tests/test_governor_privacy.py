"""Governors see aggregates only, and no count of 1 to 9 families, read directly or worked out.

A property test over random small schools (a few to about 40 families, random groups, random
contacts, one-way and two-way) builds everything a governor is shown for a whole term: the
Overview's view-model and its report, ``score --json --for governor``, the School page's roll and
the map's postcode sectors. It fails if any count of families shown is 1 to 9, if two shown counts
differ by 1 to 9, or if a rate is shown whose true numerator or remainder is 1 to 9 families (a rate
and a roll give the count back). One AppTest run then opens every governor page of a school of 7
families and reads them the same way."""

from __future__ import annotations

import datetime
import itertools
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from engagement import access, cli, clock, overview, pages, report, scoring
from engagement import store as db
from engagement.frames import frames_from_tables
from engagement.privacy import governor_row
from engagement.summary import families_on_roll_text

ROOT = Path(__file__).resolve().parent.parent
T = 10
TERM = (datetime.date(2026, 9, 1), datetime.date(2026, 11, 27))
TODAY = datetime.date(2026, 11, 27)
COUNT = re.compile(r"(?<![\d.,])(\d[\d,]*) (?:families|of (?:about )?\d[\d,]* families)")


def _small(n) -> bool:
    return n is not None and 1 <= round(n) < T


def _counts_in(text: str) -> list[int]:
    """Counts of families written in words: "12 families", "about 20 of about 30 families"."""
    found = [int(m.replace(",", "")) for m in re.findall(r"(?<![\d.,%])(\d[\d,]*)(?= families)", text)]
    found += [
        int(m.replace(",", "")) for m in re.findall(r"(?<![\d.,%])(\d[\d,]*) of (?:about )?\d[\d,]* families", text)
    ]
    return found


def _assert_no_small_count(counts: list[float], where: str) -> None:
    counts = [c for c in counts if c is not None]
    assert not [c for c in counts if _small(c)], f"{where}: a count of 1-9 families is shown: {counts}"
    differences = {abs(a - b) for a, b in itertools.combinations(counts, 2)}
    assert not [d for d in differences if _small(d)], f"{where}: two shown counts differ by 1-9: {counts}"


schools = st.integers(min_value=3, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(
            st.tuples(st.booleans(), st.booleans(), st.sampled_from(["B30 2", "B29 6", "B14 7"])),
            min_size=n,
            max_size=n,
        ),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 86), st.booleans()), max_size=3 * n),
    )
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schools)
def test_no_count_of_1_to_9_families_is_shown_or_derivable(school):
    flags, contacts = school
    families = [
        {
            "family_id": f"F{i}",
            "school_id": "S1",
            "pupil_premium": pp,
            "send": send,
            "eal": False,
            "looked_after": False,
            "young_carer": False,
            "postcode": f"{sector}AB",
        }
        for i, (pp, send, sector) in enumerate(flags)
    ]
    rows = [
        {
            "interaction_id": f"I{k}",
            "school_id": "S1",
            "family_id": f"F{i}",
            "date": TERM[0] + datetime.timedelta(days=day),
            "activity": "phone call" if two_way else "newsletter",
            "channel": "phone" if two_way else "digital",
            "two_way": two_way,
        }
        for k, (i, day, two_way) in enumerate(contacts)
    ]
    # Frames straight from tables: the same encoding as the store's loader, without a store per example.
    frames = frames_from_tables(
        pd.DataFrame(
            [
                {
                    "school_id": "S1",
                    "name": "Oak",
                    "postcode": "B30 2AA",
                    "pupils": None,
                    "staff": None,
                    "latitude": None,
                    "longitude": None,
                }
            ]
        ),
        pd.DataFrame(
            families,
            columns=[
                "family_id",
                "school_id",
                "postcode",
                "pupil_premium",
                "send",
                "eal",
                "looked_after",
                "young_carer",
            ],
        ),
        pd.DataFrame(columns=["partner_id", "school_id", "name", "category", "layer", "status"]),
        pd.DataFrame(
            rows,
            columns=[
                "interaction_id",
                "school_id",
                "family_id",
                "partner_id",
                "date",
                "activity",
                "channel",
                "two_way",
            ],
        ),
    )
    truth = scoring.metrics(frames, *TERM).iloc[0].to_dict()
    on_roll, reached = len(families), truth["families.reached"]

    # score --json --for governor
    card = scoring.card_from_row(governor_row(truth), *TERM)
    fam = card["families"]
    counts = [fam["on_roll"], fam["reached"]]
    for flag, entry in card["equity"].items():
        counts += [entry["group"], entry["rest"]]
        if not entry["suppressed"]:  # a shown group hides no small count on either side
            g, r = truth[f"equity.{flag}.group"], truth[f"equity.{flag}.rest"]
            gr, rr = truth[f"equity.{flag}.group_reach"], truth[f"equity.{flag}.rest_reach"]
            assert not any(_small(n) for n in (g * gr, g * (1 - gr), r * rr, r * (1 - rr))), (flag, truth)
    _assert_no_small_count(counts, "score --json --for governor")
    if fam["reach"] is not None:
        assert not _small(reached) and not _small(on_roll - reached)
    if fam["informed_reach"] is not None:
        informed = truth["families.informed_reach"] * on_roll
        assert not _small(informed) and not _small(on_roll - informed)

    # the Overview and its report, as a governor sees them
    view = overview.overview(frames, "S1", *TERM, today=TODAY, for_governor=True)
    words = " ".join(row["counts"] + " " + row["drivers"] + " " + row["advice"] for row in view.segments)
    words += " ".join(str(overview.equity_text(row)) for _, row in view.equity.iterrows())
    words += overview.trend_text(view.trends).to_string()
    html = re.sub(r"<[^>]+>", " ", report.overview_report_html(view))
    school_page = families_on_roll_text(on_roll, "governor") + " families"
    _assert_no_small_count(_counts_in(words) + _counts_in(html) + _counts_in(school_page), "Overview, report, School")


def test_the_maps_sectors_for_governors_are_rounded_and_hide_small_reach():
    from engagement.maps import FamilySectors

    shown = pd.DataFrame(
        {
            "sector": ["B30 2", "B29 6"],
            "families": [12, 23],
            "reached": [9, 20],
            "reach": [0.75, 20 / 23],
            "latitude": [52.4, 52.5],
            "longitude": [-1.9, -1.8],
        }
    )
    seen = FamilySectors(shown, 7, T).for_governors()
    assert seen.hidden_families is None and seen.rounded
    assert list(seen.shown["families"]) == [10.0, 20.0]
    # B30 2: 9 reached (and 3 not) are small counts, so its reach is hidden; B29 6: 3 unreached.
    assert seen.shown["reach"].isna().all() and seen.shown["reached"].isna().all()
    _assert_no_small_count(list(seen.shown["families"]), "map sectors")


def test_score_for_governor_prints_only_what_a_governor_may_see(tmp_path, capsys):
    families = [{"family_id": f"F{i}", "school_id": "S1", "pupil_premium": i < 12} for i in range(20)]
    contacts = [
        {
            "interaction_id": f"I{i}",
            "school_id": "S1",
            "family_id": f"F{i}",
            "date": TERM[0],
            "activity": "phone call",
            "channel": "phone",
            "two_way": True,
        }
        for i in range(16)
    ]
    path = tmp_path / "small.db"
    store = db.open_store(str(path))
    with store.write(actor="test") as conn:
        db.upsert(conn, "schools", [{"school_id": "S1", "name": "Oak", "postcode": "B30 2AA", "demo": False}])
        db.upsert(conn, "families", families)
        db.upsert(conn, "interactions", contacts)
    base = ["score", "--db", str(path), "--json", "--from", TERM[0].isoformat(), "--to", TERM[1].isoformat()]
    assert cli.main(base) == 0
    everyone = json.loads(capsys.readouterr().out)
    assert everyone["families"]["reached"] == 16  # staff keep the metric rule: 16 of 20 is shown
    assert cli.main([*base, "--for", "governor"]) == 0
    governor = json.loads(capsys.readouterr().out)["families"]
    # 4 families unreached: the reach would give them back, so it is null with "suppressed": true.
    assert governor["reached"] is None and governor["reach"] is None and governor["suppressed"] is True
    assert governor["on_roll"] == 20


@pytest.fixture
def tiny_school(tmp_path, monkeypatch):
    """A school of 7 families, three of them reached this term."""
    today = clock.today()
    path = tmp_path / "tiny.db"
    store = db.open_store(str(path))
    with store.write(actor="test") as conn:
        db.upsert(
            conn,
            "schools",
            [
                {
                    "school_id": "S1",
                    "name": "Tiny School",
                    "postcode": "B30 2AA",
                    "latitude": 52.43,
                    "longitude": -1.93,
                    "pupils": 9,
                    "demo": False,
                }
            ],
        )
        db.upsert(
            conn,
            "families",
            [
                {"family_id": f"F{i}", "school_id": "S1", "postcode": "B30 2AB", "pupil_premium": i < 3}
                for i in range(7)
            ],
        )
        db.upsert(
            conn,
            "interactions",
            [
                {
                    "interaction_id": f"I{i}",
                    "school_id": "S1",
                    "family_id": f"F{i}",
                    "date": today,
                    "activity": "phone call",
                    "channel": "phone",
                    "two_way": True,
                }
                for i in range(3)
            ],
        )
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")


def _everything(at: AppTest) -> str:
    out = []

    def walk(node):
        for attribute in ("value", "label", "body"):
            value = getattr(node, attribute, None)
            if isinstance(value, str):
                out.append(value)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return re.sub(r"\\", "", " ".join(out))


def test_every_governor_page_of_a_school_of_seven_families(tiny_school):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "e",
        "client_secret": "s",
        "server_metadata_url": "http://127.0.0.1:1/x",
    }
    at.secrets["roles"] = {"@governors.tiny.sch.uk": "governor"}
    at.user = {"is_logged_in": True, "email": "chair@governors.tiny.sch.uk"}
    at.run()
    for entry in pages.PAGES:
        if not access.can_open("governor", entry.key):
            continue
        at.switch_page(entry.file).run()
        assert not at.exception, (entry.key, at.exception)
        text = _everything(at)
        assert "Tiny School" in text or entry.key in ("map", "layers")
        _assert_no_small_count(_counts_in(text), entry.key)
        assert not re.search(r"\b7\b[^.%]{0,30}famil", text), entry.key  # the roll itself, in any words
        assert not re.search(r"\b3\b[^.%]{0,30}famil", text), entry.key
