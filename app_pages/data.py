"""Data: import the school's files with a validation report, import or edit the school's terms,
download templates, export everything, and load or clear the demo school."""

from functools import partial

import streamlit as st

import ui
from engagement import access, clock, contacts, openreferral, records
from engagement import calendar as terms_store
from engagement import store as data_store
from engagement.demo import load_demo
from engagement.text import md_escape
from engagement.typology import load_typology
from ui import forms
from ui.imports import PROBLEM_COLUMNS, after_first_line, check_then_import

KIND_GUESS = "guess from the file name"

viewer = ui.page_guard("data")
store = ui.get_store()
ui.demo_banner(store)
visible = viewer.visible_schools(store)
school_id = ui.school_picker(store, visible)
schools = {s["school_id"]: s["name"] for s in data_store.list_schools(store) if s["school_id"] in visible}

st.title("Data")

# ---------------------------------------------------------------- import, one section per engine of the registry


def counts_of(engine: records.Engine, report) -> str:
    """What an import through ``engine`` counted, after its first line."""
    return after_first_line(engine.report_text(report))


st.header("Import")
may_import = access.may_import(viewer.role)
allowed_schools = access.importable_schools(viewer.schools, data_store.school_ids(store))
if not may_import:
    st.info("Importing is for the data lead, family liaison officers and senior leaders.")
else:
    st.write(
        "Upload the school's files as CSV or Excel (.xlsx), each kind in its section below. Files are checked "
        "whole first; nothing is written unless every row of every file is right."
    )
    default_school = st.selectbox(
        "School of rows with no school_id",
        [None, *schools],
        index=1 + list(schools).index(school_id) if len(schools) > 1 and school_id in schools else 0,
        key="import_school",
        format_func=lambda s: "the only school, or the school_id column" if s is None else f"{schools[s]} ({s})",
    )
    for engine in records.ENGINES:
        if engine.name == "calendar":
            continue  # the terms have a section of their own below, with their editor
        kinds = records.kinds_of(engine.name)
        st.subheader(engine.title)
        uploads = st.file_uploader(
            f"{', '.join(f'{k}.csv' for k in kinds)}",
            type=["csv", "xlsx"],
            accept_multiple_files=True,
            key=f"{engine.name}_uploads",
        )
        kind = st.selectbox(
            "What the files hold",
            [KIND_GUESS, *kinds],
            key=f"{engine.name}_import_kind",
            help="Named like partners.csv or 2026-families-export.xlsx, the kind is worked out.",
        )
        if uploads:
            check_then_import(
                store,
                engine.importer,
                [(f.name, f.getvalue()) for f in uploads],
                {
                    "kind": None if kind == KIND_GUESS else kind,
                    "school_id": default_school,
                    "allowed_schools": allowed_schools,
                },
                key=f"{engine.name}_import",
                button="Import",
                describe=partial(counts_of, engine),
            )
    # Family references: for the staff who see family detail, and for a school they may import
    # for, since the way to correct a date is to import the contact again.
    checked = access.sees_family_detail(viewer.role) and access.may_import_for(viewer.role, allowed_schools, school_id)
    ahead = contacts.dated_after_today(store, [school_id] if checked and school_id else [])
    if len(ahead):
        st.subheader("Contacts dated after today")
        st.warning(
            f"{len(ahead)} contact{'s are' if len(ahead) != 1 else ' is'} dated after today: each will count from "
            "its date as if it had happened. Check the date with whoever logged it, then correct it in the "
            "interactions.csv of an export and import that file back (a row with its interaction_id replaces "
            "the contact stored).",
            icon=":material/event_busy:",
        )
        ui.dataframe(
            ahead,
            hide_index=True,
            key="dated_after_today",
            column_config={
                "date": st.column_config.DateColumn("Date", format="DD/MM/YYYY"),
                "interaction_id": "Reference",
                "family_id": "Family",
                "partner_id": "Partner",
                "activity": "Activity",
                "staff": "Logged by",
            },
        )

