"""Partner map: the school, distance rings, partners by layer and segment, families by postcode
sector; filters in the sidebar; click a partner to open its record over the map and log a contact."""

import datetime

import streamlit as st
from streamlit_folium import st_folium

import ui
from engagement import access, clock, contacts, disclosure, maps, referrals
from engagement import store as engagement_store
from engagement.directory import filter_by_services
from engagement.partners import (
    TABLE_SORTS,
    PartnerFilter,
    filter_partners,
    only_match,
    partner_heading,
    partner_record,
    partners_in_window,
    partners_table,
    service_tags,
)
from engagement.services import services_of
from engagement.settings import load_settings
from engagement.text import md_escape, record_lines
from engagement.typology import PARTNER_LAYERS, PARTNER_SEGMENTS, PARTNER_STATUSES, load_typology
from ui import forms
from ui.forms import two_way_question
from ui.service_filters import service_filters

viewer, store, school_id = ui.open_page("map")

try:
    maps.install_assets()
except OSError as error:  # a read-only install: the files must then be copied at deployment
    st.warning(f"The map's scripts could not be copied into static/vendor ({error}); the map may not draw.")


@st.cache_data(show_spinner=False, max_entries=16)
def load(url: str, school_id: str, start: datetime.date, end: datetime.date, version: int):
    # One set of frames for the partners and the family sectors: the map's reach is the scores'.
    frames = ui.school_frames(store, school_id)
    partners = maps.with_marker_text(partners_in_window(store, school_id, start, end, frames))
    sectors = maps.family_sectors(store, school_id, (start, end), frames=frames)
    return engagement_store.get_school(store, school_id), partners, sectors, services_of(store, school_id)


typology = load_typology()
window = ui.window_picker()
start, end = window.start, window.end
school, partners, sectors, services = load(store.url, school_id, start, end, ui.data_version())
if not access.sees_family_detail(viewer.role):
    sectors = sectors.for_governors()
with st.sidebar:
    st.subheader("Filters")

st.title("Partner map")
if school is None or school["latitude"] is None or school["longitude"] is None:
    st.warning("The school has no coordinates yet. Use **Place partners and schools on the map** below.")

with st.sidebar:
    layers = st.multiselect(
        "Layer", list(PARTNER_LAYERS), format_func=lambda n: f"{n}: {typology.layer_name(n)}", key="map_layers"
    )
    segments = st.multiselect(
        "Segment",
        list(PARTNER_SEGMENTS),
        key="map_segments",
        format_func=lambda s: typology.segments.get(s, {}).get("label", s),
    )
    categories = st.multiselect("Category", sorted(set(partners["category"]), key=str.lower), key="map_categories")
    tags = st.multiselect("Service", service_tags(partners), key="map_services")
    statuses = st.multiselect("Status", PARTNER_STATUSES, key="map_statuses")
    engaged = st.radio(
        "Contact in the window", ["Any", "Contacted", "Not contacted"], key="map_engaged", horizontal=True
    )
    search = st.text_input("Name contains", key="map_search")
    st.markdown("**What their services offer**")
    offered = service_filters(services, "map_offer", stacked=True)

settings = load_settings().map
left, right = st.columns([3, 2], gap="medium")
with right:
    # The question the map answers first: what is near the school? The choices are the map's rings.
    within = st.radio(
        "Distance from the school",
        [None, *sorted(settings.rings_km)],
        format_func=lambda km: "any distance" if km is None else f"within {km:g} km",
        key="map_within",
    )

chosen = PartnerFilter(
    layers=tuple(layers),
    segments=tuple(segments),
    categories=tuple(categories),
    services=tuple(tags),
    statuses=tuple(statuses),
    engaged={"Any": None, "Contacted": True, "Not contacted": False}[engaged],
    search=search,
    within_km=within,
)
shown = filter_by_services(filter_partners(partners, chosen), services, offered)
unplaced = shown[shown["latitude"].isna() | shown["longitude"].isna()]

names = dict(zip(partners["partner_id"], partners["name"]))


