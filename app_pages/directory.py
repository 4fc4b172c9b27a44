"""Directory: keep the school's partners true from inside the app. Add a partner (likely duplicates
shown first), edit every field, mark it checked today, archive or restore it, delete it
(administrators), describe its services, and work through the partners due for a check.
Heads, family liaison officers and administrators edit; governors read."""

import dataclasses
import datetime

import pandas as pd
import streamlit as st

import ui
from engagement import access
from engagement import directory as d
from engagement.openreferral.local_offer import TAKE_ON, take_on
from engagement.partners import partner_directory, services_text
from engagement.service_vocabulary import ACCESS, DELIVERY, SERVICE_STATUSES
from engagement.services import services_of
from engagement.settings import load_settings
from engagement.store import get_school
from engagement.text import md_escape, text_or_blank
from engagement.typology import LOCAL_OFFER, PARTNER_STATUSES, load_typology
from ui import forms
from ui.service_filters import service_filters

viewer, store, school_id = ui.open_page("directory")
if not access.sees_family_detail(viewer.role):
    # Governors read the directory through the disclosure layer: what a partner publishes, no
    # notes, no "checked by", no contact's phone, no count of families.
    st.title("Directory")
    school = get_school(store, school_id)
    st.caption(
        f"{md_escape(school['name'] if school else school_id)} · the school's partners and what they offer, "
        "as governors see the directory."
    )
    st.markdown(md_escape(d.stale_text(*d.stale_count(store, school_id))))
    ui.governor_table(d.governors_directory(store, school_id))
    st.stop()
editor = d.may_edit(viewer.role)
typology = load_typology()
months = load_settings().directory.stale_after_months
NEW = "A new partner"

st.title("Directory")
school = get_school(store, school_id)
st.caption(
    f"{md_escape(school['name'] if school else school_id)} · the school's partners and what they offer. "
    f"A partner not checked for more than {months} months is "
    "due for a check." + ("" if editor else " You can read the directory; staff keep it.")
)

# Above the tabs, seen whichever tab did it; in a box that is always there: a notice drawn
# straight on the page moved the tabs one place down it, and the browser then took them for new
# tabs and opened the first, "Due for a check", away from the partner just saved.
with st.container():
    if notice := st.session_state.pop("dir_notice", None):
        st.success(md_escape(notice))
    if unplaced := st.session_state.pop("dir_unplaced", None):
        st.warning(md_escape(unplaced), icon=":material/wrong_location:")  # saved, but not on the map

partners = partner_directory(store, school_id, archived=True)
services = services_of(store, school_id)
listed = partners[partners["archived_on"].isna()]


def text(value) -> str:
    if isinstance(value, datetime.date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, float) and value == value and value.is_integer():
        return str(int(value))
    return text_or_blank(value)


# ---------------------------------------------------------------- due for a check
stale, total = int(listed["stale"].sum()), len(listed)
labels = [f"Due for a check ({stale})", f"Partners ({total})", "Add or edit" if editor else "Partner"]
# A link to one partner ("likely duplicate of ...") opens its tab.
link = bool(st.query_params.get("partner")) and not st.session_state.get("dir_asked")
due_tab, list_tab, edit_tab = st.tabs(labels, default=labels[2] if link else None)
with due_tab:
    due = d.due_for_check(store, school_id)
    st.write(
        f"{stale} of {total} partners have not been checked for more than {months} months (or never). "
        "Those the school relies on most come first: contacts in the last year, then families whose needs "
        "their services meet."
    )
    ui.dataframe(
        due[["name", "category", "status", "last_verified", "verified_by", "contacts", "families"]].fillna(
            {"verified_by": ""}
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "name": "Partner",
            "category": "Category",
            "status": st.column_config.TextColumn("Status", width="small"),
            "last_verified": st.column_config.DateColumn("Last checked", format="DD/MM/YYYY", width="small"),
            "verified_by": st.column_config.TextColumn("Checked by", width="small"),
            "contacts": st.column_config.NumberColumn(
                "Contacts", width="small", help="Contacts with the partner in the last year"
            ),
            "families": st.column_config.NumberColumn(
                "Families", width="small", help="Families whose recorded needs its services meet"
            ),
        },
    )
    if editor and len(due):
        names = dict(zip(due["partner_id"], due["name"], strict=True))
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        chosen = left.selectbox("Partner you checked", list(names), format_func=lambda p: names[p], key="due_pick")
        pressed = right.button("Checked today", key="due_checked", type="primary")
        if forms.save("due_checked", pressed, lambda: d.verify_partner(store, ui.current_actor(), chosen)):
            st.session_state["dir_notice"] = f"Marked {names[chosen]} as checked today."
            st.rerun()

