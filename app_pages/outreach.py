"""Outreach planner: the families to reach next and why, the partners near home that fit, logging
the contact, and the list to take out (family liaison officers; never governors)."""

import datetime

import pandas as pd
import streamlit as st

import ui
from engagement import access, clock, outreach, partnerships, referrals
from engagement.contacts import InvalidInteraction, interaction_history, log_interaction
from engagement.settings import load_settings
from engagement.store import list_schools
from engagement.text import list_text, md_escape, value_text
from engagement.typology import CHANNELS, load_typology
from ui import forms
from ui.forms import AS_USUAL, bring_into_view, focus_on, two_way_question

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
today = clock.today()
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

st.header(
    f"{len(shown):,} families to reach"
    + (f" (of {len(everyone):,} on the list, filtered)" if len(shown) != len(everyone) else "")
)
st.caption(
    f"No two-way contact in the last {days} {frames.unit}, or a referral waiting or a SEND move without a "
    f"meeting, out of {len(frames.families):,} families on roll. "
    "Priority adds up the reasons shown; the weights are in the school's settings."
)

# A contact just logged: that family stays in the panel, with the confirmation beside the form,
# until the user moves on with "Next family" (so the next call is never logged against it unseen).
logged = st.session_state.get("outreach_logged")
if logged and logged.pop("pending", False):
    left = logged["family_id"] not in set(everyone["family_id"])
    if left:
        logged["message"] += " The family has left the worklist."
    elif logged["two_way"]:
        logged["message"] += " It stays on the worklist for its other reasons (a referral or a move)."
    else:
        logged["message"] += " It stays on the worklist: the contact was one-way."

if shown.empty and not logged:
    st.info("No family matches: everyone here has had a two-way contact in that time, or the filters exclude them.")
    st.stop()

ids = shown["family_id"].tolist()
if st.session_state.get("outreach_family") not in ids and ids:
    st.session_state["outreach_family"] = ids[0]
PAGE_SIZE = 10
# The family panel's tables: rows of three lines (Streamlit wraps a cell's text in rows taller
# than 4rem), and column widths (px) that add up to the narrowest panel's, a phone's (324 px):
# the table stretches them to a wider panel and never scrolls sideways.
PANEL_ROW_HEIGHT = 70
PANEL_DATE_WIDTH = 92
PANEL_TEXT_WIDTH = 110
PANEL_PARTNER_WIDTH = 155


def panel_table(key: str, table: pd.DataFrame, columns: dict, height: int | None = None) -> None:
    """One of the family panel's tables: wrapped rows, no index, nothing shown for an empty cell."""
    with st.container(key=key):
        ui.dataframe(
            table,
            hide_index=True,
            height=height if height is not None else "auto",
            row_height=PANEL_ROW_HEIGHT,
            placeholder="",
            column_config=columns,
        )


