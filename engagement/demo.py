"""The synthetic demo school, and the trust and authority scales used by the benchmark.

Hollybrook Primary School is fictional; it stands in south Birmingham (Stirchley, Bournville,
Selly Oak, Kings Norton) so the map looks like a real English city. Its families, partners,
three terms of interactions (on the school days of the default terms for England), its children's
moves between settings (plans part done), two rounds of its belonging and Parent View surveys,
two partnerships with community groups and the year's partnership action plan are drawn from a
seeded random generator with the patterns a school would recognise: a newsletter to all families
most Fridays, messages families send the school and the answers to most of them, a few families
joining during the year, pupil premium and EAL families reached less often, SEND families seen at
reviews, busy weeks around parents' evenings, some partners never engaged, no care home linked
and no employer offering work experience (two named gaps on the community layers).

Generation is vectorised with numpy, one school at a time, so the authority scale (400 schools,
about 150,000 families and 6 million interactions) builds in well under a minute.

>>> data = generate("school", seed=1, today=datetime.date(2026, 11, 23))
>>> len(data.families), data.schools.iloc[0]["name"]
(420, 'Hollybrook Primary School')
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from engagement import clock
from engagement import store as db
from engagement.terms import Calendar, day_number, default_calendar, from_day_number
from engagement.typology import PARTNER_STATUSES, load_typology

SCALES = {
    # schools, families per school (mean), partners per school, spread of schools (km)
    "school": (1, 420, 120, 0.0),
    "trust": (25, 480, 120, 12.0),
    "authority": (400, 375, 120, 30.0),
}

CENTRE = (52.4318, -1.9282)  # Stirchley, south Birmingham

# Postcode sectors around the demo school with approximate centroids.
SECTORS = {
    "B30 2": (52.4300, -1.9290),
    "B30 1": (52.4385, -1.9210),
    "B30 3": (52.4205, -1.9330),
    "B29 7": (52.4335, -1.9470),
    "B29 6": (52.4450, -1.9440),
    "B14 7": (52.4270, -1.9050),
    "B13 0": (52.4375, -1.8985),
    "B31 2": (52.4180, -1.9560),
    "B38 8": (52.4045, -1.9355),
    "B5 7": (52.4560, -1.9150),
    "B29 4": (52.4240, -1.9600),
    "B14 6": (52.4170, -1.8970),
}
SECTOR_WEIGHTS = np.array([18, 14, 12, 10, 8, 9, 6, 6, 5, 2, 6, 4], dtype=float)

PLACES = [
    "Stirchley",
    "Bournville",
    "Selly Oak",
    "Cotteridge",
    "Kings Norton",
    "Hazelwell",
    "Ten Acres",
    "Lifford",
    "Dogpool",
    "Selly Park",
    "Brandwood",
    "Hay Green",
    "Pershore Road",
    "Bournbrook",
    "Weoley",
    "Northfield",
    "Moseley",
    "Kings Heath",
]

# What a partner of each category offers (services) and the activities a school does with it.
CATEGORY_PROFILE = {
    "social care": (["parenting support", "young carers"], ["multi-agency meeting", "phone call", "email"]),
    "health": (["SEND inclusive", "parenting support"], ["multi-agency meeting", "phone call"]),
    "early help": (
        ["parenting support", "housing advice", "debt advice"],
        ["multi-agency meeting", "phone call", "referral"],
    ),
    "mental health service": (["mental health"], ["referral", "multi-agency meeting", "phone call"]),
    "local authority": (["SEND inclusive", "housing advice"], ["phone call", "email", "multi-agency meeting"]),
    "SEND support service": (["SEND inclusive"], ["SEND review", "phone call"]),
    "police": ([], ["community visit to school", "phone call"]),
    "housing": (["housing advice"], ["phone call", "email"]),
    "volunteer": (["mentoring"], ["volunteering"]),
    "after-school club": (["after-school", "holiday club", "sport"], ["club session", "phone call"]),
    "faith group": (["food", "EAL support", "youth club"], ["faith visit", "assembly", "performance"]),
    "partner school": (["SEND inclusive"], ["transition meeting", "inter-school event", "sports fixture"]),
    "youth organisation": (["youth club", "holiday club", "mentoring"], ["club session", "assembly"]),
    "library": (["EAL support", "arts", "coding"], ["educational visit", "club session"]),
    "museum": (["arts"], ["educational visit", "virtual workshop"]),
    "sports club": (["sport", "holiday club", "SEND inclusive"], ["sports fixture", "club session"]),
    "arts and drama group": (["arts", "SEND inclusive"], ["performance", "club session"]),
    "code club": (["coding", "SEND inclusive"], ["club session"]),
    "charity": (["debt advice", "young carers", "mental health"], ["fundraising", "phone call"]),
    "food bank": (["food", "clothing"], ["food bank", "phone call"]),
    "care home": ([], ["intergenerational visit"]),
    "community SEND group": (["SEND inclusive", "holiday club"], ["club session", "SEND review"]),
    "community garden": (["SEND inclusive"], ["community garden"]),
    "community centre": (["parenting support", "EAL support", "food"], ["family workshop", "phone call"]),
    "residents association": ([], ["PTFA event", "phone call"]),
    "business": ([], ["fundraising", "careers talk"]),
    "employer": (["mentoring"], ["work experience", "careers talk", "apprenticeship link"]),
    "transport provider": ([], ["phone call", "email"]),
    "facility hirer": ([], ["facility hire"]),
}

# What the demo's services are like, by category: ages, cost, languages, delivery, weekly
# sessions and the way in, so the outreach planner's reasons have something to say.
SERVICE_PROFILE: dict[str, dict[str, object]] = {
    "food bank": {
        "cost": "free",
        "delivery": "in person",
        "sessions": "Tue 10:00-12:00;Fri 13:00-15:00",
        "access": "professional referral",
        "eligibility": "families referred with a food voucher",
    },
    "after-school club": {
        "min_age": 4,
        "max_age": 11,
        "cost": "£8 a session",
        "delivery": "in person",
        "sessions": "Mon 15:15-18:00;Wed 15:15-18:00;Fri 15:15-18:00",
        "access": "self-referral",
    },
    "youth organisation": {
        "min_age": 11,
        "max_age": 18,
        "cost": "free",
        "delivery": "in person",
        "sessions": "Wed 18:00-20:00",
        "access": "drop-in",
    },
    "library": {
        "cost": "free",
        "languages": "English;Polish;Urdu",
        "delivery": "in person;online",
        "sessions": "Sat 10:00-12:00",
        "access": "drop-in",
    },
    "faith group": {
        "cost": "free",
        "languages": "English;Urdu;Arabic",
        "delivery": "in person",
        "sessions": "Sun 10:00-12:00",
        "access": "drop-in",
    },
    "community centre": {
        "cost": "free",
        "languages": "English;Punjabi;Polish",
        "delivery": "in person;phone",
        "sessions": "Thu 09:30-11:30",
        "access": "drop-in",
    },
    "health": {"cost": "free", "delivery": "in person;phone", "access": "professional referral"},
    "mental health service": {
        "min_age": 5,
        "max_age": 18,
        "cost": "free",
        "delivery": "online;phone",
        "access": "professional referral",
    },
    "sports club": {
        "min_age": 5,
        "max_age": 16,
        "cost": "£3 a session",
        "delivery": "in person",
        "sessions": "Sat 09:00-11:00",
        "access": "self-referral",
    },
    "early help": {"cost": "free", "delivery": "in person;phone", "access": "professional referral"},
}


def demo_services(partners: pd.DataFrame) -> pd.DataFrame:
    """One service per demo partner with tags, named after the partner (as the migration makes
    them from a school's old tags), with its category's details."""
    rows = []
    for p in partners.itertuples(index=False):
        tags = [t for t in str(p.services or "").split(";") if t]
        if not tags:
            continue
        rows.append(
            {
                "service_id": f"{p.partner_id}-S1",
                "partner_id": p.partner_id,
                "name": p.name,
                "tags": ";".join(tags),
                "send_inclusive": "SEND inclusive" in tags,
                "status": "active",
                **SERVICE_PROFILE.get(p.category, {}),
            }
        )
    columns = [c.name for c in db.services.c if c.name != "version"]
    # Whole numbers or nothing: a float age would be refused by PostgreSQL's integer column.
    return pd.DataFrame(rows, columns=columns).astype({"min_age": "Int64", "max_age": "Int64"})


NAME_PATTERNS = {
    "social care": ["{p} Children's Social Care Team"],
    "health": ["{p} School Nursing Service", "{p} Health Centre"],
    "early help": ["{p} Early Help Hub"],
    "mental health service": ["{p} CAMHS Outreach", "{p} Wellbeing Service"],
    "local authority": ["Birmingham SEND Inclusion Team", "Council Admissions Team", "Education Welfare Service"],
    "SEND support service": ["{p} Educational Psychology", "{p} Speech and Language Service"],
    "police": ["{p} Neighbourhood Policing Team"],
    "housing": ["{p} Housing Advice Centre"],
    "volunteer": ["{p} Reading Volunteers", "{p} Governor Volunteers", "Retired Teachers of {p}"],
    "after-school club": ["{p} Kids Club", "{p} Holiday Play Scheme", "{p} Breakfast Club"],
    "faith group": ["St {s}'s Church, {p}", "{p} Mosque", "{p} Gurdwara", "{p} Methodist Church"],
    "partner school": ["{p} Secondary School", "{p} Nursery School", "{p} Primary Academy"],
    "youth organisation": ["{p} Scouts", "{p} Girlguiding", "{p} Youth Centre"],
    "library": ["{p} Library"],
    "museum": ["{p} Heritage Museum", "{p} Art Gallery"],
    "sports club": ["{p} Football Club", "{p} Leisure Centre", "{p} Cricket Club", "{p} Swimming Club"],
    "arts and drama group": ["{p} Youth Theatre", "{p} Community Choir", "{p} Arts Collective"],
    "code club": ["{p} Code Club", "{p} Makerspace"],
    "charity": ["{p} Family Trust", "{p} Young Carers Project"],
    "food bank": ["{p} Food Bank", "{p} Community Pantry", "{p} Clothing Exchange"],
    "care home": ["{p} Care Home", "{p} Court Residential Home"],
    "community SEND group": ["{p} Inclusive Play", "{p} SEND Parents Group"],
    "community garden": ["{p} Community Garden", "{p} Allotment Society"],
    "community centre": ["{p} Community Centre"],
    "residents association": ["{p} Residents' Association"],
    "business": ["{p} Bakery", "{p} Pharmacy", "{p} Hardware", "{p} Cafe", "{p} Supermarket"],
    "employer": ["{p} Chocolate Works", "{p} Engineering Ltd", "{p} Hospital Trust"],
    "transport provider": ["{p} Bus Depot", "{p} Coaches"],
    "facility hirer": ["{p} Karate Club", "{p} Dance School"],
}
SAINTS = ["Mary", "John", "Agnes", "Peter", "Francis", "Anne"]
LANGUAGES = ["Urdu", "Punjabi", "Polish", "Arabic", "Somali", "Romanian", "Bengali", "Pashto"]
YEARS = ["R", "1", "2", "3", "4", "5", "6"]
GAP_CATEGORIES = {"care home", "employer"}  # never engaged in the demo: named gaps on the diagram


@dataclass
class DemoData:
    schools: pd.DataFrame
    partners: pd.DataFrame
    families: pd.DataFrame
    interactions: pd.DataFrame
    gazetteer: pd.DataFrame
    transitions: pd.DataFrame = field(default_factory=pd.DataFrame)
    transition_steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    survey_responses: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    event_contacts: pd.DataFrame = field(default_factory=pd.DataFrame)
    referrals: pd.DataFrame = field(default_factory=pd.DataFrame)
    referral_steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    family_partners: pd.DataFrame = field(default_factory=pd.DataFrame)
    partnerships: pd.DataFrame = field(default_factory=pd.DataFrame)
    partnership_members: pd.DataFrame = field(default_factory=pd.DataFrame)
    action_plan: pd.DataFrame = field(default_factory=pd.DataFrame)


def _teaching_days(start: datetime.date, end: datetime.date, calendar: Calendar | None = None) -> np.ndarray:
    """The school days from start to end (weekdays in term, outside holidays), as numpy datetime64[D]."""
    numbers = (calendar or default_calendar()).school_day_numbers
    days = numbers[(numbers >= day_number(start)) & (numbers <= day_number(end))]
    return days.astype("datetime64[D]")


def _three_terms(today: datetime.date) -> list[tuple[str, datetime.date, datetime.date]]:
    calendar = default_calendar()
    terms = [calendar.term_of(today)]
    for _ in range(2):
        before = calendar.previous_term(terms[0])
        if before is not None:
            terms.insert(0, before)
    # The current term runs only to today; earlier ones are whole.
    out = []
    for t in terms:
        end = min(t.end, today)
        out.append((t.name, t.start, end))
    return out


def _unit_postcodes(rng, sectors) -> list[str]:
    """A unit postcode is its sector and two letters: "B30 2" -> "B30 2QX"."""
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    return [f"{s}{letters[rng.integers(20)]}{letters[rng.integers(20)]}" for s in sectors]


def _offset(lat: float | np.ndarray, lon: float | np.ndarray, north_km, east_km):
    return lat + np.asarray(north_km) / 111.2, lon + np.asarray(east_km) / (111.2 * np.cos(np.radians(lat)))


def _school_rows(rng, n_schools: int, spread_km: float, families_mean: int):
    rows = []
    for i in range(n_schools):
        if i == 0:
            lat, lon, name, urn = CENTRE[0], CENTRE[1], "Hollybrook Primary School", "999001"
        else:
            r = spread_km * math.sqrt(rng.random())
            a = rng.random() * 2 * math.pi
            lat, lon = _offset(CENTRE[0], CENTRE[1], r * math.cos(a), r * math.sin(a))
            name = f"{PLACES[i % len(PLACES)]} {['Primary', 'Junior', 'Infant', 'Academy'][i % 4]} School {i}"
            urn = f"{999001 + i}"
        families = int(rng.normal(families_mean, families_mean * 0.1)) if i else families_mean
        rows.append(
            {
                "school_id": urn,
                "name": name,
                "postcode": "B30 2QX" if i == 0 else f"B{10 + i % 90} {i % 9}ZZ",
                "latitude": float(lat),
                "longitude": float(lon),
                "pupils": int(families * 1.45),
                "staff": int(families * 0.14),
                "demo": True,
                "_families": families,
            }
        )
    return rows


def _partners_for(rng, school: dict, n_partners: int, typology) -> pd.DataFrame:
    cats = [c.name for c in typology.categories]
    # Every category at least twice, the rest spread with more of the common kinds.
    common = [
        "business",
        "faith group",
        "sports club",
        "charity",
        "after-school club",
        "youth organisation",
        "partner school",
        "volunteer",
        "health",
        "food bank",
    ]
    chosen = cats * 2 + list(rng.choice(common, max(0, n_partners - 2 * len(cats))))
    chosen = chosen[:n_partners]
    n = len(chosen)
    r = 5.0 * np.sqrt(rng.random(n)) * 0.95 + 0.05
    a = rng.random(n) * 2 * np.pi
    lat, lon = _offset(school["latitude"], school["longitude"], r * np.cos(a), r * np.sin(a))
    status = rng.choice(PARTNER_STATUSES[:3], n, p=[0.8, 0.12, 0.08])  # the demo has no local offer
    rows = []
    for i, cat in enumerate(chosen):
        pattern = NAME_PATTERNS[cat][i % len(NAME_PATTERNS[cat])]
        name = pattern.format(p=PLACES[int(rng.integers(len(PLACES)))], s=SAINTS[i % len(SAINTS)])
        services = CATEGORY_PROFILE[cat][0]
        sector = list(SECTORS)[int(rng.integers(len(SECTORS)))]
        since = datetime.date(2015 + int(rng.integers(0, 11)), int(rng.integers(1, 13)), 1)
        rows.append(
            {
                "partner_id": f"{school['school_id']}-P{i + 1:03d}",
                "school_id": school["school_id"],
                "name": name,
                "category": cat,
                "layer": typology.category(cat).layer,
                # A place already named as a road ("Pershore Road") is not given a second "Road".
                "address": f"{10 + i} {PLACES[i % len(PLACES)]}"
                + ("" if PLACES[i % len(PLACES)].endswith("Road") else " Road"),
                "postcode": _unit_postcodes(rng, [sector])[0],
                "latitude": round(float(lat[i]), 6),
                "longitude": round(float(lon[i]), 6),
                "contact_name": "Partnerships lead",
                "contact_email": f"contact{i + 1}@example.org",
                "contact_phone": f"0121 496 {i:04d}",
                "services": ";".join(services),
                "status": str(status[i]),
                "since": since,
                "last_verified": since if status[i] == "lapsed" else datetime.date(2026, 9, 1),
                "notes": None,
            }
        )
    return pd.DataFrame(rows)


def _families_for(rng, school: dict, n: int) -> pd.DataFrame:
    sector_names = np.array(list(SECTORS))
    sectors = rng.choice(sector_names, n, p=SECTOR_WEIGHTS / SECTOR_WEIGHTS.sum())
    pp = rng.random(n) < 0.25
    send = rng.random(n) < 0.15
    eal = rng.random(n) < 0.20
    looked_after = rng.random(n) < 0.015
    young_carer = rng.random(n) < 0.03
    pupils = 1 + (rng.random(n) < 0.35) + (rng.random(n) < 0.08)
    years = []
    for k in pupils:
        years.append(";".join(sorted(rng.choice(YEARS, int(k), replace=False), key=YEARS.index)))
    needs = []
    for i in range(n):
        tags = []
        if send[i]:
            tags.append("SEND inclusive")
        if pp[i] and rng.random() < 0.5:
            tags.append(rng.choice(["food", "clothing", "debt advice", "holiday club"]))
        if eal[i] and rng.random() < 0.6:
            tags.append("EAL support")
        if young_carer[i]:
            tags.append("young carers")
        if rng.random() < 0.15:
            tags.append(rng.choice(["sport", "arts", "coding", "after-school", "parenting support", "mental health"]))
        needs.append(";".join(dict.fromkeys(tags)) or None)
    channel = rng.choice(["digital", "phone", "in person", "letter"], n, p=[0.55, 0.25, 0.15, 0.05])
    language = np.where(eal, rng.choice(LANGUAGES, n), "English")
    postcodes = _unit_postcodes(rng, sectors)
    return pd.DataFrame(
        {
            "family_id": [f"{school['school_id']}-F{i + 1:04d}" for i in range(n)],
            "school_id": school["school_id"],
            "postcode": postcodes,
            "pupils": pupils.astype(int),
            "year_groups": years,
            "pupil_premium": pp,
            "send": send,
            "eal": eal,
            "looked_after": looked_after,
            "young_carer": young_carer,
            "needs": needs,
            "preferred_channel": channel,
            "language": language,
        }
    )


def _family_interactions(rng, families: pd.DataFrame, terms) -> pd.DataFrame:
    n = len(families)
    pp, send, eal = families["pupil_premium"].to_numpy(), families["send"].to_numpy(), families["eal"].to_numpy()
    lac, carer = families["looked_after"].to_numpy(), families["young_carer"].to_numpy()
    reception = families["year_groups"].str.contains("R").to_numpy()
    # Each family's propensity to engage: pupil premium and EAL families are reached less,
    # which is the equity gap the Overview shows; one family in ten is hardly reached at all.
    propensity = rng.beta(2.5, 1.6, n) * np.where(pp, 0.6, 1.0) * np.where(eal, 0.7, 1.0)
    propensity = np.where(rng.random(n) < 0.1, 0.04, propensity)
    digital = rng.random(n) < 0.85

    parts = []

    def stream(activity, counts, days, weights=None):
        idx = np.repeat(np.arange(n), counts)
        if len(idx) == 0:
            return
        p = None if weights is None else weights / weights.sum()
        parts.append(pd.DataFrame({"f": idx, "date": rng.choice(days, len(idx), p=p), "activity": activity}))

    for term_name, start, end in terms:
        days = _teaching_days(start, end)
        if len(days) == 0:
            continue
        span = len(days) / 60.0  # a full term is about 60 teaching days
        # Parents' evening: a busy week about six weeks into the term.
        pe_start = days[min(len(days) - 1, 28)]
        pe_days = days[(days >= pe_start) & (days < pe_start + 7)]
        if len(pe_days) and days[-1] >= pe_start:
            stream("parents evening", (rng.random(n) < propensity * 0.95).astype(int), pe_days)
        stream("portal message", np.where(digital, rng.poisson(6 * span, n), 0), days)
        stream("newsletter", np.where(digital, 0, rng.poisson(2 * span, n)), days)
        stream("phone call", rng.poisson(1.2 * propensity * span + 0.4 * (pp | send) * span), days)
        stream("school gate conversation", rng.poisson(1.0 * propensity * span), days)
        stream("reading diary", rng.poisson(2.5 * propensity * span) * (rng.random(n) < 0.55), days)
        stream("email", rng.poisson(0.8 * propensity * span), days)
        stream("assembly", (rng.random(n) < propensity * 0.5 * min(span, 1)).astype(int), days)
        stream("PTFA event", (rng.random(n) < propensity * 0.3 * min(span, 1)).astype(int), days)
        stream("family workshop", (rng.random(n) < propensity * 0.12 * min(span, 1)).astype(int), days)
        stream("volunteering", (rng.random(n) < propensity * 0.08 * min(span, 1)).astype(int), days)
        stream("SEND review", (send & (rng.random(n) < 0.55 * min(span, 1))).astype(int), days)
        stream("multi-agency meeting", ((lac | carer) * rng.poisson(1.2 * span, n)).astype(int), days)
        stream("home visit", ((lac | (pp & (rng.random(n) < 0.05))) * (rng.random(n) < 0.6)).astype(int), days)
        if term_name.startswith("autumn"):
            # Home visits before Reception starts, in the first weeks of September.
            stream("home visit", (reception & (rng.random(n) < 0.8)).astype(int), days[:10])
        if term_name.startswith("summer"):
            stream("sports day", (rng.random(n) < propensity * 0.6).astype(int), days[-20:])
            stream(
                "transition meeting",
                (families["year_groups"].str.contains("6").to_numpy() & (rng.random(n) < 0.5 + 0.4 * send)).astype(int),
                days[-30:],
            )
    frame = pd.concat(parts, ignore_index=True)
    frame["family_id"] = families["family_id"].to_numpy()[frame.pop("f").to_numpy()]
    return frame


def _messages(rng, families: pd.DataFrame, terms, today: datetime.date) -> pd.DataFrame:
    """What the communication panel reads: a newsletter to all families most Fridays (no family, no
    partner), one-way messages families send the school (emails), most answered within a school
    day or two, a few left longer. Drawn from their own generator, so the rest of the demo is the
    same whatever these are."""
    parts = []
    n = len(families)
    for _, start, end in terms:
        days = _teaching_days(start, end)
        if not len(days):
            continue
        weekday = (days.astype(np.int64) + 3) % 7
        fridays = days[weekday == 4]
        sent = fridays[rng.random(len(fridays)) < 0.85]
        parts.append(pd.DataFrame({"family_id": None, "date": sent, "activity": "newsletter"}))
        count = rng.poisson(0.5 * len(days) / 60, n)
        who = np.repeat(np.arange(n), count)
        at = rng.integers(0, len(days), len(who))
        parts.append(pd.DataFrame({"f": who, "date": days[at], "activity": "email", "direction": "from family"}))
        # The answer: the same or the next school days for most, up to a week later for some, none for a few.
        delay = rng.choice([0, 1, 2, 3, 5], len(who), p=[0.35, 0.3, 0.15, 0.1, 0.1])
        answered = (rng.random(len(who)) < 0.9) & (at + delay < len(days))
        parts.append(
            pd.DataFrame(
                {
                    "f": who[answered],
                    "date": days[np.minimum(at + delay, len(days) - 1)][answered],
                    "activity": rng.choice(["email", "phone call"], int(answered.sum())),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[pd.to_datetime(frame["date"]).dt.date <= today]
    has = frame["f"].notna()
    frame["family_id"] = None
    frame.loc[has, "family_id"] = families["family_id"].to_numpy()[frame.loc[has, "f"].astype(int).to_numpy()]
    return frame.drop(columns="f")


def _joined(rng, families: pd.DataFrame, today: datetime.date) -> list:
    """One family in twenty joined during this school year (the rest are left unknown, as many MIS
    exports leave them; families with a child in Reception count as joining when the year began)."""
    year_start = datetime.date(today.year if today.month >= 9 else today.year - 1, 9, 1)
    days = _teaching_days(year_start, today)
    out: list = [None] * len(families)
    if len(days):
        for i in np.flatnonzero(rng.random(len(families)) < 0.05):
            out[i] = from_day_number(days[rng.integers(0, len(days))].astype(np.int64))
    return out


def _partner_interactions(rng, partners: pd.DataFrame, terms) -> pd.DataFrame:
    n = len(partners)
    cats = partners["category"].to_numpy()
    status = partners["status"].to_numpy()
    engaged = (rng.random(n) < 0.8) & (status != "prospective") & ~np.isin(cats, list(GAP_CATEGORIES))
    engaged |= (status == "prospective") & (rng.random(n) < 0.15) & ~np.isin(cats, list(GAP_CATEGORIES))
    rate = rng.gamma(1.5, 1.2, n) * engaged * np.where(status == "lapsed", 0.15, 1.0)
    parts = []
    for _term_name, start, end in terms:
        days = _teaching_days(start, end)
        if len(days) == 0:
            continue
        counts = rng.poisson(rate * len(days) / 60.0)
        idx = np.repeat(np.arange(n), counts)
        if not len(idx):
            continue
        acts = [rng.choice(CATEGORY_PROFILE[cats[i]][1]) for i in idx]
        parts.append(
            pd.DataFrame(
                {
                    "partner_id": partners["partner_id"].to_numpy()[idx],
                    "date": rng.choice(days, len(idx)),
                    "activity": acts,
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["partner_id", "date", "activity"])


def _finish_interactions(rng, school_id: str, fam: pd.DataFrame, par: pd.DataFrame, typology) -> pd.DataFrame:
    frame = pd.concat([fam.assign(partner_id=None), par.assign(family_id=None)], ignore_index=True)
    frame["direction"] = frame["direction"].fillna("to family") if "direction" in frame else "to family"
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    frame = frame.sort_values(["date", "activity"], kind="stable").reset_index(drop=True)
    catalogue = {a.name: a for a in typology.activities}
    frame["channel"] = frame["activity"].map(lambda a: catalogue[a].channel)
    frame["two_way"] = frame["activity"].map(lambda a: catalogue[a].two_way)
    # Some phone calls go unanswered: recorded, but one-way.
    unanswered = (frame["activity"] == "phone call") & (rng.random(len(frame)) < 0.15)
    frame.loc[unanswered, "two_way"] = False
    # None as a 0-d object array: numpy's stubs take no bare None as an array, though numpy does.
    frame["notes"] = np.where(unanswered, "No answer; left a message", np.array(None, dtype=object))
    frame["staff"] = rng.choice(["FLO", "Class teacher", "SENCo", "Head", "Office"], len(frame))
    frame["school_id"] = school_id
    frame["interaction_id"] = [f"{school_id}-I{i + 1:06d}" for i in range(len(frame))]
    return frame[
        [
            "interaction_id",
            "school_id",
            "date",
            "family_id",
            "partner_id",
            "activity",
            "channel",
            "two_way",
            "staff",
            "notes",
            "direction",
        ]
    ]


# Transitions and surveys are written for the first schools only: at the authority's scale they would
# add millions of rows to a benchmark that does not read them.
VOICE_SCHOOLS = 25


def _transitions_for(rng, families: pd.DataFrame, partners: pd.DataFrame, today: datetime.date):
    """The demo school's moves: its Year 6 leaving for secondary next September, a few in-year
    moves and moves to a special school around today (some SEND children due soon with no meeting,
    so outreach raises them), and the plan of each, done as a busy school would have it."""
    from engagement.transitions import plan_rows

    secondary = partners[(partners["category"] == "partner school") & partners["name"].str.contains("Secondary")]
    secondary_ids = secondary["partner_id"].tolist() or [None]
    # Year 6 leave on the last day of the summer term; the move is dated then, in this school year.
    last_day = datetime.date(today.year + (today.month >= 9), 7, 21)
    rows = []
    year6 = families[families["year_groups"].str.contains("6")]
    for n, fam in enumerate(year6.itertuples()):
        rows.append(
            {
                "family_id": fam.family_id,
                "kind": "year 6 to year 7",
                "direction": "leaving",
                "other_setting": secondary_ids[n % len(secondary_ids)],
                "date": last_day,
                "send": bool(fam.send),
            }
        )
    # Reception started in September from the local nurseries: moves this school year already made,
    # their plans mostly complete (a governor's "share with a complete plan" has something to show).
    september = datetime.date(today.year - (today.month < 9), 9, 3)
    while september.weekday() > 4:  # the first weekday
        september += datetime.timedelta(days=1)
    nurseries = ["Hollybrook Nursery", "Stirchley Children's Centre", "Little Acorns Day Nursery"]
    reception = families[families["year_groups"].str.fullmatch("R") & ~families["family_id"].isin(year6["family_id"])]
    for n, fam in enumerate(reception.itertuples()):
        if september <= today:
            rows.append(
                {
                    "family_id": fam.family_id,
                    "kind": "nursery to reception",
                    "direction": "joining",
                    "other_setting": nurseries[n % len(nurseries)],
                    "date": september,
                    "send": bool(fam.send),
                }
            )
    others = families[
        ~families["family_id"].isin(year6["family_id"]) & ~families["family_id"].isin(reception["family_id"])
    ]
    send_ids, rest_ids = others[others["send"]]["family_id"].tolist(), others[~others["send"]]["family_id"].tolist()
    specials = [
        ("to special school", "leaving", "Longwill School for Deaf Children", 21, True),
        ("to special school", "leaving", "Baskerville School", 45, True),
        ("in-year move", "leaving", "Cotteridge Primary School", 12, True),
        ("in-year move", "joining", "Kings Norton Primary School", -40, True),
        ("from special school", "joining", "Selly Oak Trust School", -75, True),
        ("in-year move", "leaving", "Bournville Village Primary", 30, False),
        ("in-year move", "joining", "Stirchley Primary School", -20, False),
        ("in-year move", "leaving", "Hazelwell Academy", 80, False),
    ]
    for kind, direction, setting, offset, send in specials:
        pool = send_ids if send else rest_ids
        if pool:
            rows.append(
                {
                    "family_id": pool.pop(int(rng.integers(len(pool)))),
                    "kind": kind,
                    "direction": direction,
                    "other_setting": setting,
                    "date": today + datetime.timedelta(days=offset),
                    "send": send,
                }
            )
    moves = pd.DataFrame(rows)
    if moves.empty:
        return moves, pd.DataFrame()
    moves.insert(0, "transition_id", [f"{fid}-T{n + 1}" for n, fid in enumerate(moves["family_id"])])
    steps = pd.DataFrame([step for move in moves.to_dict("records") for step in plan_rows(move)])
    send = steps["transition_id"].map(dict(zip(moves["transition_id"], moves["send"], strict=True))).to_numpy()
    overdue = (steps["due"] < today).to_numpy()
    moved = (
        steps["transition_id"].map(dict(zip(moves["transition_id"], moves["date"], strict=True))) < today
    ).to_numpy()
    # Steps of a move already made were mostly done; of one to come, the overdue ones often.
    likely = np.where(moved, 0.94, np.where(send, 0.8, 0.65))
    done = np.where(overdue, rng.random(len(steps)) < likely, rng.random(len(steps)) < 0.12)
    # The soonest SEND moves have no meeting yet: the case outreach must raise.
    soon = moves[moves["send"] & (moves["date"] >= today) & (moves["date"] <= today + datetime.timedelta(days=30))]
    done &= ~(steps["transition_id"].isin(soon["transition_id"]) & (steps["step"] == "meeting")).to_numpy()
    steps["done"] = done
    steps["done_on"] = [min(due, today) if d else None for due, d in zip(steps["due"], done, strict=True)]
    steps["done_by"] = np.where(done, "SENCo (demo)", np.array(None, dtype=object))
    return moves, steps


def _survey_rounds(rng, families: pd.DataFrame, terms, today: datetime.date) -> pd.DataFrame:
    """Two rounds of each survey: one in the previous term, one in this term (up to today). Fewer
    pupil premium, EAL and SEND families feel they belong, and a little more so in the later round."""
    from engagement.plans_and_surveys import load_surveys

    (_, previous_start, _), (_, current_start, _) = terms[-2], terms[-1]
    dates = [previous_start + datetime.timedelta(days=35), min(today, current_start + datetime.timedelta(days=28))]
    n = len(families)
    base = (
        0.8
        - 0.14 * families["pupil_premium"].to_numpy()
        - 0.12 * families["eal"].to_numpy()
        - 0.16 * families["send"].to_numpy()
    )
    parts = []
    for survey in load_surveys().surveys:
        for k, date in enumerate(dates):
            answered = rng.random(n) < (0.45 if survey.anonymous else 0.62)
            idx = np.flatnonzero(answered)
            likely = np.clip(base[idx] + 0.05 * k + rng.normal(0, 0.08, len(idx)), 0.05, 0.97)
            for question in survey.questions:
                agree = rng.random(len(idx)) < likely
                on_side = [a for a in survey.scale if a in survey.agree]
                off_side = [a for a in survey.scale if a not in survey.agree and a not in survey.unscored]
                answer = np.where(
                    agree, rng.choice(on_side, len(idx), p=[0.55, 0.45][: len(on_side)]), rng.choice(off_side, len(idx))
                )
                if survey.unscored:
                    answer = np.where(rng.random(len(idx)) < 0.05, survey.unscored[0], answer)
                parts.append(
                    pd.DataFrame(
                        {
                            "school_id": families["school_id"].iloc[0],
                            "survey": survey.key,
                            "date": date,
                            "question": question.key,
                            "answer": answer,
                            "family_id": None if survey.anonymous else families["family_id"].to_numpy()[idx],
                            "respondent": "parent",
                        }
                    )
                )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# The week of the demo: registers for its gatherings, referrals with their histories, families' clubs.
EVENT_ACTIVITIES = ("PTFA event", "parents evening", "family workshop")
REFERRAL_CATEGORIES = ("early help", "health", "mental health service", "food bank", "community SEND group")
CLUB_CATEGORIES = ("after-school club", "sports club", "library", "youth organisation", "faith group")
DECLINED_BECAUSE = ("no places until the spring", "outside the service's area", "family already supported")


def _week_for(rng, school_id: str, families: pd.DataFrame, partners: pd.DataFrame, contacts: pd.DataFrame, today):
    """The demo school's week, made from what it already holds, so no other figure moves: an event
    register for each day's gathering that several families came to (their logged contacts), about
    thirty referrals to agencies with every status they went through, and the clubs some families use."""
    gathered = contacts[contacts["activity"].isin(EVENT_ACTIVITIES) & contacts["family_id"].notna()]
    events, registers = [], []
    for n, ((date, activity), group) in enumerate(sorted(gathered.groupby(["date", "activity"]), key=lambda g: g[0])):
        if len(group) < 3:
            continue
        event_id = f"{school_id}-E{n + 1:03d}"
        events.append(
            {
                "event_id": event_id,
                "school_id": school_id,
                "date": date,
                "activity": activity,
                "partner_ids": None,
                "attendees": len(group) + int(rng.integers(0, 6)),
                "volunteer_hours": float(rng.integers(0, 12)) if activity == "PTFA event" else None,
                "money_raised": float(rng.integers(50, 400)) if activity == "PTFA event" else None,
                "staff": "FLO",
                "notes": None,
            }
        )
        # A family on a register once (the store's key), by its first contact of the day.
        once = group.drop_duplicates("family_id")
        registers += [
            {"interaction_id": i, "event_id": event_id, "family_id": f}
            for i, f in zip(once["interaction_id"], once["family_id"], strict=True)
        ]
    agencies = partners[partners["category"].isin(REFERRAL_CATEGORIES)]["partner_id"].tolist()
    clubs = partners[partners["category"].isin(CLUB_CATEGORIES)]["partner_id"].tolist()
    needy = families[families["pupil_premium"] | families["send"]]["family_id"].tolist()
    referrals, steps = [], []
    if agencies and needy:
        for n, family in enumerate(rng.choice(needy, size=min(30, len(needy)), replace=False)):
            made = today - datetime.timedelta(days=int(rng.integers(5, 200)))
            story = [("sent", made)]
            fate = rng.random()
            when = made
            if fate < 0.8:
                when = min(today, when + datetime.timedelta(days=int(rng.integers(2, 15))))
                story.append(("declined" if fate < 0.15 else "accepted", when))
            if 0.15 <= fate < 0.6:
                when = min(today, when + datetime.timedelta(days=int(rng.integers(10, 60))))
                story.append(("completed", when))
            reason = str(rng.choice(DECLINED_BECAUSE)) if story[-1][0] == "declined" else None
            referral_id = f"{school_id}-R{n + 1:03d}"
            referrals.append(
                {
                    "referral_id": referral_id,
                    "school_id": school_id,
                    "family_id": str(family),
                    "partner_id": str(rng.choice(agencies)),
                    "date": made,
                    "reasons": str(rng.choice(["housing", "food", "wellbeing", "SEND support", "parenting"])),
                    "status": story[-1][0],
                    "status_date": story[-1][1],
                    "decline_reason": reason,
                    "staff": "FLO",
                }
            )
            steps += [
                {
                    "referral_id": referral_id,
                    "status": status,
                    "date": date,
                    "note": reason if status == "declined" else None,
                    "staff": "FLO",
                }
                for status, date in story
            ]
    links = []
    if clubs:
        for family in rng.choice(families["family_id"].to_numpy(), size=min(60, len(families)), replace=False):
            links.append(
                {
                    "family_id": str(family),
                    "partner_id": str(rng.choice(clubs)),
                    "school_id": school_id,
                    "relation": str(rng.choice(["member", "user"])),
                    "start": today - datetime.timedelta(days=int(rng.integers(30, 700))),
                    "end": None,
                }
            )
    return (
        pd.DataFrame(events),
        pd.DataFrame(registers),
        pd.DataFrame(referrals),
        pd.DataFrame(steps),
        pd.DataFrame(links).drop_duplicates(["family_id", "partner_id"]) if links else pd.DataFrame(),
    )


# The demo's partnerships (issue 29): one large enough to evaluate, one too small to tell, and the
# year's action plan of eight goals across Epstein's six types, each goal tied to a figure.
PLAN_GOALS = (
    (
        "communicating",
        "More of our contact with families is a conversation",
        "Phone every new family in their first fortnight; answer every message within two days",
        "FLO",
        30,
        "communication.open",
        0.5,
        "in progress",
    ),
    (
        "communicating",
        "Reach every family two-way each term",
        "Parents' evening follow-up calls for families who did not come",
        "Deputy head",
        -10,
        "families.reach",
        0.95,
        "in progress",
    ),
    (
        "parenting",
        "Close the reach gap for pupil premium families",
        "Coffee mornings at the food pantry with the family support worker",
        "FLO",
        60,
        "equity.pupil_premium.gap_pp",
        -2.0,
        "in progress",
    ),
    (
        "volunteering",
        "More families and neighbours help in school",
        "Volunteer roles for the reading and garden clubs",
        "PTFA chair",
        90,
        "events.volunteer_hours",
        20.0,
        "not started",
    ),
    (
        "learning at home",
        "Families try more kinds of involvement",
        "Reading diary workshops in Reception and Year 1",
        "English lead",
        -20,
        "families.breadth",
        2.2,
        "done",
    ),
    (
        "decision making",
        "Families feel they belong and are heard",
        "A parent forum each half-term, SEND parents invited in person",
        "Head",
        120,
        "belonging.agree",
        0.8,
        "in progress",
    ),
    (
        "collaborating with community",
        "Referrals reach an outcome",
        "Follow up every referral at four weeks",
        "SENCO",
        -5,
        "referrals.completed",
        10.0,
        "in progress",
    ),
    (
        "collaborating with community",
        "Work with more of the community around us",
        "Invite the care home and two employers to the summer fair",
        "Business manager",
        150,
        None,
        None,
        "not started",
    ),
)


def _partnerships_for(rng, school_id: str, families: pd.DataFrame, partners: pd.DataFrame, terms, today):
    """Two partnerships of the school, begun at the current term's start (between the two rounds of
    the belonging survey, so the large one has a before and an after), and its action plan. The
    families and answers are the demo's own: only who is a member is drawn here."""
    from engagement.transitions import school_year

    start = terms[-1][1]

    def partner_of(*categories: str) -> list[str]:
        return [
            str(partners.loc[partners["category"] == c, "partner_id"].iloc[0])
            for c in categories
            if (partners["category"] == c).any()
        ]

    play = partner_of("community SEND group", "sports club")
    reading = partner_of("library")
    rows = [
        {
            "partnership_id": f"{school_id}-PS1",
            "school_id": school_id,
            "name": "Saturday inclusive play",
            "schools": None,
            "partners": ";".join(play),
            "aims": "Children with SEND play alongside their classmates "
            "every Saturday morning; their families meet other families and the SEND parents group",
            "epstein_type": "collaborating with community",
            "start": start,
            "review": start + datetime.timedelta(days=196),
            "status": "active",
            "version": 1,
        },
        {
            "partnership_id": f"{school_id}-PS2",
            "school_id": school_id,
            "name": "Reading buddies at the library",
            "schools": None,
            "partners": ";".join(reading),
            "aims": "Year 2 children and a parent read with a volunteer at the library after school",
            "epstein_type": "learning at home",
            "start": start + datetime.timedelta(days=21),
            "review": None,
            "status": "active",
            "version": 1,
        },
    ]
    ids = families["family_id"].to_numpy()
    send = families["send"].to_numpy()
    weight = np.where(send, 6.0, 1.0)
    play_members = rng.choice(ids, min(60, len(ids)), replace=False, p=weight / weight.sum())
    rest = ids[~np.isin(ids, play_members)]
    reading_members = rng.choice(rest, min(6, len(rest)), replace=False)
    members = [
        {
            "partnership_id": rows[0]["partnership_id"],
            "family_id": f,
            "joined": None,
            "left": start + datetime.timedelta(days=30) if k < 2 else None,
        }
        for k, f in enumerate(sorted(play_members))
    ] + [
        {"partnership_id": rows[1]["partnership_id"], "family_id": f, "joined": None, "left": None}
        for f in sorted(reading_members)
    ]
    first, _ = school_year(today)
    year = f"{first.year}-{(first.year + 1) % 100:02d}"
    plan = [
        {
            "plan_id": f"{school_id}-A{n}",
            "school_id": school_id,
            "year": year,
            "epstein_type": kind,
            "goal": goal,
            "activity": activity,
            "owner": owner,
            "due": today + datetime.timedelta(days=due),
            "measure": measure,
            "target": target,
            "baseline": None,
            "status": status,
            "version": 1,
        }
        for n, (kind, goal, activity, owner, due, measure, target, status) in enumerate(PLAN_GOALS, start=1)
    ]
    return pd.DataFrame(rows), pd.DataFrame(members), pd.DataFrame(plan)