# ---------------------------------------------------------------- the school's terms
st.header("School terms")
if school_id is None:
    st.info("Choose a school to see its terms.")
else:
    calendar = ui.school_calendar(store, school_id)
    own = terms_store.stored_rows(store, school_id)
    st.write(
        "Every window, school day and comparison of the app follows the school's terms and the holidays "
        "inside them (half-terms, training days). "
        + (
            "These are the school's own."
            if own
            else "The school has not given its own yet, so the default terms for England apply; import its "
            "terms.csv (columns kind, name, start, end) or type them below."
        )
    )
    allowed = access.importable_schools(viewer.schools, data_store.school_ids(store))
    may_change = access.may_import_for(viewer.role, allowed, school_id)
    table = terms_store.editor_table(own, calendar, clock.today())
    if not may_change:
        ui.dataframe(table, hide_index=True, width="stretch")
    else:
        upload = st.file_uploader(
            "terms.csv to import",
            type=["csv", "xlsx"],
            key="terms_upload",
            help="Replaces the school's terms and holidays within the dates the file covers.",
        )
        if upload is not None:
            source = [(upload.name, upload.getvalue())]
            check = terms_store.import_terms(store, source, school_id=school_id, dry_run=True)
            if not check.ok:
                st.error("Nothing can be imported: " + f"{len(check.errors)} problem(s) to fix in the file.")
                ui.dataframe(check.errors_frame(), hide_index=True, width="stretch")
            elif st.button("Import the terms", type="primary", key="terms_import"):
                done = terms_store.import_terms(store, source, actor=ui.current_actor(), school_id=school_id)
                (st.success if done.ok else st.error)(md_escape(" ".join(done.notes) or done.format()))
        st.caption(
            "Or edit the school's terms here (add a row at the bottom, delete with the row's checkbox), "
            "then save: the same checks as an import apply, and nothing is saved unless every row is right."
        )
        edited = st.data_editor(
            table,
            num_rows="dynamic",
            hide_index=True,
            width="stretch",
            key="terms_editor",
            column_config={
                "kind": st.column_config.SelectboxColumn("Kind", options=list(terms_store.KINDS), required=True),
                "name": st.column_config.TextColumn("Name", required=True, max_chars=terms_store.NAME_LIMIT),
                "start": st.column_config.DateColumn("Start", format="DD/MM/YYYY", required=True),
                "end": st.column_config.DateColumn("End", format="DD/MM/YYYY", required=True),
            },
        )
        pressed = st.button("Save the terms", key="terms_save")
        saved = forms.save(
            "terms_save",
            pressed,
            lambda: terms_store.save_terms(store, school_id or "", edited.to_dict("records"), actor=ui.current_actor()),
        )
        if saved is not None:
            if saved.ok:
                st.success("Saved: " + md_escape(" ".join(saved.notes)))
            else:
                st.error("Nothing was saved: fix the rows named below.")
                ui.dataframe(saved.errors_frame(), hide_index=True, width="stretch")

# ---------------------------------------------------------------- Open Referral UK (issue 18)
st.header("Local authority directory (Open Referral UK)")
if school_id is None:
    st.info("Choose a school to bring in a directory of services.")
elif not access.may_import(viewer.role) or school_id not in (
    access.importable_schools(viewer.schools, data_store.school_ids(store)) or {school_id}
):
    st.info("Importing is for the data lead, family liaison officers and senior leaders of the school.")
