"""Audit log: who changed what, when, before and after (administrators only)."""

import datetime

import streamlit as st

import ui
from engagement import access, clock, records
from engagement import store as db
from engagement.privacy import audit_csv, audit_entries

viewer, store, _ = ui.open_page("audit", needs_school=False)
st.title("Audit log")
if not access.sees_every_school(viewer.schools, db.school_ids(store)):
    # The log spans every school of the store; an administrator of some of them must not read the rest.
    st.info("The audit log covers every school in this app, so it is open to administrators given every school.")
    st.stop()
st.caption(
    "Every change to the store: who made it, when, and the record before and after. "
    "Erased family data shows as redacted."
)

with st.form("audit_filters"):
    c1, c2, c3 = st.columns(3)
    start = c1.date_input("From", value=clock.today() - datetime.timedelta(days=30), format="DD/MM/YYYY")
    end = c2.date_input("To", value=clock.today(), format="DD/MM/YYYY")
    table_name = c3.selectbox("Table", ["", *records.audited_tables()], format_func=lambda t: t or "Any")
    c4, c5, c6 = st.columns(3)
    actor = c4.text_input("Who (exact)")
    action = c5.text_input("Action (exact)", placeholder="insert, update, erase family, …")
    record_id = c6.text_input("Record reference (exact)")
    st.form_submit_button("Show")

entries = audit_entries(
    store,
    start=start,
    end=end,
    actor=actor.strip() or None,
    table_name=table_name or None,
    action=action.strip() or None,
    record_id=record_id.strip() or None,
)
st.write(f"{len(entries):,} entries, newest first (at most 5,000 shown).")
ui.dataframe(
    entries,
    hide_index=True,
    column_config={
        "id": None,
        "at": st.column_config.DatetimeColumn("When (UTC)", format="DD/MM/YYYY HH:mm:ss"),
        "actor": "Who",
        "action": "Action",
        "table_name": "Table",
        "record_id": "Record",
        "before": "Before",
        "after": "After",
        "detail": "Detail",
    },
)
st.download_button(
    "Download these entries (CSV)",
    audit_csv(entries),
    file_name=f"audit-{clock.today().isoformat()}.csv",
    mime="text/csv",
)
