"""Outreach planner: the families to reach next and why, the partners near home that fit, logging
the contact, and the list to take out (family liaison officers; never governors)."""

import datetime

import streamlit as st

import ui
from engagement import access, outreach, referrals
from engagement.contacts import InvalidInteraction, interaction_history, log_interaction
from engagement.settings import load_settings
from engagement.store import list_schools
from engagement.typology import CHANNELS, load_typology

viewer, store, school_id = ui.open_page("outreach")

ANY = "Any"
USUAL = "As usual"
OTHER = "Other"


def code(text) -> str:
    """User text as a markdown code span: shown as written, never read as markdown or HTML."""
    text = str(text).replace("\n", " ")
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}"


@st.cache_data(show_spinner=False, max_entries=24, ttl=3600)
def frames_for(url: str, school: str, today: datetime.date, days: int, version: int, role: str):
    # Keyed on the data version (a logged contact refreshes the list) and the role (cached family
    # data never crosses from one role to another).
    return outreach.load_frames(ui.get_store(), school, today, days, ui.school_calendar(ui.get_store(), school))


settings = load_settings().outreach
today = datetime.date.today()
st.title("Outreach planner")
st.caption(
    "Families the school has had no two-way contact with lately, most in need first. Pick a family to see "
    "why it is on the list, who could help near home, and to log the contact."
)

top = st.columns([1.3, 1, 1, 1, 1, 1])
days = int(
    top[0].number_input(
        "School days without contact",
        min_value=1,
        max_value=730,
        step=1,
        value=settings.days_without_contact,
        key="outreach_days",
        help="Counted in the school's own terms: holidays and half-terms do not count.",
    )
)
frames = frames_for(store.url, school_id, today, days, ui.data_version(), viewer.role or "")
flo_reasons = access.sees_flo_reasons(viewer.role)  # a child's move and a family's survey answers
everyone = outreach.worklist(frames, flo_reasons=flo_reasons)
choices = outreach.filter_choices(everyone)
labels = {
    "year_group": "Year group",
    "flag": "Group",
    "sector": "Postcode sector",
    "preferred_channel": "Prefers",
    "language": "Language",
}
picked = {}
for column, (name, label) in zip(top[1:], labels.items()):
    key = f"outreach_filter_{name}"
    options = [ANY, *choices[name]]
    if st.session_state.get(key) not in options:
        st.session_state[key] = ANY
    value = column.selectbox(label, options, key=key)
    picked[name] = None if value == ANY else value
shown = outreach.worklist(
    frames,
    year_group=picked["year_group"],
    flag=picked["flag"],
    sector=picked["sector"],
    channel=picked["preferred_channel"],
    language=picked["language"],
    flo_reasons=flo_reasons,
)

flash = st.session_state.pop("outreach_flash", None)
if flash:
    left = flash["family_id"] not in set(everyone["family_id"])
    st.success(
        flash["message"]
        + (" The family has left the worklist." if left else " It stays on the worklist: the contact was one-way."),
        icon=":material/check:",
    )

st.header(
    f"{len(shown):,} families to reach"
    + (f" (of {len(everyone):,} on the list, filtered)" if len(shown) != len(everyone) else "")
)
st.caption(
    f"No two-way contact in the last {days} {frames.unit}, out of {len(frames.families):,} families on roll. "
    "Priority adds up the reasons shown; the weights are in the school's settings."
)

if shown.empty:
    st.info("No family matches: everyone here has had a two-way contact in that time, or the filters exclude them.")
    st.stop()

table_key = f"outreach_table_{days}_{ui.data_version()}_{'_'.join(str(v) for v in picked.values())}"
selection = st.session_state.get(table_key)
rows = list(selection.selection.rows) if selection is not None else []
ids = shown["family_id"].tolist()
if rows and rows[0] < len(ids) and st.session_state.get("outreach_table_pick") != (table_key, rows[0]):
    st.session_state["outreach_table_pick"] = (table_key, rows[0])
    st.session_state["outreach_family"] = ids[rows[0]]
if st.session_state.get("outreach_family") not in ids:
    st.session_state["outreach_family"] = ids[0]

