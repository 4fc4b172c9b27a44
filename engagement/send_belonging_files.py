"""Reading, checking, importing and exporting ``transitions.csv`` and ``survey_responses.csv``
(columns in ``shared/FORMATS.md``), all-or-nothing like every import: every problem is reported
by file, row, column and reason, and one problem leaves the store exactly as it was.

Neither file names a school: a transition's school is its family's, an answer's is its family's or,
for an anonymous answer, the school given (or the store's only school). A transition imported for
the first time gets the steps of the plan template; a re-imported one keeps its steps and their
progress (undone steps move with a changed date). A survey round (a survey on a date) is imported
whole: the rows of a round in the file replace the school's stored round, so importing a file
twice does not count its answers twice. Each round replaced is audited with its counts, never the
answers.

>>> report = ImportReport()
>>> check_rows(report, "survey_responses", [["survey", "date", "question", "answer"],
...                                         ["belonging", "31/02/2026", "belong", "maybe"]]).rows
[]
>>> [str(p) for p in report.errors]
['survey_responses.csv, row 2, date: not a date: use 2026-09-14 or 14/09/2026', \
"survey_responses.csv, row 2, answer: 'maybe' is not on the scale of survey 'belonging': strongly disagree, \
disagree, not sure, agree, strongly agree"]
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from engagement import store as db
from engagement import transitions as moves
from engagement.cells import excel_safe, parse_bool, parse_date
from engagement.imports.report import ImportReport
from engagement.imports.runner import Scope, header_and_rows, row_steps, run_one
from engagement.plans_and_surveys import load_plan, load_surveys

KINDS = ("transitions", "transition_steps", "survey_responses")
COLUMNS = {
    "transitions": ("transition_id", "family_id", "kind", "direction", "other_setting", "date", "send"),
    "transition_steps": ("transition_id", "step", "title", "owner", "due", "done", "done_on", "done_by"),
    "survey_responses": ("survey", "date", "question", "answer", "family_id", "respondent"),
}
REQUIRED = {
    "transitions": ("transition_id", "family_id", "kind", "date"),
    "transition_steps": ("transition_id", "step"),
    "survey_responses": ("survey", "date", "question", "answer"),
}
RESPONDENTS = ("parent", "pupil")
LIMITS = {
    "transition_id": 64,
    "family_id": 64,
    "other_setting": 300,
    "step": 60,
    "title": 200,
    "owner": 100,
    "done_by": 200,
}


def guess_kind(filename: str) -> str | None:
    """``transitions`` or ``survey_responses`` when a file's name says so, else None.

    >>> guess_kind("2026-transitions.xlsx"), guess_kind("Survey responses autumn.csv"), guess_kind("families.csv")
    ('transitions', 'survey_responses', None)
    """
    words = re.findall(r"[a-z]+", Path(filename).stem.lower())
    if ("transitions" in words or "transition" in words) and ("steps" in words or "step" in words):
        return "transition_steps"
    if "transitions" in words or "transition" in words:
        return "transitions"
    if "survey" in words or "surveys" in words:
        return "survey_responses"
    return None


# ---------------------------------------------------------------- reading a file into rows of text


# ---------------------------------------------------------------- checking


@dataclass
class Checked:
    """A file's rows as values, with where each came from (file, spreadsheet row)."""

    kind: str
    rows: list[dict]
    where: list[tuple[str, int]]
    present: set[str]


def _normal(text: str) -> str:
    return " ".join(text.strip().lower().replace("–", "-").split())


