"""Data: import the school's files with a validation report, download templates, export everything,
and load or clear the demo school."""

import datetime

import streamlit as st

import ui
from engagement import access
from engagement import interchange
from engagement import store as data_store
from engagement.demo import load_demo
from engagement.text import md_escape

KIND_GUESS = "guess from the file name"

viewer = ui.page_guard("data")
store = ui.get_store()
ui.demo_banner(store)
visible = viewer.visible_schools(store)
school_id = ui.school_picker(store, visible)
schools = {s["school_id"]: s["name"] for s in data_store.list_schools(store) if s["school_id"] in visible}

st.title("Data")

# ---------------------------------------------------------------- import
st.header("Import")
if not access.may_import(viewer.role):
    st.info("Importing is for the data lead, family liaison officers and senior leaders.")
else:
    st.write("Upload schools, partners, families or interactions as CSV or Excel (.xlsx). Files are checked "
             "whole first; nothing is written unless every row of every file is right.")
    uploads = st.file_uploader("Files to import", type=["csv", "xlsx"], accept_multiple_files=True, key="uploads")
    left, right = st.columns(2)
    kind = left.selectbox("What the files hold", [KIND_GUESS, *interchange.KINDS], key="import_kind",
                          help="Named like partners.csv or 2026-families-export.xlsx, the kind is worked out.")
    default_school = right.selectbox(
        "School of rows with no school_id", [None, *schools], key="import_school",
        format_func=lambda s: "the only school, or the school_id column" if s is None else f"{schools[s]} ({s})")
    if uploads:
        sources = [(f.name, f.getvalue()) for f in uploads]
        options = {"kind": None if kind == KIND_GUESS else kind, "school_id": default_school,
                   "allowed_schools": access.importable_schools(viewer.schools, data_store.school_ids(store))}
        check = interchange.import_files(store, sources, dry_run=True, **options)
        for note in check.notes:
            st.caption(md_escape(note))  # notes quote the files' headers: text, never markdown or an image
        if not check.ok:
            n = len(check.errors)
            st.error(f"Nothing can be imported yet: {n} problem{'s' * (n != 1)} to fix. "
                     "Mend the files and upload them again.")
            st.dataframe(check.errors_frame(), hide_index=True, width="stretch", column_config={
                "file": "File", "row": st.column_config.NumberColumn("Row", format="%d"),
                "column": "Column", "reason": st.column_config.TextColumn("Reason", width="large")})
        else:
            st.success("Every row is valid. " + ", ".join(
                f"{k}: {c['inserted']} to add, {c['updated']} to update, {c['unchanged']} unchanged"
                for k, c in check.counts.items()) + ".")
            if st.button("Import", type="primary", key="import_go"):
                done = interchange.import_files(store, sources, actor=ui.current_actor(), **options)
                if done.ok:
                    st.success("Imported. " + ", ".join(
                        f"{k}: {c['inserted']} new, {c['updated']} updated, {c['unchanged']} unchanged"
                        for k, c in done.counts.items()) + ".")
                else:
                    st.error("The import was refused, so nothing changed.")
                    st.dataframe(done.errors_frame(), hide_index=True, width="stretch")

# ---------------------------------------------------------------- templates
st.header("Templates")
st.write("An example file of each kind, with every column the import reads. Keep the header row.")
for column, kind_name in zip(st.columns(len(interchange.KINDS)), interchange.KINDS):
    column.download_button(f"{kind_name}.csv", interchange.template_path(kind_name).read_bytes(),
                           file_name=f"{kind_name}.csv", mime="text/csv", key=f"template_{kind_name}",
                           icon=":material/download:", on_click="ignore")

# ---------------------------------------------------------------- export
st.header("Export")
st.write("Every table as CSV in the import formats, in one ZIP file: safe to open in Excel, and it imports "
         "back unchanged.")
scope = st.radio("Export", ["this school", "every school you may see"], horizontal=True, key="export_scope",
                 disabled=school_id is None)
export_school = school_id if scope == "this school" else list(schools)
st.download_button(
    "Download the data (ZIP)", lambda: interchange.export_zip(store, school_id=export_school),
    file_name=f"engagement-{school_id if scope == 'this school' else 'all'}-{datetime.date.today():%Y-%m-%d}.zip",
    mime="application/zip", key="export_zip", icon=":material/folder_zip:", on_click="ignore",
    disabled=not schools)

# ---------------------------------------------------------------- demo
st.header("Demo school")
if data_store.has_demo_data(store):
    st.write("The demo school is loaded. Clear it with the button at the top of the page.")
elif access.may_import(viewer.role):
    st.write("Load *Hollybrook Primary School*, a fictional school with synthetic families and partners, "
             "beside your own data to try the app out.")
    if st.button("Load demo school", key="load_demo"):
        with st.spinner("Writing the demo school..."):
            load_demo(store, actor=ui.current_actor())
        st.rerun()