see_postcode = access.sees_family_detail(viewer.role)
st.dataframe(
    shown,
    key=table_key,
    on_select="rerun",
    selection_mode="single-row",
    hide_index=True,
    height=320,
    column_order=[
        "priority",
        "family_id",
        "reasons",
        "flags",
        "year_groups",
        "preferred_channel",
        "language",
        "postcode" if see_postcode else "sector",
        "last_two_way",
        "days_since",
        "needs",
    ],
    column_config={
        "priority": st.column_config.NumberColumn("Priority", format="%g", width="small"),
        "family_id": st.column_config.TextColumn("Family", help="The MIS reference; no names are held"),
        "postcode": "Postcode",
        "sector": "Sector",
        "year_groups": "Years",
        "flags": "Groups",
        "needs": "Needs",
        "preferred_channel": "Prefers",
        "language": "Language",
        "last_two_way": st.column_config.DateColumn("Last two-way", format="DD/MM/YYYY"),
        "days_since": st.column_config.NumberColumn(
            "Days", help=f"{frames.unit.capitalize()} since the last two-way contact"
        ),
        "reasons": st.column_config.TextColumn("Why now", width="large"),
    },
)

family_id = st.selectbox(
    "Family to work on (or click a row above)",
    ids,
    key="outreach_family",
    format_func=lambda f: f"{f} · priority {shown.loc[shown['family_id'] == f, 'priority'].iloc[0]:g}",
)
row = shown[shown["family_id"] == family_id].iloc[0]

with st.container(border=True):
    st.subheader("Family " + code(family_id))
    about, near = st.columns([1, 1], gap="large")
    with about:
        facts = [
            ("Postcode", row["postcode"] if see_postcode else row["sector"]),
            ("Year groups", row["year_groups"]),
            ("Groups", row["flags"]),
            ("Needs", row["needs"]),
            ("Prefers", row["preferred_channel"]),
            ("Language", row["language"]),
        ]
        st.markdown(
            "  \n".join(
                f"**{name}:** {code(value) if isinstance(value, str) and value else 'not recorded'}"
                for name, value in facts
            )
        )
        st.markdown("**Why now:** " + row["reasons"] + f" (priority {row['priority']:g})")
        st.markdown("**Partners the family uses**")
        uses = referrals.family_links(store, family_id=family_id, today=today)
        if uses.empty:
            st.caption("None recorded (link them on the Events and referrals page).")
        else:
            st.dataframe(
                uses,
                hide_index=True,
                key="outreach_family_partners",
                column_order=["partner", "relation", "start", "end", "current"],
                column_config={
                    "partner": "Partner",
                    "relation": "As",
                    "current": "Now",
                    "start": st.column_config.DateColumn("From", format="DD/MM/YYYY"),
                    "end": st.column_config.DateColumn("Until", format="DD/MM/YYYY"),
                },
            )
        st.markdown("**Contact history**")
        history = interaction_history(store, family_id=family_id, role=viewer.role)
        if history.empty:
            st.caption("No contact recorded with this family.")
        else:
            st.dataframe(
                history,
                hide_index=True,
                height=220,
                column_order=["date", "activity", "two_way", "channel", "notes"],
                column_config={
                    "date": st.column_config.DateColumn("Date", format="DD/MM/YYYY"),
                    "activity": "Activity",
                    "channel": "Channel",
                    "two_way": st.column_config.CheckboxColumn("Two-way"),
                    "notes": "Note",
                },
            )
    with near:
        radius = st.slider(
            "Partners within (km of home)",
            min_value=0.5,
            max_value=10.0,
            step=0.5,
            value=float(settings.partner_radius_km),
            key="outreach_radius",
        )
        suggestions = outreach.partner_suggestions(frames, family_id=family_id, radius_km=radius)
        st.markdown("**Partners that fit**")
        st.caption(suggestions.attrs["basis"])
        if suggestions.empty:
            st.info(
                "No partner fits within this distance. Widen the distance, or add partners and their services on the Directory page."
            )
        else:
            st.dataframe(
                suggestions,
                hide_index=True,
                height=220,
                column_order=[
                    "name",
                    "distance_km",
                    "why",
                    "service",
                    "contact_phone",
                    "category",
                    "status",
                    "contact_email",
                ],
                column_config={
                    "name": "Partner",
                    "category": "Category",
                    "why": st.column_config.TextColumn(
                        "Why it fits", width="large", help="The needs it meets, ages, language, delivery and cost"
                    ),
                    "service": "Service",
                    "distance_km": st.column_config.NumberColumn("Km", format="%.1f"),
                    "status": "Status",
                    "contact_phone": "Phone",
                    "contact_email": "Email",
                },
            )

        family_activities = [a.name for a in load_typology().activities if "families" in a.with_]
        blank_form = {
            "log_date": today,
            "log_other": "",
            "log_channel": USUAL,
            "log_two_way": USUAL,
            "log_note": "",
            "log_from_family": False,
            "log_activity": "phone call" if "phone call" in family_activities else family_activities[0],
        }
        # After a contact is logged the next one starts from a clean form; after a refusal what was
        # typed stays, so the FLO only corrects the mistake.
        done = st.session_state.pop("outreach_form_done", False)
        for key, value in blank_form.items():
            if done or key not in st.session_state:
                st.session_state[key] = value
        with st.form("outreach_log", border=True):
            st.markdown("**Log a contact**")
            c1, c2 = st.columns(2)
            when = c1.date_input("Date", format="DD/MM/YYYY", key="log_date")
            chosen = c2.selectbox("Activity", [*family_activities, OTHER], key="log_activity")
            other = st.text_input(
                f"Other activity (when the activity is “{OTHER}”)",
                key="log_other",
                help="Any activity of the school's catalogue, or another name it knows it by",
            )
            c3, c4 = st.columns(2)
            channel = c3.selectbox("Channel", [USUAL, *CHANNELS], key="log_channel")
            two_way = c4.radio(
                "Two-way: did the family respond?",
                [USUAL, "Yes", "No"],
                key="log_two_way",
                horizontal=True,
                help="As usual: what the catalogue says of the activity",
            )
            from_family = st.checkbox(
                "The family got in touch (a message or call from the family)",
                key="log_from_family",
                help="The school is expected to answer a family's "
                "message within two school days: see the Overview's communication panel.",
            )
            note = st.text_area("Note (no names)", key="log_note", height=80)
            if st.form_submit_button("Log contact", type="primary"):
                activity = other if chosen == OTHER else chosen
                try:
                    log_interaction(
                        store,
                        ui.current_actor(),
                        school_id=school_id,
                        family_id=family_id,
                        date=when,
                        activity=activity,
                        channel=None if channel == USUAL else channel,
                        two_way=None if two_way == USUAL else two_way == "Yes",
                        notes=note or None,
                        direction="from family" if from_family else "to family",
                    )
                except InvalidInteraction as error:
                    st.error(str(error), icon=":material/error:")
                else:
                    st.session_state["outreach_form_done"] = True
                    st.session_state["outreach_flash"] = {
                        "family_id": family_id,
                        "message": f"Logged a {code(activity)} with family {code(family_id)} on {when:%d/%m/%Y}.",
                    }
                    st.rerun()