else:
    st.write(
        "Bring in the partners and services of your local authority's or Family Hub's directory, published in "
        "Open Referral UK: upload its JSON files or give the address of its feed. You see what would be added, "
        "changed and closed before anything is written. Your own notes, contacts and statuses are kept."
    )
    oruk_files = st.file_uploader("Directory files (JSON)", type=["json"], accept_multiple_files=True, key="oruk_files")
    feed_column, button_column = st.columns([4, 1], vertical_alignment="bottom")
    oruk_url = feed_column.text_input(
        "Or the feed's address", key="oruk_url", placeholder="https://directory.example.gov.uk/api"
    )
    if button_column.button("Read the feed", key="oruk_check", disabled=not oruk_url.strip()):
        with st.spinner("Reading the feed page by page..."):
            st.session_state["oruk_feed"] = (
                openreferral.public_url(oruk_url.strip()),
                *openreferral.read_web_directory(oruk_url),
            )
    categories = [c.name for c in load_typology().categories]
    oruk_default = st.selectbox(
        "Services whose terms match no category",
        [None, *categories],
        key="oruk_default",
        format_func=lambda c: "leave them out (listed below)" if c is None else f"bring them in as {c}",
        help="Terms are matched to categories by data/oruk_categories.toml, which the school can edit.",
    )
    feed = st.session_state.get("oruk_feed")
    if oruk_files:
        oruk_sources = [(f.name, f.getvalue()) for f in oruk_files]
        oruk_records, oruk_failures = openreferral.read_directory(oruk_sources)
        oruk_origin = openreferral.source_text(oruk_sources)
    elif feed is not None and feed[0] == openreferral.public_url(oruk_url.strip()):
        oruk_origin, oruk_records, oruk_failures = feed
    else:
        oruk_records, oruk_failures, oruk_origin = openreferral.ReadFeed(), [], ""
    if oruk_failures:
        st.error("Nothing can be imported: the directory could not be read.")
        for failure in oruk_failures:
            st.text(failure)
    elif oruk_records:
        oruk_check = openreferral.import_records(
            store, oruk_records, school_id, oruk_origin, dry_run=True, default_category=oruk_default
        )
        if not oruk_check.ok:
            st.error(f"Nothing can be imported yet: {len(oruk_check.problems)} records to fix in the directory.")
            ui.dataframe(
                [vars(p) for p in oruk_check.problems],
                hide_index=True,
                width="stretch",
                column_config={"where": "Where", "record_id": "Record id", "field": "Field", "reason": "Reason"},
                key="oruk_problems",
            )
        else:
            counts = st.columns(6)
            for column, (kind, action, label) in zip(
                counts,
                [
                    ("partner", "add", "Partners to add"),
                    ("partner", "change", "Partners to change"),
                    ("partner", "close", "Partners to close"),
                    ("service", "add", "Services to add"),
                    ("service", "change", "Services to change"),
                    ("service", "close", "Services to close"),
                ],
                strict=True,
            ):
                column.metric(label, oruk_check.count(kind, action))
            if oruk_check.changes:
                ui.dataframe(
                    oruk_check.changes_rows(),
                    hide_index=True,
                    width="stretch",
                    column_order=["change", "what", "name", "fields", "school's own values kept", "reference"],
                    column_config={
                        "change": "Change",
                        "what": "What",
                        "name": "Name",
                        "fields": "Fields changed",
                        "school's own values kept": "Your own values kept",
                        "reference": "Reference",
                    },
                    key="oruk_changes",
                )
            else:
                st.success("Your directory already matches this one: nothing to add, change or close.")
            if oruk_check.unmapped:
                n_unmapped = len(oruk_check.unmapped)
                st.warning(
                    f"{n_unmapped} service{' has' if n_unmapped == 1 else 's have'} terms that match no category: "
                    + ("they are left out." if oruk_default is None else f"they come in as {oruk_default}.")
                )
                ui.dataframe(
                    oruk_check.unmapped,
                    hide_index=True,
                    width="stretch",
                    column_config={"id": "Record id", "name": "Service", "terms": "Its terms", "what": "Then"},
                    key="oruk_unmapped",
                )
            if oruk_check.far_line():
                st.info(md_escape(str(oruk_check.far_line())))
            for note in oruk_check.notes:
                st.caption(md_escape(note))
            if st.button("Import this directory", type="primary", key="oruk_go"):
                oruk_done = openreferral.import_records(
                    store, oruk_records, school_id, oruk_origin, actor=ui.current_actor(), default_category=oruk_default
                )
                if oruk_done.ok:
                    st.session_state.pop("oruk_feed", None)
                    st.success(md_escape(oruk_done.summary()))
                    for note in oruk_done.notes:
                        if note not in oruk_check.notes:  # what the write found (a long hold of the lock)
                            st.caption(md_escape(note))
                else:
                    st.error("The import was refused, so nothing changed.")
                    for failure in oruk_done.failures:
                        st.text(failure)