def generate(scale: str = "school", seed: int = 42, today: datetime.date | None = None) -> DemoData:
    """Generate the demo data set at ``scale`` (school, trust or authority), deterministic for a
    given seed and date. The three most recent school terms end at ``today``."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}")
    today = today or clock.today()
    n_schools, families_mean, n_partners, spread = SCALES[scale]
    rng = np.random.default_rng(seed)
    typology = load_typology()
    terms = _three_terms(today)
    school_rows = _school_rows(rng, n_schools, spread, families_mean)
    partners, families, interactions, moves, steps, answers = [], [], [], [], [], []
    week: list[tuple[pd.DataFrame, ...]] = []
    together: list[tuple[pd.DataFrame, ...]] = []
    messages = np.random.default_rng([seed, 3])  # the communication panel's data: a generator of its own
    for number, school in enumerate(school_rows):
        p = _partners_for(rng, school, n_partners, typology)
        f = _families_for(rng, school, school["_families"])
        f["joined"] = _joined(messages, f, today)
        fi = pd.concat([_family_interactions(rng, f, terms), _messages(messages, f, terms, today)], ignore_index=True)
        pi = _partner_interactions(rng, p, terms)
        partners.append(p)
        families.append(f)
        interactions.append(_finish_interactions(rng, school["school_id"], fi, pi, typology))
        if number < VOICE_SCHOOLS:
            # A separate generator, so the moves and surveys leave every other demo figure as it was.
            voice_rng = np.random.default_rng([seed, number])
            m, s = _transitions_for(voice_rng, f, p, today)
            moves.append(m.assign(school_id=school["school_id"]))
            steps.append(s)
            answers.append(_survey_rounds(voice_rng, f, terms, today))
            week_rng = np.random.default_rng([seed, number, 7])
            week.append(_week_for(week_rng, school["school_id"], f, p, interactions[-1], today))
            partnership_rng = np.random.default_rng([seed, number, 29])
            together.append(_partnerships_for(partnership_rng, school["school_id"], f, p, terms, today))
    schools = pd.DataFrame([{k: v for k, v in s.items() if not k.startswith("_")} for s in school_rows])
    families_all = pd.concat(families, ignore_index=True)
    partners_all = pd.concat(partners, ignore_index=True)
    return DemoData(
        schools=schools,
        partners=partners_all,
        families=families_all,
        interactions=pd.concat(interactions, ignore_index=True),
        gazetteer=_gazetteer(rng, families_all, partners_all),
        transitions=pd.concat(moves, ignore_index=True),
        transition_steps=pd.concat(steps, ignore_index=True),
        survey_responses=pd.concat(answers, ignore_index=True),
        **{
            name: pd.concat([w[i] for w in week], ignore_index=True) if week else pd.DataFrame()
            for i, name in enumerate(("events", "event_contacts", "referrals", "referral_steps", "family_partners"))
        },
        **{
            name: pd.concat([t[i] for t in together], ignore_index=True) if together else pd.DataFrame()
            for i, name in enumerate(("partnerships", "partnership_members", "action_plan"))
        },
    )


def _gazetteer(rng, families: pd.DataFrame, partners: pd.DataFrame) -> pd.DataFrame:
    """Coordinates for the demo's family postcodes (near their sector's centroid), so the map's
    family sectors work offline; partners carry their own coordinates."""
    codes = pd.Series(families["postcode"].dropna().unique())
    sector = codes.str[:-2].str.strip()
    known = sector.isin(list(SECTORS))
    codes, sector = codes[known], sector[known]
    centre = np.array([SECTORS[s] for s in sector]) if len(sector) else np.zeros((0, 2))
    lat, lon = (
        _offset(centre[:, 0], centre[:, 1], rng.normal(0, 0.25, len(codes)), rng.normal(0, 0.25, len(codes)))
        if len(codes)
        else (np.array([]), np.array([]))
    )
    return pd.DataFrame({"postcode": codes.to_numpy(), "latitude": np.round(lat, 6), "longitude": np.round(lon, 6)})


def _bulk_insert(conn, table: sa.Table, frame: pd.DataFrame, chunk: int = 50_000) -> None:
    columns = list(frame.columns)
    values = frame.astype(object).where(frame.notna(), None)
    for start in range(0, len(values), chunk):
        rows = [dict(zip(columns, r)) for r in values.iloc[start : start + chunk].itertuples(index=False, name=None)]
        conn.execute(table.insert(), rows)


def load_demo(
    store: db.Store, scale: str = "school", seed: int = 42, today: datetime.date | None = None, actor: str = "demo"
) -> DemoData:
    """Replace any demo data in the store with a freshly generated set, in one transaction.
    Real schools in the same store are left alone."""
    data = generate(scale, seed, today)
    db.clear_demo_data(store, actor=actor)
    with store.write(actor=actor) as conn:
        _bulk_insert(conn, db.schools, data.schools)
        # The partners' tags are their services' (engagement.services), not a column of theirs.
        _bulk_insert(conn, db.partners, data.partners.drop(columns=["services"]))
        _bulk_insert(conn, db.services, demo_services(data.partners))
        _bulk_insert(conn, db.families, data.families)
        _bulk_insert(conn, db.interactions, data.interactions)
        _bulk_insert(conn, db.transitions, data.transitions)
        _bulk_insert(conn, db.transition_steps, data.transition_steps)
        _bulk_insert(conn, db.survey_responses, data.survey_responses)
        for name in (
            "events",
            "event_contacts",
            "referrals",
            "referral_steps",
            "family_partners",
            "partnerships",
            "partnership_members",
            "action_plan",
        ):
            _bulk_insert(conn, db.TABLES[name], getattr(data, name))
        existing = set(conn.execute(sa.select(db.gazetteer.c.postcode)).scalars())
        _bulk_insert(conn, db.gazetteer, data.gazetteer[~data.gazetteer["postcode"].isin(existing)])
        db.audit(
            conn,
            "load demo",
            "schools",
            detail=(
                f"demo scale {scale}, seed {seed}: {len(data.schools)} schools, {len(data.partners)} partners, "
                f"{len(data.families)} families, {len(data.interactions)} interactions, {len(data.transitions)} "
                f"transitions, {len(data.survey_responses)} survey answers, {len(data.events)} events, "
                f"{len(data.referrals)} referrals"
            ),
        )
    return data
