"""What day it is, for the whole app: the one place that reads the calendar. Windows, terms,
"due for a check", retention, the outreach worklist, the demo school and the audit log's dates all
ask :func:`today` (or :func:`now`), never ``datetime.date.today()`` themselves. In production that
is the real clock. The environment variable ``ENGAGEMENT_TODAY`` (a date such as ``2026-11-25``)
fixes the day instead: the test suite runs "on" a chosen school day whatever the real date, and a
training session can show the demo on the same day each time. Functions that take a ``today=``
argument still honour it first; this is only their default.

>>> import os
>>> before = os.environ.pop(TODAY_VARIABLE, None)
>>> fixed_today() is None  # the real clock
True
>>> os.environ[TODAY_VARIABLE] = "2026-10-31"
>>> today()
datetime.date(2026, 10, 31)
>>> now().date(), now().tzinfo
(datetime.date(2026, 10, 31), datetime.timezone.utc)
>>> os.environ[TODAY_VARIABLE] = "31/10/2026"
>>> today()
Traceback (most recent call last):
...
engagement.settings.SettingsError: ENGAGEMENT_TODAY: '31/10/2026' is not a date; write it as 2026-10-31
>>> os.environ[TODAY_VARIABLE] = before or ""  # as it was ("" is unset)
"""

from __future__ import annotations

import datetime
import os

from engagement.settings import SettingsError

TODAY_VARIABLE = "ENGAGEMENT_TODAY"


def fixed_today() -> datetime.date | None:
    """The day set by ``ENGAGEMENT_TODAY``, or None when the real clock is in use."""
    value = os.environ.get(TODAY_VARIABLE, "").strip()
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise SettingsError(f"{TODAY_VARIABLE}: {value!r} is not a date; write it as 2026-10-31") from None


def today() -> datetime.date:
    """Today's date: the fixed day if ``ENGAGEMENT_TODAY`` is set, else the real one."""
    return fixed_today() or datetime.date.today()


def now() -> datetime.datetime:
    """The moment, in UTC, for timestamps such as the audit log's. On a fixed day it is that day at
    the real time of day, so entries made during a run still sort in the order they were made and
    fall on the day every window and retention cut-off is measured from."""
    real = datetime.datetime.now(datetime.UTC)
    fixed = fixed_today()
    return real if fixed is None else datetime.datetime.combine(fixed, real.timetz())