def check_rows(report: ImportReport, kind: str, rows: list[list[str]], name: str | None = None) -> Checked:
    """Check the text rows of one file (header first) on their own, without the store: columns,
    required cells, dates, kinds, scales. Problems go into ``report``; the rows without a problem
    come back as values."""
    name = name or f"{kind}.csv"
    read = header_and_rows(report, name, kind, rows, REQUIRED[kind], COLUMNS[kind])
    if read is None:
        return Checked(kind, [], [], set())
    _, header, body = read
    surveys = load_surveys()
    out, where = [], []
    for number, cells in body:
        raw = {h: (cells[j].strip() if j < len(cells) else "") for j, h in enumerate(header) if h in COLUMNS[kind]}
        problems_before = len(report.errors)

        def bad(column: str, reason: str) -> None:
            report.error(name, number, column, reason)  # noqa: B023 - used at once, in this row

        for column in REQUIRED[kind]:
            if not raw.get(column):
                bad(column, f"{column} is required")
        for column, limit in LIMITS.items():
            if len(raw.get(column, "")) > limit:
                bad(column, f"longer than {limit} characters")
        value: dict[str, object] = dict(raw)
        for column in ("date", "due", "done_on"):
            if raw.get(column):
                value[column] = parse_date(raw[column])
                if value[column] is None:
                    bad(column, "not a date: use 2026-09-14 or 14/09/2026")
            elif column in COLUMNS[kind]:
                value[column] = None
        if kind == "transition_steps":
            value["done"] = parse_bool(raw.get("done", ""))
            if value["done"] is None:
                bad("done", f"{raw['done']!r} is not yes or no")
            value["step"] = raw.get("step", "").strip().lower().replace(" ", "_")
            template = {step.key: step for step in load_plan()}
            if not raw.get("title") and raw.get("step") and value["step"] not in template:
                bad(
                    "title",
                    f"step {raw['step']!r} is not in the plan template (data/transition_plan.toml): give its title",
                )
            value["title"] = raw.get("title") or (template[value["step"]].title if value["step"] in template else "")
            for column in ("owner", "done_by"):
                value[column] = raw.get(column) or None
        elif kind == "transitions":
            if raw.get("kind"):
                value["kind"] = _normal(raw["kind"])
                if value["kind"] not in moves.KINDS:
                    bad("kind", f"{raw['kind']!r} is not a kind of move: {', '.join(moves.KINDS)}")
            value["direction"] = _normal(raw.get("direction", "")) or "leaving"
            if value["direction"] not in moves.DIRECTIONS:
                bad("direction", f"{raw['direction']!r} is neither leaving nor joining")
            if "send" in raw:
                value["send"] = parse_bool(raw["send"])
                if value["send"] is None:
                    bad("send", f"{raw['send']!r} is not yes or no")
            value["other_setting"] = raw.get("other_setting") or None
        else:
            survey = surveys.survey(raw.get("survey", "")) if raw.get("survey") else None
            if raw.get("survey") and survey is None:
                bad(
                    "survey",
                    f"{raw['survey']!r} is not a survey of data/surveys.toml: "
                    + ", ".join(s.key for s in surveys.surveys),
                )
            if survey is not None:
                value["survey"] = survey.key
                if raw.get("question"):
                    question = survey.question(raw["question"])
                    if question is None:
                        bad(
                            "question",
                            f"{raw['question']!r} is not a question of survey {survey.key!r}: "
                            + ", ".join(q.key for q in survey.questions),
                        )
                    else:
                        value["question"] = question.key
                if raw.get("answer"):
                    value["answer"] = survey.answer(raw["answer"])
                    if value["answer"] is None:
                        bad(
                            "answer",
                            f"{raw['answer']!r} is not on the scale of survey {survey.key!r}: "
                            + ", ".join(survey.scale),
                        )
                if survey.anonymous and raw.get("family_id"):
                    bad(
                        "family_id",
                        f"survey {survey.key!r} is anonymous: leave family_id empty "
                        "(a family reference would make its answers identifiable)",
                    )
            value["respondent"] = _normal(raw.get("respondent", "")) or "parent"
            if value["respondent"] not in RESPONDENTS:
                bad("respondent", f"{raw['respondent']!r} is neither parent nor pupil")
            value["family_id"] = raw.get("family_id") or None
        if len(report.errors) == problems_before:
            out.append(value)
            where.append((name, number))
    if kind in ("transitions", "transition_steps"):
        seen: dict[tuple, int] = {}
        for value, (file, number) in zip(out, where, strict=True):
            key = (value["transition_id"], value.get("step"))
            first = seen.setdefault(key, number)
            if first != number:
                what = f"step {value['step']!r} of " if kind == "transition_steps" else ""
                report.error(
                    file, number, "transition_id", f"{what}transition {value['transition_id']!r} is also on row {first}"
                )
    else:
        # A family's parent answers a question once a round: a row repeated (a file pasted twice, a
        # row copied) would count that family twice. Anonymous answers and pupils' (a family may
        # have several) cannot be told apart, so only these are checked.
        answered: dict[tuple, int] = {}
        for value, (file, number) in zip(out, where, strict=True):
            if not value.get("family_id") or value.get("respondent") != "parent":
                continue
            answer_key = (value.get("survey"), value.get("date"), value.get("question"), value["family_id"])
            first = answered.setdefault(answer_key, number)
            if first != number:
                report.error(
                    file,
                    number,
                    "family_id",
                    f"family {value['family_id']!r} already answered {value.get('question')!r} in this round on "
                    f"row {first}: a family's parent answers once",
                )
    return Checked(kind, out, where, set(header) & set(COLUMNS[kind]))