# ---------------------------------------------------------------- the list, with filters
with list_tab:
    choices = d.service_choices(services)
    row1 = st.columns(4, vertical_alignment="bottom")
    search = row1[0].text_input("Name contains", key="dir_search")
    statuses = row1[1].multiselect("Status", PARTNER_STATUSES, key="dir_status")
    tags = row1[2].multiselect("Service", choices["tags"], key="dir_tags")
    archived = row1[3].toggle("Show archived", key="dir_archived")
    offered = service_filters(services, "dir")  # the same five as the map and the layers
    shown = partners if archived else listed
    shown = d.filter_by_services(shown, services, dataclasses.replace(offered, tags=tuple(tags)))
    if statuses:
        shown = shown[shown["status"].isin(statuses)]
    if search.strip():
        shown = shown[shown["name"].str.contains(search.strip(), case=False, regex=False, na=False)]
    table = shown.assign(
        checked=shown["stale"].map({True: "due", False: "up to date"}),
        archived=shown["archived_on"].notna(),
        services=shown["services"].map(services_text),
    )
    ui.dataframe(
        table[
            ["name", "category", "status", "last_verified", "checked", "services", "postcode"]
            + (["archived"] if archived else [])
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "name": "Partner",
            "category": "Category",
            "status": st.column_config.TextColumn("Status", width="small"),
            "services": st.column_config.TextColumn("Services", width="large"),
            "postcode": st.column_config.TextColumn("Postcode", width="small"),
            "last_verified": st.column_config.DateColumn("Last checked", format="DD/MM/YYYY", width="small"),
            "checked": st.column_config.TextColumn(
                "Check", width="small", help=f"Due: not checked for over {months} months, or never"
            ),
            "archived": st.column_config.CheckboxColumn("Archived"),
        },
    )
    st.caption(f"{len(shown)} of {len(partners if archived else listed)} partners shown.")

# ---------------------------------------------------------------- one partner
# The form's fields, labels and hints are the import's columns of partners.csv (one table of them,
# engagement.interchange.FORMATS): a column added there is on the form with nothing more to write.
FIELDS = {f.name: f for f in d.FORM_FIELDS}


def label(name: str) -> str:
    field = FIELDS[name]
    return f"{field.label} ({field.help})" if field.help else field.label


def load_form(record) -> None:
    """Put a stored partner (or a blank one) into the form's widgets, with the version it shows."""
    for name in FIELDS:
        st.session_state[f"form_{name}"] = "" if record is None else text(record[name])
    st.session_state["form_version"] = None if record is None else int(record["version"])
    st.session_state["form_for"] = None if record is None else record["partner_id"]
    st.session_state.pop("form_conflict", None)
    st.session_state.pop("form_duplicates_ok", None)