def open_record(partner_ids: list[str]) -> None:
    """Open the record of the first of ``partner_ids`` (all drawn at one point, or one found):
    it stays open over the map, across reruns, until the reader closes it."""
    st.session_state["map_open"] = list(partner_ids)
    st.session_state.pop("map_pick", None)


def record_closed() -> None:
    st.session_state.pop("map_open", None)
    st.session_state.pop("map_row", None)
    # A new table, its row unselected, so the same row opens the record again.
    st.session_state["map_table"] = st.session_state.get("map_table", 0) + 1


# A search that finds one partner opens its record, once per search.
if search != st.session_state.get("map_searched"):
    st.session_state["map_searched"] = search
    found = only_match(shown, search)
    if found is not None:
        open_record([found])


with left:
    st.caption(
        f"Showing {len(shown) - len(unplaced)} of {len(partners)} partners on the map"
        + (f"; {len(unplaced)} more have no coordinates" if len(unplaced) else "")
        + f". Window {start:%d/%m/%Y} to {end:%d/%m/%Y}."
    )
    if school is not None and school["latitude"] is not None:
        parts = maps.build_map(
            school,
            shown,
            sectors,
            window=(start, end),
            legend=False,
            bounds=maps.initial_bounds(school, partners, settings.rings_km),
        )
        # render=False: st_folium renders the map itself once more anyway; rendering it twice
        # doubled the per-rerun cost of the rings and sectors and drew every icon twice.
        clicked = st_folium(
            parts.base,
            key="partner_map",
            height=settings.height,
            use_container_width=True,  # streamlit-folium's own option (width=None), not Streamlit's deprecated one
            returned_objects=["last_object_clicked", "last_object_clicked_tooltip"],
            feature_group_to_add=parts.groups,
            layer_control=parts.control,
            render=False,
        )
        point = (clicked or {}).get("last_object_clicked")
        if point and point != st.session_state.get("map_last_click"):
            st.session_state["map_last_click"] = point
            here = maps.partners_at(shown, point["lat"], point["lng"], clicked.get("last_object_clicked_tooltip"))
            if len(here):
                open_record(here["partner_id"].tolist())

with right:
    # Collapsed: open, it pushed everything under it below the fold.
    with st.expander("Key: colours, shapes and rings", expanded=False):
        st.html(f'<style>{maps.KEY_CSS}</style><div class="map-key">{maps.legend_html(sectors, (start, end))}</div>')
    st.caption("Click a partner on the map, or choose one in the table under the map, to open its record.")

st.header("Partners shown" + ("" if within is None else f" within {within:g} km of the school"))
order = st.radio("Sort by", TABLE_SORTS, horizontal=True, key="map_sort")
rows = partners_table(shown, order)
picked = ui.dataframe(
    rows,
    hide_index=True,
    width="stretch",
    column_order=["name", "distance_km", "category", "last_contact_text"],
    column_config={
        "name": st.column_config.TextColumn("Partner", width="large"),
        "distance_km": st.column_config.NumberColumn("Distance (km)", format="%.1f"),
        "category": "Category",
        "last_contact_text": "Last contact",
    },
    on_select="rerun",
    selection_mode="single-row",
    key=f"map_table_{st.session_state.get('map_table', 0)}",
)
st.caption(f"{len(rows)} partners. Choose a row to open the partner's record.")
chosen_rows = picked.selection.rows if picked else []
if chosen_rows and chosen_rows[0] < len(rows):
    row_id = rows["partner_id"].iloc[chosen_rows[0]]
    if row_id != st.session_state.get("map_row"):
        st.session_state["map_row"] = row_id
        open_record([row_id])