if school_id is not None:
    oruk_school: str = school_id  # the lambda runs later: it keeps this school, narrowed now
    st.download_button(
        "Export our directory (Open Referral UK, ZIP)",
        lambda: openreferral.export_zip(store, oruk_school),  # built when pressed, not on every visit
        file_name=f"open-referral-{school_id}.zip",
        mime="application/zip",
        key="oruk_export",
        icon=":material/download:",
        on_click="ignore",
    )

# ---------------------------------------------------------------- templates
st.header("Templates")
st.write("An example file of each kind, with every column the import reads. Keep the header row.")
template_columns = st.columns(4)
for n, record_kind in enumerate(records.RECORD_KINDS):
    template_columns[n % 4].download_button(
        record_kind.file_name,
        record_kind.template.read_bytes(),
        file_name=record_kind.file_name,
        mime="text/csv",
        key=f"template_{record_kind.name}",
        icon=":material/download:",
        on_click="ignore",
        help=record_kind.about,
    )

# ---------------------------------------------------------------- export and restore
st.header("Export")
st.write(
    "Every kind of record as CSV in the import formats, in one ZIP file: the school's backup. Safe to open in "
    "Excel, and it imports back unchanged."
)
scope = st.radio(
    "Export",
    ["this school", "every school you may see"],
    horizontal=True,
    key="export_scope",
    disabled=school_id is None,
)
export_school = school_id if scope == "this school" else list(schools)
st.download_button(
    "Download the data (ZIP)",
    lambda: records.backup_zip(store, school_id=export_school),
    file_name=f"engagement-{school_id if scope == 'this school' else 'all'}-{clock.today():%Y-%m-%d}.zip",
    mime="application/zip",
    key="export_zip",
    icon=":material/folder_zip:",
    on_click="ignore",
    disabled=not schools,
)
if may_import:
    st.subheader("Restore a backup")
    st.write(
        "Upload a ZIP downloaded above (or the files of `export`) to bring every record back, into an empty "
        "store or over the same school's records. The whole backup is checked and written in one go, only if "
        "every row of every file is right: a refused file leaves the store as it was."
    )
    backup = st.file_uploader("Backup (ZIP)", type=["zip"], key="restore_upload")
    if backup is not None and st.button("Restore this backup", type="primary", key="restore_go"):
        restored = records.import_records(
            store,
            [(backup.name, backup.getvalue())],
            actor=ui.current_actor(),
            school_id=default_school,
            allowed_schools=allowed_schools,
        )
        if restored.ok:
            st.success("Restored: every file of the backup was imported.")
        else:
            st.error("Nothing was restored: the files refused are listed below, and the store is unchanged.")
            for _, refused in restored.reports:
                if not refused.ok:
                    ui.dataframe(
                        refused.errors_frame(), hide_index=True, width="stretch", column_config=PROBLEM_COLUMNS
                    )
        st.text(restored.format())

# ---------------------------------------------------------------- demo
st.header("Demo school")
if data_store.has_demo_data(store):
    st.write("The demo school is loaded. Clear it with the button at the top of the page.")
elif access.may_import(viewer.role):
    st.write(
        "Load *Hollybrook Primary School*, a fictional school with synthetic families and partners, "
        "beside your own data to try the app out."
    )
    if st.button("Load demo school", key="load_demo"):
        with st.spinner("Writing the demo school..."):
            load_demo(store, actor=ui.current_actor())
        st.rerun()
