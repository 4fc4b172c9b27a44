"""Events and referrals (family liaison officers): record who came to an event in one go, follow
each referral to its outcome, and link families to the partners they use. Widgets in, one call into
engagement.events / engagement.referrals, figures out."""

import streamlit as st

import ui
from engagement import clock, events, partnerships, referrals
from engagement.contacts import InvalidInteraction
from engagement.partners import partner_directory
from engagement.settings import load_settings
from engagement.text import md_escape
from engagement.typology import load_typology
from ui import forms

viewer, store, school_id = ui.open_page("week")
today = clock.today()
NEW = "A new event"

st.title("Events and referrals")
st.caption(
    "Record the school's week: who came to an event, which families were referred to which partner and "
    "what became of it, and which partners a family uses. Every save is one transaction, audited."
)

directory = partner_directory(store, school_id)
partner_names = dict(zip(directory["partner_id"], directory["name"], strict=True))
family_ids = events.school_family_ids(store, school_id)
events_tab, referrals_tab, links_tab = st.tabs(["Event registers", "Referrals", "Families' partners"])

# ---------------------------------------------------------------- events
with events_tab:
    just_saved = st.session_state.pop("week_event_saved", None)
    if just_saved:
        # After a save the form shows that event, ready for the next families, with empty lists.
        st.session_state["week_event"] = just_saved
        st.session_state["week_event_families"] = []
        st.session_state["week_event_paste"] = ""
    flash = st.session_state.pop("week_event_flash", None)
    if flash:
        st.success(flash, icon=":material/check:")
    listed = events.list_events(store, school_id)
    labels = {
        row.event_id: f"{row.date:%d/%m/%Y} · {row.activity} · {row.families} families" for row in listed.itertuples()
    }
    chosen = st.selectbox(
        "Event",
        [NEW, *labels],
        key="week_event",
        format_func=lambda e: labels.get(e, e),
        help="Pick an event to add families to its register, or create a new one.",
    )
    existing = None if chosen == NEW else listed[listed["event_id"] == chosen].iloc[0]
    activities = load_typology().activity_names()
    with st.form("week_register", border=True):
        if existing is None:
            c1, c2 = st.columns(2)
            when = c1.date_input("Date", value=today, max_value=today, format="DD/MM/YYYY", key="week_event_date")
            default_activity = "parents evening" if "parents evening" in activities else activities[0]
            activity = c2.selectbox(
                "Activity", activities, index=activities.index(default_activity), key="week_event_activity"
            )
        else:
            # An event keeps its date and activity: the register only adds families to it.
            when, activity = existing["date"], existing["activity"]
            st.markdown(f"**{md_escape(activity)}** on {when:%d/%m/%Y}")
        running = st.multiselect(
            "Run with partners (optional)",
            list(partner_names),
            format_func=lambda k: partner_names[k],
            key="week_event_partners",
        )
        q1, q2, q3 = st.columns(3)
        attendees = q1.number_input(
            "Attendees in all (optional)",
            min_value=0,
            step=1,
            value=None,
            key="week_event_attendees",
            help="Everyone who came, families not on roll included",
        )
        hours = q2.number_input(
            "Volunteer hours (optional)", min_value=0.0, step=0.5, value=None, key="week_event_hours"
        )
        money = q3.number_input(
            "Money raised, £ (optional)", min_value=0.0, step=1.0, value=None, key="week_event_money"
        )
        came = st.multiselect(
            "Families who came (type to search their references)", family_ids, key="week_event_families"
        )
        pasted = st.text_area(
            "Or paste references (one a line, or separated by commas)", key="week_event_paste", height=100
        )
        if existing is not None:
            st.caption(
                f"Already on the register: {existing['families']} families. Saving adds to it; nobody is taken off."
            )
        saved = st.form_submit_button("Save register", type="primary")

    def save_the_register() -> events.SavedRegister | events.UnknownReferences:
        try:
            return events.save_register(
                store,
                ui.current_actor(),
                school_id=school_id,
                event_id=None if existing is None else chosen,
                date=when,
                activity=activity,
                family_ids=list(dict.fromkeys([*came, *events.parse_pasted(pasted)])),
                partner_ids=running,
                attendees=attendees,
                volunteer_hours=hours,
                money_raised=money,
            )
        except events.UnknownReferences as error:  # listed below, to fix one by one
            return error

    result = forms.save("week_register", saved, save_the_register, refusals=(InvalidInteraction,))
    if isinstance(result, events.UnknownReferences):
        one = len(result.unknown) == 1
        st.error(
            f"Nothing was saved: {len(result.unknown)} reference{' is' if one else 's are'} not a family of "
            f"this school. Fix or remove {'it' if one else 'them'}, then save again.",
            icon=":material/error:",
        )
        ui.dataframe({"Unknown reference": result.unknown}, hide_index=True, key="week_unknown")
    elif result is not None:
        st.session_state["week_event_flash"] = (
            f"Saved: {result.added} families added to the register"
            + (f" ({result.already} were already on it)" if result.already else "")
            + (f", {result.partners_added} partner contacts" if result.partners_added else "")
            + "."
        )
        st.session_state["week_event_saved"] = result.event_id
        st.rerun()
    if existing is not None:
        with st.expander("Take a family off this register (marked by mistake)"):
            on_register = events.families_on_register(store, chosen)
            gone = st.selectbox(
                "Family", on_register, index=None, placeholder="Choose a reference", key="week_event_remove_family"
            )
            sure = st.checkbox(
                "Yes, take this family off: its contact for the event goes (the audit log keeps who did it)",
                key="week_event_remove_sure",
            )
            pressed = st.button("Take off the register", key="week_event_remove", disabled=not (gone and sure))
            taken = forms.save(
                f"week_event_remove_{chosen}",
                pressed,
                forms.done_when_run(lambda: events.remove_from_register(store, ui.current_actor(), chosen, gone or "")),
            )
            if taken:
                st.session_state["week_event_flash"] = f"{md_escape(gone)} was taken off the register."
                st.session_state["week_event_saved"] = chosen
                st.rerun()
        open_partnerships = {p["partnership_id"]: p["name"] for p in partnerships.joinable(store, school_id)}
        if open_partnerships:
            with st.expander("Add this register's families to a partnership"):
                joining = st.selectbox(
                    "Partnership",
                    list(open_partnerships),
                    format_func=lambda p: open_partnerships[p],
                    key="week_event_partnership",
                )
                added = forms.save(
                    f"week_event_partnership_{chosen}",
                    st.button("Add the families", key="week_event_partnership_go"),
                    lambda: partnerships.add_register(store, ui.current_actor(), school_id, joining or "", chosen),
                )
                if added is not None:
                    if added.ok:
                        st.session_state["week_event_flash"] = (
                            f"The register's families are in {open_partnerships[joining or '']} from the event's day."
                        )
                        st.session_state["week_event_saved"] = chosen
                        st.rerun()
                    st.error("Not saved: " + md_escape(" ".join(str(p) for p in added.errors)))
    st.header("Events", anchor=False)
    if listed.empty:
        st.caption("No event recorded yet.")
    else:
        shown = listed.assign(
            partners=[
                ", ".join(partner_names.get(p, p) for p in (ids or "").split(";") if p) for ids in listed["partner_ids"]
            ]
        )
        ui.dataframe(
            shown,
            hide_index=True,
            key="week_events_table",
            column_order=[
                "date",
                "activity",
                "families",
                "attendees",
                "volunteer_hours",
                "money_raised",
                "partners",
                "event_id",
            ],
            column_config={
                "date": st.column_config.DateColumn("Date", format="DD/MM/YYYY"),
                "activity": "Activity",
                "families": "Families on the register",
                "attendees": "Attendees",
                "volunteer_hours": "Volunteer hours",
                "money_raised": st.column_config.NumberColumn("Raised", format="£%.2f"),
                "partners": "Run with",
                "event_id": "Reference",
            },
        )

