"""The store's tables, as SQLAlchemy declares them: the school's records, the school's week, the
transitions and surveys, the partnerships, the caches and the audit log; :data:`TABLES` by name
and :data:`KEY_OF` each record table's key. Alembic's migrations are written from these."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy import (
    text as sql_text,
)

from engagement.typology import PARTNER_STATUSES

if TYPE_CHECKING:  # pandas is imported where a frame is built: the store itself never needs it
    pass


metadata = MetaData()

schools = Table(
    "schools",
    metadata,
    Column("school_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("postcode", String(16), nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("pupils", Integer),
    Column("staff", Integer),
    Column("demo", Boolean, nullable=False, default=False),
)

partners = Table(
    "partners",
    metadata,
    Column("partner_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(300), nullable=False),
    Column("category", String(100), nullable=False),
    Column("layer", Integer, nullable=False),
    Column("address", Text),
    Column("postcode", String(16)),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("contact_name", String(200)),
    Column("contact_email", String(200)),
    Column("contact_phone", String(50)),
    Column("status", String(20), nullable=False, default="active"),
    Column("since", Date),
    Column("last_verified", Date),
    Column("notes", Text),
    # Who last said "checked today" (the date is last_verified); empty for a date that came in a file.
    Column("verified_by", String(200)),
    # Archived partners are hidden from every list, map and score, and kept with their history.
    Column("archived_on", Date),
    # Raised by every change: a save made from an older version is refused (engagement.directory).
    Column("version", Integer, nullable=False, default=1, server_default="1"),
    # Brought in from an Open Referral UK directory (engagement.openreferral): the feed's
    # organisation and location ids, which feed or files, when last imported, and the feed's
    # values as last imported (JSON), so a re-import changes only what the school has not.
    Column("oruk_organisation_id", String(100)),
    Column("oruk_location_id", String(100)),
    Column("oruk_source", Text),
    Column("oruk_imported_at", DateTime(timezone=True)),
    Column("oruk_record", Text),
    CheckConstraint("layer IN (2, 3, 4)", name="partner_layer"),
    CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in PARTNER_STATUSES) + ")", name="partner_status"),
    Index("ix_partners_school", "school_id"),
)

services = Table(
    "services",
    metadata,
    Column("service_id", String(100), primary_key=True),
    Column("partner_id", String(64), ForeignKey("partners.partner_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(300), nullable=False),
    Column("tags", Text),
    Column("min_age", Integer),
    Column("max_age", Integer),
    Column("cost", Text),
    Column("languages", Text),
    Column("delivery", String(100)),
    Column("sessions", Text),
    Column("access", String(30)),
    Column("eligibility", Text),
    Column("send_inclusive", Boolean, nullable=False, default=False, server_default=false()),
    Column("status", String(30), nullable=False, default="active", server_default="active"),
    Column("version", Integer, nullable=False, default=1, server_default="1"),
    # The service's Open Referral id and the feed's values as last imported (engagement.openreferral).
    Column("oruk_id", String(100)),
    Column("oruk_record", Text),
    Index("ix_services_partner", "partner_id"),
)

families = Table(
    "families",
    metadata,
    Column("family_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("postcode", String(16)),
    Column("pupils", Integer, nullable=False, default=1),
    Column("year_groups", String(100)),
    Column("pupil_premium", Boolean, nullable=False, default=False),
    Column("send", Boolean, nullable=False, default=False),
    Column("eal", Boolean, nullable=False, default=False),
    Column("looked_after", Boolean, nullable=False, default=False),
    Column("young_carer", Boolean, nullable=False, default=False),
    Column("needs", Text),
    Column("preferred_channel", String(20)),
    Column("language", String(60)),
    Column("joined", Date),
    Index("ix_families_school", "school_id"),
)

interactions = Table(
    "interactions",
    metadata,
    Column("interaction_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("date", Date, nullable=False),
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE")),
    Column("partner_id", String(64), ForeignKey("partners.partner_id", ondelete="CASCADE")),
    Column("activity", String(100), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("two_way", Boolean, nullable=False),
    Column("staff", String(200)),
    Column("notes", Text),
    # Who started the contact: the school ("to family") or the family ("from family"), for the
    # communication panel's "reliable" (a message a family sent, answered within two school days).
    Column("direction", String(12), nullable=False, default="to family"),
    # A family, a partner, both (the family took part in the partner's session: it counts for both
    # sides of the metrics), or neither: a message to all families of the school (a newsletter, an
    # activity of type communicating, see engagement.communication), which the import and the
    # contact form check; so the database itself no longer checks the pair.
    CheckConstraint("direction IN ('to family', 'from family')", name="interaction_direction"),
    Index("ix_interactions_school_date", "school_id", "date"),
    # Every column a family's contacts are counted from, in the order they are grouped: the Schools
    # page's figures read this index alone, in order (migration 0012).
    Index("ix_interactions_family_date", "family_id", "date", "two_way", "activity"),
    Index("ix_interactions_partner_date", "partner_id", "date"),
    # The few contacts naming both: the loader reads their partner side through this alone, so
    # the many one-sided contacts cost it nothing more.
    Index(
        "ix_interactions_family_and_partner",
        "school_id",
        sqlite_where=sql_text("family_id IS NOT NULL AND partner_id IS NOT NULL"),
        postgresql_where=sql_text("family_id IS NOT NULL AND partner_id IS NOT NULL"),
    ),
)

# ---- the school's week: event registers, referrals with outcomes, families' partners

events = Table(
    "events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("date", Date, nullable=False),
    Column("activity", String(100), nullable=False),
    Column("partner_ids", Text),  # ";"-separated: the partners who ran it with the school
    Column("attendees", Integer),  # everyone who came, families not on roll included
    Column("volunteer_hours", Float),
    Column("money_raised", Float),
    Column("staff", String(200)),
    Column("notes", Text),
    Index("ix_events_school_date", "school_id", "date"),
)

# Which contacts an event's register recorded (one per attending family, one per running partner).
event_contacts = Table(
    "event_contacts",
    metadata,
    Column(
        "interaction_id", String(64), ForeignKey("interactions.interaction_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("event_id", String(64), ForeignKey("events.event_id", ondelete="CASCADE"), nullable=False),
    # The contact's family, copied from it (see link_to_events), so that the database itself keeps
    # a family on a register once: an interactions.csv naming the event for two contacts of one
    # family, or two saves at once, cannot double it. Empty for a partner's contact, which the
    # key leaves alone (empty values never clash in a unique index, on SQLite as on PostgreSQL).
    Column("family_id", String(64)),
    Index("ix_event_contacts_event", "event_id"),
    Index("ux_event_contacts_family", "event_id", "family_id", unique=True),
)

REFERRAL_STATUSES = ("sent", "accepted", "declined", "completed", "no longer needed")

referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE"), nullable=False),
    Column("partner_id", String(64), ForeignKey("partners.partner_id", ondelete="CASCADE"), nullable=False),
    Column("date", Date, nullable=False),
    Column("reasons", Text),
    Column("status", String(20), nullable=False),
    Column("status_date", Date, nullable=False),
    Column("decline_reason", Text),
    Column("staff", String(200)),
    CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in REFERRAL_STATUSES) + ")", name="referral_status"),
    Index("ix_referrals_school_date", "school_id", "date"),
    Index("ix_referrals_partner", "partner_id"),
    Index("ix_referrals_family", "family_id"),
)

# Every status a referral has had, with its date: the outcome's story, not only its end.
referral_steps = Table(
    "referral_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(64), ForeignKey("referrals.referral_id", ondelete="CASCADE"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("date", Date, nullable=False),
    Column("note", Text),
    Column("staff", String(200)),
    Index("ix_referral_steps_referral", "referral_id"),
)

family_partners = Table(
    "family_partners",
    metadata,
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE"), primary_key=True),
    Column("partner_id", String(64), ForeignKey("partners.partner_id", ondelete="CASCADE"), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("relation", String(60)),
    Column("start", Date),
    Column("end", Date),
    Index("ix_family_partners_partner", "partner_id"),
    Index("ix_family_partners_school", "school_id"),
)

# A school's own calendar: its terms, and the holidays (half-terms, training days) inside them.
# Without any, the school has the default terms for England of the settings (engagement.terms).
terms = Table(
    "terms",
    metadata,
    Column("term_id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("name", String(100), nullable=False),
    Column("start", Date, nullable=False),
    Column("end", Date, nullable=False),
    CheckConstraint("kind IN ('term', 'holiday')", name="term_kind"),
    CheckConstraint('"end" >= "start"', name="term_dates"),
    Index("ix_terms_school", "school_id"),
)

# SEND transitions (issue 19): a child of a family moving between settings, and its plan's steps
# (from data/transition_plan.toml), each done or not, with who marked it.
transitions = Table(
    "transitions",
    metadata,
    Column("transition_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("direction", String(10), nullable=False, default="leaving"),
    Column("other_setting", String(300)),
    Column("date", Date, nullable=False),
    Column("send", Boolean, nullable=False, default=False),
    Index("ix_transitions_school_date", "school_id", "date"),
    Index("ix_transitions_family", "family_id"),
)

transition_steps = Table(
    "transition_steps",
    metadata,
    Column("step_id", String(140), primary_key=True),  # "<transition_id>/<step key>"
    Column("transition_id", String(64), ForeignKey("transitions.transition_id", ondelete="CASCADE"), nullable=False),
    Column("step", String(60), nullable=False),
    Column("title", String(200), nullable=False),
    Column("owner", String(100)),
    Column("due", Date),
    Column("done", Boolean, nullable=False, default=False),
    Column("done_on", Date),
    Column("done_by", String(200)),
    Index("ix_transition_steps_transition", "transition_id"),
)

# Parent and pupil voice: one row per answer (survey_responses.csv). A round is a survey on a date.
survey_responses = Table(
    "survey_responses",
    metadata,
    Column("response_id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("survey", String(60), nullable=False),
    Column("date", Date, nullable=False),
    Column("question", String(60), nullable=False),
    Column("answer", String(60), nullable=False),
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE")),
    Column("respondent", String(10), nullable=False, default="parent"),
    Index("ix_survey_responses_round", "school_id", "survey", "date"),
    Index("ix_survey_responses_family", "family_id"),
)

# School–community partnerships (issue 29, seed 001): a formal partnership of the school with
# community groups, the families it serves, and the school year's partnership action plan (one
# row per goal, after NNPS's One-Year Action Plan). A partnership's partners and other schools are
# ";"-separated references, as an event's partners are.
PARTNERSHIP_STATUSES = ("planned", "active", "ended")
PLAN_STATUSES = ("not started", "in progress", "done")

partnerships = Table(
    "partnerships",
    metadata,
    Column("partnership_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("schools", Text),
    Column("partners", Text, nullable=False),
    Column("aims", Text),
    Column("epstein_type", String(40)),
    Column("start", Date, nullable=False),
    Column("review", Date),
    Column("status", String(10), nullable=False, default="active"),
    Column("version", Integer, nullable=False, default=1),
    CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in PARTNERSHIP_STATUSES) + ")", name="partnership_status"),
    Index("ix_partnerships_school", "school_id"),
)

partnership_members = Table(
    "partnership_members",
    metadata,
    Column(
        "partnership_id",
        String(64),
        ForeignKey("partnerships.partnership_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE"), primary_key=True),
    Column("joined", Date),  # empty: the partnership's start
    Column("left", Date),
    Index("ix_partnership_members_family", "family_id"),
)

action_plan = Table(
    "action_plan",
    metadata,
    Column("plan_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("year", String(7), nullable=False),
    Column("epstein_type", String(40), nullable=False),
    Column("goal", Text, nullable=False),
    Column("activity", Text),
    Column("owner", String(200)),
    Column("due", Date),
    Column("measure", String(100)),
    Column("target", Float),
    Column("baseline", Float),
    Column("status", String(12), nullable=False, default="not started"),
    Column("version", Integer, nullable=False, default=1),
    CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in PLAN_STATUSES) + ")", name="plan_status"),
    Index("ix_action_plan_school_year", "school_id", "year"),
)

geocode_cache = Table(
    "geocode_cache",
    metadata,
    Column("query", String(400), primary_key=True),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("found", Boolean, nullable=False),
    Column("source", String(40), nullable=False),
    Column("message", Text),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
)

gazetteer = Table(
    "gazetteer",
    metadata,
    Column("postcode", String(16), primary_key=True),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("table_name", String(100), nullable=False),  # an import names every table it changed
    Column("record_id", String(64)),
    Column("before", Text),
    Column("after", Text),
    Column("detail", Text),
    Index("ix_audit_at", "at"),
)

TABLES = {
    t.name: t
    for t in (
        schools,
        partners,
        services,
        families,
        interactions,
        terms,
        geocode_cache,
        gazetteer,
        audit_log,
        events,
        event_contacts,
        referrals,
        referral_steps,
        family_partners,
        transitions,
        transition_steps,
        survey_responses,
        partnerships,
        partnership_members,
        action_plan,
    )
}
KEY_OF = {
    "schools": "school_id",
    "partners": "partner_id",
    "services": "service_id",
    "families": "family_id",
    "interactions": "interaction_id",
    "transitions": "transition_id",
    "transition_steps": "step_id",
    "events": "event_id",
    "event_contacts": "interaction_id",  # a contact is on one register at most
    "partnerships": "partnership_id",
    "action_plan": "plan_id",
}
