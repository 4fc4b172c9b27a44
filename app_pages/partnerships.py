"""Partnerships: the school's formal partnerships with community groups, what changed for the
families each serves against the school's other families, and the year's partnership action plan
with its figures and overdue actions; a one-page evaluation report. Heads and SENCOs keep them
here (add, edit, end; members in and out; goals); governors see the aggregates only."""

import streamlit as st

import ui
from engagement import access, clock, events, partnership_report, partnerships
from engagement.directory import VersionConflict
from engagement.partnership_files import epstein_types, number_text
from engagement.settings import fewer_than
from engagement.store import PARTNERSHIP_STATUSES, PLAN_STATUSES
from engagement.text import md_escape

viewer, store, school_id = ui.open_page("partnerships")
assert school_id is not None  # open_page stops the page without one
window = ui.window_picker()
staff = access.sees_family_detail(viewer.role)
today = clock.today()
view = partnerships.partnerships_view(
    store, school_id, window.start, window.end, for_governor=not staff, calendar=ui.school_calendar(store, school_id)
)

head, downloads = st.columns([2.6, 1], vertical_alignment="center")
head.title("Partnerships")
ui.subtitle(f"{md_escape(view.school_name)} · {md_escape(window.label)}", head)
report_html = partnership_report.partnership_report_html(view, today)
downloads.download_button(
    "Evaluation report (HTML)",
    lambda: partnership_report.fitted_report_html(report_html),
    file_name=partnership_report.report_file_name(view, "html"),
    mime="text/html",
    on_click="ignore",
    icon=":material/download:",
    key="partnerships_html",
    width="stretch",
    help="One A4 page for the school, the trust or the local authority: open it in a browser and print.",
)
downloads.download_button(
    "Evaluation report (PDF)",
    lambda: partnership_report.partnership_report_pdf(report_html),
    file_name=partnership_report.report_file_name(view, "pdf"),
    mime="application/pdf",
    on_click="ignore",
    icon=":material/picture_as_pdf:",
    key="partnerships_pdf",
    width="stretch",
)

flash = st.session_state.pop("partnerships_flash", None)
if flash:
    st.success(md_escape(flash), icon=":material/check:")

active = view.partnerships[view.partnerships["status"] == "active"]
goals = len(view.plan)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Partnerships active", f"{len(active):,}", help="Planned and ended ones are listed below too")
m2.metric("Goals of the plan", f"{goals:,}", help=f"The partnership action plan for {view.year}")
m3.metric("Goals on track", f"{sum(r['on_track'] is True for r in view.plan):,} of {goals:,}")
if staff:
    m4.metric("Actions overdue", f"{len(view.overdue):,}", help="Not done, and due before the window's end")
else:
    m4.metric("Goals done", f"{sum(r['status'] == 'done' for r in view.plan):,} of {goals:,}")

# ---------------------------------------------------------------- evaluations


def short(share) -> str:
    """A share for a metric: the table below says "not shown" in full."""
    return "–" if share is None else partnerships.percent(share)


st.header("What changed for the families each partnership serves", anchor=False)
st.caption(
    "Members are the partnership's families at the latest belonging survey since it began; they are compared with "
    "the school's other families: who feels they belong before and after (the difference between the two groups' "
    "changes), two-way contact in the window and referrals to the partnership's own groups. This compares groups "
    "of families; it does not show that a partnership caused a change."
)
if not view.evaluations:
    st.info("No partnership had begun by the end of this window. Add one below, or import partnerships.csv.")
for evaluation in view.evaluations:
    f = evaluation.figures
    with st.container(border=True):
        st.markdown(
            f"**{md_escape(evaluation.name)}** · {md_escape(f['status'])} since "
            f"{md_escape(partnerships.day_text(f['start']))}"
        )
        c1, c2, c3, c4 = st.columns([1, 1.6, 1.6, 1.1])
        c1.metric(
            "Member families",
            "–" if f["members"] is None else f"{f['members']:,}",
            help=f"A dash: {fewer_than()}, not shown" if f["members"] is None else None,
        )
        c2.metric("Reach: members · others", f"{short(f['members_reach'])} · {short(f['others_reach'])}")
        c3.metric(
            "Belonging: members · others",
            f"{partnerships.points(f['change_members_pp'])} · {partnerships.points(f['change_others_pp'])}",
            help="The change in points of the share who feel they belong, from the latest survey round before "
            "the partnership began to the latest since",
        )
        c4.metric("Difference (points)", partnerships.points(f["difference_pp"]))
        ui.dataframe(
            partnerships.evaluation_rows(f),
            hide_index=True,
            width="stretch",
            key=f"evaluation_{evaluation.partnership_id}",
        )
        for sentence in evaluation.sentences:
            st.caption(md_escape(sentence))

