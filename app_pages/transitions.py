"""Transitions: who moves between settings when, each move's plan, what is done and what is late,
children with SEND first; steps are marked done in place, each change audited (heads, family
liaison officers, SENCOs; never governors)."""

import datetime

import streamlit as st

import ui
from engagement import access, belonging, clock, transitions
from engagement.settings import fewer_than
from engagement.text import md_escape
from ui import forms

viewer, store, school_id = ui.open_page("transitions")
today = clock.today()

st.title("Transitions")
st.caption(
    "Children moving between settings, with SEND first: each move's plan from the school's template "
    "(data/transition_plan.toml), what is done and what is late. Tick a step to mark it done; "
    "every change is kept in the audit log. Import moves as transitions.csv on the Data page."
)

SPANS = {
    "coming year and the last 90 days": (today - datetime.timedelta(days=90), today + datetime.timedelta(days=365)),
    "this school year": transitions.school_year(today),
    "every move": (None, None),
}
left, right = st.columns([2, 1])
span = left.selectbox("Moves", list(SPANS), key="transitions_span")
send_only = right.toggle("Children with SEND only", key="transitions_send_only")
moves = transitions.load_transitions(store, school_id, today, *SPANS[span])
if send_only:
    moves = moves[moves["send"]].reset_index(drop=True)

coming_send = moves[moves["send"] & (moves["days_to_go"] >= 0)]
m1, m2, m3, m4 = st.columns(4)
m1.metric("Moves", f"{len(moves):,}")
m2.metric("SEND moves to come", f"{len(coming_send):,}")
m3.metric("Plans complete", f"{int(moves['complete'].sum()):,} of {len(moves):,}")
m4.metric("Steps late", f"{int(moves['late'].sum()):,}", help="Not done, and due before today")

if moves.empty:
    st.info("No moves in this span. Import transitions.csv on the Data page, or choose every move.")
    st.stop()

table = moves.assign(progress=[f"{d} of {n}" for d, n in zip(moves["done"], moves["steps"], strict=True)])
ui.dataframe(
    table,
    hide_index=True,
    height=320,
    key="transitions_table",
    column_order=[
        "send",
        "family_id",
        "kind",
        "direction",
        "setting_name",
        "date",
        "days_to_go",
        "progress",
        "late",
        "meeting_held",
        "next_step",
        "next_due",
    ],
    column_config={
        "send": st.column_config.CheckboxColumn("SEND"),
        "family_id": "Family",
        "kind": "Move",
        "direction": "Leaving or joining",
        "setting_name": "Other setting",
        "date": st.column_config.DateColumn("Date", format="DD/MM/YYYY"),
        "days_to_go": st.column_config.NumberColumn("Days to go", help="Negative: days since the move"),
        "progress": "Steps done",
        "late": st.column_config.NumberColumn("Late", help="Steps not done and overdue"),
        "meeting_held": st.column_config.CheckboxColumn("Meeting held"),
        "next_step": st.column_config.TextColumn("Next step", width="large"),
        "next_due": st.column_config.DateColumn("Next due", format="DD/MM/YYYY"),
    },
)

# Beside the moves: how the families with SEND, and those of them moving, feel they belong
# (engagement.belonging, the Overview's figures by group; small groups not shown).
st.header("Belonging of families with SEND", anchor=False)
voice = belonging.send_belonging(
    store, school_id, moves, today, for_governor=not access.sees_family_detail(viewer.role)
)
if not voice:
    st.caption("No survey with family references yet: import survey_responses.csv on the Data page.")
for survey_round in voice:
    st.caption(
        f"{md_escape(survey_round.title)}, {survey_round.date:%d/%m/%Y}: the share agreeing, of all families, of "
        f"families with SEND, and of those with a move shown above. A share of {fewer_than()} answers is not shown."
    )
    # Four columns, so that the table fits a phone: the answers and the change are the Overview's.
    rows = [
        {k: v for k, v in row.items() if k not in ("Answers", "Change (points)")}
        for row in belonging.question_rows(survey_round, agree="All families")
    ]
    ui.words_table(rows, governor=not access.sees_family_detail(viewer.role))

labels = {
    row.transition_id: f"{row.family_id} · {row.kind} · {row.date:%d/%m/%Y}" + (" · SEND" if row.send else "")
    for row in moves.itertuples()
}
if st.session_state.get("transitions_pick") not in labels:
    st.session_state["transitions_pick"] = next(iter(labels))
picked = st.selectbox("Move to work on", list(labels), key="transitions_pick", format_func=lambda k: labels[k])
move = moves[moves["transition_id"] == picked].iloc[0]

with st.container(border=True):
    st.header(f"Family {md_escape(move['family_id'])}: {md_escape(move['kind'])}", anchor=False)
    when = (
        f"in {move['days_to_go']} days"
        if move["days_to_go"] > 0
        else "today"
        if move["days_to_go"] == 0
        else f"{-move['days_to_go']} days ago"
    )
    setting = md_escape(move["setting_name"]) if move["setting_name"] else "not recorded"
    st.markdown(
        f"**{md_escape(move['direction']).capitalize()}** on {move['date']:%d/%m/%Y} ({when}) · "
        f"**other setting:** {setting} · **SEND:** {'yes' if move['send'] else 'no'}"
    )
    steps = transitions.plan_steps(store, school_id, picked, today)
    st.markdown("**The plan** (tick a step when it is done)")
    version = ui.data_version()
    changes = {}
    for step in steps.itertuples():
        status = (
            f"done {step.done_on:%d/%m/%Y} by {step.done_by}"
            if step.done and step.done_on
            else "late"
            if step.late
            else "to do"
        )
        label = f"{step.title} · {step.owner or 'no owner'} · due {step.due:%d/%m/%Y} · {status}"
        ticked = st.checkbox(md_escape(label), value=bool(step.done), key=f"step_{step.step_id}_{version}")
        if ticked != bool(step.done):
            changes[step.step_id] = ticked
    count = forms.save(
        f"transition_steps_{picked}",
        bool(changes),
        lambda: transitions.mark_steps(store, ui.current_actor(), school_id, changes, today),
    )
    if count is not None:
        st.session_state["transitions_flash"] = f"Saved: {count} step{'s' * (count != 1)} changed."
        st.rerun()
    flash = st.session_state.pop("transitions_flash", None)
    if flash:
        st.success(flash, icon=":material/check:")
    activities, note = transitions.community_activities(store, move["family_id"], move["date"])
    st.markdown("**Community activities that continue after the move**")
    if activities:
        st.markdown("\n".join(f"- {md_escape(name)}" for name in activities))
    st.caption(md_escape(note))
