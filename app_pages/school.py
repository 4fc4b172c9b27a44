"""School: the school at a glance, its four layers in counts."""

import streamlit as st

import ui
from engagement.summary import families_on_roll_text, school_summary
from engagement.text import md_escape

viewer, store, school_id = ui.open_page("school")
summary = school_summary(store, school_id)
if summary is None:
    ui.school_gone()
school = summary["school"]
st.title(md_escape(school["name"]))
st.caption(
    f"School reference {md_escape(school['school_id'])} · {md_escape(school['postcode'])} · "
    f"{summary['term'].label} term"
)
cols = st.columns(4)
cols[0].metric("Pupils on roll", f"{school['pupils'] or 0:,}")
cols[1].metric("Families on roll", families_on_roll_text(summary["families"], viewer.role))
cols[2].metric("Family contacts this term", f"{summary['family_interactions_this_term']:,}")
cols[3].metric("Partner contacts this term", f"{summary['partner_interactions_this_term']:,}")
st.header("The school's community, layer by layer")
ui.dataframe(
    summary["layers"],
    hide_index=True,
    column_config={
        "layer": st.column_config.NumberColumn("Layer", format="%d"),
        "name": st.column_config.TextColumn("Name", width="small"),
        "who": st.column_config.TextColumn("Who", width="large"),
        "active": st.column_config.NumberColumn("Active partners", format="%d", width="small"),
        "prospective": st.column_config.NumberColumn("Prospective", format="%d", width="small"),
        "lapsed": st.column_config.NumberColumn("Lapsed", format="%d", width="small"),
    },
)