# ---------------------------------------------------------------- the plan
st.header(f"Partnership action plan {view.year}", anchor=False)
if view.overdue:
    st.warning(
        "Overdue: "
        + "; ".join(
            md_escape(f"{r['goal']} ({r['owner'] or 'no owner'}, due {partnerships.day_text(r['due'])})")
            for r in view.overdue
        ),
        icon=":material/schedule:",
    )
ui.dataframe(view.progress, hide_index=True, width="stretch", key="plan_progress")
if view.plan:
    ui.dataframe(
        partnerships.plan_rows(view.plan, not staff),
        hide_index=True,
        width="stretch",
        key="plan_table",
        column_config={
            "Goal": st.column_config.TextColumn(width="medium"),
            "Figure": st.column_config.TextColumn(width="small"),
        },
    )
    st.caption(
        md_escape(
            f"On track: the figure has met its target, or moved from its baseline toward it by at least the share "
            f"of the school year gone ({100 * view.share_gone:.0f}% of its school days); {view.baseline_text}."
        )
    )
else:
    st.info(f"No goals for {view.year} yet. Add them below, or import action_plan.csv on the Data page.")

if not staff:
    st.stop()

# ---------------------------------------------------------------- keeping them (staff)
st.header("Keep the partnerships and the plan", anchor=False)
version = ui.data_version()
actor = ui.current_actor()
partner_names = partnerships.partner_choices(store, school_id)
stored = view.partnerships.set_index("partnership_id", drop=False)


def _version(record: dict) -> int | None:
    """The version the form showed, so a save over someone else's newer change is refused."""
    return None if record.get("version") is None else int(record["version"])


def done(report, what: str) -> None:
    """A save's outcome: a flash and a fresh page, or the reasons it was refused (as text)."""
    if report.ok:
        st.session_state["partnerships_flash"] = f"Saved: {what}."
        st.rerun()
    st.error(md_escape(report.format()))


tab_partnership, tab_members, tab_goal = st.tabs(["Partnership", "Members", "Plan goal"])

with tab_partnership:
    options = ["new", *stored.index]
    pick = st.selectbox(
        "Partnership",
        options,
        key="partnership_pick",
        format_func=lambda p: (
            "Add a new partnership" if p == "new" else f"{stored.loc[p, 'name']} ({stored.loc[p, 'status']})"
        ),
    )
    current = {} if pick == "new" else stored.loc[pick].to_dict()
    types = epstein_types()
    with st.form(f"partnership_form_{pick}_{version}"):
        name = st.text_input("Name", value=current.get("name", ""), max_chars=200)
        chosen = st.multiselect(
            "Community groups in it",
            list(partner_names),
            default=[p for p in (current.get("partners") or "").split(";") if p in partner_names],
            format_func=lambda p: partner_names.get(p, p),
        )
        others = st.text_input(
            "Other schools in it", value=current.get("schools") or "", help="Separated by ;", max_chars=2000
        )
        aims = st.text_area("Aims", value=current.get("aims") or "", max_chars=4000)
        left, middle, right = st.columns(3)
        kind = left.selectbox(
            "Epstein type",
            ["", *types],
            index=["", *types].index(current.get("epstein_type") or ""),
        )
        start = middle.date_input("Began", value=current.get("start") or today, format="DD/MM/YYYY")
        review = right.date_input("Next review", value=current.get("review"), format="DD/MM/YYYY")
        status = st.selectbox(
            "Status", list(PARTNERSHIP_STATUSES), index=PARTNERSHIP_STATUSES.index(current.get("status") or "active")
        )
        save = st.form_submit_button("Save partnership", type="primary")
    if save:
        values = {
            "partnership_id": current.get("partnership_id")
            or partnerships.new_reference(store, school_id, "partnerships"),
            "name": name,
            "partners": chosen,
            "schools": others,
            "aims": aims,
            "epstein_type": kind,
            "start": start,
            "review": review,
            "status": status,
        }
        try:
            report = partnerships.save_partnership(store, actor, school_id, values, _version(current))
        except VersionConflict as conflict:
            st.error(md_escape(str(conflict)))
        else:
            done(report, f"the partnership {name}")
    if current and current.get("status") != "ended" and st.button("End this partnership", key=f"end_{pick}"):
        try:
            report = partnerships.end_partnership(store, actor, school_id, pick, _version(current))
        except VersionConflict as conflict:
            st.error(md_escape(str(conflict)))
        else:
            done(report, f"the partnership {current['name']} has ended")