# A dialog opens over the page where the reader is, wherever they scrolled to; beside the map it
# opened below the key, off the screen.
@st.dialog("Partner record", width="medium", on_dismiss=record_closed)
def partner_dialog(here: list[str]) -> None:
    selected_id = here[0]
    if len(here) > 1:
        selected_id = st.selectbox(
            f"{len(here)} partners at this point", here, format_func=lambda k: names[k], key="map_pick"
        )
    r = partners[partners["partner_id"] == selected_id].iloc[0]
    st.subheader(md_escape(r["name"]))
    st.caption(md_escape(partner_heading(r)))
    # Lines of text, not a table: a narrow table cut addresses and emails short.
    with st.container(border=True):
        # Governors read what a partner publishes (engagement.disclosure): no notes, no checked-by,
        # no contact's name, phone or address, no feed.
        family_detail = access.sees_family_detail(viewer.role)
        st.markdown(record_lines(partner_record(r) if family_detail else disclosure.partner_record(r)))
    week = referrals.partner_summary(store, r["partner_id"], for_governor=not family_detail)
    st.markdown("**Referrals and families**  \n" + "  \n".join(f"{k}: {v}" for k, v in week.items()))
    if family_detail:
        sent = referrals.referrals(store, school_id, partner_id=r["partner_id"])
        if len(sent):
            ui.dataframe(
                sent,
                hide_index=True,
                height=160,
                key="map_partner_referrals",
                placeholder="",
                column_order=["date", "family_id", "status", "status_date", "reasons"],
            )
    history = contacts.interaction_history(store, partner_id=r["partner_id"], role=viewer.role)
    st.markdown(f"**History** ({len(history)} contacts)")
    ui.dataframe(
        history.drop(columns=["interaction_id"], errors="ignore"),
        hide_index=True,
        width="stretch",
        placeholder="",  # an empty note is blank, not "None"
        height=min(220, 38 + 35 * max(1, len(history))),
        column_config={
            "date": st.column_config.DateColumn("Date", format="DD/MM/YYYY"),
            "activity": "Activity",
            "channel": "Channel",
            "two_way": st.column_config.CheckboxColumn("Two-way"),
            "staff": "Staff",
            "notes": "Notes",
        },
    )
    if access.may_import(viewer.role):
        logged = st.session_state.get("map_logged")
        if logged and logged[0] == r["partner_id"]:
            st.success(logged[1])
        # What was typed stays until it is saved (a refused save keeps it to try again); then the
        # form starts blank.
        typed = {f"map_log_{k}_{r['partner_id']}" for k in ("date", "activity", "staff", "notes")} | {"map_two_way"}
        if st.session_state.get("map_log_saved") == r["partner_id"]:
            st.session_state.pop("map_log_saved")
            for k in typed:
                st.session_state.pop(k, None)
        with st.form("log_partner_contact"):
            st.markdown("**Log a contact with this partner**")
            c1, c2 = st.columns(2)
            when = c1.date_input(
                "Date", value=clock.today(), format="DD/MM/YYYY", key=f"map_log_date_{r['partner_id']}"
            )
            activity = c2.selectbox(
                "Activity",
                typology.activity_names(),
                key=f"map_log_activity_{r['partner_id']}",
                index=typology.activity_names().index("phone call") if "phone call" in typology.activity_names() else 0,
            )
            two_way = two_way_question("map_two_way", who="the partner")
            staff = st.text_input("Staff", key=f"map_log_staff_{r['partner_id']}")
            notes = st.text_area("Notes", height=80, key=f"map_log_notes_{r['partner_id']}")
            pressed = st.form_submit_button("Log contact", type="primary")
        logged_now = forms.save(
            f"map_log_{r['partner_id']}",
            pressed,
            lambda: contacts.log_interaction(
                store,
                ui.current_actor(),
                school_id=school_id,
                date=when,
                activity=activity,
                partner_id=r["partner_id"],
                two_way=two_way,
                staff=staff or None,
                notes=notes or None,
            ),
            refusals=(contacts.InvalidInteraction,),
        )
        if logged_now is not None:
            # Said beside the form, in the open record, which the whole page's rerun
            # (for the new counts) keeps open.
            st.session_state["map_logged"] = (r["partner_id"], f"Contact on {when:%d/%m/%Y} logged.")
            st.session_state["map_log_saved"] = r["partner_id"]
            st.rerun()


opened = [p for p in st.session_state.get("map_open", []) if p in names]
if opened:
    partner_dialog(opened)

if access.may_import(viewer.role):
    from ui.geocoding import geocode_section

    geocode_section(store)