def _families(conn, ids: list[str]) -> dict[str, dict]:
    f = db.families
    found = {}
    for start in range(0, len(ids), 500):
        for row in conn.execute(
            sa.select(f.c.family_id, f.c.school_id, f.c.send).where(f.c.family_id.in_(ids[start : start + 500]))
        ).mappings():
            found[row["family_id"]] = dict(row)
    return found


def _check_store(
    report: ImportReport, checked: list[Checked], conn, school_id: str | None, allowed: Collection[str] | None
) -> None:
    """What only the store can tell: the families exist, rows stay within the account's schools,
    a transition is not another school's, an anonymous answer has a school."""
    families = _families(conn, sorted({r["family_id"] for c in checked for r in c.rows if r.get("family_id")}))
    schools = list(conn.execute(sa.select(db.schools.c.school_id)).scalars())
    default_school = school_id or (schools[0] if len(schools) == 1 else None)
    t = db.transitions
    # A plan step's school is its transition's: stored, or brought by a transitions file of this batch.
    coming = {
        r["transition_id"]: families[str(r["family_id"])]["school_id"]
        for c in checked
        if c.kind == "transitions"
        for r in c.rows
        if str(r.get("family_id")) in families
    }
    for c in checked:
        stored = {}
        if c.kind in ("transitions", "transition_steps"):
            ids = sorted({r["transition_id"] for r in c.rows})
            for start in range(0, len(ids), 500):
                for row in conn.execute(
                    sa.select(t.c.transition_id, t.c.school_id).where(t.c.transition_id.in_(ids[start : start + 500]))
                ):
                    stored[row[0]] = row[1]
        for row, (file, number) in zip(c.rows, c.where, strict=True):
            if c.kind == "transition_steps":
                owner = coming.get(row["transition_id"], stored.get(row["transition_id"]))
                if owner is None:
                    report.error(
                        file,
                        number,
                        "transition_id",
                        f"there is no transition {row['transition_id']!r}: import transitions.csv too",
                    )
                elif (school_id and owner != school_id) or (allowed is not None and owner not in allowed):
                    report.error(
                        file, number, "transition_id", "this transition is not of a school your account may change"
                    )
                continue
            family = families.get(str(row["family_id"])) if row.get("family_id") else None
            if row.get("family_id") and family is None:
                report.error(
                    file, number, "family_id", f"there is no family {row['family_id']!r}: import families.csv first"
                )
                continue
            school = family["school_id"] if family else default_school
            if school is None:
                report.error(
                    file,
                    number,
                    "family_id",
                    "cannot tell the school of an anonymous answer: the store "
                    "holds several schools, so choose the school",
                )
                continue
            if school_id and school != school_id and family is not None:
                report.error(
                    file,
                    number,
                    "family_id",
                    f"family {row['family_id']!r} belongs to another school, not {school_id!r}",
                )
                continue
            if allowed is not None and school not in allowed:
                # The school came from the family's record: naming it would say where the family is.
                report.error(file, number, "family_id", "the family is not of a school your account may change")
                continue
            if c.kind == "transitions" and stored.get(row["transition_id"], school) != school:
                report.error(
                    file, number, "transition_id", f"transition {row['transition_id']!r} belongs to another school"
                )
                continue
            row["school_id"] = school
            if c.kind == "transitions" and "send" not in c.present:
                row["send"] = bool(family["send"]) if family else False  # no column: the family's SEND flag


def _transition_records(rows: list[dict]) -> list[dict]:
    out = []
    for row in rows:
        record = {
            c: row.get(c)
            for c in ("transition_id", "school_id", "family_id", "kind", "direction", "other_setting", "date", "send")
        }
        record["send"] = bool(record["send"])
        out.append(record)
    return out


def _rounds(rows: list[dict]) -> dict[tuple[str, str, datetime.date], list[dict]]:
    grouped: dict[tuple[str, str, datetime.date], list[dict]] = {}
    for row in rows:
        grouped.setdefault((row["school_id"], row["survey"], row["date"]), []).append(
            {c: row[c] for c in ("school_id", "survey", "date", "question", "answer", "family_id", "respondent")}
        )
    return grouped