with tab_members:
    if stored.empty:
        st.info("Add a partnership first.")
    else:
        which = st.selectbox(
            "Partnership", list(stored.index), key="members_pick", format_func=lambda p: stored.loc[p, "name"]
        )
        mine = view.members[view.members["partnership_id"] == which]
        ui.dataframe(
            mine[["family_id", "joined", "left"]],
            hide_index=True,
            width="stretch",
            height=200,
            key="members_table",
            column_config={
                "family_id": "Family",
                "joined": st.column_config.DateColumn("Joined", format="DD/MM/YYYY", help="Empty: since it began"),
                "left": st.column_config.DateColumn("Left", format="DD/MM/YYYY"),
            },
        )
        current_members = set(mine.loc[mine["left"].isna(), "family_id"])
        with st.form(f"members_add_{which}_{version}"):
            adding = st.multiselect(
                "Families to add",
                [f for f in partnerships.family_choices(store, school_id) if f not in current_members],
            )
            joined = st.date_input("Joined on", value=None, format="DD/MM/YYYY", help="Empty: since it began")
            add = st.form_submit_button("Add members")
        if add and adding:
            done(partnerships.add_members(store, actor, school_id, which, adding, joined), f"{len(adding)} added")
        registers = events.list_events(store, school_id)
        registers = registers[registers["families"] > 0]
        if not registers.empty:
            with st.form(f"members_register_{which}_{version}"):
                labels = {
                    r.event_id: f"{r.date:%d/%m/%Y} · {r.activity} · {r.families} families"
                    for r in registers.itertuples()
                }
                event = st.selectbox(
                    "Or the families on an event's register",
                    list(labels),
                    format_func=lambda e: labels[e],
                    help="They join on the event's day",
                )
                from_register = st.form_submit_button("Add the register's families")
            if from_register and event is not None:
                report = partnerships.add_register(store, actor, school_id, which, event)
                done(report, f"the families on the register of {labels[event]}")
        if current_members:
            with st.form(f"members_end_{which}_{version}"):
                leaving = st.selectbox("Family leaving", sorted(current_members))
                left_on = st.date_input("Left on", value=today, format="DD/MM/YYYY")
                end = st.form_submit_button("Record that the family left")
            if end:
                done(
                    partnerships.end_membership(store, actor, school_id, which, leaving, left_on),
                    f"family {leaving} left",
                )

with tab_goal:
    plan = {r["plan_id"]: r for r in view.plan}
    stored_plan = partnerships.load_plan(store, school_id, view.year).set_index("plan_id", drop=False)
    goal_pick = st.selectbox(
        "Goal",
        ["new", *plan],
        key="goal_pick",
        format_func=lambda p: "Add a new goal" if p == "new" else f"{plan[p]['epstein_type']}: {plan[p]['goal']}",
    )
    goal = {} if goal_pick == "new" else stored_plan.loc[goal_pick].to_dict()
    types = epstein_types()
    with st.form(f"goal_form_{goal_pick}_{version}"):
        left, right = st.columns(2)
        year = left.text_input("School year", value=goal.get("year") or view.year, max_chars=7)
        kind = right.selectbox("Epstein type", types, index=types.index(goal.get("epstein_type") or types[0]))
        words = st.text_input("Goal", value=goal.get("goal") or "", max_chars=1000)
        activity = st.text_area("Activity", value=goal.get("activity") or "", max_chars=2000)
        a, b, c = st.columns(3)
        owner = a.text_input("Owner (a role)", value=goal.get("owner") or "", max_chars=200)
        due = b.date_input("Due", value=goal.get("due"), format="DD/MM/YYYY")
        status = c.selectbox(
            "Status", list(PLAN_STATUSES), index=PLAN_STATUSES.index(goal.get("status") or "not started")
        )
        a, b, c = st.columns(3)
        measure = a.text_input(
            "Figure (its path in score --json)",
            value=goal.get("measure") or "",
            help="e.g. families.reach, communication.open, equity.pupil_premium.gap_pp, belonging.agree",
        )
        target = b.text_input("Target", value=number_text(goal.get("target")), help="A rate as a fraction: 0.8")
        baseline = c.text_input("Baseline", value=number_text(goal.get("baseline")), help=view.baseline_text)
        save_goal = st.form_submit_button("Save goal", type="primary")
    if save_goal:
        values = {
            "plan_id": goal.get("plan_id") or partnerships.new_reference(store, school_id, "action_plan"),
            "year": year,
            "epstein_type": kind,
            "goal": words,
            "activity": activity,
            "owner": owner,
            "due": due,
            "measure": measure,
            "target": target,
            "baseline": baseline,
            "status": status,
        }
        try:
            report = partnerships.save_goal(store, actor, school_id, values, _version(goal))
        except VersionConflict as conflict:
            st.error(md_escape(str(conflict)))
        else:
            done(report, "the goal")