with edit_tab:
    names = dict(zip(partners["partner_id"], partners["name"], strict=True))
    asked = st.query_params.get("partner")
    if asked in names and st.session_state.get("dir_pick") != asked and not st.session_state.get("dir_asked"):
        st.session_state["dir_pick"] = asked  # opened from a link ("likely duplicate of ...")
        st.session_state["dir_asked"] = True
    options: list[str] = ([NEW] if editor else []) + sorted(names, key=lambda p: str(names[p]).lower())
    if not options:
        st.info("No partners yet.")
        st.stop()
    if "dir_pick_next" in st.session_state:  # chosen by the last run (a save, a delete): set before the widget
        st.session_state["dir_pick"] = st.session_state.pop("dir_pick_next")
    pick = st.selectbox(
        "Partner", options, key="dir_pick", format_func=lambda p: NEW if p == NEW else f"{names[p]} ({p})"
    )
    record = None if pick == NEW else partners[partners["partner_id"] == pick].iloc[0]
    if st.session_state.get("form_for", "none") != (None if record is None else pick):
        load_form(record)

    if record is not None:
        checked = text(record["last_verified"]) or "never"
        by = text_or_blank(record["verified_by"])
        st.markdown(
            f"**Last checked:** {md_escape(checked)}{' by ' + md_escape(by) if by else ''}"
            + (" · **due for a check**" if record["stale"] else "")
            + (f" · archived on {record['archived_on']:%d/%m/%Y}" if pd.notna(record["archived_on"]) else "")
        )
        if editor:
            actions = st.columns(4)
            # Each action is a save like any other: refused, it says so here and offers to try again.
            told = {"refusals": (d.VersionConflict,)}
            pressed = actions[0].button("Checked today", key="form_checked", type="primary")
            if forms.save(
                f"form_checked_{pick}", pressed, lambda: d.verify_partner(store, ui.current_actor(), pick), **told
            ):
                st.session_state["dir_notice"] = f"Marked {record['name']} as checked today."
                st.session_state["form_for"] = "reload"
                st.rerun()
            if pd.isna(record["archived_on"]):
                pressed = actions[1].button(
                    "Archive",
                    key="form_archive",
                    help="Hidden from every list, map and figure; kept with its history, and can be restored",
                )
                if forms.save(
                    f"form_archive_{pick}", pressed, lambda: d.archive_partner(store, ui.current_actor(), pick), **told
                ):
                    st.session_state["dir_notice"] = f"Archived {record['name']}."
                    st.session_state["form_for"] = "reload"
                    st.rerun()
            else:
                pressed = actions[1].button("Restore", key="form_restore")
                if forms.save(
                    f"form_restore_{pick}", pressed, lambda: d.restore_partner(store, ui.current_actor(), pick), **told
                ):
                    st.session_state["form_for"] = "reload"
                    st.rerun()
            if d.may_delete(viewer.role) and actions[2].button("Delete…", key="form_delete"):
                st.session_state["form_delete_asked"] = pick
            if st.session_state.get("form_delete_asked") == pick:
                st.warning(
                    "Delete this partner, its services and every contact with it? This cannot be undone; "
                    "archiving keeps the history.",
                    icon=":material/warning:",
                )
                pressed = st.button("Yes, delete it", key="form_delete_yes")
                gone = forms.save(
                    f"form_delete_{pick}",
                    pressed,
                    lambda: d.delete_partner(store, ui.current_actor(), viewer.role, pick),
                )
                if gone is not None:
                    st.session_state.pop("form_delete_asked", None)
                    st.session_state["dir_pick_next"] = NEW
                    st.session_state["dir_notice"] = (
                        f"Deleted {record['name']} with {gone.get('services', 0)} "
                        f"services and {gone.get('interactions', 0)} contacts."
                    )
                    st.rerun()

        if editor and record["status"] == LOCAL_OFFER:
            st.caption(
                "In the local authority's directory: not yet one of the school's partners, so counted in no "
                "score and never due for a check."
            )
            take = st.columns(2)
            for column, status in zip(take, TAKE_ON, strict=True):
                if column.button(f"Make it a {status} partner", key=f"form_take_on_{status}"):
                    try:
                        taken = take_on(store, ui.current_actor(), school_id, pick, status, int(record["version"]))
                    except d.VersionConflict as conflict_error:
                        st.session_state["form_conflict"] = str(conflict_error)
                    else:
                        st.session_state["dir_notice"] = (
                            f"{record['name']} is now a {status} partner."
                            if not taken.problems
                            else "; ".join(taken.problems.values())
                        )
                    st.session_state["form_for"] = "reload"
                    st.rerun()

    conflict = st.session_state.get("form_conflict")
    if conflict:
        st.error(md_escape(conflict), icon=":material/sync_problem:")
        if st.button("Discard my changes and load the record as it is now", key="form_reload"):
            st.session_state["form_for"] = "reload"
            st.rerun()

    with st.form("partner_form", border=True, enter_to_submit=False):
        st.subheader("New partner" if record is None else "Details")
        # A row of two fields at a time: on a phone the columns stack, and the fields keep their
        # order (latitude just before longitude) instead of one column's then the other's.
        for i, name in enumerate(FIELDS):
            if i % 2 == 0:
                columns = st.columns(2)
            target = columns[i % 2]
            if name == "category":
                target.selectbox(label(name), ["", *typology.category_names()], key=f"form_{name}", disabled=not editor)
            elif name == "status":
                target.selectbox(
                    label(name),
                    ["", *PARTNER_STATUSES],
                    key=f"form_{name}",
                    disabled=not editor,
                    format_func=lambda v: v or "active",
                )
            elif name in ("address", "notes"):
                target.text_area(label(name), key=f"form_{name}", height=80, disabled=not editor)
            else:
                target.text_input(label(name), key=f"form_{name}", disabled=not editor)
        submitted = st.form_submit_button("Save", type="primary", disabled=not editor)

    values = {name: st.session_state[f"form_{name}"] for name in FIELDS}
    go = False
    if submitted and editor:
        duplicates = d.likely_duplicates(
            listed, values["name"], values["postcode"], values["category"], exclude=None if record is None else pick
        )
        if (
            d.asks_about_duplicates(record, values)
            and len(duplicates)
            and not st.session_state.get("form_duplicates_ok")
        ):
            st.session_state["form_duplicates"] = duplicates
        else:
            go = True

    def save_it() -> d.SaveResult | d.VersionConflict:
        try:
            return d.save_partner(
                store,
                ui.current_actor(),
                school_id,
                values,
                None if record is None else pick,
                st.session_state.get("form_version"),
            )
        except d.VersionConflict as conflict_error:  # shown above the form, with the way to reload
            return conflict_error

    result = forms.save("partner_form", go and editor, save_it)
    if isinstance(result, d.VersionConflict):
        st.session_state["form_conflict"] = str(result)
        st.rerun()
    if result is not None:
        if result.ok:
            if result.not_placed:
                st.session_state["dir_notice"] = f"Saved {values['name'].strip()}."
                st.session_state["dir_unplaced"] = result.placed
            else:
                st.session_state["dir_notice"] = f"Saved {values['name'].strip()}. {result.placed}".strip()
            st.session_state.pop("form_duplicates", None)
            st.session_state.pop("form_duplicates_ok", None)  # the next partner is checked again
            st.session_state["dir_pick_next"] = result.partner_id
            st.session_state["form_for"] = "reload"
            st.rerun()
        st.session_state["form_problems"] = result.problems
    problems = st.session_state.pop("form_problems", None)
    if problems:
        st.error(
            "Not saved: "
            + "; ".join(f"{FIELDS[k].label if k in FIELDS else k}: {md_escape(v)}" for k, v in problems.items())
        )
    duplicates = st.session_state.get("form_duplicates")
    if duplicates is not None and len(duplicates):
        st.warning("This may already be in the directory. Open the existing record, or save it anyway:")
        for row in duplicates.itertuples():
            st.markdown(
                f"- [{md_escape(row.name)}](directory?partner={row.partner_id}) "
                f"({md_escape(row.category)}, {md_escape(text_or_blank(row.postcode))}): {md_escape(row.why)}"
            )
        if st.button("It is a different partner: save it", key="form_duplicates_save"):
            st.session_state["form_duplicates_ok"] = True
            st.session_state.pop("form_duplicates", None)
            st.info("Press Save again to add it.")

    # ------------------------------------------------------------ its services
    if record is not None:
        st.subheader("Services")
        own = services[services["partner_id"] == pick]
        ui.dataframe(
            own.assign(
                ages=[d.ages_text(a, b) for a, b in zip(own["min_age"], own["max_age"], strict=True)],
                **{c: own[c].map(services_text) for c in ("tags", "languages", "delivery", "sessions")},
                **{c: own[c].map(text_or_blank) for c in ("cost", "access")},
            )[
                [
                    "name",
                    "tags",
                    "ages",
                    "cost",
                    "languages",
                    "delivery",
                    "sessions",
                    "access",
                    "send_inclusive",
                    "status",
                ]
            ],
            hide_index=True,
            width="stretch",
            column_config={
                "name": st.column_config.TextColumn("Service", width="medium"),
                "tags": st.column_config.TextColumn("Tags", width="medium"),
                "ages": "Ages",
                "cost": "Cost",
                "languages": "Languages",
                "delivery": "Delivered",
                "sessions": "When",
                "access": "How to get in",
                "send_inclusive": st.column_config.CheckboxColumn("SEND inclusive"),
                "status": "Status",
            },
        )
        if editor:
            service_names = dict(zip(own["service_id"], own["name"], strict=True))
            if "svc_pick_next" in st.session_state:
                st.session_state["svc_pick"] = st.session_state.pop("svc_pick_next")
            which = st.selectbox(
                "Service to edit",
                ["new", *service_names],
                key="svc_pick",
                format_func=lambda s: "A new service" if s == "new" else service_names[s],
            )
            current = None if which == "new" else own[own["service_id"] == which].iloc[0]
            if st.session_state.get("svc_for") != (pick, which):
                for name in ("name", "tags", "min_age", "max_age", "cost", "languages", "sessions", "eligibility"):
                    st.session_state[f"svc_{name}"] = "" if current is None else text(current[name])
                st.session_state["svc_delivery"] = (
                    [] if current is None else [t for t in text(current["delivery"]).split(";") if t]
                )
                st.session_state["svc_access"] = "" if current is None else text(current["access"])
                st.session_state["svc_send"] = False if current is None else bool(current["send_inclusive"])
                st.session_state["svc_status"] = "active" if current is None else current["status"]
                st.session_state["svc_for"] = (pick, which)
                st.session_state["svc_version"] = None if current is None else int(current["version"])
            with st.form("service_form", enter_to_submit=False):
                a, b = st.columns(2)
                a.text_input("Service name", key="svc_name")
                b.text_input("Tags (; between)", key="svc_tags", help="Matched against families' needs")
                a.text_input("From age", key="svc_min_age")
                b.text_input("To age", key="svc_max_age")
                a.text_input("Cost (free, or what it costs)", key="svc_cost")
                b.text_input("Languages (; between)", key="svc_languages")
                a.multiselect("Delivered", DELIVERY, key="svc_delivery")
                b.text_input("When (weekly, e.g. Mon 09:00-11:30;Thu 15:30-17:00)", key="svc_sessions")
                a.selectbox("How to get in", ["", *ACCESS], key="svc_access", format_func=lambda v: v or "not known")
                b.selectbox("Status", SERVICE_STATUSES, key="svc_status")
                st.text_input("Eligibility", key="svc_eligibility")
                st.checkbox("SEND inclusive", key="svc_send")
                saved = st.form_submit_button("Save the service", type="primary")
            values = {
                name: st.session_state[f"svc_{name}"]
                for name in (
                    "name",
                    "tags",
                    "min_age",
                    "max_age",
                    "cost",
                    "languages",
                    "sessions",
                    "eligibility",
                    "access",
                    "status",
                )
            }
            values["delivery"] = ";".join(st.session_state["svc_delivery"])
            values["send_inclusive"] = "yes" if st.session_state["svc_send"] else "no"
            done = forms.save(
                f"svc_save_{pick}",
                saved,
                lambda: d.save_service(
                    store,
                    ui.current_actor(),
                    pick,
                    values,
                    None if which == "new" else which,
                    st.session_state.get("svc_version"),
                ),
                refusals=(d.VersionConflict,),
            )
            if done is not None:
                if done.ok:
                    st.session_state["dir_notice"] = f"Saved the service {values['name']}."
                    st.session_state["svc_for"] = None
                    # Back to a blank form: the saved service is in the table above, and a
                    # second service typed next must not overwrite the first.
                    st.session_state["svc_pick_next"] = "new"
                    st.rerun()
                st.error("Not saved: " + "; ".join(f"{k}: {md_escape(v)}" for k, v in done.problems.items()))