def _write(report: ImportReport, checked: list[Checked], conn) -> None:
    transitions = [r for c in checked if c.kind == "transitions" for r in c.rows]
    answers = [r for c in checked if c.kind == "survey_responses" for r in c.rows]
    if transitions:
        records = _transition_records(transitions)
        report.counts["transitions"] = db.upsert(conn, "transitions", records)
        report.counts["transition_steps"] = moves.sync_plans(conn, records)
    plans = [r for c in checked if c.kind == "transition_steps" for r in c.rows]
    if plans:
        report.counts["plan steps"] = _replace_steps(conn, plans)
    if answers:
        r = db.survey_responses
        counts = {"inserted": 0, "updated": 0, "unchanged": 0}
        for (school, survey, date), rows in sorted(
            _rounds(answers).items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])
        ):
            where = (r.c.school_id == school) & (r.c.survey == survey) & (r.c.date == date)
            before = conn.execute(sa.select(sa.func.count()).select_from(r).where(where)).scalar_one()
            conn.execute(r.delete().where(where))
            conn.execute(r.insert(), rows)
            counts["inserted" if not before else "updated"] += len(rows)
            db.audit(
                conn,
                "replace round" if before else "insert round",
                "survey_responses",
                f"{survey}@{date.isoformat()}",
                detail=f"school {school}: {before} answers replaced by {len(rows)}",
            )
        report.counts["survey_responses"] = counts


def _replace_steps(conn, rows: list[dict]) -> dict[str, int]:
    """Replace the plan of each transition the rows name by the rows' steps, done or not
    (``transition_steps.csv``: a whole export restores each plan's progress)."""
    s = db.transition_steps
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    plans: dict[str, list[dict]] = {}
    for row in rows:
        plans.setdefault(row["transition_id"], []).append(
            {
                "step_id": f"{row['transition_id']}/{row['step']}",
                "transition_id": row["transition_id"],
                **{c: row.get(c) for c in COLUMNS["transition_steps"][1:]},
                "done": bool(row["done"]),
            }
        )
    for transition_id, steps in plans.items():
        gone = conn.execute(s.delete().where(s.c.transition_id == transition_id)).rowcount
        conn.execute(s.insert(), steps)
        counts["inserted" if not gone else "updated"] += len(steps)
        db.audit(
            conn, "replace plan", "transition_steps", transition_id, detail=f"{gone} steps replaced by {len(steps)}"
        )
    return counts


def _apply(report: ImportReport, checked: list[Checked], conn, scope: Scope, write: bool) -> None:
    if write:
        _write(report, checked, conn)
    else:
        _count_dry(report, checked, conn)


STEPS = row_steps(
    "voice",
    KINDS,
    guess_kind,
    "cannot tell what this file holds from its name: call it transitions.csv or survey_responses.csv, or choose the kind",
    check_rows,
    _apply,
    check_store=_check_store,
    required=REQUIRED,
)


def import_files(store: db.Store, paths, kind: str | None = None, **options) -> ImportReport:
    """Import transitions and survey answers, all or nothing, in one transaction (or, with
    ``dry_run``, only check them and count what would change). Arguments as
    :func:`engagement.interchange.import_files`."""
    return run_one(STEPS, store, paths, kind, **options)


def _count_dry(report: ImportReport, checked: list[Checked], conn) -> None:
    transitions = [r for c in checked if c.kind == "transitions" for r in c.rows]
    if transitions:
        t = db.transitions
        ids = [r["transition_id"] for r in transitions]
        stored = {}
        for start in range(0, len(ids), 500):
            for row in conn.execute(sa.select(t).where(t.c.transition_id.in_(ids[start : start + 500]))).mappings():
                stored[row["transition_id"]] = dict(row)
        counts = {"inserted": 0, "updated": 0, "unchanged": 0}
        for record in _transition_records(transitions):
            before = stored.get(record["transition_id"])
            counts[
                "inserted"
                if before is None
                else "updated"
                if any(before.get(k) != v for k, v in record.items())
                else "unchanged"
            ] += 1
        report.counts["transitions"] = counts
    answers = [r for c in checked if c.kind == "survey_responses" for r in c.rows]
    if answers:
        r = db.survey_responses
        counts = {"inserted": 0, "updated": 0, "unchanged": 0}
        for (school, survey, date), rows in _rounds(answers).items():
            before = conn.execute(
                sa.select(sa.func.count())
                .select_from(r)
                .where((r.c.school_id == school) & (r.c.survey == survey) & (r.c.date == date))
            ).scalar_one()
            counts["inserted" if not before else "updated"] += len(rows)
        report.counts["survey_responses"] = counts


