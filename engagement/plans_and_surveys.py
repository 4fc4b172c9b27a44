"""The transition plan template and the surveys, read from ``data/transition_plan.toml`` and
``data/surveys.toml``: the one reader of both files, as :mod:`engagement.typology` is of the
typology. A school edits the files (steps, owners, due dates; surveys, questions, scales); the
transitions, the survey import and the belonging figures ask this module what they hold. A file
that does not make sense (a step without a key, an agreeing answer not on the scale) stops with
the file and the reason named, rather than running on a silent gap.

>>> [step.key for step in load_plan()][:2]
['meeting', 'visits']
>>> survey = load_surveys().survey("Belonging")
>>> survey.key, survey.anonymous, survey.agree, survey.headline
('belonging', False, ('agree', 'strongly agree'), 'belong')
>>> load_surveys().survey("Parent View").answer("Don't Know")
"don't know"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from engagement.typology import DATA_DIR

PLAN_FILE = DATA_DIR / "transition_plan.toml"
SURVEYS_FILE = DATA_DIR / "surveys.toml"


class TemplateError(ValueError):
    """The plan or survey file cannot be used; the message names the file and what is wrong."""


def _key(text) -> str:
    return " ".join(str(text).strip().lower().split())


@dataclass(frozen=True)
class PlanStep:
    """One step of every transition's plan. ``due_days`` is days before the move (negative: after)."""

    key: str
    title: str
    owner: str
    due_days: int
    send_only: bool = False
    meeting: bool = False
    community: bool = False


@dataclass(frozen=True)
class Question:
    key: str
    text: str


@dataclass(frozen=True)
class Survey:
    """A survey: its questions and scale, which answers agree, which are low belonging, and which
    are left out of the share agreeing."""

    key: str
    title: str
    anonymous: bool
    scale: tuple[str, ...]
    agree: tuple[str, ...]
    low: tuple[str, ...]
    unscored: tuple[str, ...]
    questions: tuple[Question, ...]
    headline: str | None = None

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == _key(key)), None)

    def answer(self, text) -> str | None:
        """The scale's answer ``text`` is (any case, spaces tidied), or None when it is not on the scale."""
        word = _key(text).replace("’", "'")
        return word if word in self.scale else None


@dataclass(frozen=True)
class Surveys:
    surveys: tuple[Survey, ...]

    def survey(self, name) -> Survey | None:
        """The survey called ``name`` (any case), or None."""
        return next((s for s in self.surveys if s.key == _key(name)), None)

    @property
    def headline(self) -> Survey | None:
        """The survey whose headline question the Overview shows ("families who feel they belong")."""
        return next((s for s in self.surveys if s.headline), None)


def _read(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise TemplateError(f"{path}: the file does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise TemplateError(f"{path}: not valid TOML: {error}") from None


def parse_plan(raw: dict, source: str = "transition plan") -> tuple[PlanStep, ...]:
    """The plan's steps from the parsed TOML, checked: each has a key (unique), a title and a whole
    number of days."""
    steps, seen = [], set()
    for n, entry in enumerate(raw.get("steps", []), start=1):
        key, title = _key(entry.get("key", "")).replace(" ", "_"), str(entry.get("title", "")).strip()
        if not key or not title:
            raise TemplateError(f"{source}: step {n} needs a key and a title")
        if key in seen:
            raise TemplateError(f"{source}: the step key {key!r} is used twice")
        if not isinstance(entry.get("due_days", 0), int):
            raise TemplateError(f"{source}: step {key!r}: due_days must be a whole number of days")
        seen.add(key)
        steps.append(
            PlanStep(
                key,
                title,
                str(entry.get("owner", "")).strip(),
                int(entry.get("due_days", 0)),
                bool(entry.get("send_only", False)),
                bool(entry.get("meeting", False)),
                bool(entry.get("community", False)),
            )
        )
    if not steps:
        raise TemplateError(f"{source}: the plan has no steps")
    return tuple(steps)


def parse_surveys(raw: dict, source: str = "surveys") -> Surveys:
    """The surveys from the parsed TOML, checked: unique keys, agreeing, low and unscored answers
    on the scale, a headline question that exists, at most one headline survey."""
    surveys = []
    for entry in raw.get("surveys", []):
        key = _key(entry.get("key", ""))
        if not key:
            raise TemplateError(f"{source}: a survey has no key")
        scale = tuple(_key(a) for a in entry.get("scale", []))
        if len(scale) < 2:
            raise TemplateError(f"{source}: survey {key!r} needs a scale of two answers or more")
        lists = {name: tuple(_key(a) for a in entry.get(name, [])) for name in ("agree", "low", "unscored")}
        for name, answers in lists.items():
            off = [a for a in answers if a not in scale]
            if off:
                raise TemplateError(f"{source}: survey {key!r}: {name} answers not on its scale: {', '.join(off)}")
        questions = tuple(Question(_key(q["key"]), str(q.get("text", q["key"]))) for q in entry.get("questions", []))
        if not questions or len({q.key for q in questions}) != len(questions):
            raise TemplateError(f"{source}: survey {key!r} needs questions with unique keys")
        headline = _key(entry["headline"]) if entry.get("headline") else None
        if headline and headline not in {q.key for q in questions}:
            raise TemplateError(f"{source}: survey {key!r}: its headline {headline!r} is not one of its questions")
        surveys.append(
            Survey(
                key,
                str(entry.get("title", key)),
                bool(entry.get("anonymous", False)),
                scale,
                lists["agree"],
                lists["low"],
                lists["unscored"],
                questions,
                headline,
            )
        )
    if len({s.key for s in surveys}) != len(surveys):
        raise TemplateError(f"{source}: two surveys have the same key")
    if sum(bool(s.headline) for s in surveys) > 1:
        raise TemplateError(f"{source}: only one survey may have a headline question")
    return Surveys(tuple(surveys))


@lru_cache(maxsize=4)
def load_plan(path: str | Path = PLAN_FILE) -> tuple[PlanStep, ...]:
    """The transition plan template (cached: it changes only when a school edits the file)."""
    return parse_plan(_read(Path(path)), str(path))


@lru_cache(maxsize=4)
def load_surveys(path: str | Path = SURVEYS_FILE) -> Surveys:
    """The surveys the school runs (cached)."""
    return parse_surveys(_read(Path(path)), str(path))
