"""Community layers: the school's community as concentric rings, every partner a mark in its ring,
the categories with no engaged partner named as gaps, and a partner's record over the page on selection."""

import datetime

import streamlit as st

import ui
from engagement import access, charts, clock, disclosure, gaps, scoring
from engagement.contacts import interaction_history
from engagement.directory import filter_by_services
from engagement.partners import (
    PartnerFilter,
    filter_partners,
    partner_heading,
    partner_record,
    partners_in_window,
    service_tags,
)
from engagement.services import services_of
from engagement.store import get_school
from engagement.text import md_escape, record_lines
from engagement.typology import PARTNER_LAYERS, PARTNER_SEGMENTS, PARTNER_STATUSES, load_typology
from ui.service_filters import service_filters

viewer, store, school_id = ui.open_page("layers")
window = ui.window_picker()
frames = ui.school_frames(store, school_id)
school = get_school(store, school_id)
if school is None:
    ui.school_gone()
typology = load_typology()
today = clock.today()

st.title("Community layers")
st.caption(
    f"{md_escape(school['name'])} · {window.label}. Each mark is a partner, in its layer's ring and its "
    "category's sector, sized by its contacts in the window. Select a mark to open its record."
)

partners = partners_in_window(store, school_id, window.start, window.end, frames)
columns = st.columns(4)
segments = columns[0].multiselect("Segment", list(PARTNER_SEGMENTS), format_func=str.capitalize)
categories = columns[1].multiselect("Category", typology.category_names())
tags = columns[2].multiselect("Service offered", service_tags(partners))
statuses = columns[3].multiselect("Status", PARTNER_STATUSES, format_func=str.capitalize)
services = services_of(store, school_id)
offered = service_filters(services, "layers_offer")
shown = filter_by_services(
    filter_partners(
        partners,
        PartnerFilter(
            segments=tuple(segments), categories=tuple(categories), services=tuple(tags), statuses=tuple(statuses)
        ),
    ),
    services,
    offered,
)

# Each gap with the nearest partners that could close it (listed or in the local offer).
steps = gaps.next_steps(scoring.gaps(frames, school_id, window.start, window.end), partners)
# Staff who keep the action plan plan the contact from here; a governor reads the gaps only.
plans = access.sees_family_detail(viewer.role) and access.can_open(viewer.role, "partnerships")
family_detail = access.sees_family_detail(viewer.role)


def record_closed() -> None:
    st.session_state.pop("layers_open", None)
    # A new diagram, its selection cleared, so the same mark opens its record again.
    st.session_state["layers_chart"] = st.session_state.get("layers_chart", 0) + 1


# The record opens over the page where the reader is: in the column beside the diagram it came
# below the gaps list, off the screen.
@st.dialog("Partner record", width="medium", on_dismiss=record_closed)
def partner_dialog(partner_id: str) -> None:
    record = partners[partners["partner_id"] == partner_id].iloc[0]
    st.subheader(md_escape(record["name"]))
    st.caption(md_escape(partner_heading(record)))
    # Lines of text, not a table: a narrow table cut addresses and emails short.
    with st.container(border=True):
        # Governors read what a partner publishes (engagement.disclosure): no notes, no checked-by,
        # no contact's name, phone or address, no feed.
        seen = partner_record(record) if access.sees_family_detail(viewer.role) else disclosure.partner_record(record)
        st.markdown(record_lines(seen))
    history = interaction_history(store, partner_id=partner_id, role=viewer.role)
    st.markdown(f"**History** ({len(history)} contacts)")
    shown_columns = [c for c in ("date", "activity", "channel", "two_way", "notes") if c in history]
    ui.dataframe(
        history[shown_columns].head(50),
        hide_index=True,
        placeholder="",  # an empty note is blank, not "None"
        column_config={
            "date": st.column_config.DateColumn("Date", format="DD/MM/YYYY"),
            "activity": "Activity",
            "channel": "Channel",
            "two_way": st.column_config.CheckboxColumn("Two-way"),
            "notes": "Notes",
        },
    )


def plan_closed() -> None:
    st.session_state.pop("layers_plan", None)


# Open until dismissed, over the page, like the partner's record: the gap, whom to contact, and
# the goal it becomes.
@st.dialog("Plan a contact", width="medium", on_dismiss=plan_closed)
def plan_dialog(index: int) -> None:
    step = steps[index]
    st.markdown(f"**{md_escape(step.heading)}** ({md_escape(step.category)}, layer {step.layer})")
    who = st.radio(
        "Whom to contact",
        range(len(step.candidates)),
        format_func=lambda k: step.candidates[k].text(),
        key=f"layers_plan_who_{index}",
    )
    left, right = st.columns(2)
    owner = left.text_input("Owner (a role)", key=f"layers_plan_owner_{index}", max_chars=200)
    due = right.date_input(
        "Due",
        value=today + datetime.timedelta(weeks=gaps.PLAN_WEEKS),
        min_value=today,
        format="DD/MM/YYYY",
        key=f"layers_plan_due_{index}",
    )
    st.caption(
        f"A goal of this year's action plan, measured by layer {step.layer}'s coverage "
        f"(target {step.target:.0%}, with this gap closed); follow it on the Partnerships page."
    )
    if st.button("Add to the action plan", type="primary", key=f"layers_plan_go_{index}"):
        done = gaps.plan_contact(
            store,
            ui.current_actor(),
            school_id,
            step,
            step.candidates[who or 0],
            today=today,
            owner=owner,
            due=due if isinstance(due, datetime.date) else None,
        )
        if not done.ok:
            st.error("Not planned: " + md_escape("; ".join(done.problems)))
        elif done.new:
            st.success(f"Planned: goal {md_escape(done.plan_id)} of the action plan.", icon=":material/check:")
        else:
            st.info(f"Already planned: goal {md_escape(done.plan_id)} of the action plan, not yet done.")