def describe(report: ImportReport) -> str:
    """What an import did, in the words of :meth:`ImportReport.format`, for these two kinds."""
    if not report.ok:
        return report.format()
    verb = "Checked (nothing written)" if report.dry_run else "Imported"
    lines = [f"{verb}: {', '.join(report.files)}."]
    words = {
        "transitions": ("new", "updated"),
        "transition_steps": ("plan steps added", "plan steps moved"),
        "plan steps": ("steps of new plans", "steps replacing a stored plan"),
        "survey_responses": ("answers in new rounds", "answers replacing a stored round"),
    }
    for kind, c in report.counts.items():
        new, updated = words.get(kind, ("new", "updated"))
        if kind == "survey_responses":
            lines.append(f"  survey_responses: {c['inserted']} {new}, {c['updated']} {updated}")
        elif kind == "transition_steps":
            lines.append(f"  transitions: {c['inserted']} {new}, {c['updated']} {updated}")
        else:
            lines.append(
                f"  {kind}: {c['inserted']} {'to add' if report.dry_run else new}, {c['updated']} "
                f"{'to update' if report.dry_run else updated}, {c['unchanged']} unchanged"
            )
    lines += [f"  Note: {note}" for note in report.notes]
    return "\n".join(lines)


# ---------------------------------------------------------------- export


def export_frames(store: db.Store, school_id: str | Collection[str] | None = None) -> dict[str, pd.DataFrame]:
    """The three files as frames in their import formats, every text cell safe in Excel."""
    t, r = db.transitions, db.survey_responses
    out = {}
    with store.read() as conn:
        for kind, table, order in (
            ("transitions", t, [t.c.date, t.c.transition_id]),
            ("survey_responses", r, [r.c.survey, r.c.date, r.c.question, r.c.response_id]),
        ):
            query = sa.select(*(table.c[c] for c in COLUMNS[kind])).order_by(*order)
            if isinstance(school_id, str):
                query = query.where(table.c.school_id == school_id)
            elif school_id is not None:
                query = query.where(table.c.school_id.in_(list(school_id)))
            frame = pd.DataFrame(db.tuples(conn.execute(query)), columns=list(COLUMNS[kind]), dtype=object)
            out[kind] = _export_cells(frame)
        s = db.transition_steps
        query = (
            sa.select(*(s.c[c] for c in COLUMNS["transition_steps"]))
            .join(t, t.c.transition_id == s.c.transition_id)
            .order_by(s.c.transition_id, s.c.due, s.c.step)
        )
        if isinstance(school_id, str):
            query = query.where(t.c.school_id == school_id)
        elif school_id is not None:
            query = query.where(t.c.school_id.in_(list(school_id)))
        frame = pd.DataFrame(db.tuples(conn.execute(query)), columns=list(COLUMNS["transition_steps"]), dtype=object)
        out["transition_steps"] = _export_cells(frame)
    return {kind: out[kind] for kind in KINDS}


def _export_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO, booleans as yes/no, text safe in Excel."""
    for column in frame.columns:
        if column in ("date", "due", "done_on"):
            frame[column] = frame[column].map(lambda v: v.isoformat() if isinstance(v, datetime.date) else v)
        elif column in ("send", "done"):
            frame[column] = frame[column].map(lambda v: "yes" if v else "no")
        else:
            frame[column] = frame[column].map(excel_safe)
    return frame


def export_csv(frame: pd.DataFrame) -> bytes:
    """A frame of :func:`export_frames` as CSV bytes (UTF-8 with a BOM, so Excel reads it right)."""
    return frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def export_files(store: db.Store, directory, school_id: str | Collection[str] | None = None) -> list[Path]:
    """Write transitions.csv and survey_responses.csv into ``directory``; re-importing them
    changes nothing. Returns the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, frame in export_frames(store, school_id).items():
        path = directory / f"{kind}.csv"
        path.write_bytes(export_csv(frame))
        written.append(path)
    return written
