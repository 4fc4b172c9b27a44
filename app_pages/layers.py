"""Community layers: the school's community as concentric rings, every partner a mark in its ring,
the categories with no engaged partner named as gaps, and a partner's record over the page on selection."""

import streamlit as st

import ui
from engagement import access, charts, disclosure, scoring
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

gaps = scoring.gaps(frames, school_id, window.start, window.end)


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
    st.dataframe(
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
    with right:
        st.header("Gaps in this window")
        st.caption("Categories of the community with no engaged partner.")
        for layer in PARTNER_LAYERS:
            names = gaps.get(layer, [])
            st.markdown(
                f"**Layer {layer}, {md_escape(typology.layer_name(layer).lower())}**: "
                + (f"{len(names)} gap{'s' if len(names) != 1 else ''}" if names else "no gaps")
            )
            for name in names:
                st.markdown(
                    f"- {md_escape(typology.known_category(name).gap.capitalize())} "
                    f"<span style='color:#555'>({md_escape(name)})</span>",
                    unsafe_allow_html=True,
                )

with table_tab:
    st.dataframe(
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
