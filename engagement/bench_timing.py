"""What every section of the benchmark (``python -m engagement bench``) is written with: the
:class:`Bench` it is given, the :class:`Timing` lines it returns, the median of repeated runs, and
a PostgreSQL schema of its own. A leaf of the benchmark, so that its sections in other modules
(the partner map's, the Schools page's) need not import the benchmark that runs them.

>>> median_seconds(lambda: "done", 3)[1]
'done'
"""

from __future__ import annotations

import datetime
import queue
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from engagement import store as db
from engagement.demo import DemoData
from engagement.frames import Frames

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

T = TypeVar("T")


@dataclass
class Timing:
    what: str
    seconds: float
    runs: int = 1
    target: str = ""
    note: str = ""
    megabytes: float | None = None  # a memory figure instead of a time: its target reads "< 300 MB"


@dataclass
class Bench:
    scale: str
    store: db.Store
    data: DemoData
    today: datetime.date
    window: tuple[datetime.date, datetime.date]
    repeats: int
    frames: Frames | None = None
    results: list[Timing] = field(default_factory=list)
    import_rows: tuple[int, ...] = (20_000, 100_000)
    postgres_url: str | None = None
    quick: bool = False  # every step at small sizes: checks the bench runs, times nothing that matters


def median_seconds(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """The median wall time of ``repeats`` calls of ``fn``, and the last result."""
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def postgres_schema(url: str) -> tuple[str, Callable[[], None]]:
    """A fresh schema on the PostgreSQL server at ``url``: the store's URL, and how to drop it."""
    import uuid

    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(db.database_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()

    joiner = "&" if "?" in url else "?"
    return f"{db.database_url(url)}{joiner}options=-csearch_path%3D{schema}", drop


def child_result(child: Any, results: Any) -> Any:
    """What a bench child process put on ``results``, waited for only while the child lives.

    A child that dies without answering (killed, out of memory, a crash while importing) fails the
    bench at once with its exit code, instead of leaving the bench waiting for an answer that
    cannot come.
    """
    while True:
        try:
            return results.get(timeout=1)
        except queue.Empty:
            if child.is_alive():
                continue
            # The child may have put its answer just before it ended: look once more.
            try:
                return results.get(timeout=1)
            except queue.Empty:
                raise RuntimeError(
                    f"the bench's child process ended (exit code {child.exitcode}) without a result"
                ) from None