st.header("Take the list out")
d1, d2, d3 = st.columns([1, 1, 1], vertical_alignment="bottom")
d1.download_button(
    "Worklist as CSV",
    outreach.worklist_csv(shown),
    file_name=f"outreach-{today.isoformat()}.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
)
how_many = int(
    d2.number_input(
        "Families on the printed sheet", min_value=1, max_value=500, step=5, value=25, key="outreach_sheet_rows"
    )
)


@st.cache_data(show_spinner=False, max_entries=8, ttl=3600)
def sheet_for(page, _frames, frames_key: tuple, school_name: str, radius: float, on_list: int) -> str:
    near_home = outreach.suggestions_for(_frames, page["family_id"], radius_km=radius)
    return outreach.visit_sheet_html(
        page,
        school_name=school_name,
        today=_frames.today,
        days=_frames.days,
        unit=_frames.unit,
        suggestions=near_home,
        on_list=on_list,
    )


school_name = next((s["name"] for s in list_schools(store) if s["school_id"] == school_id), school_id)
sheet = sheet_for(
    shown.head(how_many),
    frames,
    (school_id, today, days, ui.data_version(), viewer.role),
    school_name,
    radius,
    len(shown),
)
d3.download_button(
    "Printable visit and call sheet",
    sheet,
    file_name=f"visit-sheet-{today.isoformat()}.html",
    mime="text/html",
    icon=":material/print:",
    on_click="ignore",
    help="Open it in the browser and print (A4, landscape). Shred it once the contacts are logged.",
)
