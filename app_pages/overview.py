"""Overview: the page a chair of governors puts on a projector. How well the school reaches each
segment, for whom it falls short, whether it improved on last term, and a dated one-page report of
the same. Aggregates only: nothing here names or identifies a family."""

import streamlit as st

import ui
from engagement import access, belonging, charts, overview, report
from engagement.settings import fewer_than
from engagement.text import md_escape

viewer, store, school_id = ui.open_page("overview")
window = ui.window_picker()
governor = not access.sees_family_detail(viewer.role)
view = overview.school_overview(
    store,
    school_id,
    window.start,
    window.end,
    for_governor=governor,
    frames=ui.school_frames(store, school_id),
    calendar=ui.school_calendar(store, school_id),
    messages=ui.school_messages(store, school_id),
)

# The school, the window and the report on the first lines; the scores straight after them, so a
# projector at 1280x800 shows the scores on its first screen.
head, downloads = st.columns([2.6, 1], vertical_alignment="center")
head.title(md_escape(view.school_name))
ui.subtitle(f"Engagement overview · {md_escape(view.window_text)}", head)
report_html = report.overview_report_html(view)
downloads.download_button(
    "Download report (HTML)",
    # Fitted to one sheet when asked for (WeasyPrint measures it, a second or two), like the PDF.
    lambda: report.one_page_report_html(report_html),
    file_name=report.report_file_name(view, "html"),
    mime="text/html",
    on_click="ignore",
    icon=":material/download:",
    key="overview_html",
    width="stretch",
    help="One A4 page: open it in a browser and print, or keep it.",
)
downloads.download_button(
    "Download report (PDF)",
    lambda: report.overview_report_pdf(report_html),
    file_name=report.report_file_name(view, "pdf"),
    mime="application/pdf",
    on_click="ignore",
    icon=":material/picture_as_pdf:",
    key="overview_pdf",
    width="stretch",
)


def delta(change, unit: str = "") -> str | None:
    return None if change is None else f"{change:+.1f}{unit}"


def score_text(score) -> str:
    return "not shown" if score is None else f"{score:.1f}"


def flat(change) -> dict:
    """No arrow and no colour for a change of nothing."""
    return {"delta_color": "off", "delta_arrow": "off"} if change == 0 else {}


st.header("Scores out of 100", anchor=False)
for column, row in zip(st.columns(len(view.segments)), view.segments):
    with column.container(border=True):
        if row["score"] is None:
            st.metric(f"{row['label']} score", "not shown", help=row["counts"])
            st.caption(md_escape(row["counts"]))
            continue
        st.metric(
            row["label"],
            f"{row['score']:.1f}",
            delta(row["score_change"]),
            help=f"Score out of 100. {row['drivers']}",
            **flat(row["score_change"]),
        )
        if row["rate_label"]:
            rate = "none listed" if row["rate"] is None else f"{100 * row['rate']:.1f}%"
            st.metric(row["rate_label"], rate, delta(row["rate_change"], " pts"), **flat(row["rate_change"]))
            st.caption(md_escape(row["counts"]))
        else:
            st.caption("The weighted mean of the four segments' scores.")
        if view.last_year and row["score_change_last_year"] is not None:
            st.caption(f"On the same point last year: {overview.points_text(row['score_change_last_year'])}")
st.caption(
    f"Arrows compare {md_escape(view.comparison_text)}. Counts of {fewer_than()} families "
    "are never shown as a number. Change the school or the window in the sidebar."
)

st.header("What drives each score, and what would raise it", anchor=False)
ui.words_table(
    [
        {
            "Segment": f"{row['label']} ({score_text(row['score'])})",
            "What drives it (points out of 100)": row["drivers"],
            "What would raise it": row["advice"],
        }
        for row in view.segments
    ],
    governor=governor,
)

st.header("Equity: who the school reaches less", anchor=False)
chart_side, table_side = st.columns(2)
chart_side.plotly_chart(
    charts.equity_chart(view.equity),
    config={"displayModeBar": False},
    key="overview_equity",
    theme=None,
    alt="Dot chart of family reach by group; the same figures are in the table beside it.",
)
with table_side:
    ui.words_table([overview.equity_text(row) for _, row in view.equity.iterrows()], governor=governor)
