"""Schools: every school the account may see, side by side, for a trust lead or a local authority's
officer. School-level aggregates only (as governors see them, for anyone without family detail):
the table (sortable, filterable, downloadable), a map of the schools coloured by a chosen figure,
the partners they share and as a network, and what each school's neighbours work with that it
does not."""

import datetime

import streamlit as st
from streamlit_folium import st_folium

import ui
from engagement import access, clock, maps, schools

viewer, store, _ = ui.open_page("schools", needs_school=False)
visible = viewer.visible_schools(store)
st.title("Schools")
if not visible:
    st.info("Your account is given no school of this store. Ask the trust's data lead to add your schools.")
    st.stop()

for_governor = not access.sees_family_detail(viewer.role)
start = end = None
own_term = "Each school's term so far (its own calendar)"
if not for_governor and st.sidebar.selectbox("Window", [own_term, "Custom dates"], key="schools_window") != own_term:
    picked = st.sidebar.date_input(
        "From – to",
        value=(clock.today() - datetime.timedelta(days=27), clock.today()),
        format="DD/MM/YYYY",
        key="schools_dates",
    )
    if isinstance(picked, (tuple, list)) and len(picked) == 2:
        start, end = picked


@st.cache_data(show_spinner="Counting every school's figures…", max_entries=8)
def load(url: str, ids: tuple[str, ...], start, end, governor: bool, version: int) -> schools.SchoolsView:
    return schools.schools_view(store, list(ids), start, end, for_governor=governor)


view = load(store.url, tuple(visible), start, end, for_governor, ui.data_version())
st.caption(
    f"{len(view.table)} schools · "
    + ("each school's own term so far" if start is None else f"{start:%d %b %Y} – {end:%d %b %Y}")
    + (" · counts rounded, figures resting on fewer than 10 families not shown" if for_governor else "")
)

# ---- side by side
left, right = st.columns([2, 1])
text = left.text_input("Find a school", key="schools_find", placeholder="name or reference")
figure = right.selectbox(
    "Figure", list(schools.FIGURES), format_func=lambda k: schools.FIGURES[k][0], key="schools_figure"
)
at_least = st.number_input(
    f"Only schools whose {schools.FIGURES[figure][0].lower()} is at least",
    value=None,
    step=0.05 if schools.FIGURES[figure][1] else 1.0,
    key="schools_at_least",
    help="A share as a fraction (0.5 is 50%); empty: every school.",
)
shown = schools.filtered(view.table, text, figure, at_least)
percent = {k for k, (_, share) in schools.FIGURES.items() if share}
ui.dataframe(
    shown.drop(columns=["latitude", "longitude"]),
    hide_index=True,
    key="schools_table",
    column_config={
        "school_id": st.column_config.TextColumn("Reference"),
        "school": st.column_config.TextColumn("School"),
        "window": st.column_config.TextColumn("Window"),
        "postcode": st.column_config.TextColumn("Postcode"),
    }
    | {
        k: st.column_config.NumberColumn(label, format="percent" if k in percent else "%.1f")
        for k, (label, _) in schools.FIGURES.items()
    },
)
st.download_button(
    "Download the table (CSV)",
    schools.schools_csv(shown),
    file_name="schools.csv",
    mime="text/csv",
    icon=":material/download:",
    key="schools_csv",
)

# ---- the map
st.header("The schools on the map", anchor=False)
try:
    maps.install_assets()
except OSError as error:  # a read-only install: the files must then be copied at deployment
    st.warning(f"The map's scripts could not be copied into static/vendor ({error}); the map may not draw.")
colour_by = st.selectbox(
    "Colour the schools by",
    schools.MAP_FIGURES,
    format_func=lambda k: schools.FIGURES[k][0],
    key="schools_map_figure",
)
if view.table["latitude"].notna().any():
    st_folium(schools.schools_map(view, colour_by), key="schools_map", height=480, returned_objects=[])
    st.caption("Light to dark: lowest to highest; grey: not shown. Small dots: partners shared with other schools.")
else:
    st.info("No school has a place on the map yet: geocode them on the Data page.")

# ---- shared partners
st.header("Partners shared by two or more schools", anchor=False)
if view.shared:
    ui.dataframe(
        view.shared_table,
        hide_index=True,
        key="schools_shared",
        column_config={
            "partner": st.column_config.TextColumn("Partner"),
            "category": st.column_config.TextColumn("Category"),
            "schools": st.column_config.NumberColumn("Schools", format="%d"),
            "school": st.column_config.TextColumn("School"),
            "school_id": st.column_config.TextColumn("Reference"),
            "partner_id": st.column_config.TextColumn("Partner reference"),
            "contacts": st.column_config.NumberColumn("Contacts this term", format="%d"),
        },
    )
    st.plotly_chart(schools.network_figure(view), key="schools_network", config={"displaylogo": False})
else:
    st.write("No partner works with more than one of these schools.")

# ---- what the neighbours have
st.header("What the neighbours have", anchor=False)
st.caption("Kinds of partner that schools within a few kilometres work with this term and the school does not.")
if view.neighbours.empty:
    st.write("Nothing: every school works with what its neighbours work with (or has no neighbour on the map).")
else:
    pick = st.selectbox(
        "School",
        sorted(set(view.neighbours["school_id"])),
        format_func=lambda sid: str(view.table.set_index("school_id").loc[sid, "school"]),
        key="schools_neighbours_of",
    )
    ui.dataframe(
        view.neighbours[view.neighbours["school_id"] == pick].drop(columns=["school_id", "school", "neighbour_id"]),
        hide_index=True,
        key="schools_neighbours",
    )