diagram_tab, table_tab = st.tabs(["Diagram", "Table"])
with diagram_tab:
    left, right = st.columns([3, 1.3])
    with left:
        figure = charts.layers_diagram(
            shown, pupils=school["pupils"] or 0, staff=school["staff"] or 0, typology=typology
        )
        event = st.plotly_chart(
            figure,
            on_select="rerun",
            selection_mode="points",
            key=f"layers_diagram_{st.session_state.get('layers_chart', 0)}",
            config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]},
        )
        selected = charts.selected_partner(figure, event.selection.points if event else [])
        if selected and selected != st.session_state.get("layers_open"):
            st.session_state["layers_open"] = selected
            st.session_state.pop("layers_plan", None)
    with right:
        st.header("Gaps in this window", anchor=False)  # h2 under the page title (axe: heading-order)
        st.caption(
            "Categories of the community with no engaged partner, and the nearest partner that could close each."
        )
        for layer in PARTNER_LAYERS:
            names = [step for step in steps if step.layer == layer]
            st.markdown(
                f"**Layer {layer}, {md_escape(typology.layer_name(layer).lower())}**: "
                + (f"{len(names)} gap{'s' if len(names) != 1 else ''}" if names else "no gaps")
            )
            for step in names:
                nearest = f"next: {step.candidates[0].short()}" if step.candidates else "nobody listed"
                st.markdown(
                    f"- {md_escape(step.heading)} <span style='color:#555'>({md_escape(step.category)}; "
                    f"{md_escape(nearest)})</span>",
                    unsafe_allow_html=True,
                )
    # Below the drawing, across the page: for each gap whom to contact, and planning the contact.
    if steps:
        st.header("Next steps for the gaps", anchor=False)
        st.caption(
            "The partners of each missing category the school lists or the local offer holds, nearest first."
            + (" Plan a contact to add it to this year's action plan (Partnerships page)." if plans else "")
        )
    for i, step in enumerate(steps):
        with st.container(key=f"layers_gap_{i}", border=True):
            what, who, plan = st.columns([1.2, 3, 1.2], vertical_alignment="center")
            what.markdown(
                f"**{md_escape(step.heading)}**  \n"
                f"<span style='color:#555'>{md_escape(step.category)}, layer {step.layer}</span>",
                unsafe_allow_html=True,
            )
            # A partner's phone is for staff: governors read what a partner publishes.
            phone = step.candidates[0].phone if step.candidates and family_detail else None
            others = [c.text(with_phone=family_detail) for c in step.candidates[1:]]
            who.markdown(md_escape(step.next_step) + (f" Tel. {md_escape(phone)}." if phone else ""))
            if others:
                who.caption("Also: " + md_escape("; ".join(others)) + ".")
            if (
                plans
                and step.candidates
                and plan.button(
                    "Plan a contact",
                    key=f"layers_plan_{i}",
                    icon=":material/event:",
                    help="Add the contact to this year's action plan (Partnerships page)",
                )
            ):
                st.session_state.pop("layers_open", None)
                st.session_state["layers_plan"] = step.category

with table_tab:
    ui.dataframe(
        shown[
            [
                "name",
                "category",
                "layer",
                "segment",
                "status",
                "interactions",
                "last_contact",
                "distance_km",
                "services",
            ]
        ].sort_values(["layer", "category", "name"]),
        hide_index=True,
        width="stretch",
        column_config={
            "name": "Partner",
            "category": "Category",
            "layer": st.column_config.NumberColumn("Layer", format="%d"),
            "segment": "Segment",
            "status": "Status",
            "interactions": st.column_config.NumberColumn("Contacts in window", format="%d"),
            "last_contact": st.column_config.DateColumn("Last contact", format="DD/MM/YYYY"),
            "distance_km": st.column_config.NumberColumn("Distance (km)", format="%.1f"),
            "services": "Services",
        },
    )
    st.caption(f"{len(shown)} of {len(partners)} partners shown.")

if st.session_state.get("layers_open") in set(partners["partner_id"]):
    partner_dialog(st.session_state["layers_open"])
elif plans and (
    planning := [i for i, step in enumerate(steps) if step.category == st.session_state.get("layers_plan")]
):
    plan_dialog(planning[0])