# ---------------------------------------------------------------- referrals
with referrals_tab:
    flash = st.session_state.pop("week_referral_flash", None)
    if flash:
        st.success(flash, icon=":material/check:")
    outstanding = referrals.referrals(store, school_id, open_only=True, today=today)
    days = load_settings().outreach.referral_no_reply_days
    st.header(f"Outstanding referrals: {len(outstanding)}", anchor=False)
    st.caption(
        f"Oldest first. A referral still sent after {days} days with no reply raises its family on the "
        "Outreach planner."
    )
    ui.dataframe(
        outstanding,
        hide_index=True,
        key="week_outstanding",
        column_order=[
            "date",
            "days_open",
            "no_reply",
            "family_id",
            "partner",
            "status",
            "status_date",
            "reasons",
            "referral_id",
        ],
        column_config={
            "date": st.column_config.DateColumn("Made", format="DD/MM/YYYY"),
            "days_open": "Days",
            "no_reply": st.column_config.CheckboxColumn("No reply"),
            "family_id": "Family",
            "partner": "Partner",
            "status": "Status",
            "status_date": st.column_config.DateColumn("Since", format="DD/MM/YYYY"),
            "reasons": "Reasons",
            "referral_id": "Reference",
        },
    )
    make, move = st.columns(2, gap="large")
    with make:
        st.markdown("**Refer a family**")
        family = st.selectbox("Family", family_ids, key="week_ref_family", index=None, placeholder="Type a reference")
        partner = st.selectbox(
            "Partner",
            list(partner_names),
            format_func=lambda k: partner_names[k],
            key="week_ref_partner",
            index=None,
            placeholder="Choose a partner",
        )
        choices = referrals.reason_choices(store, family, partner) if family and partner else []
        reasons = st.multiselect(
            "Reasons (the family's needs and the partner's services)",
            choices,
            key="week_ref_reasons",
            accept_new_options=True,
        )
        r1, r2 = st.columns(2)
        made = r1.date_input("Date referred", value=today, max_value=today, format="DD/MM/YYYY", key="week_ref_date")
        staff = r2.text_input("Referred by", key="week_ref_staff")
        pressed = st.button("Refer", type="primary", key="week_ref_go", disabled=not (family and partner))
        made_it = forms.save(
            "week_refer",
            pressed,
            lambda: referrals.refer(
                store,
                ui.current_actor(),
                school_id=school_id,
                family_id=family or "",
                partner_id=partner or "",
                date=made,
                reasons=reasons,
                staff=staff or None,
                today=today,
            ),
            refusals=(referrals.InvalidReferral,),
        )
        if made_it is not None:
            st.session_state["week_referral_flash"] = f"Referred to {md_escape(partner_names[partner])}."
            st.rerun()
    with move:
        st.markdown("**Record a reply or an outcome**")
        every = referrals.referrals(store, school_id, today=today)
        ref_labels = {
            r.referral_id: f"{r.family_id} → {r.partner} ({r.date:%d/%m/%Y}, {r.status})" for r in every.itertuples()
        }
        picked = st.selectbox(
            "Referral",
            list(ref_labels),
            format_func=lambda k: ref_labels[k],
            key="week_move_ref",
            index=None,
            placeholder="Choose a referral",
        )
        s1, s2 = st.columns(2)
        status = s1.selectbox("Status", list(referrals.STATUSES), key="week_move_status", index=1)
        on = s2.date_input("On", value=today, max_value=today, format="DD/MM/YYYY", key="week_move_date")
        why = st.text_input("Why it was declined (for declined)", key="week_move_why")
        pressed = st.button("Save the status", key="week_move_go", disabled=picked is None)
        moved = forms.save(
            "week_move",
            pressed,
            forms.done_when_run(
                lambda: referrals.update_status(
                    store, ui.current_actor(), picked or "", status, on, decline_reason=why or None, today=today
                )
            ),
            refusals=(referrals.InvalidReferral,),
        )
        if moved:
            st.session_state["week_referral_flash"] = f"The referral is now {status}."
            st.rerun()
    with st.expander(f"Every referral ({len(every)})"):
        ui.dataframe(
            every,
            hide_index=True,
            key="week_every_referral",
            column_order=[
                "date",
                "family_id",
                "partner",
                "status",
                "status_date",
                "decline_reason",
                "reasons",
                "staff",
            ],
        )