table_side.caption(
    "Gap: the group's reach minus the rest's, in percentage points. Parity: the group's reach "
    "divided by the rest's (1.00 is equal). A group with "
    f"{fewer_than()} families, or with {fewer_than()} outside it, is not shown."
)

st.header("Layer coverage: categories with an engaged partner", anchor=False)
ui.words_table([overview.layer_text(row) for _, row in view.layers.iterrows()], governor=governor)
st.markdown(md_escape(view.directory_line))

if view.communication is not None:
    st.header("How the school communicates with families", anchor=False)
    st.caption(
        "The five principles of seed 003, for families only, in the window's school days. A figure that "
        f"rests on {fewer_than()} families is not shown."
    )
    for column, row in zip(st.columns(len(view.communication.rows)), view.communication.rows, strict=True):
        with column.container(border=True):
            st.metric(row["principle"], row["value"])
            st.caption(md_escape(row["explanation"]))
    if len(view.communication.groups):
        chart_col, note_col = st.columns([3, 2])
        chart_col.plotly_chart(
            charts.communication_chart(view.communication.groups),
            config={"displayModeBar": False},
            key="overview_communication",
            theme=None,
            alt="Bar chart of family reach by preferred channel and home language; the same "
            "figures are written under Equitable above.",
        )
        note_col.caption(
            "Each bar is the share of a group's families with two-way contact in the window. A group "
            f"of {fewer_than()} families is not shown; a family with no preferred channel or language "
            "recorded is in no group."
        )

st.header("Trends per term", anchor=False)
words = overview.trend_text(view.trends)

scores_side, reach_side = st.columns(2)
scores_side.plotly_chart(
    charts.score_trend_chart(view.trends),
    config={"displayModeBar": False},
    key="overview_score_trend",
    theme=None,
    alt="Line chart of the scores per term; the same figures are in the tables below.",
)
reach_side.plotly_chart(
    charts.reach_trend_chart(view.trends),
    config={"displayModeBar": False},
    key="overview_reach_trend",
    theme=None,
    alt="Line chart of reach per term; the same figures are in the tables below.",
)
# The scores, then the reach: one table of ten columns ran off the side at 200 % zoom; two of
# five or six fit there, and side by side neither fits half the width of a projector.
reach_columns = [c for c in words.columns if c.endswith(" reach")]
ui.words_table(words.drop(columns=reach_columns).to_dict("records"), governor=governor)
ui.words_table(words[["Term", *reach_columns]].to_dict("records"), governor=governor)

# ---------------------------------------------------------------- belonging and transitions (issue 19)
st.header("Belonging and transitions", anchor=False)
voice = view.voice
assert voice is not None, "the Overview's view always carries its belonging and transitions section"
b1, b2, b3, b4 = st.columns(4)
if voice.belonging is None:
    b1.metric("Feel they belong", "no survey yet")
else:
    b1.metric(
        "Feel they belong",
        belonging.percent(voice.belonging["agree"]),
        None if voice.belonging["change"] is None else f"{voice.belonging['change']:+.1f} pts",
        help=f"Families who feel they belong: agreeing with the headline question of the {voice.belonging['survey']} survey of "
        f"{voice.belonging['date']}; the change is on the round before.",
    )
moves_year = f"{voice.year[0]:%Y}–{voice.year[1]:%y}"
b2.metric(f"Transitions {moves_year}", belonging.count_text(voice.transitions["count"]))
b3.metric("Of children with SEND", belonging.count_text(voice.transitions["send"]))
b4.metric("With a complete plan", belonging.percent(voice.transitions["plan_complete"]))
ui.words_table(belonging.transition_rows(voice), governor=governor)
for survey_round in voice.rounds:
    since = f", change on {survey_round.previous:%d/%m/%Y}" if survey_round.previous else ""
    st.subheader(f"{md_escape(survey_round.title)}: round of {survey_round.date:%d/%m/%Y}{since}", anchor=False)
    ui.words_table(belonging.question_rows(survey_round), governor=governor)
st.caption(
    f"Share agreeing of the answers on the survey's scale (\"don't know\" left out). A question or group "
    f"with {fewer_than()} answers is not shown; groups only where answers carry a family reference."
)

st.caption(" ".join(md_escape(n) for n in view.notes))

st.header("The school's week: events and referrals", anchor=False)
ui.words_table(overview.week_rows(view.week), governor=governor)
