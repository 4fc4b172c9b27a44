"""The next step for each gap in the school's community: a layer's category with no engaged partner
(:func:`engagement.scoring.gaps`, "no intergenerational link") is named with the nearest partners
of that category the school could contact (listed ones, active or prospective, and organisations of
the local offer), each with its distance from the school and its last contact; and the contact is
planned as a goal of the year's partnership action plan, tied to the layer's coverage, so that the
Partnerships page follows it like any other goal.

The Community layers page shows what :func:`next_steps` returns and nothing more; the rule (which
categories a layer needs, who the candidates are, nearest first) is here only.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from engagement import partnerships
from engagement import store as db
from engagement.cells import is_blank
from engagement.typology import LISTED_STATUSES, LOCAL_OFFER, Typology, load_typology

# Who may be contacted to close a gap: a listed partner not engaged in the window, or an
# organisation of the local offer (never a lapsed partner: the school ended that one).
CANDIDATE_STATUSES = (*LISTED_STATUSES, LOCAL_OFFER)
# A planned contact is a goal of this Epstein type: resources and services from the community.
PLAN_TYPE = "collaborating with community"
# How long a planned contact is given by default.
PLAN_WEEKS = 4


@dataclass(frozen=True)
class Candidate:
    """A partner that could close a gap."""

    partner_id: str
    name: str
    status: str
    distance_km: float | None
    last_contact: datetime.date | None
    phone: str | None

    def short(self) -> str:
        """ "Cotteridge Care Home, 0.5 km": the name and distance only, for a list beside a drawing."""
        return self.name if self.distance_km is None else f"{self.name}, {self.distance_km:.1f} km"

    def text(self, with_phone: bool = True) -> str:
        """ "Cotteridge Care Home (0.5 km, active, no contact yet, tel. 0121 496 0020)"."""
        parts = [] if self.distance_km is None else [f"{self.distance_km:.1f} km"]
        parts.append("in the local offer" if self.status == LOCAL_OFFER else self.status)
        parts.append("no contact yet" if self.last_contact is None else f"last contact {self.last_contact:%d/%m/%Y}")
        if with_phone and self.phone:
            parts.append(f"tel. {self.phone}")
        return f"{self.name} ({', '.join(parts)})"


@dataclass(frozen=True)
class GapStep:
    """One gap and what to do about it. ``candidates`` nearest first (none when the school lists
    no partner of the category and the local offer has none); ``next_step`` says it in a sentence."""

    layer: int
    category: str
    gap: str
    candidates: tuple[Candidate, ...]
    next_step: str
    measure: str
    target: float

    @property
    def heading(self) -> str:
        """The gap as a heading: "No SEND support service engaged" (its first letter raised, an
        acronym in it kept)."""
        return self.gap[:1].upper() + self.gap[1:]


def _day(value) -> datetime.date | None:
    if value is None or is_blank(value) or pd.isna(value):  # NaT: never contacted
        return None
    return pd.Timestamp(value).date()


def _number(value) -> float | None:
    return None if is_blank(value) or (isinstance(value, float) and math.isnan(value)) else float(value)


def next_steps(
    gaps: Mapping[int, list[str]],
    partners: pd.DataFrame,
    *,
    per_gap: int = 3,
    typology: Typology | None = None,
) -> list[GapStep]:
    """For each gap of ``gaps`` (layer -> categories with no engaged partner, as
    :func:`engagement.scoring.gaps` gives them), the ``per_gap`` nearest partners of its category
    in ``partners`` (:func:`engagement.partners.partners_in_window`: name, category, status,
    distance_km, last_contact, contact_phone) that could close it, and the next step in words.
    Each step carries the layer's coverage figure (``layers.<n>.coverage``) and the coverage the
    layer would reach with this gap closed: what a planned contact is measured by.

    >>> partners = pd.DataFrame([
    ...     {"partner_id": "P1", "name": "Cotteridge Care Home", "category": "care home", "status": "active",
    ...      "distance_km": 0.4575, "last_contact": None, "contact_phone": "0121 496 0020"},
    ...     {"partner_id": "P2", "name": "Old Food Bank", "category": "food bank", "status": "lapsed",
    ...      "distance_km": 0.2, "last_contact": None, "contact_phone": None}])
    >>> care, food = next_steps({3: ["care home", "food bank"]}, partners)
    >>> care.gap, care.candidates[0].text(), care.measure, care.target
    ('no intergenerational link', 'Cotteridge Care Home (0.5 km, active, no contact yet, tel. 0121 496 0020)', \
'layers.3.coverage', 0.93)
    >>> care.next_step, care.candidates[0].short()
    ('Contact Cotteridge Care Home (0.5 km, active, no contact yet).', 'Cotteridge Care Home, 0.5 km')
    >>> food.candidates, food.next_step
    ((), 'No food bank is listed, nor in the local offer: add one on the Directory page, or import the \
local offer on the Data page.')
    """
    typology = typology or load_typology()
    usable = partners[partners["status"].isin(CANDIDATE_STATUSES)] if len(partners) else partners
    steps = []
    for layer, names in gaps.items():
        of_layer = len(typology.categories_of_layer(layer))
        covered = of_layer - len(names)
        for name in names:
            category = typology.category(name)
            found = usable[usable["category"] == name] if len(usable) else usable
            if len(found):
                found = found.assign(_far=found["distance_km"].fillna(float("inf"))).sort_values(
                    ["_far", "name"], kind="mergesort"
                )
            candidates = tuple(
                Candidate(
                    partner_id=str(r["partner_id"]),
                    name=str(r["name"]),
                    status=str(r["status"]),
                    distance_km=None if _number(r.get("distance_km")) is None else round(float(r["distance_km"]), 1),
                    last_contact=_day(r.get("last_contact")),
                    phone=None if is_blank(r.get("contact_phone")) else " ".join(str(r["contact_phone"]).split()),
                )
                for r in found.head(per_gap).to_dict("records")
            )
            if candidates:
                nearest = candidates[0]
                offer = ": take it on once it agrees" if nearest.status == LOCAL_OFFER else ""
                step = f"Contact {nearest.text(with_phone=False)}{offer}."
            else:
                step = (
                    f"No {name} is listed, nor in the local offer: add one on the Directory page, "
                    "or import the local offer on the Data page."
                )
            steps.append(
                GapStep(
                    layer=layer,
                    category=name,
                    gap=category.gap if category is not None and category.gap else f"no {name}",
                    candidates=candidates,
                    next_step=step,
                    measure=f"layers.{layer}.coverage",
                    target=round((covered + 1) / of_layer, 2) if of_layer else 1.0,
                )
            )
    return steps


def _mark(candidate: Candidate) -> str:
    # How a goal names its partner, so that the same contact is not planned twice.
    return f"(partner {candidate.partner_id})"


def planned_goal(store: db.Store, school_id: str, candidate: Candidate, today: datetime.date) -> str | None:
    """The goal of this school year's action plan, not done, that already plans a contact with
    ``candidate``; None when there is none."""
    plan = partnerships.load_plan(store, school_id, partnerships.year_label(today))
    for row in plan.to_dict("records"):
        if row["status"] != "done" and _mark(candidate) in str(row.get("activity") or ""):
            return str(row["plan_id"])
    return None


@dataclass(frozen=True)
class Planned:
    """What planning a contact did: the goal that plans it, whether it is new (False: an earlier
    goal, not yet done, already plans a contact with this partner) and why it was refused."""

    plan_id: str
    new: bool
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


def plan_contact(
    store: db.Store,
    actor: str,
    school_id: str,
    step: GapStep,
    candidate: Candidate,
    *,
    today: datetime.date,
    owner: str = "",
    due: datetime.date | None = None,
) -> Planned:
    """Plan the contact that would close ``step``'s gap: a goal of the school year's action plan
    (checked and audited as the Partnerships page's own save is), measured by the layer's coverage
    with the gap closed as its target. Not planned twice: when a goal not yet done already plans a
    contact with this partner, that goal is the answer."""
    already = planned_goal(store, school_id, candidate, today)
    if already is not None:
        return Planned(already, new=False)
    offer = (
        "; in the local offer: take it on as a prospective partner once it agrees"
        if candidate.status == LOCAL_OFFER
        else ""
    )
    plan_id = partnerships.new_reference(store, school_id, "action_plan")
    values = {
        "plan_id": plan_id,
        "year": partnerships.year_label(today),
        "epstein_type": PLAN_TYPE,
        "goal": f"Close the gap: {step.gap} ({step.category}, layer {step.layer})",
        "activity": f"Contact {candidate.text()} {_mark(candidate)}{offer}",
        "owner": owner,
        "due": due or today + datetime.timedelta(weeks=PLAN_WEEKS),
        "measure": step.measure,
        "target": f"{step.target:g}",
        "baseline": "",
        "status": "not started",
    }
    report = partnerships.save_goal(store, actor, school_id, values)
    return Planned(plan_id, new=report.ok, problems=tuple(str(p) for p in report.errors))