# ---------------------------------------------------------------- families' partners
with links_tab:
    flash = st.session_state.pop("week_link_flash", None)
    if flash:
        st.success(flash, icon=":material/check:")
    st.caption(
        "A family uses a partner: a member of its club, a user of its food bank, a mentee. "
        "An open end means it goes on."
    )
    l1, l2, l3 = st.columns(3)
    link_family = l1.multiselect("Families", family_ids, key="week_link_families")
    link_partner = l2.selectbox(
        "Partner",
        list(partner_names),
        format_func=lambda k: partner_names[k],
        key="week_link_partner",
        index=None,
        placeholder="Choose a partner",
    )
    relation = l3.text_input("Relation", value="member", key="week_link_relation")
    d1, d2 = st.columns(2)
    start = d1.date_input("From", value=today, format="DD/MM/YYYY", key="week_link_start")
    end = d2.date_input("Until (optional)", value=None, format="DD/MM/YYYY", key="week_link_end")

    def link_them() -> bool:
        for family in link_family:
            referrals.link_family(
                store,
                ui.current_actor(),
                school_id=school_id,
                family_id=family,
                partner_id=link_partner or "",
                relation=relation,
                start=start,
                end=end,
            )
        return True

    pressed = st.button("Link", type="primary", key="week_link_go", disabled=not (link_family and link_partner))
    if forms.save("week_link", pressed, link_them, refusals=(referrals.InvalidReferral,)):
        st.session_state["week_link_flash"] = (
            f"Linked {len(link_family)} families to {md_escape(partner_names[link_partner])}."
        )
        st.rerun()
    if link_partner:
        users = referrals.family_links(store, partner_id=link_partner, today=today)
        st.markdown(f"**{md_escape(partner_names[link_partner])}**: {int(users['current'].sum())} families use it now")
        ui.dataframe(
            users,
            hide_index=True,
            key="week_link_table",
            column_order=["family_id", "relation", "start", "end", "current"],
        )