pages = max(1, -(-len(ids) // PAGE_SIZE))
see_postcode = access.sees_family_detail(viewer.role)
listed, panel = st.columns([1, 1], gap="medium")

with listed:
    page_no = int(
        st.number_input(
            f"Page of the worklist (of {pages}, {PAGE_SIZE} families each)",
            min_value=1,
            max_value=pages,
            step=1,
            key="outreach_page",
        )
        if pages > 1
        else 1
    )
    first = (page_no - 1) * PAGE_SIZE
    for rank, item in enumerate(shown.iloc[first : first + PAGE_SIZE].to_dict("records"), start=first + 1):
        chosen = item["family_id"] == st.session_state.get("outreach_family") and not logged
        with st.container(border=True, key=f"outreach_row_{rank}"):
            # A button per family: chosen with the mouse, or with Tab and Enter from the keyboard.
            if st.button(
                f"{rank}. Family {md_escape(item['family_id'])} · priority {item['priority']:g}",
                key=f"outreach_pick_{item['family_id']}",
                type="primary" if chosen else "secondary",
                icon=":material/arrow_forward:" if chosen else None,
                help="Show this family beside the list, and log a contact with it",
            ):
                st.session_state["outreach_family"] = item["family_id"]
                st.session_state.pop("outreach_logged", None)
                st.session_state["outreach_form_done"] = True
                st.session_state["outreach_show_panel"] = st.session_state.get("outreach_show_panel_n", 0) + 1
                st.session_state["outreach_show_panel_n"] = st.session_state["outreach_show_panel"]
                st.rerun()
            st.markdown("**Why now:** " + md_escape(item["reasons"]))
            last = item["last_two_way"]
            details = [
                ("Needs", list_text(item["needs"])),
                ("Groups", list_text(item["flags"])),
                ("Years", list_text(item["year_groups"])),
                (
                    "Last two-way",
                    "never"
                    if last is None or pd.isna(last)
                    else f"{value_text(last)} ({value_text(item['days_since'])} {frames.unit} ago)",
                ),
            ]
            st.caption(" · ".join(f"**{name}:** {md_escape(value)}" for name, value in details if value))

with panel:
    if logged:
        family_id, row = logged["family_id"], pd.Series(logged["row"])
    else:
        family_id = st.session_state["outreach_family"]
        row = shown[shown["family_id"] == family_id].iloc[0]
    with st.container(border=True, key="outreach_family_panel"):
        st.subheader("Family " + code(family_id), anchor=False)
        facts = [
            ("Postcode", row["postcode"] if see_postcode else row["sector"]),
            ("Years", list_text(row["year_groups"])),
            ("Groups", list_text(row["flags"])),
            ("Needs", list_text(row["needs"])),
            ("Prefers", value_text(row["preferred_channel"])),
            ("Language", value_text(row["language"])),
        ]
        # One line of facts, so the log form stays on the first screen beside the list.
        st.markdown(
            " · ".join(
                f"**{name}:** {md_escape(value) if isinstance(value, str) and value else 'not recorded'}"
                for name, value in facts
            )
        )
        st.markdown("**Why now:** " + md_escape(row["reasons"]) + f" (priority {row['priority']:g})")

        if logged:
            st.success(logged["message"], icon=":material/check:")
            if st.button("Next family", key="outreach_next", type="primary", icon=":material/arrow_forward:"):
                st.session_state.pop("outreach_logged", None)
                following = logged["next"] if logged["next"] in ids else None
                st.session_state["outreach_family"] = following or (ids[0] if ids else None)
                st.session_state["outreach_focus_form"] = True
                st.rerun()
            focus_on("Next family", nonce=logged["message"])
        else:
            family_activities = [a.name for a in load_typology().activities if "families" in a.with_]
            blank_form = {
                "log_date": today,
                "log_other": "",
                "log_channel": USUAL,
                "log_two_way": AS_USUAL,
                "log_note": "",
                "log_from_family": False,
                "log_activity": "phone call" if "phone call" in family_activities else family_activities[0],
            }
            # After a contact is logged the next one starts from a clean form; after a refusal what
            # was typed stays, so the FLO only corrects the mistake.
            done = st.session_state.pop("outreach_form_done", False)
            for key, blank in blank_form.items():
                if done or key not in st.session_state:
                    st.session_state[key] = blank
            with st.form("outreach_log", border=True):
                st.markdown("**Log a contact with family " + code(family_id) + "**")
                c1, c2 = st.columns(2)
                when = c1.date_input("Date", format="DD/MM/YYYY", key="log_date")
                chosen_activity = c2.selectbox("Activity", [*family_activities, OTHER], key="log_activity")
                other = st.text_input(
                    f"Other activity (when the activity is “{OTHER}”)",
                    key="log_other",
                    help="Any activity of the school's catalogue, or another name it knows it by",
                )
                c3, c4 = st.columns(2)
                channel = c3.selectbox("Channel", [USUAL, *CHANNELS], key="log_channel")
                two_way = two_way_question("log_two_way", who="the family", container=c4)
                from_family = st.checkbox(
                    "The family got in touch (a message or call from the family)",
                    key="log_from_family",
                    help="The school is expected to answer a family's "
                    "message within two school days: see the Overview's communication panel.",
                )
                note = st.text_area("Note (no names)", key="log_note", height=80)
                pressed = st.form_submit_button("Log contact", type="primary")
            activity = other if chosen_activity == OTHER else chosen_activity
            logged_now = forms.save(
                f"outreach_log_{family_id}",
                pressed,
                lambda: log_interaction(
                    store,
                    ui.current_actor(),
                    school_id=school_id,
                    family_id=family_id,
                    date=when,
                    activity=activity,
                    channel=None if channel == USUAL else channel,
                    two_way=two_way,
                    notes=note or None,
                    direction="from family" if from_family else "to family",
                ),
                refusals=(InvalidInteraction,),
            )
            if logged_now is not None:
                st.session_state["outreach_form_done"] = True
                # Whether it leaves the list is known after the rerun reloads it.
                at = ids.index(family_id) if family_id in ids else -1
                st.session_state["outreach_logged"] = {
                    "family_id": family_id,
                    # The family after it in the list, for "Next family" (even when it stays on it).
                    "next": ids[at + 1] if 0 <= at < len(ids) - 1 else None,
                    "row": row.to_dict(),
                    "message": f"Logged a {code(activity)} with family {code(family_id)} on {when:%d/%m/%Y}.",
                    "two_way": bool(two_way),
                    "pending": True,
                }
                st.rerun()
            if st.session_state.pop("outreach_focus_form", False):
                focus_on("Date", kind="input", nonce=family_id)

        st.markdown("**Partners the family uses**")
        uses = referrals.family_links(store, family_id=family_id, today=today)
        if uses.empty:
            st.caption("None recorded (link them on the Events and referrals page).")
        else:
            panel_table(
                "outreach_uses_table",
                outreach.panel_links(uses),
                {
                    "partner": st.column_config.TextColumn("Partner", width=PANEL_PARTNER_WIDTH - 35),
                    "relation": st.column_config.TextColumn("As", width=PANEL_DATE_WIDTH),
                    "when": st.column_config.TextColumn("When", width=PANEL_TEXT_WIDTH),
                },
            )
        st.markdown("**Partnerships**")
        member_of, could_join = partnerships.family_partnerships(store, school_id, family_id)
        st.caption(
            "In " + ", ".join(md_escape(p["name"]) for p in member_of) + "."
            if member_of
            else "In none of the school's partnerships."
        )
        if could_join:
            names = {p["partnership_id"]: p["name"] for p in could_join}
            j1, j2 = st.columns([3, 1], vertical_alignment="bottom")
            joining = j1.selectbox(
                "Add the family to a partnership", list(names), format_func=lambda p: names[p], key="outreach_join"
            )
            added = forms.save(
                f"outreach_join_{family_id}",
                j2.button("Add", key="outreach_join_go"),
                lambda: partnerships.add_members(
                    store, ui.current_actor(), school_id, joining or "", [family_id], joined=today
                ),
            )
            if added is not None:
                if added.ok:
                    st.session_state["outreach_join_flash"] = f"Added to {names[joining or '']}."
                    st.rerun()
                st.error("Not saved: " + md_escape(" ".join(str(p) for p in added.errors)))
        if flash := st.session_state.pop("outreach_join_flash", None):
            st.success(md_escape(flash), icon=":material/check:")
        st.markdown("**Contact history**")
        history = interaction_history(store, family_id=family_id, role=viewer.role)
        if history.empty:
            st.caption("No contact recorded with this family.")
        else:
            # Three columns whose cells wrap (rows taller than 4rem do): they fit the half-width
            # panel, where five scrolled sideways.
            panel_table(
                "outreach_history_table",
                outreach.panel_history(history),
                {
                    "date": st.column_config.DateColumn("Date", format="DD/MM/YYYY", width=PANEL_DATE_WIDTH),
                    "contact": st.column_config.TextColumn("Contact", width=PANEL_TEXT_WIDTH),
                    "notes": st.column_config.TextColumn("Note", width=PANEL_TEXT_WIDTH),
                },
                height=260,
            )
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
            panel_table(
                "outreach_suggestions_table",
                outreach.panel_suggestions(suggestions),
                {
                    "partner": st.column_config.TextColumn(
                        "Partner", width=PANEL_PARTNER_WIDTH, help="Distance from home, and its phone or email"
                    ),
                    "why": st.column_config.TextColumn(
                        "Why it fits",
                        width=PANEL_PARTNER_WIDTH,
                        help="Its service: the needs it meets, ages, language, delivery and cost",
                    ),
                },
                height=260,
            )

st.header("Take the list out")
d1, d2, d3 = st.columns([1, 1, 1], vertical_alignment="bottom")
d1.download_button(
    "Worklist as CSV",
    outreach.worklist_csv(shown, frames.unit),
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


school_name = next((s["name"] for s in list_schools(store) if s["school_id"] == school_id), school_id)
on_sheet = shown.head(how_many)


def sheet() -> str:
    # Made when the button is pressed, from this run's list: the same rows the CSV beside it
    # holds. (Made in the run, it was drawn seconds after the CSV, and until then the button
    # still gave the sheet from before the last logged call.)
    return outreach.visit_sheet_html(
        on_sheet,
        school_name=school_name,
        today=frames.today,
        days=frames.days,
        unit=frames.unit,
        suggestions=outreach.suggestions_for(frames, on_sheet["family_id"], radius_km=radius),
        on_list=len(shown),
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

# A family just chosen: its panel and log form on screen (on a phone they come under the list).
# Drawn last, so the empty frame moves nothing on the page.
if chosen_now := st.session_state.pop("outreach_show_panel", None):
    bring_into_view("outreach_family_panel", nonce=chosen_now)
